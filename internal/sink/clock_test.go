package sink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/event"
)

// TestSinkReadsTheInjectedClock runs the sink on a clock two hours ahead
// of the real one. Every time the sink reads comes from Options.Now, so
// the end-to-end latency (the clock minus the real produced_at) is about
// two hours, the durations (clock minus clock) are small and not
// negative, and a dead letter's produced_at is on the shifted clock. A
// time.Now left anywhere in these paths makes one of them two hours off.
func TestSinkReadsTheInjectedClock(t *testing.T) {
	e := newTestEnv(t, 1)
	const shift = 2 * time.Hour
	p := event.Price{Symbol: "MSFT", Sector: "Technology", Seq: 1, Time: time.Now().UTC(),
		Bid: 4_000_000, Ask: 4_000_100, Last: 4_000_050, Volume: 10}
	e.produce(t,
		record(e.names.Prices, event.SchemaPriceV1, p.Key(), p.AppendJSON(nil)),
		record(e.names.Prices, event.SchemaPriceV1, p.Key(), []byte("not json")),
	)
	opts := e.options()
	opts.Now = func() time.Time { return time.Now().Add(shift) }
	reg := prometheus.NewRegistry()
	before := time.Now()
	e.runSink(t, opts, reg, time.Minute)
	after := time.Now()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	counts := map[string]uint64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				sums[f.GetName()] += h.GetSampleSum()
				counts[f.GetName()] += h.GetSampleCount()
			}
		}
	}
	find := func(suffix string) (float64, uint64) {
		for name, sum := range sums {
			if strings.HasSuffix(name, suffix) {
				return sum, counts[name]
			}
		}
		t.Fatalf("no histogram named *%s among %v", suffix, sums)
		return 0, 0
	}
	if sum, n := find("_end_to_end_latency_seconds"); n != 1 || sum < (shift-time.Minute).Seconds() || sum > (shift+time.Minute).Seconds() {
		t.Errorf("got end-to-end latency %.1f s over %d records, want about %.0f s over 1 (the shifted clock minus produced_at)", sum, n, shift.Seconds())
	}
	for _, name := range []string{"_batch_duration_seconds", "_commit_duration_seconds", "_copy_duration_seconds"} {
		if sum, n := find(name); n == 0 || sum < 0 || sum > (shift/2).Seconds() {
			t.Errorf("got %s summing %.1f s over %d observations, want at least one, between 0 and %.0f s", name, sum, n, (shift / 2).Seconds())
		}
	}

	cl := e.consumer(t, e.names.DeadLetter)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := cl.PollFetches(ctx).Records()
	for len(recs) == 0 && ctx.Err() == nil {
		recs = cl.PollFetches(ctx).Records()
	}
	if len(recs) != 1 {
		t.Fatalf("got %d records on the deadletter topic, want 1", len(recs))
	}
	h := event.ReadHeaders(recs[0].Headers)
	at, ok := event.ParseTime(h.ProducedAt)
	if !ok || at.Before(before.Add(shift)) || at.After(after.Add(shift)) {
		t.Errorf("got dead letter produced_at %q, want between %v and %v (the shifted clock)", h.ProducedAt, before.Add(shift), after.Add(shift))
	}
	if src, ok := event.ParseTime(h.SourceProducedAt); !ok || src.Before(before.Add(-time.Minute)) || src.After(after) {
		t.Errorf("got source_produced_at %q, want the original record's (real) produced_at", h.SourceProducedAt)
	}
	if string(h.Reason) != string(event.ReasonMalformedJSON) || string(h.SourceTopic) != e.names.Prices || string(h.Schema) != event.SchemaPriceV1 {
		t.Errorf("got dead letter headers %+v, want reason malformed_json from %s with schema %s", h, e.names.Prices, event.SchemaPriceV1)
	}
}
