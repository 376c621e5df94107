package rollup

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Difference is a rollup row that does not equal its recomputation from
// the raw rows (or that exists on one side only).
type Difference struct {
	Table      string // rollup_prices_1m, rollup_trades_1m, rollup_prices_1h, rollup_trades_1h, rollup_symbols or rollup_positions
	Key        string // symbol and minute or hour, symbol, or account and symbol
	Stored     string // the rollup row, "" when missing
	Recomputed string // the recomputation, "" when the raw rows have none
}

func (d Difference) String() string {
	return fmt.Sprintf("%s %s: stored %q, recomputed from raw rows %q", d.Table, d.Key, d.Stored, d.Recomputed)
}

// CheckOptions say what Check compares.
type CheckOptions struct {
	// Samples, when positive, compares that many random windows of
	// Window of one symbol each and that many random accounts' positions;
	// 0 compares everything the raw rows cover.
	Samples int
	// Window is a sample window's length (10 minutes when 0).
	Window time.Duration
	// Positions compares the positions too. They accumulate over every
	// stored trade, so only a database that keeps all of them (no
	// retention) can check them.
	Positions bool
	// Rand picks the samples (a fixed seed when nil).
	Rand *rand.Rand
}

// maxDifferences bounds what one comparison reports.
const maxDifferences = 100

// Check compares the rollups with a recomputation from the raw rows: the
// minute and hour rollups in plain SQL over the days the raw rows still
// cover (sampled: the windows and the hours they fall in), each symbol's
// latest close against its latest raw tick, the
// positions by an independent replay in Go (big-number arithmetic,
// written apart from Position.Apply) of the trades. It returns the
// differences it found (at most 100 per comparison).
func Check(ctx context.Context, db Querier, opts CheckOptions) ([]Difference, error) {
	var lo, hi *time.Time
	if err := db.QueryRow(ctx, `SELECT least((SELECT min(ts) FROM price_ticks), (SELECT min(ts) FROM trades)),
	                                   greatest((SELECT max(ts) FROM price_ticks), (SELECT max(ts) FROM trades))`).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("check rollups: raw range: %w", err)
	}
	var diffs []Difference
	if lo != nil {
		// Partitions are dropped by whole days: from the earliest day
		// that holds a raw row, every minute is complete.
		from, to := day(*lo), day(*hi).AddDate(0, 0, 1)
		if opts.Samples <= 0 {
			d, err := checkMinutes(ctx, db, from, to, nil)
			if err != nil {
				return nil, err
			}
			diffs = append(diffs, d...)
			if d, err = checkHours(ctx, db, from, to, nil); err != nil {
				return nil, err
			}
			diffs = append(diffs, d...)
		} else {
			d, err := checkSampledMinutes(ctx, db, from, to, opts)
			if err != nil {
				return nil, err
			}
			diffs = append(diffs, d...)
		}
		d, err := checkSymbols(ctx, db)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d...)
	}
	if opts.Positions {
		d, err := checkPositions(ctx, db, opts)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d...)
	}
	return diffs, nil
}

func checkSampledMinutes(ctx context.Context, db Querier, from, to time.Time, opts CheckOptions) ([]Difference, error) {
	r := opts.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(1, 2))
	}
	w := opts.Window
	if w <= 0 {
		w = 10 * time.Minute
	}
	rows, err := db.Query(ctx, `
		WITH RECURSIVE s(symbol) AS (
		    (SELECT symbol FROM price_ticks ORDER BY symbol LIMIT 1)
		    UNION ALL
		    SELECT (SELECT p.symbol FROM price_ticks p WHERE p.symbol > s.symbol ORDER BY p.symbol LIMIT 1)
		    FROM s WHERE s.symbol IS NOT NULL
		) SELECT symbol FROM s WHERE symbol IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("check rollups: symbols: %w", err)
	}
	symbols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("check rollups: symbols: %w", err)
	}
	var diffs []Difference
	span := to.Sub(from) - w
	for i := 0; i < opts.Samples && len(symbols) > 0; i++ {
		start := from
		if span > 0 {
			start = from.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Minute)
		}
		sym := symbols[r.IntN(len(symbols))]
		d, err := checkMinutes(ctx, db, start, start.Add(w), &sym)
		if err != nil {
			return nil, err
		}
		diffs = append(diffs, d...)
		// The hours the window falls in, whole (UTC hours: time's
		// truncation is on UTC).
		if d, err = checkHours(ctx, db, start.Truncate(time.Hour), start.Add(w+time.Hour-1).Truncate(time.Hour), &sym); err != nil {
			return nil, err
		}
		diffs = append(diffs, d...)
	}
	return diffs, nil
}

// checkSymbols compares each symbol's latest close (rollup_symbols) with
// its latest raw tick, for the symbols the raw ticks still hold.
func checkSymbols(ctx context.Context, db Querier) ([]Difference, error) {
	const cols = "sector, close, minute, close_ts, close_seq, close_run"
	q := fmt.Sprintf(`
		WITH RECURSIVE s(symbol) AS (
		    (SELECT symbol FROM price_ticks ORDER BY symbol LIMIT 1)
		    UNION ALL
		    SELECT (SELECT p.symbol FROM price_ticks p WHERE p.symbol > s.symbol ORDER BY p.symbol LIMIT 1)
		    FROM s WHERE s.symbol IS NOT NULL
		), r AS (
		    SELECT s.symbol, l.* FROM s CROSS JOIN LATERAL (
		        SELECT t.sector, t.last AS close, minute_floor(t.ts) AS minute, t.ts AS close_ts, t.seq AS close_seq, t.run_id AS close_run
		        FROM price_ticks t WHERE t.symbol = s.symbol
		        ORDER BY t.ts DESC, t.seq DESC, t.run_id COLLATE "C" DESC LIMIT 1) l
		    WHERE s.symbol IS NOT NULL
		)
		SELECT r.symbol, CASE WHEN y.symbol IS NULL THEN '' ELSE (%[1]s)::text END, (%[2]s)::text
		FROM r LEFT JOIN rollup_symbols y ON y.symbol = r.symbol
		WHERE (%[2]s) IS DISTINCT FROM (%[1]s)
		ORDER BY 1 LIMIT %[3]d`, prefixed("y.", cols), prefixed("r.", cols), maxDifferences)
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("check rollup_symbols: %w", err)
	}
	var (
		diffs []Difference
		d     Difference
	)
	_, err = pgx.ForEachRow(rows, []any{&d.Key, &d.Stored, &d.Recomputed}, func() error {
		d.Table = "rollup_symbols"
		diffs = append(diffs, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check rollup_symbols: %w", err)
	}
	return diffs, nil
}

// rawPriceHours and rawTradeHours recompute the hourly rollups of the
// hours in [$1, $2) from the raw rows: their minutes as rawPriceMinutes
// and rawTradeMinutes compute them, aggregated into hours.
var (
	rawPriceHours = hourlyPrices(`(SELECT m.*, hour_floor(m.minute) AS hour FROM (` + rawPriceMinutes + `) m)`)
	rawTradeHours = hourlyTrades(`(SELECT m.*, hour_floor(m.minute) AS hour FROM (` + rawTradeMinutes + `) m)`)
)

// checkMinutes compares the minute rollups of [from, to) (minute-aligned),
// of one symbol when symbol is not nil.
func checkMinutes(ctx context.Context, db Querier, from, to time.Time, symbol *string) ([]Difference, error) {
	return checkTables(ctx, db, from, to, symbol, "minute", []checkedTable{
		{"rollup_prices_1m", rawPriceMinutes, "sector, open, open_ts, open_seq, open_run, high, low, close, close_ts, close_seq, close_run, volume, ticks"},
		{"rollup_trades_1m", rawTradeMinutes, "notional, quantity, trades"},
	})
}

// checkHours compares the hourly rollups of [from, to) (hour-aligned), of
// one symbol when symbol is not nil.
func checkHours(ctx context.Context, db Querier, from, to time.Time, symbol *string) ([]Difference, error) {
	return checkTables(ctx, db, from, to, symbol, "hour", []checkedTable{
		{"rollup_prices_1h", rawPriceHours, "open, high, low, close, volume, ticks, minutes, first_close, sq_returns"},
		{"rollup_trades_1h", rawTradeHours, "notional, quantity, trades"},
	})
}

// checkedTable is a rollup table, the recomputation of its rows from the
// raw rows (a query of symbol, the time key and cols over [$1, $2), of
// the symbol $3 when not NULL) and the columns compared.
type checkedTable struct{ table, raw, cols string }

// checkTables compares each table's rows of [from, to) by key (minute or
// hour) with their recomputation.
func checkTables(ctx context.Context, db Querier, from, to time.Time, symbol *string, key string, tables []checkedTable) ([]Difference, error) {
	var diffs []Difference
	for _, c := range tables {
		q := fmt.Sprintf(`
			WITH raw(symbol, %[7]s, %[2]s) AS (%[1]s),
			     stored AS (SELECT symbol, %[7]s, %[2]s FROM %[3]s WHERE %[7]s >= $1 AND %[7]s < $2 AND ($3::text IS NULL OR symbol = $3))
			SELECT coalesce(r.symbol, s.symbol) || ' ' || to_char(coalesce(r.%[7]s, s.%[7]s) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'),
			       CASE WHEN s.symbol IS NULL THEN '' ELSE (%[4]s)::text END,
			       CASE WHEN r.symbol IS NULL THEN '' ELSE (%[5]s)::text END
			FROM raw r FULL JOIN stored s ON r.symbol = s.symbol AND r.%[7]s = s.%[7]s
			WHERE (%[5]s) IS DISTINCT FROM (%[4]s)
			ORDER BY 1 LIMIT %[6]d`, c.raw, c.cols, c.table, prefixed("s.", c.cols), prefixed("r.", c.cols), maxDifferences, key)
		rows, err := db.Query(ctx, q, from, to, symbol)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.table, err)
		}
		var d Difference
		_, err = pgx.ForEachRow(rows, []any{&d.Key, &d.Stored, &d.Recomputed}, func() error {
			d.Table = c.table
			diffs = append(diffs, d)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.table, err)
		}
	}
	return diffs, nil
}

// prefixed is "ROW(p.a, p.b, ...)" for the columns "a, b, ...".
func prefixed(p, cols string) string {
	out := "ROW("
	start := 0
	for i := 0; i <= len(cols); i++ {
		if i == len(cols) || cols[i] == ',' {
			name := cols[start:i]
			for len(name) > 0 && name[0] == ' ' {
				name = name[1:]
			}
			if start > 0 {
				out += ", "
			}
			out += p + name
			start = i + 1
		}
	}
	return out + ")"
}

// refPosition is the independent replay: the same definition as
// Position.Apply in big integers of scale 4.
type refPosition struct {
	qty, cost, realised, fees, buyN, sellN big.Int
	bought, sold, trades                   int64
}

func (p *refPosition) apply(buy bool, qty int64, price, fee *big.Int) {
	n := new(big.Int).Mul(price, big.NewInt(qty))
	p.fees.Add(&p.fees, fee)
	p.trades++
	if buy {
		p.bought += qty
		p.buyN.Add(&p.buyN, n)
	} else {
		p.sold += qty
		p.sellN.Add(&p.sellN, n)
	}
	held := p.qty.Int64()
	remaining := qty
	closing := held != 0 && (held > 0) != buy
	if closing {
		absHeld := held
		if absHeld < 0 {
			absHeld = -absHeld
		}
		c := min(qty, absHeld)
		// removed = cost * c / |held|, rounded half away from zero.
		num := new(big.Int).Mul(&p.cost, big.NewInt(c))
		den := big.NewInt(absHeld)
		q, r := new(big.Int).QuoRem(num, den, new(big.Int))
		if new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(den) >= 0 {
			if num.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
		proceeds := new(big.Int).Mul(price, big.NewInt(c))
		if buy {
			// covering a short: pays price*c, gives back |removed|
			p.realised.Add(&p.realised, new(big.Int).Sub(new(big.Int).Neg(proceeds), q))
			p.qty.Add(&p.qty, big.NewInt(c))
		} else {
			p.realised.Add(&p.realised, new(big.Int).Sub(proceeds, q))
			p.qty.Sub(&p.qty, big.NewInt(c))
		}
		p.cost.Sub(&p.cost, q)
		remaining -= c
	}
	if remaining > 0 {
		signed := remaining
		if !buy {
			signed = -remaining
		}
		p.qty.Add(&p.qty, big.NewInt(signed))
		p.cost.Add(&p.cost, new(big.Int).Mul(price, big.NewInt(signed)))
	}
}

func (p *refPosition) String() string {
	return fmt.Sprintf("qty=%s cost=%s realised=%s fees=%s bought=%d sold=%d buy=%s sell=%s trades=%d",
		p.qty.String(), p.cost.String(), p.realised.String(), p.fees.String(), p.bought, p.sold, p.buyN.String(), p.sellN.String(), p.trades)
}

func checkPositions(ctx context.Context, db Querier, opts CheckOptions) ([]Difference, error) {
	filter, args := "", []any{}
	if opts.Samples > 0 {
		rows, err := db.Query(ctx, `SELECT DISTINCT user_id FROM (SELECT user_id FROM rollup_positions ORDER BY random() LIMIT $1) u`, opts.Samples)
		if err != nil {
			return nil, fmt.Errorf("check positions: sample: %w", err)
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("check positions: sample: %w", err)
		}
		filter, args = "WHERE user_id = ANY($1)", []any{users}
	}
	ref := map[string]*refPosition{}
	rows, err := db.Query(ctx, `SELECT account_id || ' ' || symbol, side = 'buy', quantity, (price * 10000)::text, (fee * 10000)::text
		FROM trades `+filter+` ORDER BY account_id, symbol, ts, trade_id, run_id COLLATE "C"`, args...)
	if err != nil {
		return nil, fmt.Errorf("check positions: trades: %w", err)
	}
	var (
		key        string
		buy        bool
		qty        int64
		price, fee string
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &buy, &qty, &price, &fee}, func() error {
		p := ref[key]
		if p == nil {
			p = &refPosition{}
			ref[key] = p
		}
		pr, ok1 := new(big.Int).SetString(trimScale(price), 10)
		fe, ok2 := new(big.Int).SetString(trimScale(fee), 10)
		if !ok1 || !ok2 {
			return fmt.Errorf("trade of %s: price %q or fee %q is not of scale 4", key, price, fee)
		}
		p.apply(buy, qty, pr, fe)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check positions: %w", err)
	}
	rows, err = db.Query(ctx, `SELECT account_id || ' ' || symbol, quantity, (cost * 10000)::text, (realised * 10000)::text, (fees * 10000)::text,
		bought, sold, (buy_notional * 10000)::text, (sell_notional * 10000)::text, trades FROM rollup_positions `+filter, args...)
	if err != nil {
		return nil, fmt.Errorf("check positions: stored: %w", err)
	}
	var diffs []Difference
	seen := map[string]bool{}
	var (
		sq, bought, sold, trades int64
		cost, real, fees, bn, sn string
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &sq, &cost, &real, &fees, &bought, &sold, &bn, &sn, &trades}, func() error {
		seen[key] = true
		stored := fmt.Sprintf("qty=%d cost=%s realised=%s fees=%s bought=%d sold=%d buy=%s sell=%s trades=%d",
			sq, trimScale(cost), trimScale(real), trimScale(fees), bought, sold, trimScale(bn), trimScale(sn), trades)
		want := ""
		if p := ref[key]; p != nil {
			want = p.String()
		}
		if stored != want && len(diffs) < maxDifferences {
			diffs = append(diffs, Difference{Table: "rollup_positions", Key: key, Stored: stored, Recomputed: want})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check positions: %w", err)
	}
	for key, p := range ref {
		if !seen[key] && len(diffs) < maxDifferences {
			diffs = append(diffs, Difference{Table: "rollup_positions", Key: key, Recomputed: p.String()})
		}
	}
	return diffs, nil
}

// trimScale drops the zero fraction of an amount multiplied by 10000 and
// printed by PostgreSQL ("12345.0000" -> "12345").
func trimScale(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i]
		}
	}
	return s
}
