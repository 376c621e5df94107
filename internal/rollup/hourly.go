package rollup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// The hourly rollups (rollup_prices_1h, rollup_trades_1h) and each
// symbol's latest close (rollup_symbols), migration 8. An hour's row is
// an aggregation of its 1-minute rows; after a batch's minute upserts,
// writeHours recomputes every (symbol, hour) the batch touched from the
// minute rows of that hour, so a late tick that changes a minute's open
// or close (or a return between two minutes) is folded in exactly.

// hourlyPrices aggregates 1-minute price rows into hours: the rows of
// source, a FROM item with the columns of rollup_prices_1m and hour (the
// minute's hour_floor). The return between two consecutive minute closes
// of an hour is ln(close / previous close) when the previous close is
// positive, as daily_summary defines it; the squares are summed in minute
// order, so the sum is the same float whoever computes it.
func hourlyPrices(source string) string {
	return `
SELECT m.symbol, m.hour, (array_agg(m.open ORDER BY m.minute))[1], max(m.high), min(m.low),
       (array_agg(m.close ORDER BY m.minute DESC))[1], sum(m.volume), sum(m.ticks)::bigint, count(*)::integer,
       (array_agg(m.close ORDER BY m.minute))[1], sum(m.ret ^ 2 ORDER BY m.minute)
FROM (
    SELECT r.symbol, r.hour, r.minute, r.open, r.high, r.low, r.close, r.volume, r.ticks,
           CASE WHEN lag(r.close) OVER w > 0 THEN ln(r.close::double precision / (lag(r.close) OVER w)::double precision) END AS ret
    FROM ` + source + ` r
    WINDOW w AS (PARTITION BY r.symbol, r.hour ORDER BY r.minute)
) m
GROUP BY m.symbol, m.hour`
}

// hourlyTrades aggregates 1-minute trade rows (source, as for
// hourlyPrices) into hours.
func hourlyTrades(source string) string {
	return `
SELECT r.symbol, r.hour, sum(r.notional), sum(r.quantity), sum(r.trades)::bigint
FROM ` + source + ` r
GROUP BY r.symbol, r.hour`
}

const (
	hourPriceColumns = `symbol, hour, open, high, low, close, volume, ticks, minutes, first_close, sq_returns`
	hourTradeColumns = `symbol, hour, notional, quantity, trades`

	// touchedMinutes are the minute rows of the hours ($1 symbols, $2
	// hours) a batch touched, of table %s.
	touchedMinutes = `(SELECT m.*, u.hour FROM unnest($1::text[], $2::timestamptz[]) AS u(symbol, hour)
        JOIN %s m ON m.symbol = u.symbol AND m.minute >= u.hour AND m.minute < u.hour + interval '1 hour')`

	// lockSymbols serialises, per symbol, the writers of the hourly rows:
	// a transaction recomputes an hour from the minute rows it sees, so
	// two must not recompute the same hour from snapshots that each lack
	// the other's minutes. The locks are transaction-scoped advisory locks
	// on 256 buckets of the symbols' hashes (a bounded number per
	// transaction; symbols that share a bucket only wait for each other),
	// taken after the minute upserts and in bucket order, so two writers
	// never wait for each other in a cycle; the recomputation that follows
	// is a new statement, which sees what the previous holder committed.
	lockSymbols = `SELECT pg_advisory_xact_lock(1685221000, b.k)
FROM (SELECT DISTINCT hashtext(s) & 255 AS k FROM unnest($1::text[]) AS s ORDER BY 1) b`

	// upsertSymbols moves a symbol's latest close forward, never back.
	upsertSymbols = `
INSERT INTO rollup_symbols AS s (symbol, sector, close, minute, close_ts, close_seq, close_run)
SELECT symbol, sector, close * 0.0001, minute, close_ts, close_seq, close_run
FROM unnest($1::text[], $2::text[], $3::int8[], $4::timestamptz[], $5::timestamptz[], $6::int8[], $7::text[])
     AS u(symbol, sector, close, minute, close_ts, close_seq, close_run)
ON CONFLICT (symbol) DO UPDATE SET
    sector = excluded.sector, close = excluded.close, minute = excluded.minute,
    close_ts = excluded.close_ts, close_seq = excluded.close_seq, close_run = excluded.close_run
WHERE (excluded.close_ts, excluded.close_seq, excluded.close_run COLLATE "C") > (s.close_ts, s.close_seq, s.close_run COLLATE "C")`
)

var (
	recomputePriceHours = `INSERT INTO rollup_prices_1h AS h (` + hourPriceColumns + `)` +
		hourlyPrices(fmt.Sprintf(touchedMinutes, "rollup_prices_1m")) + `
ON CONFLICT (symbol, hour) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, ticks = excluded.ticks, minutes = excluded.minutes,
    first_close = excluded.first_close, sq_returns = excluded.sq_returns`
	recomputeTradeHours = `INSERT INTO rollup_trades_1h AS h (` + hourTradeColumns + `)` +
		hourlyTrades(fmt.Sprintf(touchedMinutes, "rollup_trades_1m")) + `
ON CONFLICT (symbol, hour) DO UPDATE SET
    notional = excluded.notional, quantity = excluded.quantity, trades = excluded.trades`
)

// hourOf is the start of the UTC hour of a minute (Unix microseconds).
func hourOf(us int64) int64 {
	const h = 3_600_000_000
	q := us / h
	if us%h < 0 {
		q--
	}
	return q * h
}

// touchedHours returns the (symbol, hour) keys of m's minutes, in key
// order, as parallel arrays.
func touchedHours[V any](m map[minuteKey]V) ([]string, []time.Time) {
	seen := make(map[minuteKey]struct{}, len(m))
	for k := range m {
		seen[minuteKey{k.symbol, hourOf(k.minute)}] = struct{}{}
	}
	keys := sortedKeys(seen)
	symbols, hours := make([]string, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		symbols[i], hours[i] = k.symbol, time.UnixMicro(k.minute).UTC()
	}
	return symbols, hours
}

// writeHours recomputes the hours b's minutes fall in and moves the
// symbols' latest close, inside tx after the minute upserts.
func (b *Batch) writeHours(ctx context.Context, tx DB) error {
	if len(b.prices) == 0 && len(b.trades) == 0 {
		return nil
	}
	var symbols []string
	for k := range b.prices {
		symbols = append(symbols, k.symbol)
	}
	for k := range b.trades {
		symbols = append(symbols, k.symbol)
	}
	slices.Sort(symbols)
	symbols = slices.Compact(symbols)
	if _, err := tx.Exec(ctx, lockSymbols, symbols); err != nil {
		return fmt.Errorf("lock hourly rollups: %w", err)
	}
	if len(b.prices) > 0 {
		s, h := touchedHours(b.prices)
		if _, err := tx.Exec(ctx, recomputePriceHours, s, h); err != nil {
			return fmt.Errorf("recompute hourly price rollups: %w", err)
		}
		if err := b.writeSymbols(ctx, tx); err != nil {
			return err
		}
	}
	if len(b.trades) > 0 {
		s, h := touchedHours(b.trades)
		if _, err := tx.Exec(ctx, recomputeTradeHours, s, h); err != nil {
			return fmt.Errorf("recompute hourly trade rollups: %w", err)
		}
	}
	return nil
}

// writeSymbols upserts, per symbol of b, its latest close in b.
func (b *Batch) writeSymbols(ctx context.Context, tx DB) error {
	latest := map[string]minuteKey{}
	for k, m := range b.prices {
		if l, ok := latest[k.symbol]; !ok || b.prices[l].closeAt.less(m.closeAt) {
			latest[k.symbol] = k
		}
	}
	keys := make([]minuteKey, 0, len(latest))
	for _, k := range latest {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b minuteKey) int { return cmp.Compare(a.symbol, b.symbol) })
	n := len(keys)
	symbols, sectors, runs := make([]string, n), make([]string, n), make([]string, n)
	closes, seqs := make([]int64, n), make([]int64, n)
	minutes, stamps := make([]time.Time, n), make([]time.Time, n)
	for i, k := range keys {
		m := b.prices[k]
		symbols[i], sectors[i], closes[i], minutes[i] = k.symbol, m.sector, int64(m.close), time.UnixMicro(k.minute).UTC()
		stamps[i], seqs[i], runs[i] = time.UnixMicro(m.closeAt.us).UTC(), m.closeAt.seq, m.closeAt.run
	}
	if _, err := tx.Exec(ctx, upsertSymbols, symbols, sectors, closes, minutes, stamps, seqs, runs); err != nil {
		return fmt.Errorf("upsert symbol rollups: %w", err)
	}
	return nil
}

// rebuildHours replaces the hourly rollups of [from, to) (whole hours) by
// their aggregation of the minute rollups.
func rebuildHours(ctx context.Context, tx DB, from, to time.Time) (int64, error) {
	for _, t := range []string{"rollup_prices_1h", "rollup_trades_1h"} {
		if _, err := tx.Exec(ctx, "DELETE FROM "+t+" WHERE hour >= $1 AND hour < $2", from, to); err != nil {
			return 0, fmt.Errorf("clear %s: %w", t, err)
		}
	}
	const minutes = `(SELECT m.*, hour_floor(m.minute) AS hour FROM %s m WHERE m.minute >= $1 AND m.minute < $2)`
	p, err := tx.Exec(ctx, "INSERT INTO rollup_prices_1h ("+hourPriceColumns+") "+hourlyPrices(fmt.Sprintf(minutes, "rollup_prices_1m")), from, to)
	if err != nil {
		return 0, fmt.Errorf("recompute hourly price rollups: %w", err)
	}
	t, err := tx.Exec(ctx, "INSERT INTO rollup_trades_1h ("+hourTradeColumns+") "+hourlyTrades(fmt.Sprintf(minutes, "rollup_trades_1m")), from, to)
	if err != nil {
		return 0, fmt.Errorf("recompute hourly trade rollups: %w", err)
	}
	return p.RowsAffected() + t.RowsAffected(), nil
}

// rebuildSymbols sets every symbol of the minute rollups to the close of
// its latest minute (a symbol with no minute left keeps its row).
func rebuildSymbols(ctx context.Context, tx DB) (int64, error) {
	tag, err := tx.Exec(ctx, `
INSERT INTO rollup_symbols AS s (symbol, sector, close, minute, close_ts, close_seq, close_run)
SELECT DISTINCT ON (r.symbol) r.symbol, r.sector, r.close, r.minute, r.close_ts, r.close_seq, r.close_run
FROM rollup_prices_1m r ORDER BY r.symbol, r.minute DESC
ON CONFLICT (symbol) DO UPDATE SET
    sector = excluded.sector, close = excluded.close, minute = excluded.minute,
    close_ts = excluded.close_ts, close_seq = excluded.close_seq, close_run = excluded.close_run`)
	if err != nil {
		return 0, fmt.Errorf("recompute symbol rollups: %w", err)
	}
	return tag.RowsAffected(), nil
}
