package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/store"
)

// SinkOptions configures Sink.
type SinkOptions struct {
	Kafka config.Kafka
	// Topics is the topic layout (replication, retention); the prefix and
	// partition count are the benchmark's own.
	Topics config.Topics
	// DatabaseURL is the database the benchmark makes its own schema in.
	DatabaseURL string
	// Partitions of the benchmark topics.
	Partitions int
	// Events is the number of events (users, prices, trades) per run.
	Events int
	// Users is the number of synthetic users.
	Users int
	// BatchSize is the records per transaction, for both sides.
	BatchSize int
	// Rounds is how many times each side runs, alternating; the best run
	// of each is compared.
	Rounds int
	// NaiveRecords is how many records the naive side inserts.
	NaiveRecords int
	// Seed seeds the feed.
	Seed     uint64
	Log      *slog.Logger
	Progress io.Writer
}

// SinkRun is one timed run.
type SinkRun struct {
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
}

func newSinkRun(rows int64, d time.Duration) SinkRun {
	return SinkRun{Rows: rows, Seconds: d.Seconds(), RowsPerSec: float64(rows) / d.Seconds()}
}

// SinkResult is what `tradestream bench sink --json` reports.
type SinkResult struct {
	Events int   `json:"events"`
	Rows   int64 `json:"rows"`
	// RowsByTable splits Rows: price_ticks, trades, users.
	RowsByTable map[string]int64 `json:"rows_by_table"`
	BatchSize   int              `json:"batch_size"`
	Partitions  int              `json:"partitions"`
	// Raw is COPY of the pre-built rows into the same schema, in the same
	// batches and transactions, without Kafka or decoding.
	Raw []SinkRun `json:"raw_copy_runs"`
	// Sink is the sink from Kafka, from its first record to caught up.
	Sink []SinkRun `json:"sink_runs"`
	// Naive is one INSERT and one commit per record.
	Naive SinkRun `json:"naive_insert_run"`
	// Best rates and the sink's share of the raw rate.
	RawRate   float64 `json:"raw_copy_rows_per_sec"`
	SinkRate  float64 `json:"sink_rows_per_sec"`
	NaiveRate float64 `json:"naive_insert_rows_per_sec"`
	Ratio     float64 `json:"ratio"`
	Target    float64 `json:"target_ratio"`
	// Postgres holds the server version and the settings that matter.
	Postgres map[string]string `json:"postgres"`
}

// sinkTarget is the share of the raw COPY rate the sink aims for.
const sinkTarget = 0.75

// sinkTables are the tables the benchmark's rows go to.
var sinkTables = []store.Table{store.PriceTicks, store.Trades, store.Users}

// sinkBench is one run of the sink benchmark: its options, schema and
// topics.
type sinkBench struct {
	o      SinkOptions
	suffix string
	db     *benchDB
	topics kafka.Topics
}

// Sink measures the sink loading a seeded feed from Kafka into the
// partitioned, indexed schema against a raw COPY of the same rows into the
// same schema, in the same run, plus the naive one-INSERT-per-record rate.
// It works in its own topics and database schema and deletes both at the
// end.
func Sink(ctx context.Context, o SinkOptions) (*SinkResult, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	sb := &sinkBench{o: o, suffix: randomSuffix(4)}
	db, err := newBenchDB(ctx, o.DatabaseURL, "bench_sink_"+sb.suffix)
	if err != nil {
		return nil, err
	}
	defer db.close()
	sb.db = db
	if _, err := store.Migrate(ctx, db.pool); err != nil {
		return nil, err
	}
	cl, err := kafka.NewClient(ctx, o.Kafka, o.Log, kafka.ProducerOptions(o.Kafka)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	recs, err := sb.produceFeed(ctx, cl)
	defer sb.deleteTopics(ctx, cl)
	if err != nil {
		return nil, err
	}

	sopts := sink.Options{Topics: sb.topics, BatchSize: o.BatchSize, UntilCaughtUp: true, Group: "bench"}
	batches := sink.Prepare(sopts, sb.kafkaRecords(recs))
	naive := naiveRows(recs, o.NaiveRecords)
	recs = nil
	res := newSinkResult(o, batches)
	loader := sink.NewLoader(db.pool, o.Log)
	if err := loader.EnsurePartitions(ctx, batches...); err != nil {
		return nil, err
	}
	for round := 1; round <= o.Rounds; round++ {
		raw, err := sb.rawRound(ctx, loader, batches, res.Rows)
		if err != nil {
			return nil, err
		}
		res.Raw = append(res.Raw, raw)
		fmt.Fprintf(o.Progress, "round %d: raw COPY  %9.0f rows/s (%d rows in %.2fs)\n", round, raw.RowsPerSec, raw.Rows, raw.Seconds)
		sopts.Group = fmt.Sprintf("bench-%s-%d", sb.suffix, round)
		run, err := sb.sinkRound(ctx, sopts, res.Rows)
		if err != nil {
			return nil, err
		}
		res.Sink = append(res.Sink, run)
		fmt.Fprintf(o.Progress, "round %d: sink      %9.0f rows/s (%d rows in %.2fs)\n", round, run.RowsPerSec, run.Rows, run.Seconds)
	}
	if res.Naive, err = sb.naiveRound(ctx, naive); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "naive INSERT+COMMIT per record %9.0f rows/s (%d rows)\n", res.Naive.RowsPerSec, res.Naive.Rows)
	res.summarize()
	res.Postgres, err = db.settings(ctx)
	return res, err
}

func newSinkResult(o SinkOptions, batches []*sink.Batch) *SinkResult {
	res := &SinkResult{Events: o.Events, RowsByTable: map[string]int64{}, BatchSize: o.BatchSize,
		Partitions: o.Partitions, Target: sinkTarget}
	for _, b := range batches {
		rows := b.Rows()
		for _, t := range sinkTables {
			res.RowsByTable[t.Name] += rows[t.Name]
			res.Rows += rows[t.Name]
		}
	}
	return res
}

// summarize sets the best rates and the ratio.
func (res *SinkResult) summarize() {
	best := func(runs []SinkRun) float64 {
		var b float64
		for _, r := range runs {
			b = max(b, r.RowsPerSec)
		}
		return b
	}
	res.RawRate, res.SinkRate, res.NaiveRate = best(res.Raw), best(res.Sink), res.Naive.RowsPerSec
	res.Ratio = res.SinkRate / res.RawRate
}

// produceFeed creates the benchmark's topics, generates the feed and
// produces it with cl.
func (sb *sinkBench) produceFeed(ctx context.Context, cl *kgo.Client) ([]feed.Record, error) {
	tc := sb.o.Topics
	tc.Prefix, tc.Partitions = "bench.sink."+sb.suffix+".", sb.o.Partitions
	sb.topics = kafka.TopicNames(tc.Prefix)
	if _, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc)); err != nil {
		return nil, err
	}
	fmt.Fprintf(sb.o.Progress, "generating %d events and producing them to %s*\n", sb.o.Events, tc.Prefix)
	var recs []feed.Record
	cfg := feed.Config{Seed: sb.o.Seed, Users: sb.o.Users, Events: sb.o.Events, V1Share: 0.5}
	if _, err := feed.Generate(cfg, func(r feed.Record) error { recs = append(recs, r); return nil }); err != nil {
		return nil, err
	}
	return recs, feed.ProduceRecords(ctx, cl, sb.topics, recs, "bench-sink")
}

func (sb *sinkBench) deleteTopics(ctx context.Context, cl *kgo.Client) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).DeleteTopics(dctx, sb.topics.All()...)
}

// kafkaRecords returns the feed as the records the sink reads, one
// partition per topic, numbered in feed order.
func (sb *sinkBench) kafkaRecords(recs []feed.Record) []*kgo.Record {
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: sb.topicOf(r.Topic), Offset: int64(i), Key: r.Key, Value: r.Value,
			Headers: event.Headers{Schema: []byte(r.Schema)}.Records()}
	}
	return out
}

func (sb *sinkBench) topicOf(t feed.Topic) string {
	switch t {
	case feed.Users:
		return sb.topics.Users
	case feed.Prices:
		return sb.topics.Prices
	default:
		return sb.topics.Trades
	}
}

// rawRound loads the prepared batches with the sink's own loader, without
// Kafka or decoding: the yardstick.
func (sb *sinkBench) rawRound(ctx context.Context, l *sink.Loader, batches []*sink.Batch, rows int64) (SinkRun, error) {
	if err := sb.db.truncate(ctx); err != nil {
		return SinkRun{}, err
	}
	start := time.Now()
	for _, b := range batches {
		if err := l.Load(ctx, b); err != nil {
			return SinkRun{}, fmt.Errorf("raw copy: %w", err)
		}
	}
	return newSinkRun(rows, time.Since(start)), nil
}

// sinkRound runs the sink from Kafka until it has caught up, timed from
// the arrival of its first record, and checks it loaded every row.
func (sb *sinkBench) sinkRound(ctx context.Context, opts sink.Options, rows int64) (SinkRun, error) {
	if err := sb.db.truncate(ctx); err != nil {
		return SinkRun{}, err
	}
	var first time.Time
	opts.OnCommit = func(c sink.Committed) {
		if first.IsZero() {
			first = c.FirstRecord
		}
	}
	s, err := sink.New(sb.o.Kafka, sb.db.pool, sb.o.Log, nil, opts)
	if err != nil {
		return SinkRun{}, err
	}
	if err := s.Run(ctx); err != nil {
		return SinkRun{}, fmt.Errorf("sink: %w", err)
	}
	end := time.Now()
	loaded, err := sb.db.countRows(ctx, sinkTables)
	if err != nil {
		return SinkRun{}, err
	}
	if loaded != rows || first.IsZero() {
		return SinkRun{}, fmt.Errorf("sink loaded %d rows, want %d", loaded, rows)
	}
	return newSinkRun(rows, end.Sub(first)), nil
}
