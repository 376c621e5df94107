package sink

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/verify"
)

// TestSinkReloadsARecreatedTopic loads 300 ticks, deletes the prices
// topic and creates it again (as a replaced cluster with the database
// kept looks too), produces 120 new ticks and the first 40 old ones again,
// and runs the sink again in the same group: its stored offset (300) is
// past the new partition's end (160), so it must load the partition from
// its start: the 120 new ticks as rows, the 40 old ones as dead letters
// "duplicate", none skipped, and its stored offset at the new end.
func TestSinkReloadsARecreatedTopic(t *testing.T) {
	e := newTestEnv(t, 1)
	tick := func(run string, i int) *kgo.Record {
		p := event.Price{Symbol: "MSFT", Sector: "Technology", Seq: int64(i), Time: time.Unix(1_790_000_000+int64(i), 0).UTC(),
			Bid: 4_000_000, Ask: 4_000_100, Last: 4_000_050, Volume: 10}
		r := record(e.names.Prices, event.SchemaPriceV1, p.AppendKey(nil), p.AppendJSON(nil))
		r.Headers[2].Value = []byte(run)
		return r
	}
	var old []*kgo.Record
	for i := range 300 {
		old = append(old, tick("first", i))
	}
	e.produce(t, old...)
	e.runSink(t, e.options(), nil, time.Minute)
	if n := e.count(t, `SELECT count(*) FROM price_ticks`); n != 300 {
		t.Fatalf("first run: got %d ticks, want 300", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers := kafkatest.Brokers(t)
	adm := kafkatest.Admin(t, brokers)
	if _, err := adm.DeleteTopics(ctx, e.names.Prices); err != nil {
		t.Fatalf("delete the prices topic: %v", err)
	}
	cl := kafkatest.Client(t, brokers)
	for {
		created, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(e.topics))
		if err == nil && len(created) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create the prices topic again: %v (created %v)", err, created)
		}
		time.Sleep(200 * time.Millisecond) // still being deleted
	}
	var again []*kgo.Record
	for i := range 120 {
		again = append(again, tick("second", i))
	}
	for i := range 40 {
		again = append(again, tick("first", i)) // copies of stored events
	}
	prod := kafkatest.Client(t, brokers, kafka.ProducerOptions(e.kcfg)...)
	if err := prod.ProduceSync(ctx, again...).FirstErr(); err != nil {
		t.Fatalf("produce to the new topic: %v", err)
	}

	// verify sees the stored offset past the end: the rows it would match
	// to the new log's offsets came from the old one.
	rep, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{Group: e.group, Topics: e.names})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "past the partition's end 160") }) {
		t.Errorf("verify before the second run: got problems %q, want the stored offset past the partition's end", rep.Problems)
	}

	reg := prometheus.NewRegistry()
	s, err := New(e.kcfg, e.pool, testLogger(t), reg, e.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("second run: %v (%v)", err, ctx.Err())
	}
	ticks := e.count(t, `SELECT count(*) FROM price_ticks`)
	dups := e.count(t, `SELECT count(*) FROM dead_letters WHERE reason = 'duplicate'`)
	next := e.count(t, `SELECT next_offset FROM sink_offsets WHERE group_id = $1 AND topic = $2`, e.group, e.names.Prices)
	if ticks != 420 || dups != 40 || next != 160 {
		t.Errorf("after the topic was recreated: got %d ticks, %d duplicate dead letters, stored offset %d; want 420 (300 + 120 new), 40, 160",
			ticks, dups, next)
	}
	if n := testutil.ToFloat64(s.metrics.pastEnd); n != 1 {
		t.Errorf("offsets_past_end_total: got %v, want 1", n)
	}
	if rep, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{Group: e.group, Topics: e.names}); err == nil {
		t.Logf("verify after the second run (offsets shared by the two logs): %q", rep.Problems)
	}
	t.Logf("recreated topic: stored offset 300 past the new end 160; loaded from the start: %d new ticks, %d duplicates as dead letters, stored offset %d",
		ticks-300, dups, next)
}
