package rollup

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradestream/tradestream/internal/event"
)

// Querier is what checking rollups needs of a connection or a
// transaction (a pgx.Tx, a *pgxpool.Pool): reads only.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is what writing rollups needs of a connection or a transaction.
type DB interface {
	Querier
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// stamp orders a minute's ticks: event time in Unix microseconds (as
// stored), sequence number, run id (bytewise).
type stamp struct {
	us  int64
	seq int64
	run string
}

func (s stamp) less(o stamp) bool {
	if s.us != o.us {
		return s.us < o.us
	}
	if s.seq != o.seq {
		return s.seq < o.seq
	}
	return s.run < o.run
}

type minuteKey struct {
	symbol string
	minute int64 // Unix microseconds of the minute's start
}

type priceMinute struct {
	sector          string
	open, close     event.Decimal
	openAt, closeAt stamp
	high, low       event.Decimal
	volume          big.Int
	ticks           int64
}

type tradeMinute struct {
	notional big.Int // scale 4
	quantity big.Int
	trades   int64
}

type positionKey struct {
	account int64
	symbol  string
}

type positionFills struct {
	user  int64
	fills []Fill
}

// Batch aggregates the rows one load inserts into one upsert row per
// symbol and minute and per account and symbol, which Write merges with
// the stored rollups. Only rows that land belong in it: a copy the sink
// skipped as a duplicate must not be added. A Batch is used by one
// goroutine at a time and is reusable after Reset.
type Batch struct {
	prices    map[minuteKey]*priceMinute
	trades    map[minuteKey]*tradeMinute
	positions map[positionKey]*positionFills
	// known are the positions this Batch wrote, kept across Reset (see
	// writePositions).
	known     map[positionKey]*knownPosition
	tmp, tmp2 big.Int
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{prices: map[minuteKey]*priceMinute{}, trades: map[minuteKey]*tradeMinute{}, positions: map[positionKey]*positionFills{},
		known: map[positionKey]*knownPosition{}}
}

// Reset empties b.
func (b *Batch) Reset() {
	clear(b.prices)
	clear(b.trades)
	clear(b.positions)
}

// Forget drops the positions b remembers writing (see writePositions):
// for a loader whose positions others may have written since (after a
// rebalance) or that were emptied. Without it a stale one costs a second
// read, not a wrong position.
func (b *Batch) Forget() {
	clear(b.known)
}

// Empty reports whether b holds nothing.
func (b *Batch) Empty() bool {
	return len(b.prices) == 0 && len(b.trades) == 0 && len(b.positions) == 0
}

// minuteOf is the start of t's minute in Unix microseconds, t truncated
// to the microsecond as PostgreSQL stores it.
func minuteOf(us int64) int64 {
	const m = 60_000_000
	q := us / m
	if us%m < 0 {
		q--
	}
	return q * m
}

// AddTick adds one stored price tick.
func (b *Batch) AddTick(p *event.Price, run string) {
	us := p.Time.UnixMicro()
	k := minuteKey{p.Symbol, minuteOf(us)}
	at := stamp{us, p.Seq, run}
	m := b.prices[k]
	if m == nil {
		m = &priceMinute{sector: p.Sector, open: p.Last, close: p.Last, openAt: at, closeAt: at, high: p.Last, low: p.Last}
		b.prices[k] = m
	} else {
		if at.less(m.openAt) {
			m.open, m.openAt = p.Last, at
		}
		if m.closeAt.less(at) {
			m.close, m.closeAt, m.sector = p.Last, at, p.Sector
		}
		m.high, m.low = max(m.high, p.Last), min(m.low, p.Last)
	}
	m.volume.Add(&m.volume, b.tmp.SetInt64(p.Volume))
	m.ticks++
}

// AddTrade adds one stored trade.
func (b *Batch) AddTrade(t *event.Trade, run string) {
	us := t.Time.UnixMicro()
	k := minuteKey{t.Symbol, minuteOf(us)}
	m := b.trades[k]
	if m == nil {
		m = &tradeMinute{}
		b.trades[k] = m
	}
	b.tmp.SetInt64(int64(t.Price))
	m.notional.Add(&m.notional, b.tmp.Mul(&b.tmp, b.tmp2.SetInt64(t.Quantity)))
	m.quantity.Add(&m.quantity, b.tmp.SetInt64(t.Quantity))
	m.trades++

	pk := positionKey{t.AccountID, t.Symbol}
	pf := b.positions[pk]
	if pf == nil {
		pf = &positionFills{user: t.UserID}
		b.positions[pk] = pf
	}
	pf.fills = append(pf.fills, Fill{Buy: t.Side == event.SideBuy, Quantity: t.Quantity, Price: t.Price, Fee: t.Fee,
		Time: time.UnixMicro(us).UTC(), ID: t.ID, Run: run})
}

// Write merges b into the stored rollups inside tx: the minute rows by an
// exact upsert (open and close by their stamps, high and low by
// comparison, sums by addition), then the hours they fall in by
// recomputation from their minute rows and the symbols' latest close
// (writeHours), the positions by applying b's fills to
// the stored positions (see writePositions), or, for a
// position that gets a fill older than its last, by replaying its trades
// from the trades table (which must already hold b's). It returns how
// many positions it replayed.
func (b *Batch) Write(ctx context.Context, tx DB) (replayed int, err error) {
	if err := b.writePrices(ctx, tx); err != nil {
		return 0, err
	}
	if err := b.writeTrades(ctx, tx); err != nil {
		return 0, err
	}
	if err := b.writeHours(ctx, tx); err != nil {
		return 0, err
	}
	return b.writePositions(ctx, tx)
}

// sortedKeys returns m's keys in (symbol, minute) order, the order every
// writer locks rows in.
func sortedKeys[V any](m map[minuteKey]V) []minuteKey {
	keys := make([]minuteKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b minuteKey) int {
		if c := cmp.Compare(a.symbol, b.symbol); c != 0 {
			return c
		}
		return cmp.Compare(a.minute, b.minute)
	})
	return keys
}

const upsertPrices = `
INSERT INTO rollup_prices_1m AS r (symbol, minute, sector, open, open_ts, open_seq, open_run, high, low,
                                   close, close_ts, close_seq, close_run, volume, ticks)
SELECT symbol, minute, sector, open * 0.0001, open_ts, open_seq, open_run, high * 0.0001, low * 0.0001,
       close * 0.0001, close_ts, close_seq, close_run, volume::numeric, ticks
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::timestamptz[], $6::int8[], $7::text[],
            $8::int8[], $9::int8[], $10::int8[], $11::timestamptz[], $12::int8[], $13::text[], $14::text[], $15::int8[])
     AS u(symbol, minute, sector, open, open_ts, open_seq, open_run, high, low, close, close_ts, close_seq, close_run, volume, ticks)
ON CONFLICT (symbol, minute) DO UPDATE SET
    open      = CASE WHEN (excluded.open_ts, excluded.open_seq, excluded.open_run COLLATE "C") < (r.open_ts, r.open_seq, r.open_run COLLATE "C") THEN excluded.open ELSE r.open END,
    open_ts   = CASE WHEN (excluded.open_ts, excluded.open_seq, excluded.open_run COLLATE "C") < (r.open_ts, r.open_seq, r.open_run COLLATE "C") THEN excluded.open_ts ELSE r.open_ts END,
    open_seq  = CASE WHEN (excluded.open_ts, excluded.open_seq, excluded.open_run COLLATE "C") < (r.open_ts, r.open_seq, r.open_run COLLATE "C") THEN excluded.open_seq ELSE r.open_seq END,
    open_run  = CASE WHEN (excluded.open_ts, excluded.open_seq, excluded.open_run COLLATE "C") < (r.open_ts, r.open_seq, r.open_run COLLATE "C") THEN excluded.open_run ELSE r.open_run END,
    close     = CASE WHEN (excluded.close_ts, excluded.close_seq, excluded.close_run COLLATE "C") > (r.close_ts, r.close_seq, r.close_run COLLATE "C") THEN excluded.close ELSE r.close END,
    close_ts  = CASE WHEN (excluded.close_ts, excluded.close_seq, excluded.close_run COLLATE "C") > (r.close_ts, r.close_seq, r.close_run COLLATE "C") THEN excluded.close_ts ELSE r.close_ts END,
    close_seq = CASE WHEN (excluded.close_ts, excluded.close_seq, excluded.close_run COLLATE "C") > (r.close_ts, r.close_seq, r.close_run COLLATE "C") THEN excluded.close_seq ELSE r.close_seq END,
    close_run = CASE WHEN (excluded.close_ts, excluded.close_seq, excluded.close_run COLLATE "C") > (r.close_ts, r.close_seq, r.close_run COLLATE "C") THEN excluded.close_run ELSE r.close_run END,
    sector    = CASE WHEN (excluded.close_ts, excluded.close_seq, excluded.close_run COLLATE "C") > (r.close_ts, r.close_seq, r.close_run COLLATE "C") THEN excluded.sector ELSE r.sector END,
    high      = greatest(r.high, excluded.high),
    low       = least(r.low, excluded.low),
    volume    = r.volume + excluded.volume,
    ticks     = r.ticks + excluded.ticks`

func (b *Batch) writePrices(ctx context.Context, tx DB) error {
	if len(b.prices) == 0 {
		return nil
	}
	keys := sortedKeys(b.prices)
	n := len(keys)
	var (
		symbols, sectors, openRuns, closeRuns, volumes  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		minutes, openTs, closeTs                        = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		opens, openSeqs, highs, lows, closes, closeSeqs = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		ticks                                           = make([]int64, n)
	)
	for i, k := range keys {
		m := b.prices[k]
		symbols[i], minutes[i], sectors[i] = k.symbol, time.UnixMicro(k.minute).UTC(), m.sector
		opens[i], openTs[i], openSeqs[i], openRuns[i] = int64(m.open), time.UnixMicro(m.openAt.us).UTC(), m.openAt.seq, m.openAt.run
		highs[i], lows[i] = int64(m.high), int64(m.low)
		closes[i], closeTs[i], closeSeqs[i], closeRuns[i] = int64(m.close), time.UnixMicro(m.closeAt.us).UTC(), m.closeAt.seq, m.closeAt.run
		volumes[i], ticks[i] = m.volume.String(), m.ticks
	}
	if _, err := tx.Exec(ctx, upsertPrices, symbols, minutes, sectors, opens, openTs, openSeqs, openRuns,
		highs, lows, closes, closeTs, closeSeqs, closeRuns, volumes, ticks); err != nil {
		return fmt.Errorf("upsert price rollups: %w", err)
	}
	return nil
}

const upsertTrades = `
INSERT INTO rollup_trades_1m AS r (symbol, minute, notional, quantity, trades)
SELECT symbol, minute, notional::numeric * 0.0001, quantity::numeric, trades
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::int8[]) AS u(symbol, minute, notional, quantity, trades)
ON CONFLICT (symbol, minute) DO UPDATE SET
    notional = r.notional + excluded.notional,
    quantity = r.quantity + excluded.quantity,
    trades   = r.trades + excluded.trades`

func (b *Batch) writeTrades(ctx context.Context, tx DB) error {
	if len(b.trades) == 0 {
		return nil
	}
	keys := sortedKeys(b.trades)
	n := len(keys)
	symbols, notionals, quantities := make([]string, n), make([]string, n), make([]string, n)
	minutes, trades := make([]time.Time, n), make([]int64, n)
	for i, k := range keys {
		m := b.trades[k]
		symbols[i], minutes[i] = k.symbol, time.UnixMicro(k.minute).UTC()
		notionals[i], quantities[i], trades[i] = m.notional.String(), m.quantity.String(), m.trades
	}
	if _, err := tx.Exec(ctx, upsertTrades, symbols, minutes, notionals, quantities, trades); err != nil {
		return fmt.Errorf("upsert trade rollups: %w", err)
	}
	return nil
}
