package market

import (
	"math"
	"math/rand/v2"
)

// Independent random streams derived from Config.Seed, one per concern, so
// that for example the price path does not depend on how many trades were
// drawn: asking for fewer kinds of events never changes the others.
const (
	streamUsers  = 0x7573657273 // "users"
	streamPrices = 0x707269636573
	streamTrades = 0x747261646573
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// tailDF is the degrees of freedom of the Student-t innovations: 5 gives
// clearly fat tails (kurtosis 9) while keeping the fourth moment finite.
const tailDF = 5

// tScale scales a t(tailDF) variate to unit variance: sqrt((df-2)/df).
const tScale = 0.7745966692414834

// studentT draws a Student-t variate with tailDF (5) degrees of freedom
// scaled to unit variance, as Z / sqrt(chi2/5), where the chi-square with 5
// degrees of freedom is the sum of two exponentials with mean 2 (two
// degrees each) and one squared normal.
func studentT(r *rand.Rand) float64 {
	z := r.NormFloat64()
	n := r.NormFloat64()
	chi2 := 2*(r.ExpFloat64()+r.ExpFloat64()) + n*n
	return z * tScale / math.Sqrt(chi2/tailDF)
}

// geometricSkip returns the number of failures before the next success in
// Bernoulli trials whose log failure probability is logQ = log(1-p), capped
// at limit. It lets a round visit only the users who trade.
func geometricSkip(r *rand.Rand, logQ float64, limit int) int {
	if logQ == 0 { // p == 0
		return limit
	}
	u := 1 - r.Float64() // (0, 1]
	k := math.Log(u) / logQ
	if k >= float64(limit) {
		return limit
	}
	return int(k)
}

// logNormal draws exp(mu + sigma*N(0,1)).
func logNormal(r *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*r.NormFloat64())
}

// pickWeighted returns an index drawn with probability proportional to
// weights (which must not all be zero).
func pickWeighted(r *rand.Rand, weights []float64) int {
	var total float64
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
