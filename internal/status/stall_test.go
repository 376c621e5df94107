package status_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/status"
)

// TestPausedSinkStallsItsGroup runs the real sink on a steady price
// stream, then makes PostgreSQL refuse its writes (a lock on price_ticks,
// so its loads time out and it pauses consumption), and checks that the
// sink group's verdict goes from OK to STALL within the window, and back
// to OK once the sink loads again.
func TestPausedSinkStallsItsGroup(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	topics := kafka.TopicNames(tc.Prefix)
	pool, _ := pgtest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	group := "stall-sink-" + tc.Prefix

	reg := prometheus.NewRegistry()
	snk, err := sink.New(kafkatest.Config(brokers), pool, slog.New(slog.DiscardHandler), reg, sink.Options{
		Group: group, Topics: topics, BatchSize: 500, BatchTimeout: 100 * time.Millisecond,
		AttemptTimeout: time.Second, RetryMax: 300 * time.Millisecond, SessionTimeout: 6 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() {
		if err := snk.Run(runCtx); err != nil {
			t.Errorf("sink: %v", err)
		}
	})
	// A steady stream of about 150 ticks a second over three symbols.
	prod := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := int64(0); runCtx.Err() == nil; seq++ {
			for _, sym := range []string{"AAPL", "MSFT", "NVDA"} {
				p := event.Price{Symbol: sym, Sector: "Technology", Seq: seq, Time: time.Now().UTC(),
					Bid: 100 * event.Unit, Ask: 100*event.Unit + 100, Last: 100 * event.Unit, Volume: 10}
				prod.Produce(runCtx, &kgo.Record{Topic: topics.Prices, Key: p.AppendKey(nil), Value: p.AppendJSON(nil),
					Headers: []kgo.RecordHeader{
						{Key: event.HeaderSchema, Value: []byte(event.SchemaPriceV1)},
						{Key: event.HeaderProducedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
					}}, nil)
			}
			select {
			case <-runCtx.Done():
			case <-tick.C:
			}
		}
	})

	const window, interval = 5, 400 * time.Millisecond
	sampler := status.NewSampler(kafkatest.Client(t, brokers), nil, status.Options{
		Prefix: tc.Prefix, Groups: []string{group}, Window: window,
	})
	// await samples until the group's verdict is one of want, and returns
	// it with how long it took.
	await := func(what string, want ...status.Verdict) (status.Verdict, time.Duration) {
		t.Helper()
		start := time.Now()
		deadline := start.Add(45 * time.Second)
		var last status.Group
		for time.Now().Before(deadline) {
			snap := sampler.Sample(ctx)
			if g, ok := snap.Group(group); ok && g.Members > 0 && snap.Samples >= window && committing(g) {
				last = g
				for _, v := range want {
					if g.Verdict == v {
						return v, time.Since(start)
					}
				}
			}
			time.Sleep(interval)
		}
		t.Fatalf("%s: the group's verdict did not become %v within 45s; last %s, partitions %+v", what, want, last.Verdict, last.Partitions)
		return "", 0
	}

	v, took := await("running sink", status.OK)
	t.Logf("running sink: %s after %v", v, took.Round(time.Millisecond))

	// Hold an exclusive lock on price_ticks: every load blocks, times out
	// and the sink pauses consumption while it retries.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE price_ticks IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	for gauge(t, reg, "tradestream_sink_paused") != 1 {
		if time.Since(locked) > 30*time.Second {
			t.Fatal("the sink did not pause within 30s of the lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("sink paused %v after the lock", time.Since(locked).Round(time.Millisecond))
	// A paused sink commits nothing while its member stays in the group:
	// once the window holds only its last offset, the verdict is STALL.
	// (WARN, lag not decreasing, can also show on the way there, and even
	// flicker while it runs: a window of 5 samples is short.)
	v, _ = await("paused sink", status.Stall)
	t.Logf("paused sink: %s %v after the lock (window %d samples, %v apart)", v, time.Since(locked).Round(time.Millisecond), window, interval)

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	v, took = await("resumed sink", status.OK)
	t.Logf("resumed sink: %s after %v", v, took.Round(time.Millisecond))
}

// committing reports whether the group has committed every partition that
// holds records: verdicts judge commits, and a sink that has not loaded
// anything yet has none.
func committing(g status.Group) bool {
	for _, p := range g.Partitions {
		if p.End > 0 && p.Committed < 0 {
			return false
		}
	}
	return true
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
