package rollup_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// seedHistory loads a small random market (4 symbols in 2 sectors, 6
// accounts, a few hours over two days) as raw rows and folds it into the
// rollups in shuffled chunks, as batches of late and out-of-order events
// would arrive.
func seedHistory(t *testing.T, pool *pgxpool.Pool, r *rand.Rand, base time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := store.EnsurePartitions(ctx, pool, base, base.AddDate(0, 0, 2)); err != nil {
		t.Fatal(err)
	}
	symbols := []struct{ name, sector string }{{"AAPL", "Technology"}, {"MSFT", "Technology"}, {"XOM", "Energy"}, {"CVX", "Energy"}}
	type tick struct {
		p   event.Price
		run string
	}
	var ticks []tick
	price := map[string]event.Decimal{}
	for i := 0; i < 6000; i++ {
		s := symbols[r.IntN(len(symbols))]
		if price[s.name] == 0 {
			price[s.name] = 1_000_000
		}
		price[s.name] += event.Decimal(r.IntN(4001) - 2000)
		at := base.Add(time.Duration(i) * 2 * time.Second).Add(time.Duration(r.IntN(2_000_000)) * time.Microsecond)
		ticks = append(ticks, tick{event.Price{Symbol: s.name, Sector: s.sector, Seq: int64(i), Time: at,
			Bid: price[s.name] - 50, Ask: price[s.name] + 50, Last: price[s.name], Volume: int64(1 + r.IntN(900))}, []string{"a", "b"}[r.IntN(2)]})
	}
	var trades []event.Trade
	for i := 0; i < 1500; i++ {
		acct := int64(1 + r.IntN(6))
		side := event.SideBuy
		if r.IntN(2) == 0 {
			side = event.SideSell
		}
		trades = append(trades, event.Trade{ID: int64(i + 1), UserID: acct, AccountID: acct, Symbol: symbols[r.IntN(len(symbols))].name,
			Side: side, Quantity: int64(1 + r.IntN(50)), Price: event.Decimal(990_000 + r.IntN(20_000)), Fee: event.Decimal(r.IntN(5000)),
			Time: base.Add(time.Duration(i) * 8 * time.Second).Add(time.Duration(r.IntN(8_000_000)) * time.Microsecond), BalanceAfter: 1})
	}
	tickRows := make([][]any, len(ticks))
	for i, k := range ticks {
		p := k.p
		tickRows[i] = []any{p.Symbol, p.Sector, p.Seq, p.Time, int64(p.Bid), int64(p.Ask), int64(p.Last), p.Volume, k.run, int32(0), int64(i)}
	}
	tradeRows := make([][]any, len(trades))
	for i, t := range trades {
		tradeRows[i] = []any{t.ID, t.UserID, t.AccountID, t.Symbol, string(t.Side), t.Quantity, int64(t.Price), int64(t.Fee), t.Time, int64(1), int16(1), "", int32(0), int64(i)}
	}
	// Raw rows by COPY into staging tables of plain integers, converted
	// to scale 4 on insert.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE st (symbol text, sector text, seq int8, ts timestamptz, bid int8, ask int8, last int8, volume int8, run_id text, kp int4, ko int8) ON COMMIT DROP;
			CREATE TEMP TABLE sr (trade_id int8, user_id int8, account_id int8, symbol text, side text, quantity int8, price int8, fee int8, ts timestamptz, balance_after int8, schema_version int2, run_id text, kp int4, ko int8) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"st"}, []string{"symbol", "sector", "seq", "ts", "bid", "ask", "last", "volume", "run_id", "kp", "ko"}, pgx.CopyFromRows(tickRows)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"sr"}, []string{"trade_id", "user_id", "account_id", "symbol", "side", "quantity", "price", "fee", "ts", "balance_after", "schema_version", "run_id", "kp", "ko"}, pgx.CopyFromRows(tradeRows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO price_ticks SELECT symbol, sector, seq, ts, bid * 0.0001, ask * 0.0001, last * 0.0001, volume, run_id, kp, ko FROM st;
			INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, run_id, kafka_partition, kafka_offset)
			SELECT trade_id, user_id, account_id, symbol, side, quantity, price * 0.0001, fee * 0.0001, ts, balance_after, schema_version, run_id, kp, ko FROM sr`)
		return err
	})
	if err != nil {
		t.Fatalf("load raw rows: %v", err)
	}
	// Rollups in shuffled chunks of 250 ticks and 60 trades.
	r.Shuffle(len(ticks), func(i, j int) { ticks[i], ticks[j] = ticks[j], ticks[i] })
	r.Shuffle(len(trades), func(i, j int) { trades[i], trades[j] = trades[j], trades[i] })
	b := rollup.NewBatch()
	for c := 0; c*250 < len(ticks) || c*60 < len(trades); c++ {
		b.Reset()
		for i := c * 250; i < min((c+1)*250, len(ticks)); i++ {
			b.AddTick(&ticks[i].p, ticks[i].run)
		}
		for i := c * 60; i < min((c+1)*60, len(trades)); i++ {
			b.AddTrade(&trades[i], "")
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := b.Write(ctx, tx); return err }); err != nil {
			t.Fatalf("write rollups: %v", err)
		}
	}
}

// The independent computations from raw rows, in plain SQL.
const (
	rawOHLCV = `
		SELECT date_bin($2::interval, ts, timestamptz '2000-01-01 00:00:00+00'),
		       (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1], max(last), min(last),
		       (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1], sum(volume), count(*)
		FROM price_ticks WHERE symbol = $1 AND ts >= $3 AND ts < $4 GROUP BY 1 ORDER BY 1`
	rawVWAP    = `SELECT round(sum(price * quantity) / nullif(sum(quantity), 0), 4) FROM trades WHERE symbol = $1 AND ts >= $2 AND ts < $3`
	rawChanges = `
		SELECT symbol, (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1] AS open,
		       (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS close,
		       (array_agg(sector ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS sector
		FROM price_ticks WHERE ts >= $1 AND ts < $2 GROUP BY symbol`
	rawMovers = `
		SELECT symbol, open, close, close - open, round(100 * (close - open) / open, 4)
		FROM (` + rawChanges + `) w ORDER BY abs((close - open) / open) DESC, symbol LIMIT $3`
	rawSectors = `
		SELECT sector, count(*), round(avg(pct), 4)
		FROM (SELECT sector, round(100 * (close - open) / open, 4) AS pct FROM (` + rawChanges + `) w) s
		GROUP BY sector ORDER BY 3 DESC, 1`
	rawPriceAt = `SELECT last FROM price_ticks WHERE symbol = $1 AND ts < $2 ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC LIMIT 1`
	rawDaily   = `
		WITH m AS (
		    SELECT minute_floor(ts) AS minute, (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS close
		    FROM price_ticks WHERE symbol = $1 GROUP BY 1
		), r AS (
		    SELECT (minute AT TIME ZONE 'UTC')::date AS day,
		           ln(close / lag(close) OVER (PARTITION BY (minute AT TIME ZONE 'UTC')::date ORDER BY minute)) AS ret FROM m
		), v AS (SELECT day, round(sqrt(sum(ret::float8 ^ 2))::numeric, 9) AS vol FROM r GROUP BY day),
		d AS (
		    SELECT (ts AT TIME ZONE 'UTC')::date AS day, (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1] AS open,
		           max(last) AS high, min(last) AS low, (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS close,
		           sum(volume) AS volume, count(*) AS ticks
		    FROM price_ticks WHERE symbol = $1 GROUP BY 1
		), t AS (
		    SELECT (ts AT TIME ZONE 'UTC')::date AS day, round(sum(price * quantity) / sum(quantity), 4) AS vwap, sum(quantity) AS traded, count(*) AS trades
		    FROM trades WHERE symbol = $1 GROUP BY 1
		)
		SELECT d.day, d.open, d.high, d.low, d.close, t.vwap, d.volume, d.ticks, coalesce(t.traded, 0), coalesce(t.trades, 0), v.vol
		FROM d JOIN v USING (day) LEFT JOIN t USING (day) ORDER BY d.day`
	rawPositions = `
		SELECT p.user_id, p.account_id, p.symbol, p.quantity, p.fees, p.cash_flow, p.trades, l.last, p.cash_flow + p.quantity * l.last AS pnl
		FROM (SELECT user_id, account_id, symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity, sum(fee) AS fees,
		             sum(CASE side WHEN 'buy' THEN -(price * quantity) ELSE price * quantity END) - sum(fee) AS cash_flow, count(*) AS trades
		      FROM trades GROUP BY 1, 2, 3) p
		LEFT JOIN LATERAL (SELECT last FROM price_ticks t WHERE t.symbol = p.symbol ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC LIMIT 1) l ON true
		ORDER BY 1, 2, 3`
	rawUserPnL = `
		SELECT user_id, count(*), sum(trades), sum(fees), sum(pnl) FROM (` + rawPositions + `) p GROUP BY 1 ORDER BY 1`
	rawUserRange = `
		SELECT symbol, sum(pnl) FROM (
		    SELECT symbol, CASE side WHEN 'buy' THEN -(price * quantity) ELSE price * quantity END - fee AS pnl
		    FROM trades WHERE user_id = $1 AND ts >= $2 AND ts < $3
		    UNION ALL
		    SELECT q.symbol, q.qty * ((SELECT last FROM price_ticks t WHERE t.symbol = q.symbol AND t.ts < $3 ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC LIMIT 1)
		                             - coalesce((SELECT last FROM price_ticks t WHERE t.symbol = q.symbol AND t.ts < $2 ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC LIMIT 1), 0))
		    FROM (SELECT symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS qty FROM trades WHERE user_id = $1 AND ts < $2 GROUP BY 1) q
		    UNION ALL
		    SELECT symbol, (CASE side WHEN 'buy' THEN quantity ELSE -quantity END) * (SELECT last FROM price_ticks t WHERE t.symbol = w.symbol AND t.ts < $3 ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC LIMIT 1)
		    FROM trades w WHERE user_id = $1 AND ts >= $2 AND ts < $3
		) x GROUP BY 1 HAVING sum(pnl) <> 0 ORDER BY 1`
)

// TestAnalyticsEqualRawRecomputation checks every analytic, answered from
// the rollups, against an independent computation from the raw rows over
// random windows that cut minutes, and the rollups themselves with
// rollup.Check.
func TestAnalyticsEqualRawRecomputation(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(16, 2025))
	base := time.Date(2025, 6, 2, 21, 30, 0, 0, time.UTC) // the history crosses midnight
	seedHistory(t, pool, r, base)

	diffs, err := rollup.Check(ctx, pool, rollup.CheckOptions{Positions: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("rollup differs: %s", d)
	}
	sampled, err := rollup.Check(ctx, pool, rollup.CheckOptions{Samples: 5, Positions: true, Rand: r})
	if err != nil || len(sampled) != 0 {
		t.Errorf("sampled check: got %v (%v), want no differences", sampled, err)
	}

	same := func(name, got, want string, args ...any) {
		t.Helper()
		g, w := rowsText(t, pool, got, args...), rowsText(t, pool, want, args...)
		if g != w {
			t.Errorf("%s %v:\ngot  %s\nwant %s", name, args, g, w)
		}
	}
	span := 3*time.Hour + 20*time.Minute
	for i := 0; i < 12; i++ {
		from := base.Add(time.Duration(r.Int64N(int64(span)))).Add(time.Duration(r.IntN(999_999)) * time.Microsecond)
		to := from.Add(time.Duration(r.Int64N(int64(90 * time.Minute))))
		if i == 0 {
			to = from.Add(25 * time.Second) // inside one or two minutes
		}
		sym := []string{"AAPL", "MSFT", "XOM", "CVX"}[r.IntN(4)]
		for _, width := range []string{"1 minute", "5 minutes", "1 hour", "1 day", "1 second"} {
			same("ohlcv "+width, `SELECT * FROM ohlcv($1, $2::interval, $3, $4)`, rawOHLCV, sym, width, from, to)
		}
		same("vwap", `SELECT vwap($1, $2, $3)`, rawVWAP, sym, from, to)
		same("top_movers", `SELECT * FROM top_movers($1, $2, $3)`, rawMovers, from, to, 3)
		same("sector_performance", `SELECT sector, symbols, change_pct FROM sector_performance($1, $2)`, rawSectors, from, to)
		same("price_at", `SELECT price_at($1, $2)`, rawPriceAt, sym, to)
		user := int64(1 + r.IntN(6))
		same("user_pnl_range", `SELECT symbol, pnl FROM user_pnl_range($1, $2, $3) WHERE pnl <> 0`, rawUserRange, user, from, to)
	}
	// Windows that cut hours (the hourly rollups in the middle, minutes
	// of the cut hours at the edges), the whole history, and windows on
	// hours and minutes.
	end := base.Add(span + 10*time.Minute)
	for i := 0; i < 10; i++ {
		from := base.Add(time.Duration(r.Int64N(int64(90 * time.Minute)))).Add(time.Duration(r.IntN(59_999_999)) * time.Microsecond)
		to := from.Add(time.Hour + time.Duration(r.Int64N(int64(150*time.Minute))))
		switch i {
		case 0:
			from, to = base.Add(-time.Hour), end
		case 1:
			from, to = base.Truncate(time.Hour).Add(time.Hour), base.Truncate(time.Hour).Add(3*time.Hour)
		case 2:
			from, to = from.Truncate(time.Minute), to.Truncate(time.Minute)
		}
		sym := []string{"AAPL", "MSFT", "XOM", "CVX"}[r.IntN(4)]
		for _, width := range []string{"1 minute", "30 minutes", "1 hour", "2 hours", "1 day"} {
			same("ohlcv "+width, `SELECT * FROM ohlcv($1, $2::interval, $3, $4)`, rawOHLCV, sym, width, from, to)
		}
		same("vwap", `SELECT vwap($1, $2, $3)`, rawVWAP, sym, from, to)
		same("top_movers", `SELECT * FROM top_movers($1, $2, $3)`, rawMovers, from, to, 3)
	}
	same("candles_1h", `SELECT symbol, bucket, open, high, low, close, volume, ticks FROM candles_1h ORDER BY 1, 2`,
		`SELECT symbol, date_bin('1 hour', ts, timestamptz '2000-01-01 00:00:00+00') AS b, (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1], max(last), min(last),
		        (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1], sum(volume), count(*) FROM price_ticks GROUP BY 1, 2 ORDER BY 1, 2`)
	same("candles_1d", `SELECT symbol, bucket, open, high, low, close, volume, ticks FROM candles_1d ORDER BY 1, 2`,
		`SELECT symbol, date_trunc('day', ts, 'UTC') AS b, (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1], max(last), min(last),
		        (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1], sum(volume), count(*) FROM price_ticks GROUP BY 1, 2 ORDER BY 1, 2`)
	for _, sym := range []string{"AAPL", "MSFT", "XOM", "CVX"} {
		same("daily_summary", `SELECT day, open, high, low, close, vwap, volume, ticks, traded, trades, round(volatility::numeric, 9) FROM daily_summary($1, '2025-06-01', '2025-06-05')`, rawDaily, sym)
	}
	same("positions", `SELECT user_id, account_id, symbol, quantity, fees, cash_flow, trades, last_price, pnl FROM positions ORDER BY 1, 2, 3`, rawPositions)
	same("user_pnl", `SELECT user_id, symbols, trades, fees, pnl FROM user_pnl ORDER BY 1`, rawUserPnL)
	same("candles_5m", `SELECT symbol, bucket, open, high, low, close, volume, ticks FROM candles_5m ORDER BY 1, 2`,
		`SELECT symbol, date_bin('5 minutes', ts, timestamptz '2000-01-01 00:00:00+00') AS b, (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1], max(last), min(last),
		        (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1], sum(volume), count(*) FROM price_ticks GROUP BY 1, 2 ORDER BY 1, 2`)
	same("vwap_daily", `SELECT symbol, day, vwap, volume, trades FROM vwap_daily ORDER BY 1, 2`,
		`SELECT symbol, date_trunc('day', ts, 'UTC') AS d, round(sum(price * quantity) / sum(quantity), 4), sum(quantity), count(*) FROM trades GROUP BY 1, 2 ORDER BY 1, 2`)
	// The realised P&L and cost basis are Check's (an independent replay);
	// pnl = realised + unrealised - fees ties them to the cash view.
	same("pnl identity", `SELECT count(*) FROM positions WHERE pnl IS DISTINCT FROM realised + unrealised - fees`, `SELECT 0::bigint`)
	same("user_pnl's realised and unrealised", `SELECT user_id, round(realised, 4), round(unrealised, 4), round(market_value, 4) FROM user_pnl ORDER BY 1`,
		`SELECT user_id, round(sum(realised), 4), round(sum(unrealised), 4), round(sum(market_value), 4) FROM positions GROUP BY 1 ORDER BY 1`)
}

// rowsText renders a query's rows as text, one line each.
func rowsText(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(' ')
			}
			switch v := v.(type) {
			case time.Time:
				b.WriteString(v.UTC().Format(time.RFC3339Nano))
			default:
				fmt.Fprintf(&b, "%v", normalize(v))
			}
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return b.String()
}

// normalize prints a numeric as an exact fraction, so that 1.50 and 1.5
// compare equal and integers compare with numerics of no fraction.
func normalize(v any) any {
	n, ok := v.(pgtype.Numeric)
	if !ok {
		return v
	}
	if !n.Valid {
		return "NULL"
	}
	r := new(big.Rat).SetInt(n.Int)
	e := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(n.Exp))), nil)
	if n.Exp < 0 {
		r.Quo(r, new(big.Rat).SetInt(e))
	} else {
		r.Mul(r, new(big.Rat).SetInt(e))
	}
	return r.RatString()
}

func abs(n int32) int32 {
	if n < 0 {
		return -n
	}
	return n
}
