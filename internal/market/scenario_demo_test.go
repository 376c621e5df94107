package market

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestDemoLiftsNVDAThroughTheExampleRule holds the demo scenario and
// scripts/demo's price rule together: whatever the seed and the start,
// NVDA's last price is at or below the rule's level at first and above
// it within the first minute, so the edge-triggered rule fires once the
// demo starts. (From the open alone, a random walk misses a level at the
// opening price within three minutes for about 7 % of seeds.)
func TestDemoLiftsNVDAThroughTheExampleRule(t *testing.T) {
	script, err := os.ReadFile("../../scripts/demo")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"price_above\|NVDA\|([0-9.]+)\|`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/demo has no price_above rule on NVDA")
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	sc := builtin(t, "demo")
	starts := []time.Time{testStart, time.Date(2026, 12, 1, 16, 5, 0, 0, time.UTC)}
	for seed := uint64(1); seed <= 60; seed++ {
		start := starts[seed%2]
		s := newSim(t, Config{Seed: seed, Users: 1000, Universe: DefaultUniverse(), Start: start, TickInterval: 250 * time.Millisecond, Scenario: sc})
		armed, crossed := false, time.Duration(-1)
		for crossed < 0 {
			ev := s.Next()
			at := ev.Time().Sub(start)
			if at > time.Minute {
				break
			}
			if ev.Kind != KindPrice || ev.Price.Symbol != "NVDA" {
				continue
			}
			if last := ev.Price.Last.Float64(); last <= level {
				armed = true
			} else if armed {
				crossed = at
			} else {
				t.Fatalf("seed %d: NVDA's first tick %.2f is above the rule's %.2f: the rule can only fire after a fall", seed, last, level)
			}
		}
		if crossed < 0 {
			t.Errorf("seed %d, start %v: NVDA did not cross above %.2f within the first minute", seed, start, level)
		}
	}
}
