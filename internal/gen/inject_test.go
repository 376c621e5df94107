package gen

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
)

// captured is one record as the injector sent it.
type captured struct {
	topic, fault, schema string
	key, value           []byte
}

// capture is an Output keeping copies of what it is sent.
type capture struct {
	pool    *pool
	records []captured
}

func (c *capture) Send(_ context.Context, r *kgo.Record) error {
	x := captured{topic: r.Topic, key: bytes.Clone(r.Key), value: bytes.Clone(r.Value)}
	for _, h := range r.Headers {
		switch h.Key {
		case event.HeaderInjected:
			x.fault = string(h.Value)
		case event.HeaderSchema:
			x.schema = string(h.Value)
		}
	}
	c.records = append(c.records, x)
	c.pool.put(r)
	return nil
}

func (c *capture) Flush(context.Context) error { return nil }

// injectRun sends count events of seed through an injector with rates,
// 1 ms apart, and returns the records as sent and the manifest.
func injectRun(t *testing.T, seed uint64, count int, rates config.Inject) ([]captured, *Manifest) {
	t.Helper()
	cfg := config.Default().Gen
	cfg.Seed, cfg.Users = seed, 300
	sim, _, err := NewSim(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src := NewMarketSource(sim, market.KindAll, kafka.TopicNames("x."))
	recs := &pool{}
	out := &capture{pool: recs}
	path := filepath.Join(t.TempDir(), "manifest.json")
	inj := newInjector(out, Injection{Rates: rates, Seed: seed, ManifestPath: path}, recs, "inject-test")
	ctx := context.Background()
	for i := range count {
		r := recs.get()
		if !src.Next(r) {
			t.Fatal("source ended")
		}
		inj.at = time.Duration(i) * time.Millisecond
		if err := inj.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := inj.release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := inj.writeManifest(nil); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	return out.records, m
}

var allFaults = config.Inject{Duplicates: 0.02, Late: 0.02, Reorder: 0.02, Malformed: 0.04, Oversized: 0.01, UnknownSchema: 0.01}

// TestInjectedFaultsDecodeAsNamed decodes every record like the sink and
// checks each fault gets the dead-letter reason the manifest expects, and
// every other record decodes.
func TestInjectedFaultsDecodeAsNamed(t *testing.T) {
	recs, m := injectRun(t, 21, 20000, allFaults)
	dead := map[string]int64{}
	faults := map[string]int64{}
	for _, r := range recs {
		if r.fault != "" {
			faults[r.fault]++
		}
		_, err := event.Decode(r.schema, r.value)
		reason := string(event.ReasonOf(err))
		switch r.fault {
		case "", FaultDuplicate, FaultLate, FaultReorder:
			if err != nil {
				t.Fatalf("%s record (fault %q) does not decode: %v", r.topic, r.fault, err)
			}
		case FaultOversized:
			if len(r.value) < OversizedBytes || reason != string(event.ReasonInvalidField) {
				t.Errorf("oversized record of %d bytes: reason %q, want at least %d bytes and invalid_field", len(r.value), reason, OversizedBytes)
			}
		default:
			if reason != r.fault {
				t.Errorf("fault %s on %s: decodes with reason %q (%v)", r.fault, r.topic, reason, err)
			}
		}
		if err != nil {
			dead[reason]++
		}
	}
	for k, v := range m.Injected {
		if faults[k] != v {
			t.Errorf("fault %s: %d records carry it, the manifest says %d", k, faults[k], v)
		}
	}
	for _, k := range []string{"duplicate", "late", "reorder", "malformed_json", "missing_field", "out_of_range", "invalid_field", "oversized", "unknown_schema"} {
		if m.Injected[k] == 0 {
			t.Errorf("no %s fault in 20000 events", k)
		}
	}
	for k, v := range m.DeadLetters {
		if k == FaultDuplicate {
			// A copy decodes as its original does; the sink dead-letters it
			// by its identity, one per copy of a tick or trade.
			if want := m.ByTopic["x.prices"][FaultDuplicate] + m.ByTopic["x.trades"][FaultDuplicate]; v != want {
				t.Errorf("duplicate dead letters: the manifest expects %d, the copies of ticks and trades are %d", v, want)
			}
			continue
		}
		if dead[k] != v {
			t.Errorf("reason %s: %d records fail to decode, the manifest expects %d", k, dead[k], v)
		}
	}
	if m.Events != 20000 || m.Records != int64(len(recs)) {
		t.Errorf("manifest: %d events, %d records; want 20000 events and %d records", m.Events, m.Records, len(recs))
	}
}

// TestInjectDeterministic: the same seed injects the same faults.
func TestInjectDeterministic(t *testing.T) {
	a, ma := injectRun(t, 5, 5000, allFaults)
	b, mb := injectRun(t, 5, 5000, allFaults)
	if len(a) != len(b) {
		t.Fatalf("seed 5 twice: %d and %d records", len(a), len(b))
	}
	for i := range a {
		if a[i].fault != b[i].fault || !bytes.Equal(a[i].value, b[i].value) {
			t.Fatalf("seed 5 twice: record %d differs", i)
		}
	}
	if ma.summary() != mb.summary() {
		t.Errorf("manifests differ: %s and %s", ma.summary(), mb.summary())
	}
}

// TestReorderSwapsWithinKey: a reordered record goes out after the next
// record of its key, and late and reordered records are all sent.
func TestReorderSwapsWithinKey(t *testing.T) {
	recs, m := injectRun(t, 8, 10000, config.Inject{Reorder: 0.05})
	var swapped int64
	for i, r := range recs {
		if r.fault != FaultReorder || r.topic == "x.users" {
			continue
		}
		// The previous record of the same key is the one it waited for:
		// a later event of the key (a higher seq or trade id).
		for j := i - 1; j >= 0; j-- {
			if recs[j].topic == r.topic && bytes.Equal(recs[j].key, r.key) {
				if j == i-1 {
					swapped++
				}
				break
			}
		}
	}
	if swapped == 0 || swapped > m.Injected[FaultReorder] {
		t.Errorf("%d reordered records follow the record of their key, of %d reordered", swapped, m.Injected[FaultReorder])
	}
	if int64(len(recs)) != m.Events {
		t.Errorf("sent %d records for %d events, want every held record sent", len(recs), m.Events)
	}
}

// TestLateIsBounded: a late record goes out after records generated after
// it, but no more than the delay later. The same seed without faults gives
// each record's place in generation order.
func TestLateIsBounded(t *testing.T) {
	const delay = 40 * time.Millisecond // 40 events at the 1 ms steps of injectRun
	plain, _ := injectRun(t, 12, 8000, config.Inject{})
	place := make(map[string]int, len(plain))
	for j, r := range plain {
		place[string(r.value)] = j
	}
	recs, m := injectRun(t, 12, 8000, config.Inject{Late: 0.03, LateDelay: delay})
	var late, behind int64
	for i, r := range recs {
		if r.fault != FaultLate {
			continue
		}
		late++
		j, ok := place[string(r.value)]
		if !ok {
			t.Fatalf("late record %d is not a generated event", i)
		}
		// Sent at most 40 events later, each of which may have released
		// another late record before it.
		if i-j > 41+int(late) {
			t.Errorf("late record generated %d-th went out %d-th: more than the %v delay", j, i, delay)
		}
		if i-j >= 5 {
			behind++
		}
	}
	if late == 0 || late != m.Injected[FaultLate] {
		t.Fatalf("%d late records, the manifest says %d", late, m.Injected[FaultLate])
	}
	if behind == 0 {
		t.Error("no late record went out after the events generated after it")
	}
	if int64(len(recs)) != m.Events {
		t.Errorf("sent %d records for %d events", len(recs), m.Events)
	}
}
