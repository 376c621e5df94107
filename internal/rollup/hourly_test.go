package rollup_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// TestLateTicksRefoldTheirHours: once a history is rolled up, late ticks
// that become a minute's new close or new open in hours already rolled up
// (the first, a middle and the last minute of an hour, and the minute
// before midnight) and a late trade leave every hourly row, each symbol's
// latest close and the analytics on them equal to a recomputation from
// the raw rows.
func TestLateTicksRefoldTheirHours(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(8, 2026))
	base := time.Date(2025, 6, 2, 21, 30, 0, 0, time.UTC)
	seedHistory(t, pool, r, base)

	type stored struct {
		sector           string
		open, close      int64
		openTs, closeTs  time.Time
		openSeq, closeSq int64
	}
	b := rollup.NewBatch()
	var inserts [][]any
	for i, at := range []string{"2025-06-02 22:00Z", "2025-06-02 22:31Z", "2025-06-02 22:59Z", "2025-06-02 23:59Z", "2025-06-03 00:00Z"} {
		var m stored
		if err := pool.QueryRow(ctx, `SELECT sector, (open * 10000)::int8, (close * 10000)::int8, open_ts, close_ts, open_seq, close_seq
			FROM rollup_prices_1m WHERE symbol = 'AAPL' AND minute = $1`, at).Scan(
			&m.sector, &m.open, &m.close, &m.openTs, &m.closeTs, &m.openSeq, &m.closeSq); err != nil {
			t.Fatalf("minute %s: %v", at, err)
		}
		// A new close (the stored close's time, a later sequence) and,
		// every other minute, a new open (an earlier sequence), each far
		// from the stored price so that the minute's returns change.
		ticks := []event.Price{{Symbol: "AAPL", Sector: m.sector, Seq: m.closeSq + 1_000_000, Time: m.closeTs,
			Last: event.Decimal(m.close * 103 / 100), Volume: 7}}
		if i%2 == 0 {
			ticks = append(ticks, event.Price{Symbol: "AAPL", Sector: m.sector, Seq: m.openSeq - 1_000_000, Time: m.openTs,
				Last: event.Decimal(m.open * 97 / 100), Volume: 5})
		}
		for _, p := range ticks {
			p.Bid, p.Ask = p.Last-50, p.Last+50
			b.AddTick(&p, "late")
			inserts = append(inserts, []any{p.Symbol, p.Sector, p.Seq, p.Time, int64(p.Bid), int64(p.Ask), int64(p.Last), p.Volume, "late", int64(len(inserts))})
		}
	}
	trade := event.Trade{ID: 9001, UserID: 2, AccountID: 2, Symbol: "AAPL", Side: event.SideBuy, Quantity: 40, Price: 1_234_500, Fee: 100,
		Time: time.Date(2025, 6, 2, 22, 31, 10, 0, time.UTC)}
	b.AddTrade(&trade, "late")
	// The late rows and their rollups in one transaction, as the sink loads them.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, row := range inserts {
			if _, err := tx.Exec(ctx, `INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, run_id, kafka_partition, kafka_offset)
				VALUES ($1, $2, $3, $4, $5::numeric * 0.0001, $6::numeric * 0.0001, $7::numeric * 0.0001, $8, $9, 1, $10)`, row...); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, run_id, kafka_partition, kafka_offset)
			VALUES ($1, $2, $3, $4, $5, $6, $7::numeric * 0.0001, $8::numeric * 0.0001, $9, 0, 1, 'late', 1, 1)`,
			trade.ID, trade.UserID, trade.AccountID, trade.Symbol, string(trade.Side), trade.Quantity, int64(trade.Price), int64(trade.Fee), trade.Time); err != nil {
			return err
		}
		_, err := b.Write(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatalf("late rows: %v", err)
	}

	diffs, err := rollup.Check(ctx, pool, rollup.CheckOptions{Positions: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("rollup differs after late ticks: %s", d)
	}
	// Recomputed from the minute rows too: the hours equal an
	// aggregation of the stored minutes.
	if got := rowsText(t, pool, `SELECT count(*) FROM rollup_prices_1h h WHERE h.close <> (SELECT r.close FROM rollup_prices_1m r
		WHERE r.symbol = h.symbol AND r.minute >= h.hour AND r.minute < h.hour + interval '1 hour' ORDER BY r.minute DESC LIMIT 1)`); got != "0\n" {
		t.Errorf("hours whose close is not their last minute's: %s", got)
	}
	for _, c := range []struct{ name, got, want string }{
		{"daily_summary", `SELECT day, open, high, low, close, vwap, volume, ticks, traded, trades, round(volatility::numeric, 9) FROM daily_summary('AAPL', '2025-06-01', '2025-06-05')`,
			rawDaily},
		{"ohlcv 1 hour", `SELECT * FROM ohlcv('AAPL', '1 hour', '2025-06-02 21:10:07Z', '2025-06-03 00:40:00.5Z')`,
			`SELECT date_bin('1 hour', ts, timestamptz '2000-01-01 00:00:00+00'),
			        (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1], max(last), min(last),
			        (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1], sum(volume), count(*)
			 FROM price_ticks WHERE symbol = 'AAPL' AND ts >= '2025-06-02 21:10:07Z' AND ts < '2025-06-03 00:40:00.5Z' GROUP BY 1 ORDER BY 1`},
		{"vwap", `SELECT vwap('AAPL', '2025-06-02 21:10:07Z', '2025-06-03 00:40:00.5Z')`,
			`SELECT round(sum(price * quantity) / nullif(sum(quantity), 0), 4) FROM trades WHERE symbol = 'AAPL' AND ts >= '2025-06-02 21:10:07Z' AND ts < '2025-06-03 00:40:00.5Z'`},
	} {
		var args []any
		if c.name == "daily_summary" {
			args = []any{"AAPL"}
			c.got = `SELECT * FROM (` + c.got + `) d WHERE $1::text IS NOT NULL`
		}
		if g, w := rowsText(t, pool, c.got, args...), rowsText(t, pool, c.want, args...); g != w {
			t.Errorf("%s after late ticks:\ngot  %s\nwant %s", c.name, g, w)
		}
	}
}

// TestConcurrentLoadersOfOneHour: two loaders fold ticks and trades of
// the same symbol and hour (different minutes) in overlapping
// transactions; neither's recomputation of the hour loses the other's
// minutes.
func TestConcurrentLoadersOfOneHour(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	base := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, base, base); err != nil {
		t.Fatal(err)
	}
	const rounds = 8
	var start [rounds]chan struct{}
	for i := range start {
		start[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := rollup.NewBatch()
			for i := range rounds {
				<-start[i]
				at := base.Add(time.Duration(2*i+g)*time.Minute + 7*time.Second)
				p := event.Price{Symbol: "AAPL", Sector: "Technology", Seq: int64(10*i + g), Time: at, Bid: 1_000_000, Ask: 1_000_100,
					Last: event.Decimal(1_000_000 + 3_000*(i+1)*(2*g-1)), Volume: 10}
				tr := event.Trade{ID: int64(10*i + g + 1), UserID: int64(g + 1), AccountID: int64(g + 1), Symbol: "AAPL", Side: event.SideBuy,
					Quantity: int64(i + 1), Price: p.Last, Fee: 1, Time: at}
				b.Reset()
				b.AddTick(&p, "")
				b.AddTrade(&tr, "")
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, run_id, kafka_partition, kafka_offset)
						VALUES ('AAPL', 'Technology', $1, $2, 100, 100.01, $3::numeric * 0.0001, 10, '', $4, $1)`, p.Seq, p.Time, int64(p.Last), g); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, kafka_partition, kafka_offset)
						VALUES ($1, $2, $2, 'AAPL', 'buy', $3, $4::numeric * 0.0001, 0.0001, $5, 0, 1, $6, $1)`, tr.ID, tr.UserID, tr.Quantity, int64(tr.Price), tr.Time, g); err != nil {
						return err
					}
					if _, err := b.Write(ctx, tx); err != nil {
						return err
					}
					time.Sleep(30 * time.Millisecond) // hold the transaction open while the other one writes
					return nil
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
		time.Sleep(80 * time.Millisecond)
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
