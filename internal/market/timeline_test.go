package market

import (
	"testing"
	"time"
)

// TestFollowClock checks that with FollowClock rounds happen at the
// clock's time, event time never goes backwards, and prices move by the
// simulated time elapsed.
func TestFollowClock(t *testing.T) {
	cfg := smallConfig(5)
	s := newSim(t, cfg)
	clock := cfg.Start
	s.FollowClock(func() time.Time { return clock })
	var last time.Time
	var maxLead time.Duration
	for i := range 200_000 {
		if i%50 == 0 {
			clock = clock.Add(3 * time.Millisecond) // 50 events per 3ms: about 16,700 events/s
		}
		ev := s.Next()
		ts := ev.Time()
		if ts.Before(last) {
			t.Fatalf("event %d at %s, before the previous one at %s", i, ts, last)
		}
		last = ts
		maxLead = max(maxLead, ts.Sub(clock))
	}
	t.Logf("clock advanced %s; event time %s; largest lead %s", clock.Sub(cfg.Start), last.Sub(cfg.Start), maxLead)
	if maxLead > time.Millisecond {
		t.Errorf("event time ran %s ahead of the clock, want under a millisecond", maxLead)
	}
	if lag := clock.Sub(last); lag > 10*time.Millisecond {
		t.Errorf("event time %s behind the clock at the end, want it keeping pace", lag)
	}

	// Without FollowClock the same stream runs one tick interval per round,
	// far ahead of such a clock.
	plain := newSim(t, cfg)
	for range 200_000 {
		last = plain.Next().Time()
	}
	if ahead := last.Sub(clock); ahead < time.Hour {
		t.Errorf("plain run: event time only %s ahead of the clock, want the old behaviour (a tick interval per round)", ahead)
	}
}

// TestFollowClockVolatility checks that volatility is calibrated per
// simulated second whatever the number of rounds: a run with rounds 10x
// as frequent has the same variance of one-minute returns.
func TestFollowClockVolatility(t *testing.T) {
	variance := func(step time.Duration) float64 {
		cfg := smallConfig(9)
		cfg.Kinds = KindPrice
		s := newSim(t, cfg)
		clock := cfg.Start
		s.FollowClock(func() time.Time { clock = clock.Add(step); return clock })
		var rets []float64
		var prev float64
		next := cfg.Start.Add(time.Minute)
		for clock.Before(cfg.Start.Add(3 * time.Hour)) {
			ev := s.Next()
			if ev.Price.Symbol != "AAPL" {
				continue
			}
			if !ev.Price.Time.Before(next) {
				mid := (ev.Price.Bid + ev.Price.Ask).Float64() / 2
				if prev > 0 {
					rets = append(rets, logRatio(mid, prev))
				}
				prev = mid
				next = next.Add(time.Minute)
			}
		}
		sd := stddev(rets)
		return sd * sd
	}
	slow, fast := variance(time.Second), variance(100*time.Millisecond)
	t.Logf("variance of one-minute AAPL returns: 1s rounds %.3g, 100ms rounds %.3g", slow, fast)
	if r := fast / slow; r < 0.6 || r > 1.6 {
		t.Errorf("variance ratio %.2f between 100ms and 1s rounds, want about 1", r)
	}
}
