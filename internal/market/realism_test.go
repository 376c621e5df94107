package market

import (
	"math"
	"testing"
	"time"
)

// TestFiveSecondStylisedFacts measures the stylised facts on 5-second
// mid-quote returns of the default market (250 ms rounds, continuous
// session, the built-in universe), over a regular session per symbol.
func TestFiveSecondStylisedFacts(t *testing.T) {
	cfg := Config{Seed: 20250303, Users: 1, Universe: DefaultUniverse(), Start: testStart, TickInterval: 250 * time.Millisecond, Kinds: KindPrice}
	s := newSim(t, cfg)
	const span = 6 * time.Hour
	mids := make([][]float64, len(cfg.Universe))
	cur := make([]float64, len(cfg.Universe))
	idx := map[string]int{}
	for i, in := range cfg.Universe {
		idx[in.Symbol] = i
	}
	next := testStart.Add(5 * time.Second)
	for {
		ev := s.Next()
		p := ev.Price
		if !p.Time.Before(next) {
			for k := range cur {
				mids[k] = append(mids[k], cur[k])
			}
			next = next.Add(5 * time.Second)
			if p.Time.Sub(testStart) > span {
				break
			}
		}
		cur[idx[p.Symbol]] = (p.Bid + p.Ask).Float64() / 2
	}
	var kurt, ac1 float64
	var acAbs [31]float64
	for k := range mids {
		var r []float64
		for i := 1; i < len(mids[k]); i++ {
			r = append(r, math.Log(mids[k][i]/mids[k][i-1]))
		}
		n := float64(len(mids))
		kurt += excessKurtosis(r) / n
		ac1 += autocorr(r, 1) / n
		abs := make([]float64, len(r))
		for i, x := range r {
			abs[i] = math.Abs(x)
		}
		for lag := 1; lag <= 30; lag++ {
			acAbs[lag] += autocorr(abs, lag) / n
		}
	}
	t.Logf("5-second mid returns over %s: mean excess kurtosis %.2f, lag-1 autocorrelation %.4f, |r| autocorrelation at lags 1, 5, 10, 20, 30: %.3f %.3f %.3f %.3f %.3f",
		span, kurt, ac1, acAbs[1], acAbs[5], acAbs[10], acAbs[20], acAbs[30])
	if kurt < 2 {
		t.Errorf("excess kurtosis of 5-second returns = %.2f, want above 2", kurt)
	}
	if math.Abs(ac1) > 0.05 {
		t.Errorf("lag-1 autocorrelation of 5-second returns = %.4f, want |x| < 0.05", ac1)
	}
	for lag := 1; lag <= 30; lag++ {
		if acAbs[lag] < 0.03 {
			t.Errorf("autocorrelation of |r| at lag %d (%ds) = %.3f, want above 0.03", lag, 5*lag, acAbs[lag])
		}
	}
}
