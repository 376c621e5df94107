package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
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
	// Command runs the sink as its own process (the tradestream binary and
	// "sink"); Env is added to its environment.
	Command []string
	Env     []string
	// Partitions of the benchmark topics.
	Partitions int
	// Events is the number of events (users, prices, trades) per run.
	Events int
	// Users is the number of synthetic users.
	Users int
	// BatchSize is the records per transaction of the sink and its writer.
	BatchSize int
	// Rounds is how many times each side runs, alternating; the best run
	// of each is compared.
	Rounds int
	// NaiveRecords is how many records the naive side inserts.
	NaiveRecords int
	// Instances lists the scale-out configurations to measure after the
	// rounds: that many sink processes in one group (none: no scale-out).
	Instances []int
	// Seed seeds the feed.
	Seed uint64
	// Format is the format of the feed's records in Kafka: JSON, or a
	// registry format through Registry (the sink process finds the
	// registry in its configuration, TRADESTREAM_SCHEMA_REGISTRY_URL).
	Format   format.Format
	Registry *format.Registry
	Log      *slog.Logger
	Progress io.Writer
}

// SinkRun is one timed run.
type SinkRun struct {
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	// MBPerSec is the feed's record values loaded per second, in MB (10^6
	// bytes): the same bytes for every side.
	MBPerSec float64 `json:"mb_per_sec"`
	// PeakRSSBytes is the sink process's peak resident set (sink runs).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
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
	// ValueBytes is the size of the feed's record values.
	ValueBytes int64 `json:"value_bytes"`
	BatchSize  int   `json:"batch_size"`
	Partitions int   `json:"partitions"`
	// Ceiling is PostgreSQL's own binary COPY of the same rows through pgx:
	// one COPY per table holding all its rows, in one transaction.
	Ceiling []SinkRun `json:"ceiling_runs"`
	// Sink is `tradestream sink --until-caught-up` from Kafka, in its own
	// process, from its first record to caught up.
	Sink []SinkRun `json:"sink_runs"`
	// Writer is the sink's own writer on the rows decoded beforehand, in
	// the sink's batches and transactions, without Kafka or decoding.
	Writer []SinkRun `json:"writer_runs"`
	// Naive is one INSERT and one commit per record.
	Naive SinkRun `json:"naive_insert_run"`
	// ScaleOut is the backlog loaded by 1, 2, ... sink processes in one
	// group, if measured.
	ScaleOut []ScaleRun `json:"scale_out,omitempty"`
	// Best rates, and the sink's and the writer's shares of the ceiling.
	CeilingRate float64 `json:"ceiling_rows_per_sec"`
	SinkRate    float64 `json:"sink_rows_per_sec"`
	WriterRate  float64 `json:"writer_rows_per_sec"`
	NaiveRate   float64 `json:"naive_insert_rows_per_sec"`
	Ratio       float64 `json:"sink_ceiling_ratio"`
	WriterRatio float64 `json:"writer_ceiling_ratio"`
	Target      float64 `json:"target_ratio"`
	// SinkPeakRSSBytes is the largest peak RSS of the sink runs.
	SinkPeakRSSBytes int64 `json:"sink_peak_rss_bytes"`
	// Differences lists what the sides do differently.
	Differences []string `json:"differences"`
	// Format is the format of the feed's records in Kafka.
	Format string `json:"format"`
	// Checkpointed is whether every timed run started from a checkpoint
	// (the role needs pg_checkpoint; scripts/stack grants it).
	Checkpointed bool `json:"checkpointed"`
	// Postgres holds the server version and the settings that matter.
	Postgres map[string]string `json:"postgres"`
}

// sinkTarget is the share of the ceiling the sink aims for.
const sinkTarget = 0.75

// sinkDifferences are the differences between the sides, for the report.
var sinkDifferences = []string{
	"ceiling: one COPY per table of all its rows in one transaction (pgx's CopyFrom); accounts get the profiles' rows only, with no per-trade balance updates",
	"sink and writer: transactions of --batch-size records with the Kafka offsets stored in each, users and accounts upserted (latest state) through staging tables, each trade's balance applied to its account",
	"sink: also fetches from Kafka, decodes and validates every record, and commits the offsets to Kafka",
}

// sinkTables are the tables the benchmark's rows go to.
var sinkTables = []store.Table{store.PriceTicks, store.Trades, store.Users}

// sinkBench is one run of the sink benchmark: its options, schema and
// topics.
type sinkBench struct {
	o      SinkOptions
	suffix string
	prefix string
	db     *benchDB
	topics kafka.Topics
	// valueBytes is the size of the record values produced to Kafka.
	valueBytes int64
}

// Sink measures, in one run on the same rows and schema, PostgreSQL's own
// binary COPY of the rows (the ceiling), the sink loading them from Kafka
// as its own process, and the sink's writer on rows decoded beforehand,
// alternating rounds, plus the naive one-INSERT-per-record rate. It works
// in its own topics and database schema and deletes both at the end.
func Sink(ctx context.Context, o SinkOptions) (*SinkResult, error) {
	sb, cl, err := openSinkBench(ctx, &o, "bench_sink_")
	if err != nil {
		return nil, err
	}
	defer sb.db.close()
	defer cl.Close()
	db := sb.db
	recs, err := sb.produceFeed(ctx, cl)
	defer sb.deleteTopics(ctx, cl)
	if err != nil {
		return nil, err
	}

	sopts := sink.Options{Topics: sb.topics, BatchSize: o.BatchSize, Group: "bench", Decoder: format.NewDecoder(o.Registry, o.Log)}
	batches := sink.Prepare(sopts, sb.kafkaRecords(recs))
	naive := naiveRows(recs, o.NaiveRecords)
	res := newSinkResult(o, batches)
	res.ValueBytes = sb.valueBytes
	recs = nil
	ceiling := newCeilingRows(batches)
	loader := sink.NewLoader(db.pool, o.Log)
	if err := loader.EnsurePartitions(ctx, batches...); err != nil {
		return nil, err
	}
	report := func(round int, side string, run SinkRun) {
		rss := ""
		if run.PeakRSSBytes > 0 {
			rss = fmt.Sprintf(", peak RSS %.0f MiB", float64(run.PeakRSSBytes)/(1<<20))
		}
		fmt.Fprintf(o.Progress, "round %d: %-8s %9.0f rows/s %6.1f MB/s (%d rows in %.2fs%s)\n",
			round, side, run.RowsPerSec, run.MBPerSec, run.Rows, run.Seconds, rss)
	}
	for round := 1; round <= o.Rounds; round++ {
		run, err := sb.ceilingRound(ctx, ceiling, res.Rows)
		if err != nil {
			return nil, err
		}
		res.Ceiling = append(res.Ceiling, res.withBytes(run))
		report(round, "ceiling", res.Ceiling[len(res.Ceiling)-1])
		if run, err = sb.sinkRound(ctx, fmt.Sprintf("bench-%s-%d", sb.suffix, round), res.Rows); err != nil {
			return nil, err
		}
		res.Sink = append(res.Sink, res.withBytes(run))
		report(round, "sink", res.Sink[len(res.Sink)-1])
		if run, err = sb.writerRound(ctx, loader, batches, res.Rows); err != nil {
			return nil, err
		}
		res.Writer = append(res.Writer, res.withBytes(run))
		report(round, "writer", res.Writer[len(res.Writer)-1])
	}
	for _, n := range o.Instances {
		run, err := sb.scaleRound(ctx, n, res.Rows)
		if err != nil {
			return nil, err
		}
		res.ScaleOut = append(res.ScaleOut, run)
		fmt.Fprintf(o.Progress, "scale-out: %d sinks %9.0f rows/s (%d rows in %.2fs; records per instance %v, peak RSS %.0f MiB)\n",
			n, run.RowsPerSec, run.Rows, run.Seconds, run.Records, float64(run.PeakRSSBytes)/(1<<20))
	}
	if res.Naive, err = sb.naiveRound(ctx, naive); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "naive INSERT+COMMIT per record %9.0f rows/s (%d rows)\n", res.Naive.RowsPerSec, res.Naive.Rows)
	res.summarize()
	res.Checkpointed = db.checkpointed
	res.Postgres, err = db.settings(ctx)
	return res, err
}

// openSinkBench fills o's defaults and makes the run's own schema (named
// schema and a random suffix), migrated, and a producer client; the caller
// closes both.
func openSinkBench(ctx context.Context, o *SinkOptions, schema string) (*sinkBench, *kgo.Client, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	sb := &sinkBench{o: *o, suffix: randomSuffix(4)}
	db, err := newBenchDB(ctx, o.DatabaseURL, schema+sb.suffix)
	if err != nil {
		return nil, nil, err
	}
	sb.db = db
	if _, err := store.Migrate(ctx, db.pool); err != nil {
		db.close()
		return nil, nil, err
	}
	cl, err := kafka.NewClient(ctx, o.Kafka, o.Log, kafka.ProducerOptions(o.Kafka)...)
	if err != nil {
		db.close()
		return nil, nil, err
	}
	return sb, cl, nil
}

func newSinkResult(o SinkOptions, batches []*sink.Batch) *SinkResult {
	res := &SinkResult{Events: o.Events, RowsByTable: map[string]int64{}, BatchSize: o.BatchSize,
		Partitions: o.Partitions, Target: sinkTarget, Differences: sinkDifferences, Format: o.Format.String()}
	if o.Format.Registered() {
		res.Differences = append(slices.Clip(res.Differences), "format: the feed's valid records are "+o.Format.String()+
			" in Kafka (schemas fetched from the registry once per id); the ceiling copies the same rows. MB/s counts the "+
			o.Format.String()+" values, smaller than JSON's")
	}
	for _, b := range batches {
		rows := b.Rows()
		for _, t := range sinkTables {
			res.RowsByTable[t.Name] += rows[t.Name]
			res.Rows += rows[t.Name]
		}
	}
	return res
}

// withBytes sets run's MB/s from the feed's value bytes.
func (res *SinkResult) withBytes(run SinkRun) SinkRun {
	run.MBPerSec = float64(res.ValueBytes) / 1e6 / run.Seconds
	return run
}

// summarize sets the best rates, the ratios and the sink's peak RSS.
func (res *SinkResult) summarize() {
	best := func(runs []SinkRun) float64 {
		var b float64
		for _, r := range runs {
			b = max(b, r.RowsPerSec)
		}
		return b
	}
	res.CeilingRate, res.SinkRate, res.WriterRate = best(res.Ceiling), best(res.Sink), best(res.Writer)
	res.NaiveRate = res.Naive.RowsPerSec
	res.Ratio, res.WriterRatio = res.SinkRate/res.CeilingRate, res.WriterRate/res.CeilingRate
	for _, r := range res.Sink {
		res.SinkPeakRSSBytes = max(res.SinkPeakRSSBytes, r.PeakRSSBytes)
	}
}

// produceFeed creates the benchmark's topics, generates the feed and
// produces it with cl.
func (sb *sinkBench) produceFeed(ctx context.Context, cl *kgo.Client) ([]feed.Record, error) {
	tc := sb.o.Topics
	tc.Prefix, tc.Partitions = "bench.sink."+sb.suffix+".", sb.o.Partitions
	sb.prefix, sb.topics = tc.Prefix, kafka.TopicNames(tc.Prefix)
	if _, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc)); err != nil {
		return nil, err
	}
	fmt.Fprintf(sb.o.Progress, "generating %d events and producing them to %s*\n", sb.o.Events, tc.Prefix)
	var recs []feed.Record
	cfg := feed.Config{Seed: sb.o.Seed, Users: sb.o.Users, Events: sb.o.Events, V1Share: 0.5}
	if _, err := feed.Generate(cfg, func(r feed.Record) error { recs = append(recs, r); return nil }); err != nil {
		return nil, err
	}
	sent, err := sb.encodeFeed(ctx, recs)
	if err != nil {
		return nil, err
	}
	for _, r := range sent {
		sb.valueBytes += int64(len(r.Value))
	}
	return recs, feed.ProduceRecords(ctx, cl, sb.topics, sent, "bench-sink")
}

// encodeFeed returns the records to produce: the feed's valid records
// re-encoded in the benchmark's registry format (the malformed ones as they
// are), the schemas registered under the benchmark topics' subjects; for
// JSON, recs themselves. The writer and naive sides keep the JSON feed.
func (sb *sinkBench) encodeFeed(ctx context.Context, recs []feed.Record) ([]feed.Record, error) {
	if !sb.o.Format.Registered() {
		return recs, nil
	}
	if sb.o.Registry == nil {
		return nil, fmt.Errorf("--format %s needs a schema registry: set --schema-registry-url", sb.o.Format)
	}
	enc, err := format.NewEncoder(ctx, sb.o.Registry, sb.o.Format, []format.Registration{
		{Version: event.SchemaUserV1, Topic: sb.topics.Users}, {Version: event.SchemaPriceV1, Topic: sb.topics.Prices},
		{Version: event.SchemaTradeV1, Topic: sb.topics.Trades}, {Version: event.SchemaTradeV2, Topic: sb.topics.Trades}})
	if err != nil {
		return nil, err
	}
	out := slices.Clone(recs)
	for i := range out {
		if !out[i].Valid {
			continue
		}
		v, err := event.Decode(out[i].Schema, out[i].Value)
		if err != nil {
			return nil, fmt.Errorf("feed record %d: %w", i, err)
		}
		if out[i].Value, err = enc.Append(nil, out[i].Schema, v); err != nil {
			return nil, err
		}
	}
	return out, nil
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

// writerRound loads the prepared batches with the sink's own writer,
// without Kafka or decoding.
func (sb *sinkBench) writerRound(ctx context.Context, l *sink.Loader, batches []*sink.Batch, rows int64) (SinkRun, error) {
	if err := sb.db.truncate(ctx); err != nil {
		return SinkRun{}, err
	}
	l.Forget()
	start := time.Now()
	for _, b := range batches {
		if err := l.Load(ctx, b); err != nil {
			return SinkRun{}, fmt.Errorf("writer: %w", err)
		}
	}
	return newSinkRun(rows, time.Since(start)), nil
}

// sinkRound runs the sink process from Kafka until it has caught up, timed
// from the arrival of its first record, and checks it loaded every row.
func (sb *sinkBench) sinkRound(ctx context.Context, group string, rows int64) (SinkRun, error) {
	if err := sb.db.truncate(ctx); err != nil {
		return SinkRun{}, err
	}
	proc, err := sb.runSinkProcess(ctx, group)
	if err != nil {
		return SinkRun{}, err
	}
	loaded, err := sb.db.countRows(ctx, sinkTables)
	if err != nil {
		return SinkRun{}, err
	}
	if loaded != rows {
		return SinkRun{}, fmt.Errorf("sink loaded %d rows, want %d", loaded, rows)
	}
	run := newSinkRun(rows, time.Duration(proc.seconds*float64(time.Second)))
	run.PeakRSSBytes = proc.peakRSS
	return run, nil
}

// ScaleRun is one scale-out configuration: instances sink processes in one
// group loading the whole backlog.
type ScaleRun struct {
	Instances  int     `json:"instances"`
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	// Records is what each instance loaded.
	Records []int64 `json:"records_per_instance"`
	// PeakRSSBytes is the largest instance's.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

// scaleRound runs n sink processes in a fresh group until the group has
// caught up, timed from the first record any of them received to the last
// one's end, and checks they loaded every row once.
func (sb *sinkBench) scaleRound(ctx context.Context, n int, rows int64) (ScaleRun, error) {
	if err := sb.db.truncate(ctx); err != nil {
		return ScaleRun{}, err
	}
	group := fmt.Sprintf("bench-%s-x%d", sb.suffix, n)
	procs := make([]*sinkProc, 0, n)
	for range n {
		p, err := sb.startSinkProcess(ctx, group, "--until-caught-up", "--metrics-addr", "")
		if err != nil {
			return ScaleRun{}, err
		}
		procs = append(procs, p)
	}
	run := ScaleRun{Instances: n, Rows: rows}
	var first, end time.Time
	var failed error
	for _, p := range procs {
		r, err := p.wait(false)
		if err != nil {
			failed = err
			continue
		}
		run.Records = append(run.Records, r.records)
		run.PeakRSSBytes = max(run.PeakRSSBytes, r.peakRSS)
		if r.records > 0 && (first.IsZero() || r.first().Before(first)) {
			first = r.first()
		}
		if r.end.After(end) {
			end = r.end
		}
	}
	if failed != nil {
		return run, failed
	}
	loaded, err := sb.db.countRows(ctx, sinkTables)
	if err != nil {
		return run, err
	}
	if loaded != rows || first.IsZero() {
		return run, fmt.Errorf("%d sinks loaded %d rows, want %d", n, loaded, rows)
	}
	run.Seconds = end.Sub(first).Seconds()
	run.RowsPerSec = float64(rows) / run.Seconds
	return run, nil
}
