package dashboard

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// history answers the page's questions about the past from PostgreSQL.
// Its methods are safe for concurrent use.
type history struct {
	pool *pgxpool.Pool

	mu        sync.Mutex
	breakdown *Breakdown
	brAt      time.Time
}

// SymbolInfo is a symbol with its latest stored tick.
type SymbolInfo struct {
	Symbol string `json:"symbol"`
	Sector string `json:"sector"`
	Last   int64  `json:"last"`
	Time   int64  `json:"ts"` // Unix milliseconds
}

// symbolsSQL walks the (symbol, ts) index one symbol at a time (a loose
// index scan), so listing symbols costs one probe per symbol whatever the
// table's size, and takes each symbol's latest tick the same way.
const symbolsSQL = `
WITH RECURSIVE s(symbol) AS (
    (SELECT symbol FROM price_ticks ORDER BY symbol LIMIT 1)
    UNION ALL
    SELECT (SELECT p.symbol FROM price_ticks p WHERE p.symbol > s.symbol ORDER BY p.symbol LIMIT 1)
    FROM s WHERE s.symbol IS NOT NULL
)
SELECT s.symbol, l.sector, (l.last * 10000)::bigint, l.ts
FROM s CROSS JOIN LATERAL (
    SELECT sector, last, ts FROM price_ticks p WHERE p.symbol = s.symbol ORDER BY ts DESC LIMIT 1
) l
WHERE s.symbol IS NOT NULL
LIMIT $1`

// Symbols lists the stored symbols with their latest tick.
func (h *history) Symbols(ctx context.Context) ([]SymbolInfo, error) {
	rows, err := h.pool.Query(ctx, symbolsSQL, maxSymbols)
	if err != nil {
		return nil, fmt.Errorf("list symbols: %w", err)
	}
	defer rows.Close()
	var out []SymbolInfo
	for rows.Next() {
		var s SymbolInfo
		var ts time.Time
		if err := rows.Scan(&s.Symbol, &s.Sector, &s.Last, &ts); err != nil {
			return nil, fmt.Errorf("list symbols: %w", err)
		}
		s.Time = ts.UnixMilli()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list symbols: %w", err)
	}
	return out, nil
}

// SymbolExists reports whether any tick of symbol is stored.
func (h *history) SymbolExists(ctx context.Context, symbol string) (bool, error) {
	var ok bool
	err := h.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM price_ticks WHERE symbol = $1)`, symbol).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up symbol: %w", err)
	}
	return ok, nil
}

// LatestTick returns the event time of symbol's newest stored tick, or the
// zero time when none is stored.
func (h *history) LatestTick(ctx context.Context, symbol string) (time.Time, error) {
	var ts *time.Time
	err := h.pool.QueryRow(ctx, `SELECT max(ts) FROM price_ticks WHERE symbol = $1`, symbol).Scan(&ts)
	if err != nil {
		return time.Time{}, fmt.Errorf("latest tick: %w", err)
	}
	if ts == nil {
		return time.Time{}, nil
	}
	return *ts, nil
}

// Candles returns symbol's OHLCV candles of iv in [from, to), oldest
// first, from the ohlcv function: the 1-minute rollups for whole-minute
// widths, the raw ticks for 1-second candles. (Its buckets are aligned on
// 2000-01-01 UTC, which is on every 5-minute boundary of the epoch.)
func (h *history) Candles(ctx context.Context, symbol string, iv Interval, from, to time.Time) ([]Candle, error) {
	rows, err := h.pool.Query(ctx, `
		SELECT bucket, (open * 10000)::bigint, (high * 10000)::bigint, (low * 10000)::bigint,
		       (close * 10000)::bigint, volume::bigint
		FROM ohlcv($2, $1::interval, $3, $4)`, iv.Width, symbol, from, to)
	if err != nil {
		return nil, fmt.Errorf("candles: %w", err)
	}
	defer rows.Close()
	var out []Candle
	for rows.Next() {
		var c Candle
		var b time.Time
		if err := rows.Scan(&b, &c.Open, &c.High, &c.Low, &c.Close, &c.Volume); err != nil {
			return nil, fmt.Errorf("candles: %w", err)
		}
		c.Time = b.Unix()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("candles: %w", err)
	}
	return out, nil
}

// Trades returns symbol's newest stored trades, newest first.
func (h *history) Trades(ctx context.Context, symbol string, limit int) ([]TapeTrade, error) {
	rows, err := h.pool.Query(ctx, `
		SELECT trade_id, ts, symbol, side, quantity, (price * 10000)::bigint, user_id, coalesce(order_type, '')
		FROM trades WHERE symbol = $1 ORDER BY ts DESC, trade_id DESC LIMIT $2`, symbol, limit)
	if err != nil {
		return nil, fmt.Errorf("trades: %w", err)
	}
	defer rows.Close()
	var out []TapeTrade
	for rows.Next() {
		var t TapeTrade
		var ts time.Time
		if err := rows.Scan(&t.ID, &ts, &t.Symbol, &t.Side, &t.Quantity, &t.Price, &t.UserID, &t.OrderType); err != nil {
			return nil, fmt.Errorf("trades: %w", err)
		}
		t.Time = ts.UnixMilli()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("trades: %w", err)
	}
	return out, nil
}

// Mover is a symbol's price change over a window ending at its latest tick.
type Mover struct {
	Symbol string  `json:"symbol"`
	Sector string  `json:"sector"`
	First  int64   `json:"first"`
	Last   int64   `json:"last"`
	Change float64 `json:"change_pct"`
}

// Movers returns every stored symbol's change over the window ending at
// the newest stored tick (of any symbol), biggest gainers first and
// biggest losers last: the symbol_changes function, which top_movers
// ranks too.
func (h *history) Movers(ctx context.Context, window time.Duration) ([]Mover, error) {
	rows, err := h.pool.Query(ctx, `
		WITH l AS (
		    SELECT max(close_ts) AS hi FROM rollup_prices_1m
		    WHERE minute = (SELECT max(minute) FROM rollup_prices_1m)
		)
		SELECT c.symbol, c.sector, (c.open * 10000)::bigint, (c.close * 10000)::bigint
		FROM l CROSS JOIN LATERAL symbol_changes(l.hi - $1::interval, l.hi + interval '1 microsecond') c
		ORDER BY c.symbol
		LIMIT $2`, window, maxSymbols)
	if err != nil {
		return nil, fmt.Errorf("movers: %w", err)
	}
	defer rows.Close()
	var out []Mover
	for rows.Next() {
		var m Mover
		if err := rows.Scan(&m.Symbol, &m.Sector, &m.First, &m.Last); err != nil {
			return nil, fmt.Errorf("movers: %w", err)
		}
		if m.First > 0 {
			m.Change = float64(m.Last-m.First) / float64(m.First) * 100
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("movers: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Change > out[j].Change })
	return out, nil
}

// Count is one labelled count of a breakdown.
type Count struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
}

// Trader is one of the most active users over the breakdown's window.
type Trader struct {
	UserID     int64  `json:"user_id"`
	Name       string `json:"name"`
	Experience string `json:"experience"`
	Country    string `json:"country"`
	Trades     int64  `json:"trades"`
	Notional   int64  `json:"notional"` // scale 4
}

// Breakdown describes the users and their accounts.
type Breakdown struct {
	Users        int64   `json:"users"`
	Accounts     int64   `json:"accounts"`
	TotalBalance int64   `json:"total_balance"` // scale 4
	Experience   []Count `json:"experience"`
	Risk         []Count `json:"risk"`
	Sectors      []Count `json:"sectors"`
	Countries    []Count `json:"countries"`
	AccountTypes []Count `json:"account_types"`
	Balances     []Count `json:"balances"`
	// TopTraders are the users with the largest traded notional in the
	// hour before the newest stored trade.
	TopTraders []Trader `json:"top_traders"`
	// Time is when the breakdown was computed, Unix milliseconds.
	Time int64 `json:"t"`
}

const breakdownTTL = 5 * time.Second

// Breakdown returns the users and accounts breakdown, recomputed at most
// every few seconds whatever the number of pages asking.
func (h *history) Breakdown(ctx context.Context, now time.Time) (*Breakdown, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.breakdown != nil && now.Sub(h.brAt) < breakdownTTL {
		return h.breakdown, nil
	}
	b := &Breakdown{Time: now.UnixMilli()}
	if err := h.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), count(*), coalesce((sum(balance) * 10000)::bigint, 0) FROM accounts`).
		Scan(&b.Users, &b.Accounts, &b.TotalBalance); err != nil {
		return nil, fmt.Errorf("breakdown totals: %w", err)
	}
	counts := []struct {
		dst *[]Count
		sql string
	}{
		{&b.Experience, `SELECT experience, count(*) FROM users GROUP BY 1 ORDER BY
			array_position(ARRAY['beginner','intermediate','advanced','professional'], experience), 1`},
		{&b.Risk, `SELECT risk_tolerance, count(*) FROM users GROUP BY 1 ORDER BY
			array_position(ARRAY['low','medium','high'], risk_tolerance), 1`},
		{&b.Sectors, `SELECT s, count(*) FROM users, unnest(sectors) s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 12`},
		{&b.Countries, `SELECT country, count(*) FROM users GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8`},
		{&b.AccountTypes, `SELECT type || ' ' || currency, count(*) FROM accounts GROUP BY 1 ORDER BY 2 DESC, 1`},
		{&b.Balances, `SELECT label, count(a.balance) FROM (VALUES
			(1, '< 1k', -1e18, 1e3), (2, '1k–10k', 1e3, 1e4), (3, '10k–50k', 1e4, 5e4),
			(4, '50k–100k', 5e4, 1e5), (5, '100k–500k', 1e5, 5e5), (6, '≥ 500k', 5e5, 1e18)) AS b(i, label, lo, hi)
			LEFT JOIN accounts a ON a.balance >= b.lo AND a.balance < b.hi
			GROUP BY i, label ORDER BY i`},
	}
	for _, c := range counts {
		rows, err := h.pool.Query(ctx, c.sql)
		if err != nil {
			return nil, fmt.Errorf("breakdown: %w", err)
		}
		*c.dst = []Count{}
		for rows.Next() {
			var x Count
			if err := rows.Scan(&x.Label, &x.Count); err != nil {
				rows.Close()
				return nil, fmt.Errorf("breakdown: %w", err)
			}
			*c.dst = append(*c.dst, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("breakdown: %w", err)
		}
	}
	traders, err := h.topTraders(ctx)
	if err != nil {
		return nil, err
	}
	b.TopTraders = traders
	h.breakdown, h.brAt = b, now
	return b, nil
}

func (h *history) topTraders(ctx context.Context) ([]Trader, error) {
	// The window ends at the newest stored tick (found through the symbol
	// index), so a replayed or seeded stream in the past still shows.
	rows, err := h.pool.Query(ctx, `
		WITH RECURSIVE s(symbol) AS (
		    (SELECT symbol FROM price_ticks ORDER BY symbol LIMIT 1)
		    UNION ALL
		    SELECT (SELECT p.symbol FROM price_ticks p WHERE p.symbol > s.symbol ORDER BY p.symbol LIMIT 1)
		    FROM s WHERE s.symbol IS NOT NULL
		), hi AS (
		    SELECT max(l.ts) AS hi FROM s CROSS JOIN LATERAL
		        (SELECT ts FROM price_ticks p WHERE p.symbol = s.symbol ORDER BY ts DESC LIMIT 1) l
		    WHERE s.symbol IS NOT NULL
		), t AS (
		    SELECT user_id, count(*) AS n, sum(price * quantity) AS notional
		    FROM trades, hi WHERE ts > hi.hi - interval '1 hour' AND ts <= hi.hi + interval '1 minute'
		    GROUP BY user_id ORDER BY notional DESC LIMIT 8
		)
		SELECT t.user_id, coalesce(u.name, ''), coalesce(u.experience, ''), coalesce(u.country, ''),
		       t.n, (t.notional * 10000)::bigint
		FROM t LEFT JOIN users u USING (user_id) ORDER BY t.notional DESC`)
	if err != nil {
		return nil, fmt.Errorf("top traders: %w", err)
	}
	defer rows.Close()
	out := []Trader{}
	for rows.Next() {
		var t Trader
		if err := rows.Scan(&t.UserID, &t.Name, &t.Experience, &t.Country, &t.Trades, &t.Notional); err != nil {
			return nil, fmt.Errorf("top traders: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("top traders: %w", err)
	}
	return out, nil
}
