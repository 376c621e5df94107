package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/store"
)

// The ceiling is PostgreSQL's own bulk load of the sink's rows: one binary
// COPY per table through pgx's CopyFrom (pgx's encoder, not the sink's),
// every row of a table in one COPY, all in one transaction, into the same
// partitioned and indexed tables, with no staging and no upserts. It is
// what the database can take; the sink is measured against it.

// ceilingTables are the tables the ceiling loads, in this order. Accounts
// get the profiles' rows only: the sink also applies each trade's balance
// to its account, work the ceiling does not do.
var ceilingTables = []store.Table{store.PriceTicks, store.Trades, store.Users, store.Accounts}

// ceilingRows is the rows the ceiling loads, gathered before the timing
// starts.
type ceilingRows map[string][][]any

func newCeilingRows(batches []*sink.Batch) ceilingRows {
	rows := ceilingRows{}
	for _, t := range ceilingTables {
		for _, b := range batches {
			rows[t.Name] = append(rows[t.Name], b.Values(t)...)
		}
	}
	return rows
}

// ceilingRound truncates the tables and loads rows with one COPY per table
// in one transaction, timed from the first byte to the commit, and checks
// it loaded want rows into price_ticks, trades and users (accounts are not
// rows of the feed).
func (sb *sinkBench) ceilingRound(ctx context.Context, rows ceilingRows, want int64) (SinkRun, error) {
	conn, err := sb.db.emptied(ctx)
	if err != nil {
		return SinkRun{}, err
	}
	defer conn.Release()
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return SinkRun{}, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var counted int64
	for _, t := range ceilingTables {
		n, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Names(), pgx.CopyFromRows(rows[t.Name]))
		if err != nil {
			return SinkRun{}, fmt.Errorf("ceiling: copy %s: %w", t.Name, err)
		}
		if t.Name != store.Accounts.Name {
			counted += n
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return SinkRun{}, fmt.Errorf("ceiling: commit: %w", err)
	}
	d := time.Since(start)
	if counted != want {
		return SinkRun{}, fmt.Errorf("ceiling loaded %d rows, want %d", counted, want)
	}
	return newSinkRun(counted, d), nil
}
