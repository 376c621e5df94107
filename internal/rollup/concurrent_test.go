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
