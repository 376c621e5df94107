package store_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// analyticsFixture is a small, hand-checkable history on 2025-06-02.
const analyticsFixture = `
INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset) VALUES
  ('AAPL', 'Technology', 1, '2025-06-02 10:00:00Z',  99, 101, 100, 10, 0, 0),
  ('AAPL', 'Technology', 2, '2025-06-02 10:00:30Z', 104, 106, 105,  5, 0, 1),
  ('AAPL', 'Technology', 3, '2025-06-02 10:00:59Z',  94,  96,  95,  1, 0, 2),
  ('AAPL', 'Technology', 4, '2025-06-02 10:01:10Z', 100, 102, 101,  2, 0, 3),
  ('AAPL', 'Technology', 5, '2025-06-02 10:04:59Z', 109, 111, 110,  3, 0, 4),
  ('AAPL', 'Technology', 6, '2025-06-02 10:05:00Z',  89,  91,  90,  4, 0, 5),
  ('AAPL', 'Technology', 7, '2025-06-02 11:00:00Z', 119, 121, 120,  1, 0, 6),
  ('MSFT', 'Technology', 1, '2025-06-02 10:00:00Z', 199, 201, 200,  7, 1, 0),
  ('MSFT', 'Technology', 2, '2025-06-02 11:30:00Z', 179, 181, 180,  7, 1, 1);
INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after,
                    order_type, limit_price, schema_version, kafka_partition, kafka_offset) VALUES
  (1, 1, 1, 'AAPL', 'buy',  10, 100, 1,   '2025-06-02 10:00:10Z', 8999,   NULL, NULL, 1, 0, 0),
  (2, 1, 1, 'AAPL', 'sell',  5, 110, 1,   '2025-06-02 10:05:10Z', 9548,   'market', NULL, 2, 0, 1),
  (3, 1, 1, 'AAPL', 'buy',   5, 104, 1,   '2025-06-02 10:30:00Z', 9027,   'limit', 104.5, 2, 0, 2),
  (4, 2, 2, 'MSFT', 'sell',  3, 200, 0.5, '2025-06-02 10:00:20Z', 5599.5, NULL, NULL, 1, 1, 0);`

func TestAnalyticsOnKnownInputs(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	day := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	if _, err := store.EnsurePartitions(ctx, pool, day, day); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, analyticsFixture); err != nil {
		t.Fatal(err)
	}
	// The fixture is raw rows only: build its rollups as after a restore.
	if err := rollup.Rebuild(ctx, pool, day, day.AddDate(0, 0, 1), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sql  string
		want []string // rows, columns joined with " "
	}{
		{"1m candles", `SELECT bucket, open, high, low, close, volume, ticks FROM ohlcv('AAPL', '1 minute', '2025-06-02', '2025-06-03')`, []string{
			"10:00 100.0000 105.0000 95.0000 95.0000 16 3", "10:01 101.0000 101.0000 101.0000 101.0000 2 1", "10:04 110.0000 110.0000 110.0000 110.0000 3 1", "10:05 90.0000 90.0000 90.0000 90.0000 4 1", "11:00 120.0000 120.0000 120.0000 120.0000 1 1",
		}},
		{"5m candles", `SELECT bucket, open, high, low, close, volume, ticks FROM candles_5m WHERE symbol = 'AAPL' ORDER BY bucket`, []string{
			"10:00 100.0000 110.0000 95.0000 110.0000 21 5", "10:05 90.0000 90.0000 90.0000 90.0000 4 1", "11:00 120.0000 120.0000 120.0000 120.0000 1 1",
		}},
		{"1h candles", `SELECT bucket, open, high, low, close, volume, ticks FROM candles_1h WHERE symbol = 'AAPL' ORDER BY bucket`, []string{
			"10:00 100.0000 110.0000 90.0000 90.0000 25 6", "11:00 120.0000 120.0000 120.0000 120.0000 1 1",
		}},
		{"1m view agrees with the function", `SELECT count(*) FROM candles_1m WHERE symbol = 'AAPL'`, []string{"5"}},
		{"vwap", `SELECT vwap('AAPL', '2025-06-02', '2025-06-03')`, []string{"103.5000"}},
		{"vwap without trades", `SELECT coalesce(vwap('AAPL', '2025-06-03', '2025-06-04')::text, 'null')`, []string{"null"}},
		{"daily vwap", `SELECT symbol, vwap, volume, trades FROM vwap_daily ORDER BY symbol`, []string{
			"AAPL 103.5000 20 3", "MSFT 200.0000 3 1",
		}},
		{"positions", `SELECT user_id, symbol, quantity, cash_flow, last_price, market_value, pnl FROM positions ORDER BY user_id`, []string{
			"1 AAPL 10 -973.0000 120.0000 1200.0000 227.0000",
			"2 MSFT -3 599.5000 180.0000 -540.0000 59.5000",
		}},
		{"user pnl", `SELECT user_id, trades, fees, pnl FROM user_pnl ORDER BY user_id`, []string{
			"1 3 3.0000 227.0000", "2 1 0.5000 59.5000",
		}},
		{"top movers", `SELECT symbol, open, close, change, change_pct FROM top_movers('2025-06-02 10:00Z', '2025-06-02 12:00Z')`, []string{
			"AAPL 100.0000 120.0000 20.0000 20.0000", "MSFT 200.0000 180.0000 -20.0000 -10.0000",
		}},
		{"positions by average cost", `SELECT symbol, cost_basis, avg_cost, realised, unrealised FROM positions ORDER BY user_id`, []string{
			// AAPL: 10 @ 100, sell 5 @ 110 (realised 50, cost 500 left), buy 5 @ 104.
			"AAPL 1020.0000 102.0000 50.0000 180.0000",
			"MSFT -600.0000 200.0000 0 60.0000",
		}},
		{"vwap of a window cutting minutes", `SELECT vwap('AAPL', '2025-06-02 10:00:05Z', '2025-06-02 10:05:30Z')`, []string{"103.3333"}},
		{"1m candles of a window cutting minutes", `SELECT bucket, open, close, volume, ticks FROM ohlcv('AAPL', '1 minute', '2025-06-02 10:00:20Z', '2025-06-02 10:01:30Z')`, []string{
			"10:00 105.0000 95.0000 6 2", "10:01 101.0000 101.0000 2 1",
		}},
		{"1s candles read raw ticks", `SELECT bucket, open, ticks FROM ohlcv('AAPL', '1 second', '2025-06-02 10:00:00Z', '2025-06-02 10:00:31Z')`, []string{
			"10:00 100.0000 1", "10:00 105.0000 1",
		}},
		{"price at", `SELECT price_at('AAPL', '2025-06-02 10:04:59Z'), price_at('AAPL', '2025-06-02 10:04:59.5Z'), price_at('AAPL', '2025-06-02 12:00Z')`, []string{
			"101.0000 110.0000 120.0000",
		}},
		{"daily summary", `SELECT day, open, high, low, close, vwap, volume, ticks, traded, trades FROM daily_summary('AAPL', '2025-06-01', '2025-06-04')`, []string{
			"00:00 100.0000 120.0000 90.0000 120.0000 103.5000 26 7 20 3",
		}},
		{"sector performance", `SELECT sector, symbols, change_pct, best, worst FROM sector_performance('2025-06-02 10:00Z', '2025-06-02 12:00Z')`, []string{
			"Technology 2 5.0000 AAPL MSFT",
		}},
		{"user pnl over a range", `SELECT symbol, quantity_from, quantity_to, cash_flow, price_from, price_to, pnl FROM user_pnl_range(1, '2025-06-02 10:05:05Z', '2025-06-02 12:00Z')`, []string{
			"AAPL 10 10 28.0000 90.0000 120.0000 328.0000",
		}},
		{"top movers limit and window", `SELECT symbol, change_pct FROM top_movers('2025-06-02 10:00Z', '2025-06-02 10:05Z', 1)`, []string{
			"AAPL 10.0000",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queryRows(t, pool, tt.sql)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// queryRows returns each row's columns rendered as text and joined with a
// space; times show as HH:MM (UTC).
func queryRows(t *testing.T, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		cols := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case time.Time:
				cols[i] = v.UTC().Format("15:04")
			case driver.Valuer:
				dv, err := v.Value()
				if err != nil {
					t.Fatal(err)
				}
				cols[i] = fmt.Sprint(dv)
			default:
				cols[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(cols, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}
