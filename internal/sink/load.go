package sink

import (
	"context"
	"log/slog"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/store"
)

// This file is the sink's load path without Kafka: records decoded into
// batches beforehand (Prepare) and loaded by a Loader exactly as the sink
// loads them, in one transaction per batch. `bench sink` measures the
// sink against it.

// Batch is records decoded into the rows the sink loads in one
// transaction, with no Kafka offsets to store.
type Batch struct{ b *batch }

// Rows returns the batch's rows by table: price_ticks, trades, users and
// alerts.
func (b *Batch) Rows() map[string]int64 {
	return map[string]int64{
		"price_ticks": int64(len(b.b.ticks)), "trades": int64(len(b.b.trades)),
		"users": int64(len(b.b.users)), "alerts": int64(len(b.b.alerts)),
	}
}

// Prepare decodes recs as a sink with opts would (opts.Topics name the
// topics, opts.Transforms run, opts.BatchSize records per batch) into
// batches. Every record counts as partition 0 of its topic at its Offset;
// the batches store no offsets.
func Prepare(opts Options, recs []*kgo.Record) []*Batch {
	opts.setDefaults()
	bl := newBuilder(opts)
	noPosition := func(topicPartition) int64 { return -1 }
	var out []*Batch
	b := newBatch()
	for i, r := range recs {
		bl.addPartition(context.Background(), b, r.Topic, 0, []*kgo.Record{r}, noPosition, time.Time{})
		if b.records == opts.BatchSize || i == len(recs)-1 {
			clear(b.ranges)
			out = append(out, &Batch{b})
			b = newBatch()
		}
	}
	return out
}

// Loader loads prepared batches into PostgreSQL the way the sink does:
// the daily partitions they need, then COPY, upserts and dead letters in
// one transaction per batch. It is used by one goroutine at a time.
type Loader struct {
	w     writer
	parts partitionCache
}

// NewLoader returns a loader into pool.
func NewLoader(pool *pgxpool.Pool, log *slog.Logger) *Loader {
	m := newMetrics(nil)
	return &Loader{
		w:     writer{pool: pool, metrics: m},
		parts: partitionCache{pool: pool, log: log, metrics: m, known: map[time.Time]bool{}},
	}
}

// EnsurePartitions creates the daily partitions the batches need.
func (l *Loader) EnsurePartitions(ctx context.Context, batches ...*Batch) error {
	for _, b := range batches {
		if err := l.parts.ensure(ctx, b.b); err != nil {
			return err
		}
	}
	return nil
}

// Load loads b in one transaction; its partitions must exist (see
// EnsurePartitions).
func (l *Loader) Load(ctx context.Context, b *Batch) error {
	return l.w.commit(ctx, b.b)
}

// Forget drops what the loader remembers of the stored rollups, for
// tables emptied since.
func (l *Loader) Forget() {
	if l.w.rollups != nil {
		l.w.rollups.Forget()
	}
}

// Values returns the batch's rows for table (store.PriceTicks, Trades,
// Users or Accounts) in the table's column order, as plain Go values that
// pgx encodes by itself: for a yardstick that loads the same rows with a
// COPY of its own (pgx.CopyFrom). Accounts are those the profiles state,
// one per user; the trades' balance updates have no rows of their own.
func (b *Batch) Values(table store.Table) [][]any {
	var out [][]any
	switch table.Name {
	case store.PriceTicks.Name:
		for i := range b.b.ticks {
			r, p := &b.b.ticks[i], &b.b.ticks[i].ev
			out = append(out, []any{p.Symbol, p.Sector, p.Seq, p.Time, numeric(p.Bid), numeric(p.Ask),
				numeric(p.Last), p.Volume, string(event.ReadHeaders(r.src.Headers).RunID), r.src.Partition, r.src.Offset})
		}
	case store.Trades.Name:
		for i := range b.b.trades {
			r, t := &b.b.trades[i], &b.b.trades[i].ev
			var orderType, limit any
			if t.OrderType != "" {
				orderType = string(t.OrderType)
			}
			if t.LimitPrice != 0 {
				limit = numeric(t.LimitPrice)
			}
			out = append(out, []any{t.ID, t.UserID, t.AccountID, t.Symbol, string(t.Side), t.Quantity,
				numeric(t.Price), numeric(t.Fee), t.Time, numeric(t.BalanceAfter), orderType, limit, r.version,
				string(event.ReadHeaders(r.src.Headers).RunID), r.src.Partition, r.src.Offset})
		}
	case store.Users.Name:
		for i := range b.b.users {
			r, u := &b.b.users[i], &b.b.users[i].ev
			if !r.deleted {
				out = append(out, []any{u.ID, u.Name, u.Email, u.Country, u.SignupAt, string(u.Experience),
					string(u.RiskTolerance), u.Sectors, u.UpdatedAt, r.src.Partition, r.src.Offset})
			}
		}
	case store.Accounts.Name:
		for i := range b.b.users {
			r, u := &b.b.users[i], &b.b.users[i].ev
			if !r.deleted {
				a := &u.Account
				out = append(out, []any{a.ID, u.ID, string(a.Type), a.Currency, numeric(a.Balance), u.UpdatedAt, nil, u.UpdatedAt})
			}
		}
	}
	return out
}

// numeric is d as pgx's numeric value.
func numeric(d event.Decimal) pgtype.Numeric {
	return pgtype.Numeric{Int: big.NewInt(int64(d)), Exp: -event.Scale, Valid: true}
}
