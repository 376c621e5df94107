package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SpeedMax is the Gen.Speed value that runs simulated time as fast as
// events are made (one tick interval per price round), for backfills.
const SpeedMax = "max"

// MaxSpeed bounds a numeric Gen.Speed.
const MaxSpeed = 1e6

// bindMarket registers the flags of simulated time and market scenarios.
func (g *Gen) bindMarket(b binder) {
	b.string(&g.Scenario, "scenario", "market scenario: a built-in `name` (listed by tradestream gen scenarios) or a YAML file; none: off")
	b.string(&g.Speed, "speed", "simulated time per wall-clock time: a factor such as 1 or 60, or max (as fast as events are made)")
}

// SpeedFactor parses Speed: the factor, or 0 for "max".
func (g *Gen) SpeedFactor() (float64, error) {
	s := strings.TrimSpace(g.Speed)
	switch strings.ToLower(s) {
	case "", "1":
		return 1, nil
	case SpeedMax:
		return 0, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(s), "x"), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > MaxSpeed {
		return 0, fmt.Errorf("gen speed: %q; want a factor in (0, %g] such as 1 or 60, or %s", g.Speed, float64(MaxSpeed), SpeedMax)
	}
	return f, nil
}

// ScenarioOff reports whether Scenario asks for no scenario.
func (g *Gen) ScenarioOff() bool {
	s := strings.TrimSpace(g.Scenario)
	return s == "" || strings.EqualFold(s, "none")
}

func (g *Gen) validateMarket(p *problems) {
	if _, err := g.SpeedFactor(); err != nil {
		*p = append(*p, err)
	}
}
