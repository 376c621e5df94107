package gen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/rate"
)

// Injection configures the deliberate faults of a run (--inject).
type Injection struct {
	// Rates are the probabilities per event of each fault.
	Rates config.Inject
	// Seed makes the choice of faulty events reproducible.
	Seed uint64
	// ManifestPath is where the manifest goes; empty means
	// tradestream-inject-RUNID.json in the working directory.
	ManifestPath string
}

// EventTimer is a Source that knows its stream's event time (the
// market's simulated clock). Late faults are delayed in event time when
// the source is one, so that a seeded run injects the same stream however
// fast it is made.
type EventTimer interface {
	// EventTime is the event time of the last event drawn.
	EventTime() time.Time
}

// faultTime is the time the injector times late records on: the event
// time since the Unix epoch when src knows it, else the event's place in
// the pacing schedule, else (unpaced) the wall time elapsed.
func faultTime(src Source, shape rate.Shape, units float64, elapsed time.Duration) time.Duration {
	if et, ok := src.(EventTimer); ok {
		return time.Duration(et.EventTime().UnixNano())
	}
	if shape.Paced() {
		return shape.Due(units)
	}
	return elapsed
}

// The faults, as written in the HeaderInjected header and the manifest.
const (
	FaultDuplicate     = "duplicate"
	FaultLate          = "late"
	FaultReorder       = "reorder"
	FaultMalformedJSON = string(event.ReasonMalformedJSON)
	FaultMissingField  = string(event.ReasonMissingField)
	FaultOutOfRange    = string(event.ReasonOutOfRange)
	FaultInvalidField  = string(event.ReasonInvalidField)
	FaultOversized     = "oversized"
	FaultUnknownSchema = string(event.ReasonUnknownSchema)
)

// malformedFaults are the bad-value reasons a malformed fault cycles
// through, one dead-letter reason of the sink each.
var malformedFaults = [...]string{FaultMalformedJSON, FaultMissingField, FaultOutOfRange, FaultInvalidField}

// OversizedBytes is the least value size of an oversized fault.
const OversizedBytes = 256 << 10

// reorderWindow is how many records a reordered record waits at most for
// the next record of its key (a user's profile never has one).
const reorderWindow = 1024

// held is a record kept back by a late or reorder fault.
type held struct {
	r       *kgo.Record
	release time.Duration // late: when to send it
	since   int64         // reorder: the record count when it was held
}

// injector is the Output decorator that sends the faults. It is used from
// the generator's one sending goroutine only.
type injector struct {
	out   Output
	pool  *pool
	rates config.Inject
	rng   *rand.Rand
	man   *Manifest
	path  string

	at        time.Duration // the current event's time (see faultTime)
	records   int64
	malformed int
	late      []held // in release order (a bounded delay each)
	reorder   []held // in holding order
	marks     map[string][]byte
}

func newInjector(out Output, in Injection, pool *pool, runID string) *injector {
	return &injector{
		out: out, pool: pool, rates: in.Rates, path: in.ManifestPath,
		rng:   rand.New(rand.NewPCG(in.Seed, 0x7ade5)),
		man:   newManifest(runID, in),
		marks: map[string][]byte{},
	}
}

// Send implements Output: it sends r (now, later, or after the next
// record of its key) and the faults drawn for it.
func (in *injector) Send(ctx context.Context, r *kgo.Record) error {
	in.man.event(r.Topic)
	// One draw per kind and event whatever the outcome, so that which
	// events carry faults depends on the seed alone.
	var draw [6]float64
	for i := range draw {
		draw[i] = in.rng.Float64()
	}
	if err := in.releaseLate(ctx); err != nil {
		return err
	}
	// Copies are made before r is sent: the output recycles r once done.
	var extra [4]*kgo.Record
	n := 0
	if draw[0] < in.rates.Duplicates {
		extra[n] = in.copyOf(r, FaultDuplicate)
		n++
	}
	if draw[3] < in.rates.Malformed {
		fault := malformedFaults[in.malformed%len(malformedFaults)]
		in.malformed++
		extra[n] = in.corrupt(r, fault)
		n++
	}
	if draw[4] < in.rates.Oversized {
		extra[n] = in.corrupt(r, FaultOversized)
		n++
	}
	if draw[5] < in.rates.UnknownSchema {
		extra[n] = in.corrupt(r, FaultUnknownSchema)
		n++
	}
	switch {
	case draw[1] < in.rates.Late && len(in.late) < 4096:
		in.mark(r, FaultLate)
		delay := time.Duration((1 - in.rng.Float64()) * float64(in.rates.Delay()))
		in.holdLate(held{r: r, release: in.at + delay})
	case draw[2] < in.rates.Reorder && len(in.reorder) < 256 && in.waiting(r) < 0:
		in.mark(r, FaultReorder)
		in.reorder = append(in.reorder, held{r: r, since: in.records})
	default:
		if err := in.sendKeyed(ctx, r); err != nil {
			return err
		}
	}
	for _, x := range extra[:n] {
		if err := in.send(ctx, x); err != nil {
			return err
		}
	}
	return in.releaseStale(ctx)
}

// sendKeyed sends r and then the reordered record of its key waiting for
// it, if any.
func (in *injector) sendKeyed(ctx context.Context, r *kgo.Record) error {
	i := in.waiting(r)
	if err := in.send(ctx, r); err != nil || i < 0 {
		return err
	}
	w := in.reorder[i]
	in.reorder = append(in.reorder[:i], in.reorder[i+1:]...)
	return in.send(ctx, w.r)
}

// waiting returns the index of the reordered record of r's topic and key,
// or -1.
func (in *injector) waiting(r *kgo.Record) int {
	for i, h := range in.reorder {
		if h.r.Topic == r.Topic && bytes.Equal(h.r.Key, r.Key) {
			return i
		}
	}
	return -1
}

func (in *injector) send(ctx context.Context, r *kgo.Record) error {
	in.records++
	in.man.Records++
	return in.out.Send(ctx, r)
}

// holdLate inserts h keeping in.late sorted by release time.
func (in *injector) holdLate(h held) {
	i := len(in.late)
	for i > 0 && in.late[i-1].release > h.release {
		i--
	}
	in.late = append(in.late, held{})
	copy(in.late[i+1:], in.late[i:])
	in.late[i] = h
}

// releaseLate sends the late records whose delay is over.
func (in *injector) releaseLate(ctx context.Context) error {
	i := 0
	for ; i < len(in.late) && in.late[i].release <= in.at; i++ {
		if err := in.sendKeyed(ctx, in.late[i].r); err != nil {
			return err
		}
	}
	in.late = append(in.late[:0], in.late[i:]...)
	return nil
}

// releaseStale sends the reordered records that waited reorderWindow
// records without meeting another of their key.
func (in *injector) releaseStale(ctx context.Context) error {
	for len(in.reorder) > 0 && in.records-in.reorder[0].since > reorderWindow {
		r := in.reorder[0].r
		in.reorder = in.reorder[1:]
		if err := in.send(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// release sends every record still held, at the end of the run.
func (in *injector) release(ctx context.Context) error {
	for _, h := range in.late {
		if err := in.send(ctx, h.r); err != nil {
			return err
		}
	}
	for _, h := range in.reorder {
		if err := in.send(ctx, h.r); err != nil {
			return err
		}
	}
	in.late, in.reorder = nil, nil
	return nil
}

// Flush implements Output.
func (in *injector) Flush(ctx context.Context) error { return in.out.Flush(ctx) }

// mark adds the HeaderInjected header naming fault to r and counts it.
func (in *injector) mark(r *kgo.Record, fault string) {
	v, ok := in.marks[fault]
	if !ok {
		v = []byte(fault)
		in.marks[fault] = v
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: event.HeaderInjected, Value: v})
	in.man.injected(r.Topic, string(event.ReadHeaders(r.Headers).Schema), fault)
}

// copyOf returns a pooled copy of r marked with fault.
func (in *injector) copyOf(r *kgo.Record, fault string) *kgo.Record {
	c := in.pool.get()
	c.Topic = r.Topic
	c.Key = append(c.Key[:0], r.Key...)
	c.Value = append(c.Value[:0], r.Value...)
	c.Headers = append(c.Headers[:0], r.Headers...)
	in.mark(c, fault)
	return c
}

// corrupt returns a copy of r broken by fault: a value the sink
// dead-letters with that reason (oversized: invalid_field, for the
// unknown field that pads it).
func (in *injector) corrupt(r *kgo.Record, fault string) *kgo.Record {
	c := in.copyOf(r, fault)
	c.Value = breakValue(c.Value[:0], r.Value, fault)
	if fault == FaultUnknownSchema {
		for i, h := range c.Headers {
			if h.Key == event.HeaderSchema {
				c.Headers[i].Value = unknownSchema(h.Value)
			}
		}
	}
	return c
}
