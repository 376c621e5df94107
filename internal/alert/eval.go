package alert

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Source names the record an event came from: it makes alert ids
// deterministic and keys the state by partition, so that state moves with
// the partition between engine instances.
type Source struct {
	// Topic is the short topic name, "prices" or "trades".
	Topic     string
	Partition int32
	Offset    int64
	// TopicID is the topic's id in the cluster (zero when the brokers do
	// not give one): a topic deleted and created again under the same
	// name gets a new one, so its records' alerts get ids of their own.
	TopicID [16]byte
}

// Fired is an alert with the source record that fired it.
type Fired struct {
	event.Alert
	Source Source
}

// stateKey identifies one state: a rule, a source partition and a symbol.
type stateKey struct {
	topic     string
	partition int32
	rule      int64
	symbol    string
}

// state is what the engine remembers between events for one rule, source
// partition and symbol. Times are event times in Unix nanoseconds; prices
// are Decimal values. It is stored as JSON in alert_state.
type state struct {
	// Cond is the rule's condition after the last event: -1 false, +1
	// true, 0 not seen yet. An alert fires on a -1 to +1 transition.
	Cond int8 `json:"c,omitempty"`
	// LastFire is the event time of the last alert (0: never).
	LastFire int64 `json:"f,omitempty"`
	// Lows and Highs are pct_move's monotonic deques of (time, price) over
	// the window: Lows[0] is the window's lowest price, Highs[0] its
	// highest.
	Lows  [][2]int64 `json:"lo,omitempty"`
	Highs [][2]int64 `json:"hi,omitempty"`
	// Base is volume_spike's rolling baseline volume, N how many ticks it
	// has seen and Last the time of the latest.
	Base float64 `json:"b,omitempty"`
	N    int64   `json:"n,omitempty"`
	Last int64   `json:"t,omitempty"`
	// At is the event time of the latest price folded in: when a symbol
	// moves to another partition, the newest of its states moves with it.
	At int64 `json:"at,omitempty"`
}

// clone returns a copy of st that shares nothing with it.
func (st *state) clone() *state {
	c := *st
	c.Lows = append([][2]int64(nil), st.Lows...)
	c.Highs = append([][2]int64(nil), st.Highs...)
	return &c
}

// Evaluation constants.
const (
	// maxDeque bounds each pct_move deque; a longer monotonic run drops its
	// oldest points (the window then starts later than asked).
	maxDeque = 4096
	// volumeWarmup is how many ticks a volume baseline needs before it can
	// fire.
	volumeWarmup = 10
)

// evaluator applies rules to events and keeps their state. It is pure: no
// I/O, event time only, so the same events give the same alerts. It is not
// safe for concurrent use.
type evaluator struct {
	rules     map[int64]*Rule
	bySymbol  map[string][]*Rule // enabled rules naming a symbol
	anySymbol []*Rule            // enabled rules for every symbol
	states    map[stateKey]*state
	dirty     map[stateKey]bool
	// donors are stored states of other partitions, read for the batch in
	// hand, that a price rule's state may move from (see inherit).
	donors map[donorKey]donor
	// moves lists the states inherited since the last takeMoves.
	moves []move
}

// donorKey names the states of one rule and symbol in any partition.
type donorKey struct {
	topic  string
	rule   int64
	symbol string
}

// donor is a stored state and the partition it belongs to.
type donor struct {
	partition int32
	st        *state
}

// move is one state inherited from another partition.
type move struct {
	rule     int64
	symbol   string
	from, to int32
}

func newEvaluator() *evaluator {
	return &evaluator{
		rules: map[int64]*Rule{}, bySymbol: map[string][]*Rule{},
		states: map[stateKey]*state{}, dirty: map[stateKey]bool{},
	}
}

// setRules replaces the rule set. States of rules that no longer exist are
// dropped (the database drops them by cascade).
func (e *evaluator) setRules(rules []Rule) {
	e.rules = make(map[int64]*Rule, len(rules))
	e.bySymbol = map[string][]*Rule{}
	e.anySymbol = nil
	sorted := append([]Rule(nil), rules...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	for i := range sorted {
		r := &sorted[i]
		e.rules[r.ID] = r
		if !r.Enabled {
			continue
		}
		if r.Symbol == "" {
			e.anySymbol = append(e.anySymbol, r)
		} else {
			e.bySymbol[r.Symbol] = append(e.bySymbol[r.Symbol], r)
		}
	}
	for k := range e.states {
		if _, ok := e.rules[k.rule]; !ok {
			delete(e.states, k)
			delete(e.dirty, k)
		}
	}
}

// matching returns the enabled rules for symbol, in rule id order.
func (e *evaluator) matching(symbol string) []*Rule {
	named, any := e.bySymbol[symbol], e.anySymbol
	if len(any) == 0 {
		return named
	}
	out := make([]*Rule, 0, len(named)+len(any))
	out = append(append(out, named...), any...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (e *evaluator) state(src Source, rule int64, symbol string) (stateKey, *state) {
	k := stateKey{topic: src.Topic, partition: src.Partition, rule: rule, symbol: symbol}
	st := e.states[k]
	if st == nil {
		st = &state{}
		if src.Topic == "prices" {
			st = e.inherit(k)
		}
		e.states[k] = st
	}
	e.dirty[k] = true
	return k, st
}

// inherit returns the state a price rule starts from for a symbol new to
// a partition: a copy of the newest state of the same rule and symbol in
// another partition (in memory, or stored and read for the batch as
// donors), or an empty one. Prices are keyed by symbol, so a symbol's
// ticks leave one partition for another only when the topic grows; its
// window, baseline, side and last alert go with it, instead of starting
// over.
func (e *evaluator) inherit(k stateKey) *state {
	best, from := (*state)(nil), int32(-1)
	for ok, st := range e.states {
		if ok.topic == k.topic && ok.rule == k.rule && ok.symbol == k.symbol && ok.partition != k.partition &&
			(best == nil || st.At > best.At) {
			best, from = st, ok.partition
		}
	}
	if d, ok := e.donors[donorKey{k.topic, k.rule, k.symbol}]; ok && d.partition != k.partition &&
		(best == nil || d.st.At > best.At) {
		best, from = d.st, d.partition
	}
	if best == nil {
		return &state{}
	}
	e.moves = append(e.moves, move{rule: k.rule, symbol: k.symbol, from: from, to: k.partition})
	return best.clone()
}

// strangers returns the symbols of syms that some enabled price rule has
// no state for in partition: what inherit may need stored donors for.
func (e *evaluator) strangers(partition int32, syms map[string]bool) []string {
	var out []string
	for sym := range syms {
		for _, r := range e.matching(sym) {
			if r.Kind.onPrices() && e.states[stateKey{topic: "prices", partition: partition, rule: r.ID, symbol: sym}] == nil {
				out = append(out, sym)
				break
			}
		}
	}
	return out
}

// takeMoves returns the states inherited since the last call.
func (e *evaluator) takeMoves() []move {
	out := e.moves
	e.moves = nil
	return out
}

// dropPartition forgets the states of one source partition (revoked).
func (e *evaluator) dropPartition(topic string, partition int32) {
	for k := range e.states {
		if k.topic == topic && k.partition == partition {
			delete(e.states, k)
			delete(e.dirty, k)
		}
	}
}

// takeDirty returns the states changed since the last call and clears the
// set.
func (e *evaluator) takeDirty() map[stateKey]*state {
	out := make(map[stateKey]*state, len(e.dirty))
	for k := range e.dirty {
		if st, ok := e.states[k]; ok {
			out[k] = st
		}
	}
	clear(e.dirty)
	return out
}

// price evaluates the price rules on one tick and returns the alerts it
// fires, in rule id order.
func (e *evaluator) price(src Source, p *event.Price) []Fired {
	var out []Fired
	ts := p.Time.UnixNano()
	for _, r := range e.matching(p.Symbol) {
		if !r.Kind.onPrices() {
			continue
		}
		_, st := e.state(src, r.ID, p.Symbol)
		st.At = ts
		var cond bool
		var value event.Decimal
		var msg string
		switch r.Kind {
		case KindPriceAbove:
			cond, value = p.Last > r.Threshold, p.Last
			msg = fmt.Sprintf("%s crossed above %s: last %s", p.Symbol, r.Threshold, p.Last)
		case KindPriceBelow:
			cond, value = p.Last < r.Threshold, p.Last
			msg = fmt.Sprintf("%s crossed below %s: last %s", p.Symbol, r.Threshold, p.Last)
		case KindPctMove:
			var from event.Decimal
			cond, value, from = st.pctMove(r, ts, p.Last)
			msg = fmt.Sprintf("%s moved %s%% within %v: %s from %s", p.Symbol, signed(value), r.Window, p.Last, from)
		case KindVolumeSpike:
			var base float64
			cond, base = st.volumeSpike(r, ts, p.Volume)
			value = event.FromInt(p.Volume)
			if base > 0 {
				msg = fmt.Sprintf("%s volume %d is %.1fx its %v baseline of %.0f", p.Symbol, p.Volume, float64(p.Volume)/base, r.Window, base)
			}
		}
		if st.edge(cond) && st.cooled(r, ts) {
			st.LastFire = ts
			out = append(out, fired(r, src, p.Symbol, msg, value, p.Time))
		}
	}
	return out
}

// trade evaluates the trade rules on one trade.
func (e *evaluator) trade(src Source, t *event.Trade) []Fired {
	var out []Fired
	ts := t.Time.UnixNano()
	for _, r := range e.matching(t.Symbol) {
		if r.Kind != KindBigTrade {
			continue
		}
		notional := t.Notional()
		if notional <= r.Threshold {
			continue
		}
		_, st := e.state(src, r.ID, t.Symbol)
		if !st.cooled(r, ts) {
			continue
		}
		st.LastFire = ts
		msg := fmt.Sprintf("%s %s %d @ %s: notional %s above %s (trade %d)",
			t.Symbol, t.Side, t.Quantity, t.Price, notional, r.Threshold, t.ID)
		out = append(out, fired(r, src, t.Symbol, msg, notional, t.Time))
	}
	return out
}

func fired(r *Rule, src Source, symbol, msg string, value event.Decimal, ts time.Time) Fired {
	return Fired{
		Alert: event.Alert{
			ID:      AlertID(r.ID, src),
			RuleID:  r.ID,
			Kind:    string(r.Kind),
			Symbol:  symbol,
			Message: msg,
			Value:   value,
			Time:    ts.UTC(),
		},
		Source: src,
	}
}

// AlertID is the deterministic id of the alert rule fires on the source
// record: evaluating the same record again gives the same id. The id ends
// with the first half of the topic's id, when known, so that the records
// at the same offsets of a topic deleted and created again fire alerts
// of other ids: r<rule>-<topic>-<partition>-<offset>[-<topic id>].
func AlertID(rule int64, src Source) string {
	if src.TopicID == ([16]byte{}) {
		return fmt.Sprintf("r%d-%s-%d-%d", rule, src.Topic, src.Partition, src.Offset)
	}
	return fmt.Sprintf("r%d-%s-%d-%d-%x", rule, src.Topic, src.Partition, src.Offset, src.TopicID[:8])
}

// alertSource reads back the source record AlertID put in an id; of the
// topic id, only the half the id holds.
func alertSource(id string) (Source, bool) {
	f := strings.Split(id, "-")
	if (len(f) != 4 && len(f) != 5) || !strings.HasPrefix(f[0], "r") {
		return Source{}, false
	}
	_, err1 := strconv.ParseInt(f[0][1:], 10, 64)
	part, err2 := strconv.ParseInt(f[2], 10, 32)
	off, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Source{}, false
	}
	src := Source{Topic: f[1], Partition: int32(part), Offset: off}
	if len(f) == 5 {
		b, err := hex.DecodeString(f[4])
		if err != nil || len(b) != 8 {
			return Source{}, false
		}
		copy(src.TopicID[:], b)
	}
	return src, true
}

// edge records cond and reports whether it just turned true from a known
// false.
func (st *state) edge(cond bool) bool {
	was := st.Cond
	if cond {
		st.Cond = 1
	} else {
		st.Cond = -1
	}
	return cond && was == -1
}

// cooled reports whether the rule's cooldown has passed since the state's
// last alert, at event time ts.
func (st *state) cooled(r *Rule, ts int64) bool {
	return st.LastFire == 0 || r.Cooldown <= 0 || ts-st.LastFire >= int64(r.Cooldown)
}

// pctMove slides the window to ts, adds price and reports whether the
// move within the window exceeds the rule's percentage, the signed move in
// percent (scale 4) and the price it is measured from.
func (st *state) pctMove(r *Rule, ts int64, price event.Decimal) (bool, event.Decimal, event.Decimal) {
	cut := ts - int64(r.Window)
	for len(st.Lows) > 0 && st.Lows[0][0] <= cut {
		st.Lows = st.Lows[1:]
	}
	for len(st.Highs) > 0 && st.Highs[0][0] <= cut {
		st.Highs = st.Highs[1:]
	}
	p := int64(price)
	for n := len(st.Lows); n > 0 && st.Lows[n-1][1] >= p; n = len(st.Lows) {
		st.Lows = st.Lows[:n-1]
	}
	for n := len(st.Highs); n > 0 && st.Highs[n-1][1] <= p; n = len(st.Highs) {
		st.Highs = st.Highs[:n-1]
	}
	st.Lows = append(st.Lows, [2]int64{ts, p})
	st.Highs = append(st.Highs, [2]int64{ts, p})
	if len(st.Lows) > maxDeque {
		st.Lows = append([][2]int64(nil), st.Lows[len(st.Lows)-maxDeque:]...)
	}
	if len(st.Highs) > maxDeque {
		st.Highs = append([][2]int64(nil), st.Highs[len(st.Highs)-maxDeque:]...)
	}
	lo, hi := st.Lows[0][1], st.Highs[0][1]
	up, down := p-lo, hi-p
	thr := int64(r.Threshold)
	// move/base*100 > thr/Unit  <=>  move*100*Unit > thr*base, in 128 bits.
	upHit := greater(up, 100*int64(event.Unit), thr, lo)
	downHit := greater(down, 100*int64(event.Unit), thr, hi)
	upPct, downPct := percent(up, lo), percent(down, hi)
	if upPct >= downPct {
		return upHit || downHit, upPct, event.Decimal(lo)
	}
	return upHit || downHit, -downPct, event.Decimal(hi)
}

// volumeSpike reports whether volume exceeds the rule's multiple of the
// baseline (once warm) and then folds volume into the baseline: a running
// mean at first, then an exponentially weighted mean whose time constant
// is the rule's window.
func (st *state) volumeSpike(r *Rule, ts, volume int64) (bool, float64) {
	base := st.Base
	cond := st.N >= volumeWarmup && base > 0 && float64(volume) > r.Threshold.Float64()*base
	if st.N == 0 {
		st.Base = float64(volume)
	} else {
		dt := max(ts-st.Last, 0)
		alpha := max(1/float64(st.N+1), 1-math.Exp(-float64(dt)/float64(r.Window)))
		st.Base += alpha * (float64(volume) - st.Base)
	}
	st.N++
	st.Last = ts
	return cond, base
}

// greater reports whether a*b > c*d for non-negative a, b, c, d.
func greater(a, b, c, d int64) bool {
	h1, l1 := bits.Mul64(uint64(a), uint64(b))
	h2, l2 := bits.Mul64(uint64(c), uint64(d))
	return h1 > h2 || h1 == h2 && l1 > l2
}

// percent returns move/base*100 as a Decimal, rounded down.
func percent(move, base int64) event.Decimal {
	if base <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(move), uint64(100*event.Unit))
	if hi >= uint64(base) {
		return event.MaxDecimal
	}
	q, _ := bits.Div64(hi, lo, uint64(base))
	if q > math.MaxInt64 {
		return event.MaxDecimal
	}
	return event.Decimal(q)
}

func signed(d event.Decimal) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}
