package rollup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// BenchmarkWritePositions writes one batch's positions per op: 10,000
// trades of 2,000 accounts in 40 symbols (bench sink's feed: about 9,400
// positions a batch), all of them stored already, each batch later than
// the last (no replay), one transaction per batch.
func BenchmarkWritePositions(b *testing.B) {
	pool, _ := pgtest.Migrated(b)
	ctx := context.Background()
	base := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, base, base); err != nil {
		b.Fatal(err)
	}
	symbols := make([]string, 40)
	for i := range symbols {
		symbols[i] = fmt.Sprintf("S%02d", i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	id := int64(0)
	rb := rollup.NewBatch()
	load := func(trades []event.Trade) {
		rb.Reset()
		for i := range trades {
			rb.AddTrade(&trades[i], "bench")
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := rb.Write(ctx, tx)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	trade := func(acct int64, sym string, at time.Time) event.Trade {
		id++
		side := event.SideBuy
		if r.IntN(2) == 0 {
			side = event.SideSell
		}
		return event.Trade{ID: id, UserID: acct, AccountID: acct, Symbol: sym, Side: side, Quantity: int64(1 + r.IntN(100)),
			Price: event.Decimal(1_000_000 + r.IntN(100_000)), Fee: event.Unit, Time: at}
	}
	// Every position once.
	var all []event.Trade
	for a := int64(1); a <= 2000; a++ {
		for _, s := range symbols {
			all = append(all, trade(a, s, base))
		}
	}
	for i := 0; i < len(all); i += 8000 {
		load(all[i:min(i+8000, len(all))])
	}
	batches := make([][]event.Trade, 8)
	at := base
	for i := range batches {
		for range 10_000 {
			at = at.Add(time.Millisecond)
			batches[i] = append(batches[i], trade(int64(1+r.IntN(2000)), symbols[r.IntN(40)], at))
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		trades := batches[i%len(batches)]
		if i >= len(batches) {
			// Later than every stored trade again.
			b.StopTimer()
			for j := range trades {
				at = at.Add(time.Millisecond)
				trades[j].Time, id = at, id+1
				trades[j].ID = id
			}
			b.StartTimer()
		}
		load(trades)
	}
}
