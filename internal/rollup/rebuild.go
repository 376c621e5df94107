package rollup

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/event"
)

// rawPriceMinutes recomputes rollup_prices_1m's rows for the minutes in
// [$1, $2) from price_ticks, with the same ordering rules; $3, when not
// NULL, limits it to one symbol.
const rawPriceMinutes = `
SELECT symbol, minute_floor(ts) AS minute,
       (array_agg(sector ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS sector,
       (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1] AS open,
       min(ts) AS open_ts,
       (array_agg(seq ORDER BY ts, seq, run_id COLLATE "C"))[1] AS open_seq,
       (array_agg(run_id ORDER BY ts, seq, run_id COLLATE "C"))[1] AS open_run,
       max(last) AS high, min(last) AS low,
       (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS close,
       max(ts) AS close_ts,
       (array_agg(seq ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS close_seq,
       (array_agg(run_id ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1] AS close_run,
       sum(volume) AS volume, count(*) AS ticks
FROM price_ticks
WHERE ts >= $1 AND ts < $2 AND ($3::text IS NULL OR symbol = $3)
GROUP BY 1, 2`

// rawTradeMinutes recomputes rollup_trades_1m likewise from trades.
const rawTradeMinutes = `
SELECT symbol, minute_floor(ts) AS minute, sum(price * quantity) AS notional, sum(quantity)::numeric AS quantity, count(*) AS trades
FROM trades
WHERE ts >= $1 AND ts < $2 AND ($3::text IS NULL OR symbol = $3)
GROUP BY 1, 2`

const priceColumns = `symbol, minute, sector, open, open_ts, open_seq, open_run, high, low, close, close_ts, close_seq, close_run, volume, ticks`

// Progress is told about a rebuild's steps as they finish: what was done
// (a day of minute and hour rollups, the symbols, the positions), how
// many rows it wrote, and how many of the total days are done (symbols
// and positions come last, at total).
type Progress func(step string, rows int64, done, total int)

// Rebuild recomputes the rollups from the raw rows: the minute rollups of
// the UTC days from from's through the day before to's and their hours
// (each day in its own transaction, its old rows deleted first), then
// each symbol's latest close from the minute rollups, then every position
// (positions are not windowed: they are recomputed from every stored
// trade, in one transaction). Run it as the owner, while no sink loads:
// rows loaded meanwhile may be counted twice or not at all until the
// next rebuild.
func Rebuild(ctx context.Context, pool *pgxpool.Pool, from, to time.Time, progress Progress) error {
	if progress == nil {
		progress = func(string, int64, int, int) {}
	}
	from, to = day(from), day(to)
	if to.Before(from) {
		return fmt.Errorf("rebuild rollups: --to %s is before --from %s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	total := int(to.Sub(from) / (24 * time.Hour))
	done := 0
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		var n int64
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			n, err = rebuildMinutes(ctx, tx, d, d.AddDate(0, 0, 1))
			return err
		})
		if err != nil {
			return fmt.Errorf("rebuild rollups of %s: %w", d.Format(time.DateOnly), err)
		}
		done++
		progress(d.Format(time.DateOnly), n, done, total)
	}
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		n, err = rebuildSymbols(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild rollups: %w", err)
	}
	progress("symbols", n, total, total)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		n, err = RebuildPositions(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	progress("positions", n, total, total)
	return nil
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// rebuildMinutes replaces the minute rollups of [from, to) by their
// recomputation and returns how many rows it wrote.
func rebuildMinutes(ctx context.Context, tx DB, from, to time.Time) (int64, error) {
	for _, t := range []string{"rollup_prices_1m", "rollup_trades_1m"} {
		if _, err := tx.Exec(ctx, "DELETE FROM "+t+" WHERE minute >= $1 AND minute < $2", from, to); err != nil {
			return 0, fmt.Errorf("clear %s: %w", t, err)
		}
	}
	p, err := tx.Exec(ctx, "INSERT INTO rollup_prices_1m ("+priceColumns+") "+rawPriceMinutes, from, to, nil)
	if err != nil {
		return 0, fmt.Errorf("recompute price rollups: %w", err)
	}
	t, err := tx.Exec(ctx, "INSERT INTO rollup_trades_1m (symbol, minute, notional, quantity, trades) "+rawTradeMinutes, from, to, nil)
	if err != nil {
		return 0, fmt.Errorf("recompute trade rollups: %w", err)
	}
	h, err := rebuildHours(ctx, tx, from, to)
	if err != nil {
		return 0, err
	}
	return p.RowsAffected() + t.RowsAffected() + h, nil
}

// allTrades are every stored trade in position and fill order.
const allTrades = `
SELECT account_id, symbol, user_id, side = 'buy', quantity, (price * 10000)::int8, (fee * 10000)::int8, ts, trade_id, run_id
FROM trades
ORDER BY account_id, symbol, ts, trade_id, run_id COLLATE "C"`

// RebuildPositions replaces every position by its replay from the stored
// trades (Position.Apply) inside tx and returns how many it wrote.
func RebuildPositions(ctx context.Context, tx pgx.Tx) (int64, error) {
	if _, err := tx.Exec(ctx, "DELETE FROM rollup_positions"); err != nil {
		return 0, fmt.Errorf("clear positions: %w", err)
	}
	rows, err := tx.Query(ctx, allTrades)
	if err != nil {
		return 0, fmt.Errorf("read trades: %w", err)
	}
	var (
		out    []Position
		keys   []positionKey
		users  []int64
		k      positionKey
		user   int64
		f      Fill
		pr, fe int64
	)
	_, err = pgx.ForEachRow(rows, []any{&k.account, &k.symbol, &user, &f.Buy, &f.Quantity, &pr, &fe, &f.Time, &f.ID, &f.Run}, func() error {
		if len(keys) == 0 || keys[len(keys)-1] != k {
			keys, users, out = append(keys, k), append(users, user), append(out, Position{})
		}
		f.Price, f.Fee = event.Decimal(pr), event.Decimal(fe)
		return out[len(out)-1].Apply(f)
	})
	if err != nil {
		return 0, fmt.Errorf("replay positions: %w", err)
	}
	const chunk = 10_000
	for i := 0; i < len(keys); i += chunk {
		j := min(i+chunk, len(keys))
		if err := insertPositions(ctx, tx, keys[i:j], users[i:j], out[i:j]); err != nil {
			return 0, err
		}
	}
	return int64(len(keys)), nil
}

// DeleteBefore deletes the minute and hour rollups older than cutoff's
// UTC day (their retention) and returns how many rows it deleted.
// Positions and the symbols' latest close have no retention.
func DeleteBefore(ctx context.Context, db DB, cutoff time.Time) (int64, error) {
	var n int64
	for _, t := range []struct{ table, column string }{
		{"rollup_prices_1m", "minute"}, {"rollup_trades_1m", "minute"}, {"rollup_prices_1h", "hour"}, {"rollup_trades_1h", "hour"},
	} {
		tag, err := db.Exec(ctx, "DELETE FROM "+t.table+" WHERE "+t.column+" < $1", day(cutoff))
		if err != nil {
			return n, fmt.Errorf("rollup retention of %s: %w", t.table, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
