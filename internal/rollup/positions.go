package rollup

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
)

// lockPositions takes the advisory transaction locks of positions, in
// the array's order (a function scan yields it in order).
const lockPositions = `SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) AS k`

// lockID is the advisory lock of a position: an FNV-1a hash of its
// account and symbol under a name of its own.
func lockID(k positionKey) int64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(k.account))
	h.Write([]byte("tradestream position "))
	h.Write(b[:])
	h.Write([]byte(k.symbol))
	return int64(h.Sum64())
}

// The stored positions of a batch's keys. No row lock: the positions'
// advisory locks, taken just before, keep every other loader of them
// out until this transaction ends, and this statement's snapshot (READ
// COMMITTED) is taken once they are held, so it sees their last commit.
const selectPositions = `
SELECT p.account_id, p.symbol, p.quantity, (p.cost * 10000)::int8, (p.realised * 10000)::int8, (p.fees * 10000)::int8,
       p.bought, p.sold, (p.buy_notional * 10000)::int8, (p.sell_notional * 10000)::int8, p.trades,
       p.last_ts, p.last_trade_id, p.last_run
FROM rollup_positions p
JOIN unnest($1::int8[], $2::int8[], $3::text[]) AS k(user_id, account_id, symbol)
  ON k.user_id = p.user_id AND k.account_id = p.account_id AND k.symbol = p.symbol`

// positionTrades are one position's stored trades in fill order. The
// user id leads the filter so the (user_id, ts) index finds them.
const positionTrades = `
SELECT side = 'buy', quantity, (price * 10000)::int8, (fee * 10000)::int8, ts, trade_id, run_id
FROM trades
WHERE user_id = $1 AND account_id = $2 AND symbol = $3
ORDER BY ts, trade_id, run_id COLLATE "C"`

const upsertPositions = `
INSERT INTO rollup_positions AS r (account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
                                   buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run)
SELECT account_id, symbol, user_id, quantity, cost * 0.0001, realised * 0.0001, fees * 0.0001, bought, sold,
       buy_notional * 0.0001, sell_notional * 0.0001, trades, last_ts, last_trade_id, last_run
FROM unnest($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[],
            $10::int8[], $11::int8[], $12::int8[], $13::timestamptz[], $14::int8[], $15::text[])
     AS u(account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
          buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run)
ON CONFLICT (user_id, account_id, symbol) DO UPDATE SET
    quantity = excluded.quantity, cost = excluded.cost, realised = excluded.realised,
    fees = excluded.fees, bought = excluded.bought, sold = excluded.sold, buy_notional = excluded.buy_notional,
    sell_notional = excluded.sell_notional, trades = excluded.trades, last_ts = excluded.last_ts,
    last_trade_id = excluded.last_trade_id, last_run = excluded.last_run`

// updatePositions writes positions known to be stored: a plain UPDATE
// from the arrays (half the cost of the upsert's conflict path).
const updatePositions = `
UPDATE rollup_positions AS r SET
    quantity = u.quantity, cost = u.cost * 0.0001, realised = u.realised * 0.0001, fees = u.fees * 0.0001,
    bought = u.bought, sold = u.sold, buy_notional = u.buy_notional * 0.0001, sell_notional = u.sell_notional * 0.0001,
    trades = u.trades, last_ts = u.last_ts, last_trade_id = u.last_trade_id, last_run = u.last_run
FROM unnest($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[],
            $10::int8[], $11::int8[], $12::int8[], $13::timestamptz[], $14::int8[], $15::text[])
     AS u(account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
          buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run)
WHERE r.user_id = u.user_id AND r.account_id = u.account_id AND r.symbol = u.symbol`

func (b *Batch) writePositions(ctx context.Context, tx DB) (int, error) {
	if len(b.positions) == 0 {
		return 0, nil
	}
	keys := make([]positionKey, 0, len(b.positions))
	for k, pf := range b.positions {
		keys = append(keys, k)
		slices.SortFunc(pf.fills, func(x, y Fill) int {
			if c := x.Time.Compare(y.Time); c != 0 {
				return c
			}
			if c := cmp.Compare(x.ID, y.ID); c != 0 {
				return c
			}
			return strings.Compare(x.Run, y.Run)
		})
	}
	slices.SortFunc(keys, func(a, b positionKey) int {
		if c := cmp.Compare(a.account, b.account); c != 0 {
			return c
		}
		return strings.Compare(a.symbol, b.symbol)
	})
	n := len(keys)
	accounts, symbols := make([]int64, n), make([]string, n)
	locks := make([]int64, n)
	for i, k := range keys {
		accounts[i], symbols[i] = k.account, k.symbol
		locks[i] = lockID(k)
	}
	// A position is read, folded and written back, so two loaders of
	// the same position (a user's trades in two partitions, after
	// partitions were added) must not interleave: each takes a
	// transaction lock per position first, in lock id order (no
	// deadlock between them), and reads the stored row once it holds it.
	slices.Sort(locks)
	if _, err := tx.Exec(ctx, lockPositions, slices.Compact(locks)); err != nil {
		return 0, fmt.Errorf("lock positions: %w", err)
	}
	stored := make(map[positionKey]*Position, n)
	users := make([]int64, n)
	for i, k := range keys {
		users[i] = b.positions[k].user
	}
	rows, err := tx.Query(ctx, selectPositions, users, accounts, symbols)
	if err != nil {
		return 0, fmt.Errorf("read positions: %w", err)
	}
	var k positionKey
	var p Position
	var cost, realised, fees, buyN, sellN int64
	_, err = pgx.ForEachRow(rows, []any{&k.account, &k.symbol, &p.Quantity, &cost, &realised, &fees,
		&p.Bought, &p.Sold, &buyN, &sellN, &p.Trades, &p.LastTime, &p.LastID, &p.LastRun}, func() error {
		p.Cost, p.Realised, p.Fees = event.Decimal(cost), event.Decimal(realised), event.Decimal(fees)
		p.BuyNotional, p.SellNotional = event.Decimal(buyN), event.Decimal(sellN)
		cp := p
		stored[k] = &cp
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read positions: %w", err)
	}
	out := make([]Position, n)
	replayed := 0
	for i, k := range keys {
		pf := b.positions[k]
		pos := stored[k]
		if pos != nil && !pf.fills[0].After(pos.LastTime, pos.LastID, pos.LastRun) {
			// A fill older than the position's last: replay the
			// position from its stored trades, which include this
			// batch's.
			if out[i], err = replay(ctx, tx, pf.user, k); err != nil {
				return replayed, err
			}
			replayed++
			continue
		}
		if pos != nil {
			out[i] = *pos
		}
		for _, f := range pf.fills {
			if err := out[i].Apply(f); err != nil {
				return replayed, fmt.Errorf("position of account %d in %s: %w", k.account, k.symbol, err)
			}
		}
	}
	// Stored positions by UPDATE, new ones by upsert (the advisory locks
	// keep any other loader from inserting them meanwhile).
	var old, fresh []int
	for i, k := range keys {
		if stored[k] != nil {
			old = append(old, i)
		} else {
			fresh = append(fresh, i)
		}
	}
	for _, part := range []struct {
		idx []int
		sql string
	}{{old, updatePositions}, {fresh, upsertPositions}} {
		if len(part.idx) == 0 {
			continue
		}
		pk, pu, po := make([]positionKey, len(part.idx)), make([]int64, len(part.idx)), make([]Position, len(part.idx))
		for j, i := range part.idx {
			pk[j], pu[j], po[j] = keys[i], users[i], out[i]
		}
		if err := writePositionRows(ctx, tx, part.sql, pk, pu, po); err != nil {
			return replayed, err
		}
	}
	return replayed, nil
}

// insertPositions upserts positions out of keys (and their users).
func insertPositions(ctx context.Context, tx DB, keys []positionKey, users []int64, out []Position) error {
	return writePositionRows(ctx, tx, upsertPositions, keys, users, out)
}

// writePositionRows runs sql (upsertPositions or updatePositions) on the
// positions out of keys and their users.
func writePositionRows(ctx context.Context, tx DB, sql string, keys []positionKey, users []int64, out []Position) error {
	n := len(keys)
	accounts, symbols := make([]int64, n), make([]string, n)
	for i, k := range keys {
		accounts[i], symbols[i] = k.account, k.symbol
	}
	cols := make([][]int64, 10)
	for c := range cols {
		cols[c] = make([]int64, n)
	}
	lastTs, lastRun := make([]time.Time, n), make([]string, n)
	for i := range out {
		o := &out[i]
		for c, v := range []int64{o.Quantity, int64(o.Cost), int64(o.Realised), int64(o.Fees), o.Bought, o.Sold,
			int64(o.BuyNotional), int64(o.SellNotional), o.Trades, o.LastID} {
			cols[c][i] = v
		}
		lastTs[i], lastRun[i] = o.LastTime, o.LastRun
	}
	if _, err := tx.Exec(ctx, sql, accounts, symbols, users, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
		cols[6], cols[7], cols[8], lastTs, cols[9], lastRun); err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	return nil
}

// replay recomputes one position from its stored trades.
func replay(ctx context.Context, tx DB, user int64, k positionKey) (Position, error) {
	var p Position
	rows, err := tx.Query(ctx, positionTrades, user, k.account, k.symbol)
	if err != nil {
		return p, fmt.Errorf("replay position of account %d in %s: %w", k.account, k.symbol, err)
	}
	var f Fill
	var price, fee int64
	_, err = pgx.ForEachRow(rows, []any{&f.Buy, &f.Quantity, &price, &fee, &f.Time, &f.ID, &f.Run}, func() error {
		f.Price, f.Fee = event.Decimal(price), event.Decimal(fee)
		return p.Apply(f)
	})
	if err != nil {
		return p, fmt.Errorf("replay position of account %d in %s: %w", k.account, k.symbol, err)
	}
	return p, nil
}
