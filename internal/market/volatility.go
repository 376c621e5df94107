package market

import (
	"math"
	"math/rand/v2"
)

// Volatility dynamics, stated per second of simulated time so that the
// round length (TickInterval, or the clock with FollowClock) does not
// change them: a faster tick rate samples the same process more finely.
//
// Each factor's variance multiplier h (mean 1) follows a GARCH(1,1) whose
// coefficients depend on the round length dt:
//
//	h' = 1 - φ + φ·h + α·(z² - 1)·h,   φ = exp(-dt/volMemory),   α = φ·min(1, volOfVol·√dt)
//
// φ = α+β is the persistence over the round (0.98 over a minute) and
// α ∝ √dt keeps the variance of h the same whatever dt (the diffusion
// limit of GARCH). On top of the diffusive shocks each factor jumps at the
// times of a Poisson process (jumpRate per second) by a Laplace-distributed
// size scaled by √h; jumps carry jumpShare of the factor's variance.
//
// The clock these run on is the rounds' own: with SessionExtended it runs
// through the night (at the low overnight volatility); with SessionRegular
// the close-to-open jump counts as one round, so volatility carries over
// from one session to the next as it does in trading time.
const (
	volMemory = 2970.0 // seconds: persistence exp(-60/2970) = 0.98 per minute
	// volOfVol sets the stationary variance of h (0.5 per factor):
	// volOfVol² · volMemory · (E z⁴ - 1) = 2v/(1+v) with v = 0.5, E z⁴ = 9.
	volOfVol  = 0.005297
	jumpRate  = 1.0 / 600 // jumps per factor per second: one per 10 minutes
	jumpShare = 0.12      // share of each factor's variance from jumps
	// jumpScale is the Laplace scale of a jump in units of one second's
	// standard deviation: jumpRate · 2·jumpScale² = jumpShare.
	jumpScale = 6.0
)

// diffusionScale is √(1 - jumpShare): it scales the diffusive shock so
// that diffusion and jumps together have unit variance per second.
const diffusionScale = 0.938083151964686

// volStep is the GARCH recursion for one round length.
type volStep struct {
	dt, persist, alpha float64
}

func newVolStep(dt float64) volStep {
	persist := math.Exp(-dt / volMemory)
	return volStep{dt: dt, persist: persist, alpha: persist * min(1, volOfVol*math.Sqrt(dt))}
}

// next advances a unit-mean variance multiplier given the diffusive shock
// z drawn under it.
func (v volStep) next(h, z float64) float64 {
	h = 1 - v.persist + v.persist*h + v.alpha*(z*z-1)*h
	return min(max(h, hMin), hMax)
}

// factor is a unit-variance stochastic-volatility process. A round's
// diffusive shock has variance (1-jumpShare)·h over the round; jump is the
// sum of the round's jumps in units of one second's standard deviation.
type factor struct {
	h, sd, shock, jump float64 // sd is √h of this round
	untilJump          float64 // seconds until the next jump
}

func newFactor(r *rand.Rand) factor {
	return factor{h: 1, untilJump: r.ExpFloat64() / jumpRate}
}

func (f *factor) step(r *rand.Rand, v *volStep) {
	z := studentT(r)
	sd := math.Sqrt(f.h)
	f.sd = sd
	f.shock = sd * diffusionScale * z
	f.jump = 0
	f.untilJump -= v.dt
	for f.untilJump <= 0 {
		size := jumpScale * r.ExpFloat64()
		if r.Uint64()&1 == 0 {
			size = -size
		}
		f.jump += sd * size
		f.untilJump += r.ExpFloat64() / jumpRate
	}
	f.h = v.next(f.h, z)
}
