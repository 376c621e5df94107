package rollup_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// TestConcurrentLoadersOfOnePosition: two loaders fold trades of the same
// positions in overlapping transactions (as two sink instances may once a
// user's trades span two partitions), each round a position neither has
// stored yet as well as one both have; neither loses the other's trades.
func TestConcurrentLoadersOfOnePosition(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	base := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, base, base); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	const rounds = 15
	var start [rounds]chan struct{}
	for i := range start {
		start[i] = make(chan struct{})
	}
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := rollup.NewBatch()
			for i := range rounds {
				<-start[i]
				id := int64(g*100 + i + 1)
				tr := event.Trade{ID: id, UserID: 1, AccountID: 1, Symbol: "AAPL", Side: []event.Side{event.SideBuy, event.SideSell}[(i+g)%2],
					Quantity: int64(3 + i), Price: event.Decimal(1_000_000 + 100*id), Fee: event.Unit,
					Time: base.Add(time.Duration(g)*time.Hour + time.Duration(i)*time.Second)} // apart: no shared minute row orders them
				fresh := tr
				fresh.ID, fresh.Symbol = id+1000, []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O"}[i]
				b.Reset()
				b.AddTrade(&tr, "")
				b.AddTrade(&fresh, "")
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, kafka_partition, kafka_offset)
						VALUES ($1, 1, 1, 'AAPL', $2, $3, $4::numeric * 0.0001, 1, $5, 0, 1, $6, $1)`, id, string(tr.Side), tr.Quantity, int64(tr.Price), tr.Time, g); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, kafka_partition, kafka_offset)
						VALUES ($1, 1, 1, $7, $2, $3, $4::numeric * 0.0001, 1, $5, 0, 1, $6, $1)`, fresh.ID, string(tr.Side), tr.Quantity, int64(tr.Price), tr.Time, g, fresh.Symbol); err != nil {
						return err
					}
					_, err := b.Write(ctx, tx)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range start {
		close(start[i])
		time.Sleep(20 * time.Millisecond) // let the round's two transactions overlap
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	diffs, err := rollup.Check(ctx, pool, rollup.CheckOptions{Positions: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("rollup differs: %s", d)
	}
}

// TestRememberedPositionsGoneStaleAreReadAgain: a loader folds a position
// from what it last wrote, unless that changed since. Between two of its
// loads another loader writes the position, then one of its own loads is
// rolled back, then a rebuild rewrites the positions: every later load
// still yields the replay of the stored trades, and the stale positions
// are read again (not updated blind).
func TestRememberedPositionsGoneStaleAreReadAgain(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	base := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, base, base); err != nil {
		t.Fatal(err)
	}
	id := int64(0)
	// load writes one buy of account 1 in AAPL through b: the trade row
	// and the rollups in one transaction, committed unless rollback.
	load := func(b *rollup.Batch, qty int64, rollback bool) {
		t.Helper()
		id++
		tr := event.Trade{ID: id, UserID: 1, AccountID: 1, Symbol: "AAPL", Side: event.SideBuy, Quantity: qty,
			Price: event.Decimal(1_000_000 + 100*id), Fee: event.Unit, Time: base.Add(time.Duration(id) * time.Second)}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, kafka_partition, kafka_offset)
			VALUES ($1, 1, 1, 'AAPL', 'buy', $2, $3::numeric * 0.0001, 1, $4, 0, 1, 0, $1)`, id, qty, int64(tr.Price), tr.Time); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		b.AddTrade(&tr, "")
		if _, err := b.Write(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if !rollback {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(step string, wantQty int64) {
		t.Helper()
		diffs, err := rollup.Check(ctx, pool, rollup.CheckOptions{Positions: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			t.Errorf("%s: rollup differs: %s", step, d)
		}
		var q int64
		if err := pool.QueryRow(ctx, `SELECT quantity FROM rollup_positions WHERE account_id = 1 AND symbol = 'AAPL'`).Scan(&q); err != nil {
			t.Fatal(err)
		}
		if q != wantQty {
			t.Errorf("%s: quantity %d, want %d", step, q, wantQty)
		}
	}
	a, other := rollup.NewBatch(), rollup.NewBatch()
	load(a, 10, false)
	load(other, 5, false) // a's memory of the position is stale now
	load(a, 1, false)
	check("after another loader", 16)
	load(a, 100, true) // rolled back: a remembers a version never committed
	load(a, 2, false)
	check("after a rolled-back load", 18)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := rollup.RebuildPositions(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	load(a, 3, false)
	check("after a rebuild", 21)
}

// TestUserPnLWaitsForEveryPrice: a user's market value and P&L are NULL
// while one of their symbols has no price, and the sums of both
// positions once it has one.
func TestUserPnLWaitsForEveryPrice(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	at := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `
		INSERT INTO rollup_positions (account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
		                              buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run)
		VALUES (1, 'AAPL', 7, 10, 1000, 0, 1, 10, 0, 1000, 0, 1, $1, 1, ''),
		       (2, 'MSFT', 7, -5, -600, 50, 2, 5, 10, 650, 1300, 2, $1, 2, '')`, at); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO rollup_symbols VALUES ('AAPL', 'Tech', 110, $1, $1, 1, '')`, at); err != nil {
		t.Fatal(err)
	}
	pnl := func() (cash string, mv, p *string) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT cash_flow::text, market_value::text, pnl::text FROM user_pnl WHERE user_id = 7`).Scan(&cash, &mv, &p); err != nil {
			t.Fatal(err)
		}
		return cash, mv, p
	}
	// cash flow: sells 1,300 - buys 1,650 - fees 3 = -353.
	if cash, mv, p := pnl(); cash != "-353.0000" || mv != nil || p != nil {
		t.Errorf("without MSFT's price: cash flow %s, market value %v, pnl %v; want -353.0000, NULL, NULL", cash, mv, p)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO rollup_symbols VALUES ('MSFT', 'Tech', 120, $1, $1, 1, '')`, at); err != nil {
		t.Fatal(err)
	}
	// market value 10 * 110 - 5 * 120 = 500; pnl -353 + 500 = 147.
	if cash, mv, p := pnl(); mv == nil || p == nil || *mv != "500.0000" || *p != "147.0000" {
		t.Errorf("with both prices: cash flow %s, market value %v, pnl %v; want 500.0000 and 147.0000", cash, deref(mv), deref(p))
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}
