package sink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/sink/feed"
	"github.com/tradestream/tradestream/internal/store"
)

// BenchConfig configures Bench.
type BenchConfig struct {
	Kafka config.Kafka
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

// BenchRun is one timed run.
type BenchRun struct {
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
}

func newRun(rows int64, d time.Duration) BenchRun {
	return BenchRun{Rows: rows, Seconds: d.Seconds(), RowsPerSec: float64(rows) / d.Seconds()}
}

// BenchResult is what `tradestream bench sink --json` reports.
type BenchResult struct {
	Events int   `json:"events"`
	Rows   int64 `json:"rows"`
	// RowsByTable splits Rows: price_ticks, trades, users.
	RowsByTable map[string]int64 `json:"rows_by_table"`
	BatchSize   int              `json:"batch_size"`
	Partitions  int              `json:"partitions"`
	// Raw is COPY of the pre-built rows into the same schema, in the same
	// batches and transactions, without Kafka or decoding.
	Raw []BenchRun `json:"raw_copy_runs"`
	// Sink is the sink from Kafka, from its first record to caught up.
	Sink []BenchRun `json:"sink_runs"`
	// Naive is one INSERT and one commit per record.
	Naive BenchRun `json:"naive_insert_run"`
	// Best rates and the sink's share of the raw rate.
	RawRate   float64 `json:"raw_copy_rows_per_sec"`
	SinkRate  float64 `json:"sink_rows_per_sec"`
	NaiveRate float64 `json:"naive_insert_rows_per_sec"`
	Ratio     float64 `json:"ratio"`
	Target    float64 `json:"target_ratio"`
	// Postgres holds the server version and the settings that matter.
	Postgres map[string]string `json:"postgres"`
}

// benchTarget is the share of the raw COPY rate the sink aims for.
const benchTarget = 0.75

// Bench measures the sink loading a seeded feed from Kafka into the
// partitioned, indexed schema against a raw COPY of the same rows into the
// same schema, in the same run, plus the naive one-INSERT-per-record rate.
// It works in its own topics and database schema and deletes both at the
// end.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	log := cfg.Log
	suffix := randomSuffix()

	pool, dropSchema, err := benchSchema(ctx, cfg.DatabaseURL, "bench_sink_"+suffix)
	if err != nil {
		return nil, err
	}
	defer dropSchema()
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return nil, err
	}

	tc := config.Default().Topics
	tc.Prefix, tc.Partitions = "bench.sink."+suffix+".", cfg.Partitions
	names := kafka.TopicNames(tc.Prefix)
	cl, err := kafka.NewClient(ctx, cfg.Kafka, log, kafka.ProducerOptions(cfg.Kafka)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc)); err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, names.All()...)
	}()

	fmt.Fprintf(progress, "generating %d events and producing them to %s*\n", cfg.Events, tc.Prefix)
	var recs []feed.Record
	if _, err := feed.Generate(feed.Config{Seed: cfg.Seed, Users: cfg.Users, Events: cfg.Events, V1Share: 0.5},
		func(r feed.Record) error { recs = append(recs, r); return nil }); err != nil {
		return nil, err
	}
	if err := feed.ProduceRecords(ctx, cl, names, recs, "bench-sink"); err != nil {
		return nil, err
	}

	opts := Options{Topics: names, BatchSize: cfg.BatchSize, UntilCaughtUp: true, Group: "bench"}
	opts.setDefaults()
	m := newMetrics(nil)
	w := &writer{pool: pool, group: opts.Group, metrics: m}
	batches, rows := prebuild(recs, names, opts)
	recs = nil
	parts := partitionCache{pool: pool, log: log, metrics: m, known: map[time.Time]bool{}}
	for _, b := range batches {
		if err := parts.ensure(ctx, b); err != nil {
			return nil, err
		}
	}

	res := &BenchResult{Events: cfg.Events, Rows: rows, RowsByTable: map[string]int64{},
		BatchSize: opts.BatchSize, Partitions: cfg.Partitions, Target: benchTarget}
	for _, b := range batches {
		res.RowsByTable["price_ticks"] += int64(len(b.ticks))
		res.RowsByTable["trades"] += int64(len(b.trades))
		res.RowsByTable["users"] += int64(len(b.users))
	}
	for round := 1; round <= cfg.Rounds; round++ {
		if err := truncate(ctx, pool); err != nil {
			return nil, err
		}
		start := time.Now()
		for _, b := range batches {
			if err := w.commit(ctx, b); err != nil {
				return nil, fmt.Errorf("raw copy: %w", err)
			}
		}
		raw := newRun(rows, time.Since(start))
		res.Raw = append(res.Raw, raw)
		fmt.Fprintf(progress, "round %d: raw COPY  %9.0f rows/s (%d rows in %.2fs)\n", round, raw.RowsPerSec, rows, raw.Seconds)

		if err := truncate(ctx, pool); err != nil {
			return nil, err
		}
		opts.Group = fmt.Sprintf("bench-%s-%d", suffix, round)
		s, err := New(cfg.Kafka, pool, log, nil, opts)
		if err != nil {
			return nil, err
		}
		if err := s.Run(ctx); err != nil {
			return nil, fmt.Errorf("sink: %w", err)
		}
		end := time.Now()
		loaded, err := countRows(ctx, pool)
		if err != nil {
			return nil, err
		}
		if loaded != rows {
			return nil, fmt.Errorf("sink loaded %d rows, want %d", loaded, rows)
		}
		run := newRun(rows, end.Sub(s.firstBatch))
		res.Sink = append(res.Sink, run)
		fmt.Fprintf(progress, "round %d: sink      %9.0f rows/s (%d rows in %.2fs)\n", round, run.RowsPerSec, rows, run.Seconds)
	}

	if err := truncate(ctx, pool); err != nil {
		return nil, err
	}
	if res.Naive, err = naiveInsert(ctx, pool, batches, cfg.NaiveRecords); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "naive INSERT+COMMIT per record %9.0f rows/s (%d rows)\n", res.Naive.RowsPerSec, res.Naive.Rows)

	best := func(runs []BenchRun) float64 {
		var b float64
		for _, r := range runs {
			b = max(b, r.RowsPerSec)
		}
		return b
	}
	res.RawRate, res.SinkRate, res.NaiveRate = best(res.Raw), best(res.Sink), res.Naive.RowsPerSec
	res.Ratio = res.SinkRate / res.RawRate
	res.Postgres, err = postgresSettings(ctx, pool)
	return res, err
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// benchSchema creates schema in the database at url and returns a pool
// whose connections use it, and a function dropping it.
func benchSchema(ctx context.Context, url, schema string) (*pgxpool.Pool, func(), error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("database url %s: malformed connection string", config.Redact(url))
	}
	admin, err := pgx.ConnectConfig(ctx, pc.ConnConfig.Copy())
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		admin.Close(ctx)
		return nil, nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = admin.Exec(dctx, "DROP SCHEMA "+ident+" CASCADE")
		admin.Close(dctx)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	return pool, drop, nil
}

// prebuild decodes the feed into the batches the sink would build from
// it (without offsets to store), and counts the rows they hold.
func prebuild(recs []feed.Record, names kafka.Topics, opts Options) ([]*batch, int64) {
	topic := map[feed.Topic]string{feed.Users: names.Users, feed.Prices: names.Prices, feed.Trades: names.Trades}
	bl := builder{
		topics:     map[string]string{names.Users: topicUsers, names.Prices: topicPrices, names.Trades: topicTrades},
		transforms: opts.Transforms,
	}
	noPosition := func(topicPartition) int64 { return -1 }
	var out []*batch
	var rows int64
	b := newBatch()
	for i, r := range recs {
		kr := &kgo.Record{Topic: topic[r.Topic], Offset: int64(i), Key: r.Key, Value: r.Value,
			Headers: event.Headers{Schema: []byte(r.Schema)}.Records()}
		bl.addPartition(b, kr.Topic, 0, []*kgo.Record{kr}, noPosition, time.Time{})
		if b.records == opts.BatchSize || i == len(recs)-1 {
			clear(b.ranges)
			rows += int64(len(b.ticks) + len(b.trades) + len(b.users))
			out = append(out, b)
			b = newBatch()
		}
	}
	return out, rows
}

func truncate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, "TRUNCATE price_ticks, trades, users, accounts, dead_letters, sink_offsets")
	if err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return nil
}

func countRows(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM price_ticks) + (SELECT count(*) FROM trades) + (SELECT count(*) FROM users)`).Scan(&n)
	return n, err
}

// naiveInsert inserts up to n of the batches' ticks and trades one row per
// INSERT, each in its own transaction: the approach COPY replaces.
func naiveInsert(ctx context.Context, pool *pgxpool.Pool, batches []*batch, n int) (BenchRun, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return BenchRun{}, err
	}
	defer conn.Release()
	const tick = `INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	const trade = `INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after,
		order_type, limit_price, schema_version, kafka_partition, kafka_offset)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	var done int64
	start := time.Now()
	for _, b := range batches {
		for i := 0; i < len(b.ticks) && done < int64(n); i++ {
			r, p := &b.ticks[i], &b.ticks[i].ev
			if _, err := conn.Exec(ctx, tick, p.Symbol, p.Sector, p.Seq, p.Time, p.Bid.String(), p.Ask.String(),
				p.Last.String(), p.Volume, r.src.Partition, r.src.Offset); err != nil {
				return BenchRun{}, fmt.Errorf("naive insert: %w", err)
			}
			done++
		}
		for i := 0; i < len(b.trades) && done < int64(n); i++ {
			r, t := &b.trades[i], &b.trades[i].ev
			var limit *string
			if t.LimitPrice != 0 {
				s := t.LimitPrice.String()
				limit = &s
			}
			var orderType *string
			if t.OrderType != "" {
				s := string(t.OrderType)
				orderType = &s
			}
			if _, err := conn.Exec(ctx, trade, t.ID, t.UserID, t.AccountID, t.Symbol, string(t.Side), t.Quantity,
				t.Price.String(), t.Fee.String(), t.Time, t.BalanceAfter.String(), orderType, limit, r.version,
				r.src.Partition, r.src.Offset); err != nil {
				return BenchRun{}, fmt.Errorf("naive insert: %w", err)
			}
			done++
		}
		if done >= int64(n) {
			break
		}
	}
	if done == 0 {
		return BenchRun{}, errors.New("naive insert: no rows")
	}
	return newRun(done, time.Since(start)), nil
}

// postgresSettings reads the server version and the settings that shape
// load throughput.
func postgresSettings(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	names := []string{"server_version", "shared_buffers", "synchronous_commit", "fsync", "wal_level",
		"max_wal_size", "checkpoint_timeout", "wal_buffers", "work_mem", "maintenance_work_mem", "full_page_writes"}
	rows, err := pool.Query(ctx, `SELECT name, current_setting(name) FROM unnest($1::text[]) AS name`, names)
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	out := map[string]string{}
	var name, value string
	_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error {
		out[name] = value
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	return out, nil
}
