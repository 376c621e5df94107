package market

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A Scenario scripts market events on simulated time: a flash crash, a
// trading halt, a volatility regime, a news shock, an opening gap, a
// sector rotation. It is the plug-in point for market events: the Sim
// applies the active events to its own model every round (extra drift,
// volatility, spread and volume multipliers, halted symbols), so users
// keep trading by their profiles, inside the spread and within their cash.
// Event times are offsets from Config.Start; the same Config (Seed
// included) gives the same stream.
type Scenario struct {
	// Name identifies the scenario (a built-in's name, or the file's).
	Name string
	// Description says what the scenario does, for `gen scenarios`.
	Description string
	// Repeat, when positive, replays the events every Repeat of simulated
	// time; every event must end within one period.
	Repeat time.Duration
	// Events are the scripted events.
	Events []ScenarioEvent
}

// EventKind is a kind of scripted market event.
type EventKind string

// Event kinds. Each reads the ScenarioEvent fields listed.
const (
	// EventCrash drops the targets by Move over Duration, then recovers
	// the share Recovery of the drop over Recover; Vol, Spread and Volume
	// peak during the fall and fade over the recovery.
	EventCrash EventKind = "crash"
	// EventHalt stops the targets' ticks and trades for Duration; the
	// latent price moves on, and at the reopening it jumps by Move (plus
	// Dispersion per symbol), with Vol, Spread and Volume decaying after
	// it with HalfLife.
	EventHalt EventKind = "halt"
	// EventGap is an opening gap: the targets (default: the whole market)
	// are closed for Duration (may be 0), then open away from their last
	// price by Move plus Dispersion per symbol, with Vol, Spread and
	// Volume decaying with HalfLife.
	EventGap EventKind = "gap"
	// EventRegime scales the targets' volatility by Vol (with Spread and
	// Volume) for Duration: above 1 turbulent, below 1 calm.
	EventRegime EventKind = "regime"
	// EventNews jumps the targets by Move at once, with Vol, Spread and
	// Volume multipliers decaying with HalfLife over Duration.
	EventNews EventKind = "news"
	// EventRotation moves money from the sectors From to the sectors To:
	// From drifts down by Move and To up by Move over Duration.
	EventRotation EventKind = "rotation"
)

var eventKinds = []EventKind{EventCrash, EventHalt, EventGap, EventRegime, EventNews, EventRotation}

// ScenarioEvent is one scripted event. Targets are Symbols and the
// members of Sectors; with neither, the whole market (rotation uses From
// and To instead).
type ScenarioEvent struct {
	Kind EventKind
	// At is when the event starts, after Config.Start (and after the start
	// of each Repeat period).
	At time.Duration
	// Duration is the main phase: the fall, the halt, the regime, the
	// rotation, the gap's closed time, the news decay window.
	Duration time.Duration
	Symbols  []string
	Sectors  []string
	From, To []string // rotation sectors
	// Move is the price move as a fraction: -0.08 drops 8%.
	Move float64
	// Dispersion is the standard deviation of an extra per-symbol move
	// at a jump (halt, gap, news).
	Dispersion float64
	// Recover and Recovery shape a crash's rebound.
	Recover  time.Duration
	Recovery float64
	// HalfLife is the decay of the multipliers after a jump.
	HalfLife time.Duration
	// Vol, Spread and Volume multiply volatility, spreads and volume (and
	// user trading activity) at the event's peak; 0 means 1.
	Vol, Spread, Volume float64
}

// end returns how long after At the event lasts.
func (e ScenarioEvent) end() time.Duration {
	switch e.Kind {
	case EventCrash:
		return e.Duration + e.Recover
	case EventHalt, EventGap:
		return e.Duration + 5*e.HalfLife
	case EventNews:
		if e.Duration <= 0 {
			return 6 * e.HalfLife
		}
	}
	return e.Duration
}

// yamlScenario and yamlEvent are the file format; durations are Go
// duration strings ("90s", "5m").
type yamlScenario struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Repeat      string      `yaml:"repeat"`
	Events      []yamlEvent `yaml:"events"`
}

type yamlEvent struct {
	Kind       string   `yaml:"kind"`
	At         string   `yaml:"at"`
	Duration   string   `yaml:"duration"`
	Symbols    []string `yaml:"symbols"`
	Sectors    []string `yaml:"sectors"`
	From       []string `yaml:"from"`
	To         []string `yaml:"to"`
	Move       float64  `yaml:"move"`
	Dispersion float64  `yaml:"dispersion"`
	Recover    string   `yaml:"recover"`
	Recovery   float64  `yaml:"recovery"`
	HalfLife   string   `yaml:"half_life"`
	Vol        float64  `yaml:"vol"`
	Spread     float64  `yaml:"spread"`
	Volume     float64  `yaml:"volume"`
}

// ParseScenario reads a scenario from YAML. Unknown fields are errors
// naming the field and line; every problem with the values is reported,
// each naming its event and field, in one joined error. name is used when
// the document has no name (a file's base name, say).
func ParseScenario(data []byte, name string) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var ys yamlScenario
	if err := dec.Decode(&ys); err != nil {
		return nil, fmt.Errorf("parse scenario %s: %w", name, err)
	}
	if ys.Name != "" {
		name = ys.Name
	}
	sc := &Scenario{Name: name, Description: strings.TrimSpace(ys.Description)}
	var errs []error
	dur := func(where, field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %q is not a duration such as 90s or 5m", where, field, s))
		}
		return d
	}
	sc.Repeat = dur("scenario", "repeat", ys.Repeat)
	for i, ye := range ys.Events {
		where := fmt.Sprintf("events[%d]", i)
		sc.Events = append(sc.Events, ScenarioEvent{
			Kind: EventKind(strings.ToLower(strings.TrimSpace(ye.Kind))),
			At:   dur(where, "at", ye.At), Duration: dur(where, "duration", ye.Duration),
			Symbols: ye.Symbols, Sectors: ye.Sectors, From: ye.From, To: ye.To,
			Move: ye.Move, Dispersion: ye.Dispersion,
			Recover: dur(where, "recover", ye.Recover), Recovery: ye.Recovery,
			HalfLife: dur(where, "half_life", ye.HalfLife),
			Vol:      ye.Vol, Spread: ye.Spread, Volume: ye.Volume,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse scenario %s: %w", name, err)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Validate reports every problem of the scenario, each naming its event
// and field. Symbols and sectors are checked against the universe by New.
func (sc *Scenario) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(sc.Events) == 0 {
		add("no events")
	}
	if sc.Repeat < 0 {
		add("repeat %s is negative", sc.Repeat)
	}
	for i, e := range sc.Events {
		errs = append(errs, e.validate(fmt.Sprintf("events[%d] (%s)", i, e.Kind))...)
		if sc.Repeat > 0 && e.At+e.end() > sc.Repeat {
			add("events[%d] (%s): ends %s after the period starts, past repeat %s", i, e.Kind, e.At+e.end(), sc.Repeat)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	return nil
}

func (e ScenarioEvent) validate(where string) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(where+": "+format, args...))
	}
	known := false
	for _, k := range eventKinds {
		known = known || e.Kind == k
	}
	if !known {
		add("kind %q is not one of %s", e.Kind, kindList())
		return errs
	}
	if e.At < 0 {
		add("at %s is negative", e.At)
	}
	if e.Duration < 0 || e.Recover < 0 || e.HalfLife < 0 {
		add("duration, recover and half_life must not be negative")
	}
	needDuration := e.Kind != EventGap && e.Kind != EventNews
	if needDuration && e.Duration <= 0 {
		add("duration is required (a positive duration such as 5m)")
	}
	if e.Kind == EventNews && e.Duration <= 0 && e.HalfLife <= 0 {
		add("duration or half_life is required")
	}
	if !(e.Move > -0.9 && e.Move <= 10) || math.IsNaN(e.Move) {
		add("move %v must be in (-0.9, 10]", e.Move)
	}
	if e.Kind == EventCrash && e.Move >= 0 {
		add("move %v must be negative (the drop, e.g. -0.08)", e.Move)
	}
	if e.Kind == EventRotation {
		if e.Move <= 0 {
			add("move %v must be positive (how far the sectors drift apart)", e.Move)
		}
		if len(e.From) == 0 || len(e.To) == 0 {
			add("from and to sectors are required")
		}
	} else if len(e.From)+len(e.To) > 0 {
		add("from and to are for rotation; use sectors")
	}
	if !(e.Dispersion >= 0 && e.Dispersion <= 1) {
		add("dispersion %v must be in [0, 1]", e.Dispersion)
	}
	if !(e.Recovery >= 0 && e.Recovery <= 1) {
		add("recovery %v must be in [0, 1]", e.Recovery)
	}
	if e.Kind == EventCrash && e.Recovery > 0 && e.Recover <= 0 {
		add("recovery needs recover, the time it takes")
	}
	for _, m := range []struct {
		name string
		v    float64
	}{{"vol", e.Vol}, {"spread", e.Spread}, {"volume", e.Volume}} {
		if !(m.v >= 0 && m.v <= 50) {
			add("%s %v must be in [0, 50] (0 means 1)", m.name, m.v)
		}
	}
	return errs
}

func kindList() string {
	names := make([]string, len(eventKinds))
	for i, k := range eventKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
