package sink

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// assertRollupsExact fails t unless every rollup equals its
// recomputation from the raw rows (rollup.Check, as verify runs it, here
// over every minute), positions included unless a retention dropped
// trades.
func assertRollupsExact(t testing.TB, db rollup.Querier, retentionDays int) {
	t.Helper()
	diffs, err := rollup.Check(context.Background(), db, rollup.CheckOptions{Positions: retentionDays == 0})
	if err != nil {
		t.Fatalf("check rollups: %v", err)
	}
	for i, d := range diffs {
		if i == 10 {
			t.Errorf("... and %d more", len(diffs)-10)
			break
		}
		t.Errorf("rollup differs from raw rows: %s", d)
	}
}

// TestRollupsFollowTheLoadedRows loads ticks and trades in batches that
// split minutes, deliver late and out-of-order events, flip positions
// and carry copies of stored events (loaded by the deduplicating path,
// which must not count a copy), and checks that the rollups equal a
// recomputation from the raw rows after every batch.
func TestRollupsFollowTheLoadedRows(t *testing.T) {
	w, pool := testWriter(t)
	ctx := context.Background()
	base := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, base, base.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 16))
	symbols := []string{"AAPL", "MSFT", "XOM"}
	runs := []string{"run-a", "run-b"}
	var off int64
	header := func(run string) []kgo.RecordHeader {
		return event.Headers{RunID: []byte(run)}.Records()
	}
	var stored []tickRow
	var storedTrades []tradeRow
	seq := map[string]int64{}
	var tradeID int64
	for batchNo := 0; batchNo < 12; batchNo++ {
		b := newBatch()
		for i := 0; i < 40; i++ {
			sym := symbols[r.IntN(len(symbols))]
			seq[sym]++
			// Mostly in order, some late by up to three minutes.
			at := base.Add(time.Duration(batchNo*20+i/2) * time.Second)
			if r.IntN(6) == 0 {
				at = at.Add(-time.Duration(r.IntN(180)) * time.Second)
			}
			at = at.Add(time.Duration(r.IntN(1000)) * time.Microsecond).Add(123 * time.Nanosecond)
			run := runs[r.IntN(2)]
			last := event.Decimal(1_000_000 + r.IntN(20_000))
			rec := &kgo.Record{Topic: "prices", Partition: 0, Offset: off, Headers: header(run)}
			off++
			b.ticks = append(b.ticks, tickRow{src: rec, ev: event.Price{Symbol: sym, Sector: "Technology", Seq: seq[sym], Time: at,
				Bid: last - 100, Ask: last + 100, Last: last, Volume: int64(1 + r.IntN(500))}})
		}
		for i := 0; i < 15; i++ {
			tradeID++
			at := base.Add(time.Duration(batchNo*20+i) * time.Second)
			if r.IntN(5) == 0 {
				at = at.Add(-time.Duration(r.IntN(240)) * time.Second)
			}
			side := event.SideBuy
			if r.IntN(2) == 0 {
				side = event.SideSell
			}
			acct := int64(1 + r.IntN(3))
			rec := &kgo.Record{Topic: "trades", Partition: 0, Offset: off, Headers: header("run-a")}
			off++
			b.trades = append(b.trades, tradeRow{version: 1, src: rec, ev: event.Trade{ID: tradeID, UserID: acct, AccountID: acct,
				Symbol: symbols[r.IntN(2)], Side: side, Quantity: int64(1 + r.IntN(30)), Price: event.Decimal(1_000_000 + r.IntN(20_000)),
				Fee: event.Decimal(r.IntN(20_000)), Time: at, BalanceAfter: event.MustParseDecimal("1000")}})
		}
		// Copies of stored events from other Kafka offsets: the plain
		// COPY meets them, so the batch goes the deduplicating way.
		if batchNo > 0 && batchNo%3 == 0 {
			for _, c := range []tickRow{stored[r.IntN(len(stored))], stored[r.IntN(len(stored))]} {
				c.src = &kgo.Record{Topic: "prices", Partition: 0, Offset: off, Headers: c.src.Headers}
				off++
				b.ticks = append(b.ticks, c)
			}
			c := storedTrades[r.IntN(len(storedTrades))]
			c.src = &kgo.Record{Topic: "trades", Partition: 0, Offset: off, Headers: c.src.Headers}
			off++
			b.trades = append(b.trades, c)
			if err := w.commit(ctx, b); err == nil {
				t.Fatalf("batch %d: a batch with copies of stored events loaded by plain COPY", batchNo)
			}
			b.dedupe = true
		}
		if err := w.commit(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", batchNo, err)
		}
		if b.dedupe && len(b.dups) != 3 {
			t.Fatalf("batch %d: got %d copies skipped, want 3", batchNo, len(b.dups))
		}
		stored = append(stored, b.ticks...)
		storedTrades = append(storedTrades, b.trades...)
		assertRollupsExact(t, pool, 0)
		if t.Failed() {
			t.Fatalf("after batch %d", batchNo)
		}
	}
	if n := testutil.ToFloat64(w.metrics.rollupReplays); n == 0 {
		t.Errorf("got %v position replays, want some (late trades were loaded)", n)
	}
	// The check sees a change to any rollup.
	for _, change := range []string{
		`UPDATE rollup_prices_1m SET close = close + 0.0001 WHERE minute = (SELECT max(minute) FROM rollup_prices_1m)`,
		`UPDATE rollup_trades_1m SET trades = trades + 1 WHERE minute = (SELECT min(minute) FROM rollup_trades_1m)`,
		`UPDATE rollup_positions SET realised = realised + 0.0001 WHERE account_id = 1`,
	} {
		if _, err := pool.Exec(ctx, change); err != nil {
			t.Fatal(err)
		}
		diffs, err := rollup.Check(ctx, pool, rollup.CheckOptions{Positions: true})
		if err != nil || len(diffs) == 0 {
			t.Errorf("after %s: got %d differences (%v), want some", change, len(diffs), err)
		}
	}
}
