package market

import (
	"math"
	"sort"
	"testing"
)

// TestVolatilityPerSecond checks that the volatility dynamics are stated
// per second of simulated time: whatever the round length, a factor's
// variance multiplier h has mean 1, the same spread, and the same
// persistence over a minute, and jumps arrive at the same rate per second.
// The spread of h is compared by quantiles, which its heavy right tail
// leaves stable, against the finest round length.
func TestVolatilityPerSecond(t *testing.T) {
	const span = 600 * volMemory // seconds simulated per round length
	var q50, q90 float64         // of the first (finest) round length
	for _, dt := range []float64{0.25, 1, 10, 60} {
		r := newRand(1, uint64(dt*1000))
		v := newVolStep(dt)
		f := newFactor(r)
		n := int(span / dt)
		lag := max(1, int(60/dt)) // rounds per minute
		hs := make([]float64, 0, n/lag)
		var variance float64
		var jumps int
		for i := range n {
			f.step(r, &v)
			variance += f.shock*f.shock + f.jump*f.jump/dt
			if f.jump != 0 {
				jumps++
			}
			if i%lag == 0 {
				hs = append(hs, f.h)
			}
		}
		variance /= float64(n)
		ac := autocorr(hs, 1)
		rate := float64(jumps) / span
		sort.Float64s(hs)
		m50, m90 := hs[len(hs)/2], hs[len(hs)*9/10]
		if q50 == 0 {
			q50, q90 = m50, m90
		}
		t.Logf("dt %5.2fs: h mean %.3f, median %.3f, 90th percentile %.3f, one-minute autocorrelation %.4f; variance per round %.3f of its length; jumps per hour %.2f",
			dt, mean(hs), m50, m90, ac, variance, rate*3600)
		if m := mean(hs); math.Abs(m-1) > 0.12 {
			t.Errorf("dt %gs: mean h = %.3f, want 1", dt, m)
		}
		if math.Abs(m50/q50-1) > 0.15 || math.Abs(m90/q90-1) > 0.15 {
			t.Errorf("dt %gs: median and 90th percentile of h %.3f %.3f, want within 15%% of %.3f %.3f (dt 0.25s)", dt, m50, m90, q50, q90)
		}
		if ac < 0.96 || ac > 0.995 {
			t.Errorf("dt %gs: one-minute autocorrelation of h = %.4f, want about 0.98", dt, ac)
		}
		if math.Abs(variance-1) > 0.12 {
			t.Errorf("dt %gs: variance per round %.3f of a round's length, want 1", dt, variance)
		}
		if want := 3600 * jumpRate; math.Abs(rate*3600-want) > 0.1*want && dt < 60 {
			t.Errorf("dt %gs: %.2f jumps per hour, want %.2f", dt, rate*3600, want)
		}
	}
}

func TestDiffusionScale(t *testing.T) {
	if got, want := diffusionScale, math.Sqrt(1-jumpShare); math.Abs(got-want) > 1e-15 {
		t.Errorf("diffusionScale = %v, want sqrt(1 - jumpShare) = %v", got, want)
	}
	if got := jumpRate * 2 * jumpScale * jumpScale; math.Abs(got-jumpShare) > 1e-12 {
		t.Errorf("jump variance per second = %v, want jumpShare %v", got, jumpShare)
	}
}
