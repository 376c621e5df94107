package sink

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/verify"
)

// TestSinkReloadsARecreatedTopic loads 300 ticks, deletes the prices
// topic and creates it again (as a replaced cluster with the database
// kept looks too), produces 120 new ticks and the first 40 old ones again,
// and runs the sink again in the same group. The topic's id is not the
// one recorded when the group was last assigned the partition, or (with
// no id recorded) the stored offset (300) is past the new partition's end
// (160): either way the sink must load the partition from its start, the
// new ticks as rows, the 40 old ones as dead letters "duplicate", none
// skipped, and its stored offset at the new end. Grown past the old
// offset (360 records), only the id tells.
func TestSinkReloadsARecreatedTopic(t *testing.T) {
	for _, c := range []struct {
		name            string
		more            int  // new ticks after the 160 records of recreatePrices
		forget          bool // the topic ids recorded at assignment deleted (a database from before they were)
		pastEnd, atAsgn float64
	}{
		{"short of the old offset", 0, false, 0, 1},
		{"short of the old offset, no topic id recorded", 0, true, 1, 0},
		{"grown past the old offset", 200, false, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, 1)
			e.produce(t, recreateTicks(e, "first", 0, 300)...)
			e.runSink(t, e.options(), nil, time.Minute)
			if n := e.count(t, `SELECT count(*) FROM price_ticks`); n != 300 {
				t.Fatalf("first run: got %d ticks, want 300", n)
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			recreatePrices(ctx, t, e, recreateTicks(e, "second", 120, c.more)...)
			if c.forget {
				if _, err := e.pool.Exec(ctx, `DELETE FROM consumed_partitions`); err != nil {
					t.Fatal(err)
				}
			}

			if c.more == 0 {
				// verify sees the stored offset past the end: the rows it
				// would match to the new log's offsets came from the old one.
				rep, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{Group: e.group, Topics: e.names})
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "past the partition's end 160") }) {
					t.Errorf("verify before the second run: got problems %q, want the stored offset past the partition's end", rep.Problems)
				}
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
			if ticks != int64(420+c.more) || dups != 40 || next != int64(160+c.more) {
				t.Errorf("after the topic was recreated: got %d ticks, %d duplicate dead letters, stored offset %d; want %d (300 + %d new), 40, %d",
					ticks, dups, next, 420+c.more, 120+c.more, 160+c.more)
			}
			if n := testutil.ToFloat64(s.metrics.pastEnd); n != c.pastEnd {
				t.Errorf("offsets_past_end_total: got %v, want %v", n, c.pastEnd)
			}
			if n := testutil.ToFloat64(s.metrics.recreatedAtAssign); n != c.atAsgn {
				t.Errorf("partitions_of_recreated_topics_total: got %v, want %v", n, c.atAsgn)
			}
			if rep, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{Group: e.group, Topics: e.names}); err == nil {
				t.Logf("verify after the second run (offsets shared by the two logs): %q", rep.Problems)
			}
			t.Logf("recreated topic (%s): stored offset 300, new end %d; loaded from the start: %d new ticks, %d duplicates as dead letters, stored offset %d",
				c.name, 160+c.more, ticks-300, dups, next)
		})
	}
}

// TestSinkReloadsATopicRecreatedUnderIt is TestSinkReloadsARecreatedTopic
// with the prices topic deleted and created again under a running sink:
// franz-go goes on waiting at the old offset, which the new log may reach
// only much later. Each of the sink's three ways to tell, alone (the
// others off): its periodic comparison of the topics' ids with the
// brokers'; short of the old offset, its periodic check of the stored
// offsets, which finds its position past the partition's end; grown past
// it, the brokers' refusal of the old topic id. Each way the sink loads
// the new topic from its start, in the same run.
func TestSinkReloadsATopicRecreatedUnderIt(t *testing.T) {
	for _, c := range []struct {
		name            string
		more            int           // new ticks after the 160 records of recreatePrices
		check           time.Duration // StoredCheck
		watch           time.Duration // how often the topics' ids are compared (kafka.Recreated)
		pastEnd, renews float64
	}{
		{"grown past the old offset, by the topic ids", 200, time.Hour, kafka.RecreatedWatch, 0, 1},
		{"short of the old offset, past the end", 0, 500 * time.Millisecond, 0, 1, 1},
		{"grown past the old offset, refused", 200, time.Hour, 0, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each mostly waits on franz-go reporting the refused topic id
			e := newTestEnv(t, 1)
			e.produce(t, recreateTicks(e, "first", 0, 300)...)
			opts := e.options()
			opts.UntilCaughtUp, opts.StoredCheck = false, c.check
			reg := prometheus.NewRegistry()
			s, err := New(e.kcfg, e.pool, testLogger(t), reg, opts)
			if err != nil {
				t.Fatal(err)
			}
			s.recreated.SetWatch(c.watch)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			stored := func() int64 {
				return e.count(t, `SELECT coalesce(max(next_offset), -1) FROM sink_offsets WHERE group_id = $1 AND topic = $2`, e.group, e.names.Prices)
			}
			for stored() != 300 {
				if ctx.Err() != nil {
					t.Fatal("the first 300 ticks were not loaded")
				}
				time.Sleep(100 * time.Millisecond)
			}

			recreatePrices(ctx, t, e, recreateTicks(e, "second", 120, c.more)...)
			recreated := time.Now()
			want := int64(160 + c.more)
			for stored() != want {
				select {
				case err := <-done:
					t.Fatalf("the sink stopped: %v", err)
				case <-ctx.Done():
					t.Fatalf("the sink did not load the recreated topic (stored offset %d, want %d)", stored(), want)
				case <-time.After(100 * time.Millisecond):
				}
			}
			took := time.Since(recreated)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("sink: %v", err)
			}
			ticks := e.count(t, `SELECT count(*) FROM price_ticks`)
			dups := e.count(t, `SELECT count(*) FROM dead_letters WHERE reason = 'duplicate'`)
			if ticks != int64(420+c.more) || dups != 40 {
				t.Errorf("got %d ticks and %d duplicate dead letters, want %d (300 + %d new) and 40", ticks, dups, 420+c.more, 120+c.more)
			}
			if n := testutil.ToFloat64(s.metrics.pastEnd); n != c.pastEnd {
				t.Errorf("offsets_past_end_total: got %v, want %v", n, c.pastEnd)
			}
			if n := testutil.ToFloat64(s.metrics.recreated); n != c.renews {
				t.Errorf("topics_recreated_total: got %v, want %v", n, c.renews)
			}
			t.Logf("topic recreated under the running sink (%s): loaded again from its start %v after the new records were produced: %d new ticks, %d duplicates as dead letters",
				c.name, took.Round(10*time.Millisecond), ticks-300, dups)
		})
	}
}

// recreateTicks returns n price records of run, sequence numbers from
// first on: the same run and numbers make the same events.
func recreateTicks(e *testEnv, run string, first, n int) []*kgo.Record {
	out := make([]*kgo.Record, 0, n)
	for i := first; i < first+n; i++ {
		p := event.Price{Symbol: "MSFT", Sector: "Technology", Seq: int64(i), Time: time.Unix(1_790_000_000+int64(i), 0).UTC(),
			Bid: 4_000_000, Ask: 4_000_100, Last: 4_000_050, Volume: 10}
		r := record(e.names.Prices, event.SchemaPriceV1, p.AppendKey(nil), p.AppendJSON(nil))
		r.Headers[2].Value = []byte(run)
		out = append(out, r)
	}
	return out
}

// recreatePrices deletes e's prices topic, creates it again and produces
// to it 120 new ticks, then copies of the first 40 of run "first" (160
// records), then more.
func recreatePrices(ctx context.Context, t *testing.T, e *testEnv, more ...*kgo.Record) {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	kafkatest.Recreate(ctx, t, brokers, e.topics, e.names.Prices)
	again := append(append(recreateTicks(e, "second", 0, 120), recreateTicks(e, "first", 0, 40)...), more...)
	prod := kafkatest.Client(t, brokers, kafka.ProducerOptions(e.kcfg)...)
	if err := prod.ProduceSync(ctx, again...).FirstErr(); err != nil {
		t.Fatalf("produce to the new topic: %v", err)
	}
}

// TestAdjustOffsetsWaitsForTheClient: the group can assign partitions
// while Run's client is still pinging the brokers (one of them hung), and
// the assignment's checks read topic ids through that client. Before it
// is set, adjustOffsets waits, and gives up with the group's context,
// instead of using a nil client (a crash, seen in TestFaultHungBroker).
func TestAdjustOffsetsWaitsForTheClient(t *testing.T) {
	s, err := New(config.Kafka{}, nil, slog.New(slog.DiscardHandler), nil, Options{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	offsets := map[string]map[int32]kgo.Offset{"prices": {0: kgo.NewOffset()}}
	if _, err := s.adjustOffsets(ctx, offsets); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the group context's end while the client is not set", err)
	}
}
