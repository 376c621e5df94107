package verify_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/store"
	"github.com/tradestream/tradestream/internal/verify"
)

// TestVerifyIsExactWhileTheSinkLoads runs verify again and again against a
// sink that keeps loading (each run starts while a new chunk of the stream
// is being produced), and requires every run to be clean: stored offsets,
// rows, dead letters and the topics must be compared as of one moment.
// Once the sink has caught up, a last verify must be clean with the exact
// totals of the stream.
func TestVerifyIsExactWhileTheSinkLoads(t *testing.T) {
	const runs = 20
	brokers := kafkatest.Brokers(t)
	pool, _ := pgtest.Migrated(t)
	topics := kafkatest.Topics(t, brokers, 3, 1)
	kcfg := kafkatest.Config(brokers)
	names := kafka.TopicNames(topics.Prefix)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var recs []feed.Record
	exp, err := feed.Generate(feed.Config{Seed: 11, Users: 200, Events: 60_000, MalformedEvery: 97, V1Share: 0.3},
		func(r feed.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	const runID = "feed-11"
	chunk := len(recs) / runs
	// The first chunk holds every user (they come first in the stream).
	if err := feed.ProduceRecords(ctx, producer, names, recs[:chunk], runID); err != nil {
		t.Fatal(err)
	}

	group := topics.Prefix + "sink"
	sinkOpts := sink.Options{Group: group, Topics: names, BatchSize: 500, BatchTimeout: 20 * time.Millisecond}
	loading := startSink(ctx, t, kcfg, pool, sinkOpts)

	opts := verify.Options{Group: group, Topics: names}
	raced := 0
	for i := 1; i <= runs; i++ {
		next := recs[min(i*chunk, len(recs)):min((i+1)*chunk, len(recs))]
		if i == runs {
			next = recs[i*chunk:]
		}
		produced := make(chan error, 1)
		go func() { produced <- feed.ProduceRecords(ctx, producer, names, next, runID) }()
		before := storedTotal(ctx, t, pool, group, names)
		rep, err := verify.Run(ctx, kcfg, log, pool, opts)
		if err != nil {
			t.Fatalf("verify run %d: %v", i, err)
		}
		if storedTotal(ctx, t, pool, group, names) != before {
			raced++ // the sink committed while this run was reading
		}
		if !rep.OK() {
			t.Errorf("verify run %d of %d while the sink loads: %v", i, runs, rep.Problems)
		}
		if err := <-produced; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d of %d verify runs overlapped a sink commit", raced, runs)
	if raced == 0 {
		t.Fatal("the sink committed during none of the verify runs: the test did not test verify against a loading sink")
	}
	loading.stop(t)

	caughtUp := sinkOpts
	caughtUp.UntilCaughtUp = true
	s, err := sink.New(kcfg, pool, log, nil, caughtUp)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("sink catching up: %v (%v)", err, ctx.Err())
	}
	opts.RequireCaughtUp = true
	rep, err := verify.Run(ctx, kcfg, log, pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify after the sink caught up: %v", rep.Problems)
	}
	rows := map[string]int64{}
	for _, p := range rep.Partitions {
		rows[p.Topic] += p.Rows
	}
	totals := []struct {
		name      string
		got, want int64
	}{
		{"price rows", rows[names.Prices], int64(exp.Prices)},
		{"trade rows", rows[names.Trades], int64(exp.Trades)},
		{"user keys", rep.Users.Keys, int64(exp.Users)},
		{"user rows", rep.Users.Rows, int64(exp.Users)},
		{"dead letters", sumDead(rep), int64(exp.MalformedTotal())},
		{"accounts", rep.Balances.Accounts, int64(exp.Users)},
	}
	for _, tt := range totals {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// runningSink is a sink running in the background until stopped.
type runningSink struct {
	cancel context.CancelFunc
	done   chan error
}

func startSink(ctx context.Context, t *testing.T, kcfg config.Kafka, pool *pgxpool.Pool, opts sink.Options) *runningSink {
	t.Helper()
	s, err := sink.New(kcfg, pool, slog.New(slog.DiscardHandler), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &runningSink{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *runningSink) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("sink: %v", err)
	}
	r.done <- nil // for the cleanup
}

// storedTotal sums the sink's stored offsets over the data topics.
func storedTotal(ctx context.Context, t *testing.T, pool *pgxpool.Pool, group string, names kafka.Topics) int64 {
	t.Helper()
	stored, err := store.StoredOffsets(ctx, pool, group, []string{names.Users, names.Prices, names.Trades})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, parts := range stored {
		for _, o := range parts {
			n += o
		}
	}
	return n
}
