package rollup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
)

// The stored positions of a batch's keys, with their versions. Without
// a row lock on the first read: the versioned UPDATE below finds out
// whether a position changed since. With one (FOR UPDATE) when a position
// changed under a load: the second read waits for its writer and holds it
// off until this transaction ends.
const selectPositions = `
SELECT p.account_id, p.symbol, p.quantity, (p.cost * 10000)::int8, (p.realised * 10000)::int8, (p.fees * 10000)::int8,
       p.bought, p.sold, (p.buy_notional * 10000)::int8, (p.sell_notional * 10000)::int8, p.trades,
       p.last_ts, p.last_trade_id, p.last_run, p.version
FROM rollup_positions p
JOIN unnest($1::int8[], $2::int8[], $3::text[]) AS k(user_id, account_id, symbol)
  ON k.user_id = p.user_id AND k.account_id = p.account_id AND k.symbol = p.symbol`

const lockedPositions = selectPositions + `
FOR UPDATE OF p`

// positionTrades are one position's stored trades in fill order. The
// user id leads the filter so the (user_id, ts) index finds them.
const positionTrades = `
SELECT side = 'buy', quantity, (price * 10000)::int8, (fee * 10000)::int8, ts, trade_id, run_id
FROM trades
WHERE user_id = $1 AND account_id = $2 AND symbol = $3
ORDER BY ts, trade_id, run_id COLLATE "C"`

// The columns every position write sends, in unnest's order ($1..$15).
const positionArrays = `unnest($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[],
            $10::int8[], $11::int8[], $12::int8[], $13::timestamptz[], $14::int8[], $15::text[], $16::int8[])
     AS u(account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
          buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run, version)`

// upsertPositions writes positions whatever is stored (a rebuild's).
const upsertPositions = `
INSERT INTO rollup_positions AS r (account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
                                   buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run)
SELECT account_id, symbol, user_id, quantity, cost * 0.0001, realised * 0.0001, fees * 0.0001, bought, sold,
       buy_notional * 0.0001, sell_notional * 0.0001, trades, last_ts, last_trade_id, last_run
FROM ` + positionArrays + `
ON CONFLICT (user_id, account_id, symbol) DO UPDATE SET
    quantity = excluded.quantity, cost = excluded.cost, realised = excluded.realised,
    fees = excluded.fees, bought = excluded.bought, sold = excluded.sold, buy_notional = excluded.buy_notional,
    sell_notional = excluded.sell_notional, trades = excluded.trades, last_ts = excluded.last_ts,
    last_trade_id = excluded.last_trade_id, last_run = excluded.last_run,
    version = nextval('rollup_positions_version')`

// insertPositions adds positions not stored yet; one another loader
// stored meanwhile is left as it is (and not returned).
const insertNewPositions = `
INSERT INTO rollup_positions (account_id, symbol, user_id, quantity, cost, realised, fees, bought, sold,
                              buy_notional, sell_notional, trades, last_ts, last_trade_id, last_run)
SELECT account_id, symbol, user_id, quantity, cost * 0.0001, realised * 0.0001, fees * 0.0001, bought, sold,
       buy_notional * 0.0001, sell_notional * 0.0001, trades, last_ts, last_trade_id, last_run
FROM ` + positionArrays + `
ON CONFLICT (user_id, account_id, symbol) DO NOTHING
RETURNING account_id, symbol, version`

// updatePositions writes positions at the version they were folded from:
// a plain UPDATE from the arrays (half the cost of an upsert's conflict
// path) that skips (and does not return) a position written since.
// Under READ COMMITTED a concurrent writer's row is waited for and its
// new version compared, so no write is lost.
const updatePositions = `
UPDATE rollup_positions AS r SET
    quantity = u.quantity, cost = u.cost * 0.0001, realised = u.realised * 0.0001, fees = u.fees * 0.0001,
    bought = u.bought, sold = u.sold, buy_notional = u.buy_notional * 0.0001, sell_notional = u.sell_notional * 0.0001,
    trades = u.trades, last_ts = u.last_ts, last_trade_id = u.last_trade_id, last_run = u.last_run,
    version = nextval('rollup_positions_version')
FROM ` + positionArrays + `
WHERE r.user_id = u.user_id AND r.account_id = u.account_id AND r.symbol = u.symbol AND r.version = u.version
RETURNING r.account_id, r.symbol, r.version`

// knownPosition is a position as this Batch last wrote it: its state and
// the version the write gave it.
type knownPosition struct {
	Position
	version int64
}

// knownPositions bounds how many positions a Batch remembers between
// loads (about 150 bytes each).
const knownPositions = 100_000

// positionRound is one position of a batch as writePositions folds it.
type positionRound struct {
	key  positionKey
	user int64
	base *knownPosition // the stored position folded from; nil: none stored
	out  Position
}

// writePositions applies the batch's fills to the stored positions. A
// position this Batch wrote before is folded from what it wrote, the
// others from a read; each is written back only if it still has the
// version it was folded from (new ones only if still absent). The ones
// another writer changed meanwhile are read again under a row lock,
// folded and written again. A position that gets a fill older than its
// last is replayed from its stored trades (which include the batch's).
// It returns how many positions it replayed (in every attempt).
func (b *Batch) writePositions(ctx context.Context, tx DB) (int, error) {
	if len(b.positions) == 0 {
		return 0, nil
	}
	todo := make([]*positionRound, 0, len(b.positions))
	for k, pf := range b.positions {
		slices.SortFunc(pf.fills, func(x, y Fill) int {
			if c := x.Time.Compare(y.Time); c != 0 {
				return c
			}
			if c := cmp.Compare(x.ID, y.ID); c != 0 {
				return c
			}
			return strings.Compare(x.Run, y.Run)
		})
		todo = append(todo, &positionRound{key: k, user: pf.user})
	}
	// Key order: concurrent writers of the same positions update (and
	// lock) them in one order.
	slices.SortFunc(todo, func(x, y *positionRound) int {
		if c := cmp.Compare(x.key.account, y.key.account); c != 0 {
			return c
		}
		return strings.Compare(x.key.symbol, y.key.symbol)
	})
	var unknown []*positionRound
	for _, p := range todo {
		if p.base = b.known[p.key]; p.base == nil {
			unknown = append(unknown, p)
		}
	}
	if err := readPositions(ctx, tx, selectPositions, unknown); err != nil {
		return 0, err
	}
	replayed := 0
	for attempt := 0; ; attempt++ {
		// Under a savepoint: when a position changed under this load,
		// what this attempt wrote is undone (its row locks released, so
		// two loaders never wait on each other holding some), and every
		// position is read again under a row lock, in key order.
		if _, err := tx.Exec(ctx, "SAVEPOINT rollup_positions"); err != nil {
			return replayed, fmt.Errorf("write positions: %w", err)
		}
		if attempt > 0 {
			if attempt == 4 {
				return replayed, fmt.Errorf("write positions: positions changed under each of %d attempts", attempt)
			}
			if err := readPositions(ctx, tx, lockedPositions, todo); err != nil {
				return replayed, err
			}
		}
		n, err := b.foldPositions(ctx, tx, todo)
		replayed += n
		if err != nil {
			return replayed, err
		}
		var stored, fresh []*positionRound
		for _, p := range todo {
			if p.base != nil {
				stored = append(stored, p)
			} else {
				fresh = append(fresh, p)
			}
		}
		written := make(map[positionKey]int64, len(todo))
		for _, part := range []struct {
			rounds []*positionRound
			sql    string
		}{{stored, updatePositions}, {fresh, insertNewPositions}} {
			if err := writeRounds(ctx, tx, part.sql, part.rounds, written); err != nil {
				return replayed, err
			}
		}
		if len(written) < len(todo) {
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT rollup_positions"); err != nil {
				return replayed, fmt.Errorf("write positions: %w", err)
			}
			continue
		}
		if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT rollup_positions"); err != nil {
			return replayed, fmt.Errorf("write positions: %w", err)
		}
		if len(b.known)+len(todo) > knownPositions {
			// Full: forget about half, the ones map iteration yields
			// first (no order: any half).
			drop := len(b.known) / 2
			for k := range b.known {
				if drop == 0 {
					break
				}
				delete(b.known, k)
				drop--
			}
		}
		for _, p := range todo {
			if len(b.known) >= knownPositions {
				break
			}
			b.known[p.key] = &knownPosition{Position: p.out, version: written[p.key]}
		}
		return replayed, nil
	}
}

// foldPositions applies each round's fills to its base (or replays it
// when a fill is older than the base's last) and returns how many it
// replayed.
func (b *Batch) foldPositions(ctx context.Context, tx DB, todo []*positionRound) (int, error) {
	replayed := 0
	for _, p := range todo {
		fills := b.positions[p.key].fills
		if p.base != nil && !fills[0].After(p.base.LastTime, p.base.LastID, p.base.LastRun) {
			var err error
			if p.out, err = replay(ctx, tx, p.user, p.key); err != nil {
				return replayed, err
			}
			replayed++
			continue
		}
		p.out = Position{}
		if p.base != nil {
			p.out = p.base.Position
		}
		for _, f := range fills {
			if err := p.out.Apply(f); err != nil {
				return replayed, fmt.Errorf("position of account %d in %s: %w", p.key.account, p.key.symbol, err)
			}
		}
	}
	return replayed, nil
}

// readPositions reads the stored positions of rounds by sql
// (selectPositions or lockedPositions) into their base (nil when not
// stored).
func readPositions(ctx context.Context, tx DB, sql string, rounds []*positionRound) error {
	if len(rounds) == 0 {
		return nil
	}
	users, accounts, symbols := make([]int64, len(rounds)), make([]int64, len(rounds)), make([]string, len(rounds))
	byKey := make(map[positionKey]*positionRound, len(rounds))
	for i, p := range rounds {
		users[i], accounts[i], symbols[i] = p.user, p.key.account, p.key.symbol
		p.base = nil
		byKey[p.key] = p
	}
	rows, err := tx.Query(ctx, sql, users, accounts, symbols)
	if err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	var k positionKey
	var p knownPosition
	var cost, realised, fees, buyN, sellN int64
	_, err = pgx.ForEachRow(rows, []any{&k.account, &k.symbol, &p.Quantity, &cost, &realised, &fees,
		&p.Bought, &p.Sold, &buyN, &sellN, &p.Trades, &p.LastTime, &p.LastID, &p.LastRun, &p.version}, func() error {
		p.Cost, p.Realised, p.Fees = event.Decimal(cost), event.Decimal(realised), event.Decimal(fees)
		p.BuyNotional, p.SellNotional = event.Decimal(buyN), event.Decimal(sellN)
		if r := byKey[k]; r != nil {
			cp := p
			r.base = &cp
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	return nil
}

// writeRounds writes the folded positions of rounds by sql
// (updatePositions or insertNewPositions) and records the version of each
// one written in written.
func writeRounds(ctx context.Context, tx DB, sql string, rounds []*positionRound, written map[positionKey]int64) error {
	if len(rounds) == 0 {
		return nil
	}
	keys, users, out, versions := make([]positionKey, len(rounds)), make([]int64, len(rounds)), make([]Position, len(rounds)), make([]int64, len(rounds))
	for i, p := range rounds {
		keys[i], users[i], out[i] = p.key, p.user, p.out
		if p.base != nil {
			versions[i] = p.base.version
		}
	}
	rows, err := tx.Query(ctx, sql, positionArgs(keys, users, out, versions)...)
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	var k positionKey
	var v int64
	_, err = pgx.ForEachRow(rows, []any{&k.account, &k.symbol, &v}, func() error {
		written[k] = v
		return nil
	})
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	return nil
}

// insertPositions upserts positions out of keys (and their users).
func insertPositions(ctx context.Context, tx DB, keys []positionKey, users []int64, out []Position) error {
	if _, err := tx.Exec(ctx, upsertPositions, positionArgs(keys, users, out, make([]int64, len(keys)))...); err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	return nil
}

// positionArgs are the arrays of positionArrays for the positions out of
// keys, their users and the versions they were folded from.
func positionArgs(keys []positionKey, users []int64, out []Position, versions []int64) []any {
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
	return []any{accounts, symbols, users, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
		cols[6], cols[7], cols[8], lastTs, cols[9], lastRun, versions}
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
