package market

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// streamScenario is the random stream of scenario draws (per-symbol
// dispersion at jumps), so that a scenario leaves the model's own draws
// untouched: the same seed with and without a scenario gives the same
// shocks, and the scenario's effect is the difference.
const streamScenario = 0x7363656e6172696f // "scenario"

// scenarioRun applies a Scenario to the model: each round it sets, per
// symbol, the extra log drift and the volatility, spread and volume
// multipliers of the active events, and which symbols are halted.
type scenarioRun struct {
	start  time.Time
	repeat time.Duration
	rng    *rand.Rand
	events []liveEvent

	drift, vol, spread, volume []float64
	halted                     []bool
	trading                    float64 // multiplier of user trading activity
}

// liveEvent is an event resolved against the universe, with the state of
// its current occurrence.
type liveEvent struct {
	ScenarioEvent
	targets []int32
	sign    []float64
	moves   []float64 // log move of each target in this occurrence
	occ     int64     // current occurrence; -1 before the first
	applied float64   // share of the path already applied
}

// newScenarioRun resolves sc's targets against the universe.
func newScenarioRun(sc *Scenario, seed uint64, start time.Time, universe []Instrument, sectorOf []int, sectors []string) (*scenarioRun, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	n := len(universe)
	run := &scenarioRun{
		start: start, repeat: sc.Repeat, rng: newRand(seed, streamScenario),
		drift: make([]float64, n), vol: make([]float64, n), spread: make([]float64, n),
		volume: make([]float64, n), halted: make([]bool, n),
	}
	for i, e := range sc.Events {
		le, err := resolveTargets(e, universe, sectorOf, sectors)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: events[%d] (%s): %w", sc.Name, i, e.Kind, err)
		}
		run.events = append(run.events, le)
	}
	return run, nil
}

func resolveTargets(e ScenarioEvent, universe []Instrument, sectorOf []int, sectors []string) (liveEvent, error) {
	le := liveEvent{ScenarioEvent: e, occ: -1}
	add := func(i int, sign float64) {
		if !slices.Contains(le.targets, int32(i)) {
			le.targets = append(le.targets, int32(i))
			le.sign = append(le.sign, sign)
		}
	}
	for _, sym := range e.Symbols {
		i := slices.IndexFunc(universe, func(in Instrument) bool { return strings.EqualFold(in.Symbol, sym) })
		if i < 0 {
			return le, fmt.Errorf("symbols: %q is not in the universe", sym)
		}
		add(i, 1)
	}
	bySector := func(field string, names []string, sign float64) error {
		for _, name := range names {
			k := slices.IndexFunc(sectors, func(s string) bool { return strings.EqualFold(s, name) })
			if k < 0 {
				return fmt.Errorf("%s: sector %q is not in the universe (sectors: %s)", field, name, strings.Join(sectors, ", "))
			}
			for i := range universe {
				if sectorOf[i] == k {
					add(i, sign)
				}
			}
		}
		return nil
	}
	if err := bySector("sectors", e.Sectors, 1); err != nil {
		return le, err
	}
	if err := bySector("from", e.From, -1); err != nil {
		return le, err
	}
	if err := bySector("to", e.To, 1); err != nil {
		return le, err
	}
	if len(le.targets) == 0 {
		for i := range universe {
			add(i, 1)
		}
	}
	le.moves = make([]float64, len(le.targets))
	return le, nil
}

// apply sets the effects of the round at t.
func (sr *scenarioRun) apply(t time.Time) {
	for i := range sr.drift {
		sr.drift[i], sr.vol[i], sr.spread[i], sr.volume[i], sr.halted[i] = 0, 1, 1, 1, false
	}
	for k := range sr.events {
		sr.applyEvent(&sr.events[k], t)
	}
	var sum float64
	for _, v := range sr.volume {
		sum += v
	}
	sr.trading = sum / float64(len(sr.volume))
}

func (sr *scenarioRun) applyEvent(e *liveEvent, t time.Time) {
	o := t.Sub(sr.start) - e.At
	if o < 0 {
		return
	}
	occ, el := int64(0), o
	if sr.repeat > 0 {
		occ, el = int64(o/sr.repeat), o%sr.repeat
	}
	end := e.end()
	if occ != e.occ {
		if e.occ >= 0 {
			sr.move(e, e.path(end))
		}
		e.occ, e.applied = occ, 0
		sr.draw(e)
	}
	if el >= end {
		sr.move(e, e.path(end))
		return
	}
	sr.move(e, e.path(el))
	halted := (e.Kind == EventHalt || e.Kind == EventGap) && el < e.Duration
	in := e.intensity(el)
	for _, i := range e.targets {
		if halted {
			sr.halted[i] = true
			sr.volume[i] = 0
			continue
		}
		sr.vol[i] *= peak(e.Vol, in)
		sr.spread[i] *= peak(e.Spread, in)
		sr.volume[i] *= peak(e.Volume, in)
	}
}

// move adds the drift that brings the event's path to share f.
func (sr *scenarioRun) move(e *liveEvent, f float64) {
	if f == e.applied {
		return
	}
	for j, i := range e.targets {
		sr.drift[i] += e.moves[j] * (f - e.applied)
	}
	e.applied = f
}

// draw sets the log moves of a new occurrence.
func (sr *scenarioRun) draw(e *liveEvent) {
	base := math.Log1p(e.Move)
	for j := range e.moves {
		e.moves[j] = base * e.sign[j]
		if e.Dispersion > 0 {
			e.moves[j] += e.Dispersion * sr.rng.NormFloat64()
		}
	}
}

// path is the share of the event's move applied el into it.
func (e *liveEvent) path(el time.Duration) float64 {
	switch e.Kind {
	case EventCrash:
		if el < e.Duration {
			return frac(el, e.Duration)
		}
		return 1 - e.Recovery*min(1, frac(el-e.Duration, e.Recover))
	case EventHalt, EventGap:
		if el < e.Duration {
			return 0
		}
		return 1
	case EventNews:
		return 1
	case EventRotation:
		return min(1, frac(el, e.Duration))
	}
	return 0
}

// intensity is how strongly the multipliers act el into the event, 0..1.
func (e *liveEvent) intensity(el time.Duration) float64 {
	switch e.Kind {
	case EventCrash:
		if el < e.Duration {
			return 1
		}
		return max(0, 1-frac(el-e.Duration, e.Recover))
	case EventHalt, EventGap:
		return decay(el-e.Duration, e.HalfLife)
	case EventNews:
		return decay(el, e.HalfLife)
	}
	return 1
}

func frac(a, b time.Duration) float64 {
	if b <= 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// decay is exp(-ln2 el/halfLife); with no half-life, no decay.
func decay(el, halfLife time.Duration) float64 {
	if halfLife <= 0 {
		return 1
	}
	return math.Exp(-math.Ln2 * float64(el) / float64(halfLife))
}

// peak is a multiplier m (0 meaning 1) at intensity in.
func peak(m, in float64) float64 {
	if m == 0 {
		return 1
	}
	return 1 + (m-1)*in
}
