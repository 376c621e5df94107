package bench

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// AnalyticsOptions say how `bench analytics` runs.
type AnalyticsOptions struct {
	URL      string
	Ticks    int           // price ticks in the history
	Symbols  int           // symbols (in 10 sectors)
	Span     time.Duration // the history's length, ending now
	Accounts int
	// TradeEvery is one trade per that many ticks.
	TradeEvery int
	// Runs is how many times each query runs on the rollups, RawRuns on
	// the raw rows (which can be slow).
	Runs, RawRuns int
	// PlansDir, when set, receives one EXPLAIN (ANALYZE, BUFFERS) plan per
	// query and side.
	PlansDir string
	Seed     uint64
	// Keep leaves the schema with the loaded history in place (its name
	// is AnalyticsResult.Schema) instead of dropping it.
	Keep bool
	// ReuseSchema, when set, names a schema a run with Keep left: no
	// load, only the migrations (to the current version) and the
	// queries. The schema is kept.
	ReuseSchema string
	// Progress is told of the load as it goes (may be nil).
	Progress func(loaded, total int, rate float64)
}

// QueryTiming is one analytics query's latencies.
type QueryTiming struct {
	Name  string  `json:"name"`
	Query string  `json:"query"`
	Runs  int     `json:"runs"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	// The same question on the raw rows, where it has a raw counterpart.
	RawQuery string  `json:"raw_query,omitempty"`
	RawRuns  int     `json:"raw_runs,omitempty"`
	RawP50ms float64 `json:"raw_p50_ms,omitempty"`
	RawP99ms float64 `json:"raw_p99_ms,omitempty"`
}

// AnalyticsResult is what `bench analytics` measured.
type AnalyticsResult struct {
	// Schema is the history's schema when it is kept (Keep or
	// ReuseSchema), else empty.
	Schema          string `json:",omitempty"`
	Ticks, Trades   int64
	RollupMinutes   int64
	Positions       int64
	LoadSeconds     float64
	LoadRowsPerSec  float64
	PeakRSSMiB      float64
	Queries         []QueryTiming
	Settings        map[string]string
	DatabaseSizeMiB float64
}

// analyticsQuery is one question: its SQL on the rollups (the shipped
// functions), its raw counterpart, and how to pick random arguments.
type analyticsQuery struct {
	name, sql, raw string
	args           func(r *rand.Rand) []any
}

// The raw counterparts: migration 3's definitions, on the raw rows.
const (
	rawOHLCVSQL = `SELECT date_bin($2::interval, ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (array_agg(last ORDER BY ts, seq))[1], max(last), min(last), (array_agg(last ORDER BY ts DESC, seq DESC))[1], sum(volume), count(*)
FROM price_ticks WHERE symbol = $1 AND ts >= $3 AND ts < $4 GROUP BY 1 ORDER BY 1`
	rawVWAPSQL   = `SELECT round(sum(price * quantity) / nullif(sum(quantity), 0), 4) FROM trades WHERE symbol = $1 AND ts >= $2 AND ts < $3`
	rawMoversSQL = `SELECT symbol, open, close, close - open, round(100 * (close - open) / open, 4)
FROM (SELECT symbol, (array_agg(last ORDER BY ts, seq))[1] AS open, (array_agg(last ORDER BY ts DESC, seq DESC))[1] AS close
      FROM price_ticks WHERE ts >= $1 AND ts < $2 GROUP BY symbol) w
WHERE open > 0 ORDER BY abs((close - open) / open) DESC, symbol LIMIT $3`
	rawPositionsSQL = `SELECT p.*, l.last, p.cash_flow + p.quantity * l.last AS pnl
FROM (SELECT user_id, account_id, symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity, sum(fee) AS fees,
             sum(CASE side WHEN 'buy' THEN -(price * quantity) ELSE price * quantity END) - sum(fee) AS cash_flow, count(*) AS trades
      FROM trades WHERE user_id = $1 GROUP BY 1, 2, 3) p
LEFT JOIN LATERAL (SELECT t.last FROM price_ticks t WHERE t.symbol = p.symbol ORDER BY t.ts DESC, t.seq DESC LIMIT 1) l ON true`
	rawAllPnLSQL = `SELECT count(*), sum(pnl) FROM (SELECT p.user_id, sum(p.cash_flow + p.quantity * l.last) AS pnl
FROM (SELECT user_id, symbol, sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity,
             sum(CASE side WHEN 'buy' THEN -(price * quantity) ELSE price * quantity END) - sum(fee) AS cash_flow
      FROM trades GROUP BY 1, 2) p
LEFT JOIN LATERAL (SELECT t.last FROM price_ticks t WHERE t.symbol = p.symbol ORDER BY t.ts DESC, t.seq DESC LIMIT 1) l ON true
GROUP BY 1) u`
	rawDailySQL = `SELECT (ts AT TIME ZONE 'UTC')::date, (array_agg(last ORDER BY ts, seq))[1], max(last), min(last),
       (array_agg(last ORDER BY ts DESC, seq DESC))[1], sum(volume), count(*)
FROM price_ticks WHERE symbol = $1 AND ts >= $2::date AND ts < $3::date GROUP BY 1 ORDER BY 1`
	rawPriceAtSQL = `SELECT last FROM price_ticks WHERE symbol = $1 AND ts < $2 ORDER BY ts DESC, seq DESC LIMIT 1`
)

func (o *AnalyticsOptions) queries(symbols []string, from, to time.Time) []analyticsQuery {
	span := to.Sub(from)
	sym := func(r *rand.Rand) string { return symbols[r.IntN(len(symbols))] }
	// at is a random time, cutting a minute, with room for d after it.
	at := func(r *rand.Rand, d time.Duration) time.Time {
		return from.Add(time.Duration(r.Int64N(int64(max(span-d, time.Second))))).Add(time.Duration(r.IntN(59_000_000)) * time.Microsecond)
	}
	window := func(d time.Duration) func(r *rand.Rand) (time.Time, time.Time) {
		return func(r *rand.Rand) (time.Time, time.Time) { a := at(r, d); return a, a.Add(d) }
	}
	user := func(r *rand.Rand) int64 { return int64(1 + r.IntN(o.Accounts)) }
	w1h, w6h, w1d, w7d := window(time.Hour), window(6*time.Hour), window(24*time.Hour), window(7*24*time.Hour)
	return []analyticsQuery{
		{"ohlcv 1m, 6 h window", `SELECT * FROM ohlcv($1, $2::interval, $3, $4)`, rawOHLCVSQL,
			func(r *rand.Rand) []any { a, b := w6h(r); return []any{sym(r), "1 minute", a, b} }},
		{"ohlcv 1h, 7 d window", `SELECT * FROM ohlcv($1, $2::interval, $3, $4)`, rawOHLCVSQL,
			func(r *rand.Rand) []any { a, b := w7d(r); return []any{sym(r), "1 hour", a, b} }},
		{"ohlcv 1d, whole history", `SELECT * FROM ohlcv($1, $2::interval, $3, $4)`, rawOHLCVSQL,
			func(r *rand.Rand) []any { return []any{sym(r), "1 day", from, to} }},
		{"ohlcv 1s, last 15 min (live chart, raw)", `SELECT * FROM ohlcv($1, $2::interval, $3, $4)`, rawOHLCVSQL,
			func(r *rand.Rand) []any { return []any{sym(r), "1 second", to.Add(-15 * time.Minute), to} }},
		{"vwap, 1 d window", `SELECT vwap($1, $2, $3)`, rawVWAPSQL,
			func(r *rand.Rand) []any { a, b := w1d(r); return []any{sym(r), a, b} }},
		{"top_movers, 1 h window", `SELECT * FROM top_movers($1, $2, $3)`, rawMoversSQL,
			func(r *rand.Rand) []any { a, b := w1h(r); return []any{a, b, 10} }},
		{"top_movers, 1 d window", `SELECT * FROM top_movers($1, $2, $3)`, rawMoversSQL,
			func(r *rand.Rand) []any { a, b := w1d(r); return []any{a, b, 10} }},
		{"sector_performance, 1 d window", `SELECT * FROM sector_performance($1, $2)`, "",
			func(r *rand.Rand) []any { a, b := w1d(r); return []any{a, b} }},
		{"positions of a user", `SELECT * FROM positions WHERE user_id = $1`, rawPositionsSQL,
			func(r *rand.Rand) []any { return []any{user(r)} }},
		{"user_pnl of a user", `SELECT * FROM user_pnl WHERE user_id = $1`, "",
			func(r *rand.Rand) []any { return []any{user(r)} }},
		{"user_pnl of every user", `SELECT count(*), sum(pnl) FROM user_pnl`, rawAllPnLSQL,
			func(r *rand.Rand) []any { return nil }},
		{"user_pnl_range, 1 d window", `SELECT * FROM user_pnl_range($1, $2, $3)`, "",
			func(r *rand.Rand) []any { a, b := w1d(r); return []any{user(r), a, b} }},
		{"daily_summary, whole history", `SELECT * FROM daily_summary($1, $2::date, $3::date)`, rawDailySQL,
			func(r *rand.Rand) []any {
				return []any{sym(r), from.Format(time.DateOnly), to.AddDate(0, 0, 1).Format(time.DateOnly)}
			}},
		{"price_at", `SELECT price_at($1, $2)`, rawPriceAtSQL,
			func(r *rand.Rand) []any { return []any{sym(r), at(r, 0)} }},
	}
}

// Analytics loads a history into its own schema (raw rows by COPY, the
// rollups folded chunk by chunk with the sink's rollup code in the same
// transaction), then times every analytics query at random arguments.
// With ReuseSchema it skips the load and times the queries on a history a
// run with Keep left, after migrating it.
func Analytics(ctx context.Context, o AnalyticsOptions) (*AnalyticsResult, error) {
	var (
		db  *benchDB
		err error
	)
	if o.ReuseSchema != "" {
		db, err = openBenchDB(ctx, o.URL, o.ReuseSchema, false)
	} else {
		db, err = newBenchDB(ctx, o.URL, "bench_analytics_"+randomSuffix(4))
	}
	if err != nil {
		return nil, err
	}
	db.keep = db.keep || o.Keep
	defer db.close()
	if _, err := store.Migrate(ctx, db.pool); err != nil {
		return nil, err
	}
	res := &AnalyticsResult{}
	if db.keep {
		res.Schema = db.rawSchema
	}
	if res.Settings, err = db.settings(ctx); err != nil {
		return nil, err
	}
	var (
		from, to time.Time
		symbols  []string
	)
	if o.ReuseSchema != "" {
		if from, to, symbols, err = o.stored(ctx, db, res); err != nil {
			return nil, err
		}
	} else {
		to = time.Now().UTC().Truncate(time.Minute)
		from = to.Add(-o.Span)
		if _, err := store.EnsurePartitions(ctx, db.pool, from, to); err != nil {
			return nil, err
		}
		symbols = make([]string, o.Symbols)
		for i := range symbols {
			symbols[i] = fmt.Sprintf("S%03d", i)
		}
		start := time.Now()
		if err := o.load(ctx, db, symbols, from, to, res); err != nil {
			return nil, err
		}
		res.LoadSeconds = time.Since(start).Seconds()
		res.LoadRowsPerSec = float64(res.Ticks+res.Trades) / res.LoadSeconds
	}
	// The history's tables only (a bare VACUUM would visit every table of
	// the database the role owns, other schemas too).
	if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE price_ticks, trades, rollup_prices_1m, rollup_trades_1m, rollup_prices_1h, rollup_trades_1h, rollup_symbols, rollup_positions"); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	_ = db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM rollup_prices_1m), (SELECT count(*) FROM rollup_positions),
		pg_database_size(current_database()) / 1048576.0`).Scan(&res.RollupMinutes, &res.Positions, &res.DatabaseSizeMiB)
	r := rand.New(rand.NewPCG(o.Seed, o.Seed+1))
	for _, q := range o.queries(symbols, from, to) {
		qt := QueryTiming{Name: q.name, Query: q.sql, RawQuery: q.raw}
		if qt.P50ms, qt.P99ms, err = timeQuery(ctx, db, q.sql, q.args, r, o.Runs); err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, err)
		}
		qt.Runs = o.Runs
		if q.raw != "" && o.RawRuns > 0 {
			if qt.RawP50ms, qt.RawP99ms, err = timeQuery(ctx, db, q.raw, q.args, r, o.RawRuns); err != nil {
				return nil, fmt.Errorf("%s on raw rows: %w", q.name, err)
			}
			qt.RawRuns = o.RawRuns
		}
		if o.PlansDir != "" {
			if err := savePlans(ctx, db, o.PlansDir, q, r); err != nil {
				return nil, err
			}
		}
		res.Queries = append(res.Queries, qt)
	}
	if rss, err := procStatusKiB(os.Getpid(), "VmHWM"); err == nil {
		res.PeakRSSMiB = rss / 1024
	}
	return res, nil
}

// stored reads what a kept history holds: its span (whole minutes, as
// loaded), its symbols and accounts (o.Accounts becomes the highest
// user id) and its row counts.
func (o *AnalyticsOptions) stored(ctx context.Context, db *benchDB, res *AnalyticsResult) (from, to time.Time, symbols []string, err error) {
	var lo, hi *time.Time
	var accounts *int64
	if err := db.pool.QueryRow(ctx, `SELECT min(minute), max(minute), (SELECT max(user_id) FROM rollup_positions),
		(SELECT count(*) FROM price_ticks), (SELECT count(*) FROM trades) FROM rollup_prices_1m`).Scan(&lo, &hi, &accounts, &res.Ticks, &res.Trades); err != nil {
		return from, to, nil, fmt.Errorf("read kept history: %w", err)
	}
	if lo == nil || accounts == nil {
		return from, to, nil, fmt.Errorf("schema %s holds no history", db.rawSchema)
	}
	o.Accounts = int(*accounts)
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT symbol FROM rollup_prices_1m WHERE minute = $1 ORDER BY 1`, *lo)
	if err != nil {
		return from, to, nil, fmt.Errorf("read kept symbols: %w", err)
	}
	if symbols, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return from, to, nil, fmt.Errorf("read kept symbols: %w", err)
	}
	return lo.UTC(), hi.UTC().Add(time.Minute), symbols, nil
}

// timeQuery runs sql n times at random arguments (after two warm-up runs)
// and returns the p50 and p99 in milliseconds.
func timeQuery(ctx context.Context, db *benchDB, sql string, args func(*rand.Rand) []any, r *rand.Rand, n int) (p50, p99 float64, err error) {
	var ms []float64
	for i := -2; i < n; i++ {
		a := args(r)
		start := time.Now()
		rows, err := db.pool.Query(ctx, sql, a...)
		if err != nil {
			return 0, 0, err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, 0, err
		}
		if i >= 0 {
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
	}
	slices.Sort(ms)
	pick := func(q float64) float64 { return ms[min(len(ms)-1, int(q*float64(len(ms))))] }
	return pick(0.50), pick(0.99), nil
}

func savePlans(ctx context.Context, db *benchDB, dir string, q analyticsQuery, r *rand.Rand) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			return c
		}
		return '_'
	}, strings.ToLower(q.name))
	for _, side := range []struct{ suffix, sql string }{{"", q.sql}, {".raw", q.raw}} {
		if side.sql == "" {
			continue
		}
		a := q.args(r)
		rows, err := db.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+side.sql, a...)
		if err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		text := fmt.Sprintf("-- %s\n-- args %v\n%s\n\n%s\n", q.name, a, side.sql, strings.Join(lines, "\n"))
		if err := os.WriteFile(filepath.Join(dir, name+side.suffix+".txt"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// load writes the history in chunks: each chunk's ticks and trades by
// COPY and their rollups (rollup.Batch, as the sink writes them) in one
// transaction.
func (o *AnalyticsOptions) load(ctx context.Context, db *benchDB, symbols []string, from, to time.Time, res *AnalyticsResult) error {
	r := rand.New(rand.NewPCG(o.Seed, 99))
	price := make([]event.Decimal, len(symbols))
	for i := range price {
		price[i] = event.Decimal(200_000 + r.IntN(4_000_000))
	}
	step := o.Span / time.Duration(o.Ticks)
	const chunk = 200_000
	rb := rollup.NewBatch()
	num := func(d event.Decimal) pgtype.Numeric {
		return pgtype.Numeric{Int: big.NewInt(int64(d)), Exp: -event.Scale, Valid: true}
	}
	var tradeID int64
	start := time.Now()
	for done := 0; done < o.Ticks; done += chunk {
		n := min(chunk, o.Ticks-done)
		ticks := make([][]any, 0, n)
		var trades [][]any
		rb.Reset()
		for i := 0; i < n; i++ {
			k := done + i
			s := k % len(symbols)
			p := price[s] + event.Decimal(r.IntN(2001)-1000)*price[s]/1_000_000
			if p < 10_000 {
				p = 10_000
			}
			price[s] = p
			ev := event.Price{Symbol: symbols[s], Sector: fmt.Sprintf("Sector%d", s%10), Seq: int64(k / len(symbols)),
				Time: from.Add(time.Duration(k) * step).Truncate(time.Microsecond), Bid: p - 100, Ask: p + 100, Last: p, Volume: int64(1 + r.IntN(1000))}
			ticks = append(ticks, []any{ev.Symbol, ev.Sector, ev.Seq, ev.Time, num(ev.Bid), num(ev.Ask), num(ev.Last), ev.Volume, "bench", int32(0), int64(k)})
			rb.AddTick(&ev, "bench")
			if k%o.TradeEvery == 0 {
				tradeID++
				acct := int64(1 + r.IntN(o.Accounts))
				// An account trades a handful of symbols of its own.
				ts := symbols[(int(acct)*7+r.IntN(6))%len(symbols)]
				side := event.SideBuy
				if r.IntN(2) == 0 {
					side = event.SideSell
				}
				t := event.Trade{ID: tradeID, UserID: acct, AccountID: acct, Symbol: ts, Side: side, Quantity: int64(1 + r.IntN(100)),
					Price: p, Fee: event.Decimal(r.IntN(50_000)), Time: ev.Time}
				trades = append(trades, []any{t.ID, t.UserID, t.AccountID, t.Symbol, string(t.Side), t.Quantity, num(t.Price), num(t.Fee),
					t.Time, num(0), int16(1), "bench", int32(0), tradeID})
				rb.AddTrade(&t, "bench")
			}
		}
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"price_ticks"}, store.PriceTicks.Names(), pgx.CopyFromRows(ticks)); err != nil {
				return fmt.Errorf("copy ticks: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"trades"}, []string{"trade_id", "user_id", "account_id", "symbol", "side", "quantity",
				"price", "fee", "ts", "balance_after", "schema_version", "run_id", "kafka_partition", "kafka_offset"}, pgx.CopyFromRows(trades)); err != nil {
				return fmt.Errorf("copy trades: %w", err)
			}
			_, err := rb.Write(ctx, tx)
			return err
		})
		if err != nil {
			return err
		}
		res.Ticks += int64(n)
		res.Trades += int64(len(trades))
		if o.Progress != nil {
			o.Progress(done+n, o.Ticks, float64(res.Ticks+res.Trades)/time.Since(start).Seconds())
		}
	}
	return nil
}
