package sink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

// Replay sends dead letters back through the sink's decode, transform and
// load path after a fix (a binary that knows a new schema version, a
// changed transform). It reads no Kafka: the dead_letters table holds the
// raw records. Each chunk of dead letters is one transaction that locks
// them (FOR UPDATE SKIP LOCKED: concurrent replays share the work), loads
// the rows they now make and marks each with its outcome, so a dead
// letter is replayed at most once and a replay killed at any moment is
// run again to the same end: every selected dead letter replayed exactly
// once.

// ReplayOptions configure a Replayer.
type ReplayOptions struct {
	// Sink gives the topics and the transform stage, as the sink's (its
	// Transforms and Declared, RetentionDays, MaxAhead and Now).
	Sink Options
	// ChunkSize is how many dead letters one transaction replays
	// (default 500).
	ChunkSize int
	// OnChunk, when set, is called after each committed chunk with the
	// totals so far.
	OnChunk func(ReplayReport)
}

// ReplayReport counts what a replay did.
type ReplayReport struct {
	// Replayed is how many dead letters it handled: Loaded + Dropped +
	// Dead.
	Replayed int            `json:"replayed"`
	Loaded   int            `json:"loaded"`
	Dropped  int            `json:"dropped"`
	Dead     int            `json:"dead"`
	Reasons  map[string]int `json:"dead_again_reasons,omitempty"`
	Chunks   int            `json:"chunks"`
}

// Replayer replays dead letters into one database. It is used by one
// goroutine at a time.
type Replayer struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	opts  ReplayOptions
	build builder
	w     writer
	parts partitionCache
	names []string // the data topics' full names
}

// NewReplayer returns a replayer into pool; it needs the right to read and
// update dead_letters as well as the loader's (the schema owner has them).
func NewReplayer(pool *pgxpool.Pool, log *slog.Logger, opts ReplayOptions) *Replayer {
	opts.Sink.setDefaults()
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 500
	}
	t := opts.Sink.Topics
	m := newMetrics(nil)
	return &Replayer{
		pool: pool, log: log, opts: opts,
		build: newBuilder(opts.Sink),
		w:     writer{pool: pool, metrics: m, now: opts.Sink.Now},
		parts: partitionCache{pool: pool, log: log, metrics: m, known: map[time.Time]bool{}},
		names: []string{t.Users, t.Prices, t.Trades, t.Alerts},
	}
}

// Outcome is what replaying one dead letter does, or would do.
type Outcome struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Preview decodes and transforms d as a replay would now, without loading
// anything: the outcome "loaded" means it would make a row (which
// PostgreSQL could still refuse).
func (r *Replayer) Preview(d StoredDeadLetter) Outcome {
	b := newBatch()
	rec := d.record()
	short, ok := r.build.topics[d.Topic]
	if !ok {
		return Outcome{Outcome: OutcomeDead, Reason: ReasonUnexpectedSchema, Error: "not a data topic of this prefix"}
	}
	r.build.add(b, short, rec)
	return outcomes(b, []*kgo.Record{rec})[0]
}

// record rebuilds the consumed record from the dead letter.
func (d StoredDeadLetter) record() *kgo.Record {
	return &kgo.Record{
		Topic: d.Topic, Partition: d.Partition, Offset: d.Offset, Key: d.Key, Value: d.Value,
		Headers: []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(d.Schema)}, {Key: event.HeaderRunID, Value: []byte(d.RunID)}},
	}
}

// Replay replays every dead letter f selects that was never replayed
// (f.State is ignored), chunk by chunk, until none is left or ctx ends.
func (r *Replayer) Replay(ctx context.Context, f DeadLetterFilter) (ReplayReport, error) {
	rep := ReplayReport{Reasons: map[string]int{}}
	f.State = "pending"
	var after int64
	for ctx.Err() == nil {
		n, last, err := r.chunk(ctx, f, after, &rep)
		if err != nil {
			return rep, err
		}
		if n == 0 {
			return rep, nil
		}
		after = last
		rep.Chunks++
		if r.opts.OnChunk != nil {
			r.opts.OnChunk(rep)
		}
	}
	return rep, ctx.Err()
}

// chunk replays, in one transaction, the next dead letters after id
// after; it returns how many and the last id.
func (r *Replayer) chunk(ctx context.Context, f DeadLetterFilter, after int64, rep *ReplayReport) (int, int64, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("replay: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	args := []any{r.names, after, r.opts.ChunkSize}
	where, err := f.where(&args)
	if err != nil {
		return 0, 0, err
	}
	rows, err := tx.Query(ctx, `SELECT id, topic, kafka_partition, kafka_offset, schema, coalesce(run_id, ''), key, value FROM dead_letters
		WHERE topic = ANY($1) AND id > $2 AND `+where+` ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("replay: select: %w", err)
	}
	dls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StoredDeadLetter, error) {
		var d StoredDeadLetter
		return d, row.Scan(&d.ID, &d.Topic, &d.Partition, &d.Offset, &d.Schema, &d.RunID, &d.Key, &d.Value)
	})
	if err != nil || len(dls) == 0 {
		return 0, 0, wrapNil("replay: select", err)
	}
	b := newBatch()
	recs := make([]*kgo.Record, len(dls))
	for i, d := range dls {
		recs[i] = d.record()
		if err := r.build.dec.Resolve(ctx, d.Value); err != nil {
			return 0, 0, fmt.Errorf("replay: %w", err)
		}
		r.build.add(b, r.build.topics[d.Topic], recs[i])
	}
	if err := r.load(ctx, tx, b); err != nil {
		return 0, 0, err
	}
	outs := outcomes(b, recs)
	ids, kinds, reasons, texts := make([]int64, len(dls)), make([]string, len(dls)), make([]*string, len(dls)), make([]*string, len(dls))
	for i, o := range outs {
		ids[i], kinds[i] = dls[i].ID, o.Outcome
		rep.Replayed++
		switch o.Outcome {
		case OutcomeLoaded:
			rep.Loaded++
		case OutcomeDropped:
			rep.Dropped++
		case OutcomeDead:
			rep.Dead++
			rep.Reasons[o.Reason]++
			reasons[i], texts[i] = &o.Reason, ptr(storable(o.Error))
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE dead_letters d SET replayed_at = now(), replay_outcome = u.outcome,
			replay_reason = u.reason, replay_error = u.error
		FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[]) AS u(id, outcome, reason, error)
		WHERE d.id = u.id`, ids, kinds, reasons, texts); err != nil {
		return 0, 0, fmt.Errorf("replay: mark: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("replay: commit: %w", err)
	}
	r.log.Info("replayed dead letters", "count", len(dls), "last_id", dls[len(dls)-1].ID)
	return len(dls), dls[len(dls)-1].ID, nil
}

// load loads b's rows in tx, as the sink does: the daily partitions they
// need first (in transactions of their own), then, should PostgreSQL
// refuse a row, the rows one by one, the refused ones becoming b's dead
// letters.
func (r *Replayer) load(ctx context.Context, tx pgx.Tx, b *batch) error {
	if err := r.parts.ensure(ctx, b); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("replay: savepoint: %w", err)
	}
	lerr := r.w.load(ctx, sp, b)
	if lerr == nil {
		return sp.Commit(ctx)
	}
	if err := sp.Rollback(ctx); err != nil {
		return fmt.Errorf("replay: rollback to savepoint: %w", err)
	}
	if classify(lerr) != classData {
		return fmt.Errorf("replay: load: %w", lerr)
	}
	if _, err := refuseRows(ctx, tx, &r.w, b); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// outcomes says what became of each of recs in b: a row, a dead letter,
// or neither (dropped by a transform).
func outcomes(b *batch, recs []*kgo.Record) []Outcome {
	dead := make(map[*kgo.Record]deadLetter, len(b.dead))
	for _, d := range b.dead {
		dead[d.src] = d
	}
	loaded := map[*kgo.Record]bool{}
	for _, r := range b.ticks {
		loaded[r.src] = true
	}
	for _, r := range b.trades {
		loaded[r.src] = true
	}
	for _, r := range b.users {
		loaded[r.src] = true
	}
	for _, r := range b.alerts {
		loaded[r.src] = true
	}
	out := make([]Outcome, len(recs))
	for i, rec := range recs {
		switch d, isDead := dead[rec]; {
		case isDead:
			out[i] = Outcome{Outcome: OutcomeDead, Reason: d.reason, Error: d.err}
		case loaded[rec]:
			out[i] = Outcome{Outcome: OutcomeLoaded}
		default:
			out[i] = Outcome{Outcome: OutcomeDropped}
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// wrapNil is fmt.Errorf("%s: %w") that keeps a nil error nil.
func wrapNil(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
