-- +goose Up
-- Rollups: exact aggregates the sink maintains in the transaction that
-- loads the rows they cover (and moves the offsets), so they are
-- effectively-once like the rows. Every analytic below reads them, and
-- reads raw rows only for the parts of a window that cut a minute (at most
-- the first and the last minute of the window) and for 1-second candles.
-- `tradestream db rollups rebuild` recomputes them from the raw rows and
-- `tradestream db rollups verify` (and `tradestream verify`) compares them.
--
-- Ordering: a minute's open is its tick with the least (ts, seq, run_id),
-- its close the one with the greatest, run_id compared bytewise (COLLATE
-- "C"); each row keeps its open's and close's (ts, seq, run_id), so a tick
-- that arrives in a later batch (late, out of order, replayed) replaces
-- them exactly when it comes first or last.

-- 1-minute OHLCV per symbol from price ticks (last price, tick volume).
-- sector is the close tick's sector.
CREATE TABLE rollup_prices_1m (
    symbol    text          NOT NULL,
    minute    timestamptz   NOT NULL,
    sector    text          NOT NULL,
    open      numeric(20,4) NOT NULL,
    open_ts   timestamptz   NOT NULL,
    open_seq  bigint        NOT NULL,
    open_run  text          NOT NULL,
    high      numeric(20,4) NOT NULL,
    low       numeric(20,4) NOT NULL,
    close     numeric(20,4) NOT NULL,
    close_ts  timestamptz   NOT NULL,
    close_seq bigint        NOT NULL,
    close_run text          NOT NULL,
    volume    numeric       NOT NULL,
    ticks     bigint        NOT NULL,
    PRIMARY KEY (symbol, minute)
);
CREATE INDEX rollup_prices_1m_minute_idx ON rollup_prices_1m (minute);

-- 1-minute VWAP parts per symbol from trades: sum(price * quantity),
-- sum(quantity) and the number of trades.
CREATE TABLE rollup_trades_1m (
    symbol   text        NOT NULL,
    minute   timestamptz NOT NULL,
    notional numeric     NOT NULL,
    quantity numeric     NOT NULL,
    trades   bigint      NOT NULL,
    PRIMARY KEY (symbol, minute)
);
CREATE INDEX rollup_trades_1m_minute_idx ON rollup_trades_1m (minute);

-- Positions per account and symbol, by average cost, the trades taken in
-- (ts, trade_id, run_id) order. quantity is signed (negative: short);
-- cost is the signed cost basis of the open quantity (negative for a
-- short: the proceeds of the shares sold). A trade that adds to the
-- position (or opens one) adds price * quantity to cost. A trade that
-- reduces it closes c = min(|trade|, |quantity|) shares: the cost it
-- removes is cost * c / |quantity| rounded to 4 decimals half away from
-- zero (all of cost when it closes all), and realised grows by the
-- closing proceeds less that cost (for a long: price * c - removed; for a
-- short: removed - price * c with removed negative, i.e. |removed| -
-- price * c). What is left of the trade after a full close opens a
-- position the other way (a flip) at the trade's price. Fees are kept
-- apart: realised excludes them. Then cost - realised = bought notional -
-- sold notional at every step, so realised + unrealised - fees, with
-- unrealised = quantity * last price - cost, equals the cash the trades
-- moved plus the position's market value.
CREATE TABLE rollup_positions (
    account_id    bigint        NOT NULL,
    symbol        text          NOT NULL,
    user_id       bigint        NOT NULL,
    quantity      bigint        NOT NULL,
    cost          numeric(24,4) NOT NULL,
    realised      numeric(24,4) NOT NULL,
    fees          numeric(24,4) NOT NULL,
    bought        bigint        NOT NULL,
    sold          bigint        NOT NULL,
    buy_notional  numeric(24,4) NOT NULL,
    sell_notional numeric(24,4) NOT NULL,
    trades        bigint        NOT NULL,
    last_ts       timestamptz   NOT NULL,
    last_trade_id bigint        NOT NULL,
    last_run      text          NOT NULL,
    -- user_id leads, so a user's positions are one range of the key (an
    -- account belongs to one user) and loading maintains one index; the
    -- pages keep room for the updates of every batch (HOT updates).
    PRIMARY KEY (user_id, account_id, symbol)
) WITH (fillfactor = 70);

-- minute_floor and minute_ceil align a time on the minutes of the
-- 2000-01-01 UTC grid, as the rollups are.
-- +goose StatementBegin
CREATE FUNCTION minute_floor(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin('1 minute', t, timestamptz '2000-01-01 00:00:00+00')
$$;
CREATE FUNCTION minute_ceil(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN date_bin('1 minute', t, timestamptz '2000-01-01 00:00:00+00') = t THEN t
                ELSE date_bin('1 minute', t, timestamptz '2000-01-01 00:00:00+00') + interval '1 minute' END
$$;
-- +goose StatementEnd

-- price_minutes: one symbol's 1-minute bars over [p_from, p_to): the
-- whole minutes from rollup_prices_1m, the minutes the window cuts (its
-- first and last, when not on a minute) from the raw ticks inside it.
-- +goose StatementBegin
CREATE FUNCTION price_minutes(p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (minute timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, ticks bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.minute, r.open, r.high, r.low, r.close, r.volume, r.ticks
    FROM rollup_prices_1m r
    WHERE r.symbol = p_symbol AND r.minute >= minute_ceil(p_from) AND r.minute < minute_floor(p_to)
    UNION ALL
    SELECT minute_floor(t.ts),
           (array_agg(t.last ORDER BY t.ts, t.seq, t.run_id COLLATE "C"))[1],
           max(t.last), min(t.last),
           (array_agg(t.last ORDER BY t.ts DESC, t.seq DESC, t.run_id COLLATE "C" DESC))[1],
           sum(t.volume), count(*)
    FROM (
        -- Two range scans (not one OR), so each is an index range.
        SELECT * FROM price_ticks
        WHERE symbol = p_symbol AND ts >= p_from AND ts < least(minute_ceil(p_from), p_to)
        UNION ALL
        SELECT * FROM price_ticks
        WHERE symbol = p_symbol AND ts >= greatest(minute_floor(p_to), minute_ceil(p_from)) AND ts < p_to
    ) t
    GROUP BY 1
$$;
-- +goose StatementEnd

-- ohlcv: one symbol's candles of p_width over [p_from, p_to). A width of
-- whole minutes is answered from price_minutes; any other (1 second) from
-- the raw ticks. Buckets are aligned on 2000-01-01 00:00 UTC.
DROP FUNCTION ohlcv(text, interval, timestamptz, timestamptz);
-- +goose StatementBegin
CREATE FUNCTION ohlcv(p_symbol text, p_width interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (bucket timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, ticks bigint)
LANGUAGE sql STABLE AS $$
    SELECT date_bin(p_width, m.minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
           (min(ARRAY[extract(epoch FROM m.minute), m.open]))[2], max(m.high), min(m.low),
           (max(ARRAY[extract(epoch FROM m.minute), m.close]))[2], sum(m.volume), sum(m.ticks)::bigint
    FROM price_minutes(p_symbol, p_from, p_to) m
    WHERE p_width >= interval '1 minute' AND extract(epoch FROM p_width) % 60 = 0
    GROUP BY 1
    UNION ALL
    SELECT date_bin(p_width, ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
           (array_agg(last ORDER BY ts, seq, run_id COLLATE "C"))[1], max(last), min(last),
           (array_agg(last ORDER BY ts DESC, seq DESC, run_id COLLATE "C" DESC))[1], sum(volume), count(*)
    FROM price_ticks
    WHERE NOT (p_width >= interval '1 minute' AND extract(epoch FROM p_width) % 60 = 0)
      AND symbol = p_symbol AND ts >= p_from AND ts < p_to
    GROUP BY 1
    ORDER BY 1
$$;
-- +goose StatementEnd

-- The candle views read the rollups: whole minutes, every symbol. A
-- bucket's open is the open of its first minute, taken as the least
-- [minute, open] pair (and the close as the greatest [minute, close]):
-- plain min and max, so the grouping may hash instead of sorting.
DROP VIEW candles_1m;
DROP VIEW candles_5m;
DROP VIEW candles_1h;
CREATE VIEW candles_1m AS
SELECT symbol, minute AS bucket, open, high, low, close, volume, ticks FROM rollup_prices_1m;

CREATE VIEW candles_5m AS
SELECT symbol, date_bin('5 minutes', minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

CREATE VIEW candles_1h AS
SELECT symbol, date_bin('1 hour', minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

CREATE VIEW candles_1d AS
SELECT symbol, date_trunc('day', minute, 'UTC') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

-- vwap: whole minutes from rollup_trades_1m, cut minutes from raw trades.
DROP VIEW vwap_daily;
DROP FUNCTION vwap(text, timestamptz, timestamptz);
-- +goose StatementBegin
CREATE FUNCTION vwap(p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT round(sum(n) / nullif(sum(q), 0), 4)
    FROM (
        SELECT r.notional AS n, r.quantity AS q FROM rollup_trades_1m r
        WHERE r.symbol = p_symbol AND r.minute >= minute_ceil(p_from) AND r.minute < minute_floor(p_to)
        UNION ALL
        SELECT t.price * t.quantity, t.quantity FROM trades t
        WHERE t.symbol = p_symbol AND t.ts >= p_from AND t.ts < least(minute_ceil(p_from), p_to)
        UNION ALL
        SELECT t.price * t.quantity, t.quantity FROM trades t
        WHERE t.symbol = p_symbol AND t.ts >= greatest(minute_floor(p_to), minute_ceil(p_from)) AND t.ts < p_to
    ) v
$$;
-- +goose StatementEnd

CREATE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', minute, 'UTC') AS day,
       round(sum(notional) / nullif(sum(quantity), 0), 4) AS vwap,
       sum(quantity) AS volume, sum(trades)::bigint AS trades
FROM rollup_trades_1m GROUP BY symbol, 2;

-- price_at: a symbol's last price before p_at (the last tick with ts <
-- p_at): from the raw ticks of p_at's minute, else the close of the last
-- whole minute before it.
-- +goose StatementBegin
CREATE FUNCTION price_at(p_symbol text, p_at timestamptz)
RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT t.last FROM price_ticks t
         WHERE t.symbol = p_symbol AND t.ts >= minute_floor(p_at) AND t.ts < p_at
         ORDER BY t.ts DESC, t.seq DESC, t.run_id COLLATE "C" DESC LIMIT 1),
        (SELECT r.close FROM rollup_prices_1m r
         WHERE r.symbol = p_symbol AND r.minute < minute_floor(p_at)
         ORDER BY r.minute DESC LIMIT 1))
$$;
-- +goose StatementEnd

-- symbol_changes: per symbol its first and last price in [p_from, p_to)
-- (the first tick at or after p_from, the last before p_to) and the
-- change between them; the symbols are those of the rollups, found by a
-- loose scan of their key, and each end is found by a probe: the raw
-- ticks of a cut minute, else the rollups' first or last whole minute.
-- +goose StatementBegin
CREATE FUNCTION symbol_changes(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (symbol text, sector text, open numeric, close numeric, change numeric, change_pct numeric)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE s(symbol) AS (
        (SELECT r.symbol FROM rollup_prices_1m r ORDER BY r.symbol LIMIT 1)
        UNION ALL
        SELECT (SELECT r.symbol FROM rollup_prices_1m r WHERE r.symbol > s.symbol ORDER BY r.symbol LIMIT 1)
        FROM s WHERE s.symbol IS NOT NULL
    ), w AS (
        SELECT s.symbol,
            (SELECT r.sector FROM rollup_prices_1m r WHERE r.symbol = s.symbol ORDER BY r.minute DESC LIMIT 1) AS sector,
            coalesce(
                (SELECT t.last FROM price_ticks t
                 WHERE t.symbol = s.symbol AND t.ts >= p_from AND t.ts < least(minute_ceil(p_from), p_to)
                 ORDER BY t.ts, t.seq, t.run_id COLLATE "C" LIMIT 1),
                (SELECT r.open FROM rollup_prices_1m r
                 WHERE r.symbol = s.symbol AND r.minute >= minute_ceil(p_from) AND r.minute < minute_floor(p_to)
                 ORDER BY r.minute LIMIT 1),
                (SELECT t.last FROM price_ticks t
                 WHERE t.symbol = s.symbol AND t.ts >= greatest(minute_floor(p_to), minute_ceil(p_from)) AND t.ts < p_to
                 ORDER BY t.ts, t.seq, t.run_id COLLATE "C" LIMIT 1)) AS open,
            coalesce(
                (SELECT t.last FROM price_ticks t
                 WHERE t.symbol = s.symbol AND t.ts >= greatest(minute_floor(p_to), minute_ceil(p_from)) AND t.ts < p_to
                 ORDER BY t.ts DESC, t.seq DESC, t.run_id COLLATE "C" DESC LIMIT 1),
                (SELECT r.close FROM rollup_prices_1m r
                 WHERE r.symbol = s.symbol AND r.minute >= minute_ceil(p_from) AND r.minute < minute_floor(p_to)
                 ORDER BY r.minute DESC LIMIT 1),
                (SELECT t.last FROM price_ticks t
                 WHERE t.symbol = s.symbol AND t.ts >= p_from AND t.ts < least(minute_ceil(p_from), p_to)
                 ORDER BY t.ts DESC, t.seq DESC, t.run_id COLLATE "C" DESC LIMIT 1)) AS close
        FROM s WHERE s.symbol IS NOT NULL AND p_from < p_to
    )
    SELECT symbol, sector, open, close, close - open,
           CASE WHEN open > 0 THEN round(100 * (close - open) / open, 4) END
    FROM w WHERE open IS NOT NULL
$$;
-- +goose StatementEnd

-- top_movers: the symbols with the largest absolute percentage change over
-- [p_from, p_to), from symbol_changes.
DROP FUNCTION top_movers(timestamptz, timestamptz, integer);
-- +goose StatementBegin
CREATE FUNCTION top_movers(p_from timestamptz, p_to timestamptz, p_limit integer DEFAULT 10)
RETURNS TABLE (symbol text, open numeric, close numeric, change numeric, change_pct numeric)
LANGUAGE sql STABLE AS $$
    SELECT c.symbol, c.open, c.close, c.change, c.change_pct
    FROM symbol_changes(p_from, p_to) c
    WHERE c.open > 0
    ORDER BY abs((c.close - c.open) / c.open) DESC, c.symbol
    LIMIT p_limit
$$;
-- +goose StatementEnd

-- sector_performance: per sector over [p_from, p_to) the number of
-- symbols, their mean percentage change (equal weights), and the best and
-- worst symbol.
-- +goose StatementBegin
CREATE FUNCTION sector_performance(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (sector text, symbols bigint, change_pct numeric, best text, best_pct numeric, worst text, worst_pct numeric)
LANGUAGE sql STABLE AS $$
    SELECT c.sector, count(*), round(avg(c.change_pct), 4),
           (array_agg(c.symbol ORDER BY c.change_pct DESC, c.symbol))[1], max(c.change_pct),
           (array_agg(c.symbol ORDER BY c.change_pct, c.symbol))[1], min(c.change_pct)
    FROM symbol_changes(p_from, p_to) c
    WHERE c.change_pct IS NOT NULL
    GROUP BY c.sector
    ORDER BY 3 DESC, 1
$$;
-- +goose StatementEnd

-- daily_summary: one symbol's UTC days in [p_from, p_to): open, high,
-- low, close, tick volume and ticks from the 1-minute rollups, VWAP,
-- shares traded and trades from the trade rollups, and the realised
-- volatility: the square root of the sum of squared log returns between
-- consecutive 1-minute closes within the day (a float; NULL for a day of
-- one minute).
-- +goose StatementBegin
CREATE FUNCTION daily_summary(p_symbol text, p_from date, p_to date)
RETURNS TABLE (day date, open numeric, high numeric, low numeric, close numeric, vwap numeric,
               volume numeric, ticks bigint, traded numeric, trades bigint, volatility double precision)
LANGUAGE sql STABLE AS $$
    WITH w AS (
        -- One window in the index's order (no sort): the previous minute's
        -- close, used only within the same day.
        SELECT (r.minute AT TIME ZONE 'UTC')::date AS day, r.minute, r.open, r.high, r.low, r.close, r.volume, r.ticks,
               lag(r.close) OVER (ORDER BY r.minute) AS prev_close, lag(r.minute) OVER (ORDER BY r.minute) AS prev_minute
        FROM rollup_prices_1m r
        WHERE r.symbol = p_symbol AND r.minute >= p_from::timestamp AT TIME ZONE 'UTC' AND r.minute < p_to::timestamp AT TIME ZONE 'UTC'
    ), m AS (
        SELECT w.*, CASE WHEN (w.prev_minute AT TIME ZONE 'UTC')::date = w.day AND w.prev_close > 0
                         THEN ln(w.close::double precision / w.prev_close::double precision) END AS ret
        FROM w
    ), d AS (
        SELECT m.day, (min(ARRAY[extract(epoch FROM m.minute), m.open]))[2] AS open, max(m.high) AS high, min(m.low) AS low,
               (max(ARRAY[extract(epoch FROM m.minute), m.close]))[2] AS close, sum(m.volume) AS volume, sum(m.ticks)::bigint AS ticks,
               sqrt(sum(m.ret ^ 2)) AS volatility
        FROM m GROUP BY m.day
    ), t AS (
        SELECT (r.minute AT TIME ZONE 'UTC')::date AS day, sum(r.notional) AS notional, sum(r.quantity) AS quantity, sum(r.trades)::bigint AS trades
        FROM rollup_trades_1m r
        WHERE r.symbol = p_symbol AND r.minute >= p_from::timestamp AT TIME ZONE 'UTC' AND r.minute < p_to::timestamp AT TIME ZONE 'UTC'
        GROUP BY 1
    )
    SELECT d.day, d.open, d.high, d.low, d.close, round(t.notional / nullif(t.quantity, 0), 4),
           d.volume, d.ticks, coalesce(t.quantity, 0), coalesce(t.trades, 0), d.volatility
    FROM d LEFT JOIN t ON t.day = d.day
    ORDER BY d.day
$$;
-- +goose StatementEnd

-- positions: the position rollups with the symbol's last price (the close
-- of its latest rollup minute). cash_flow is sells minus buys minus fees;
-- pnl = realised + unrealised - fees = cash_flow + market_value.
DROP VIEW user_pnl;
DROP VIEW positions;
CREATE VIEW positions AS
SELECT p.user_id, p.account_id, p.symbol, p.quantity, p.bought, p.sold, p.fees,
       p.sell_notional - p.buy_notional - p.fees AS cash_flow, p.trades,
       l.close AS last_price,
       p.quantity * l.close AS market_value,
       p.sell_notional - p.buy_notional - p.fees + p.quantity * l.close AS pnl,
       p.cost AS cost_basis,
       CASE WHEN p.quantity <> 0 THEN round(p.cost / p.quantity, 4) END AS avg_cost,
       p.realised,
       p.quantity * l.close - p.cost AS unrealised,
       p.last_ts AS last_trade_at, p.last_trade_id
FROM rollup_positions p
LEFT JOIN LATERAL (
    SELECT r.close FROM rollup_prices_1m r WHERE r.symbol = p.symbol ORDER BY r.minute DESC LIMIT 1
) l ON true;

-- user_pnl: the sum over a user's positions (NULL market value and P&L
-- while any traded symbol has no tick).
CREATE VIEW user_pnl AS
SELECT user_id, count(*) AS symbols, sum(trades) AS trades, sum(fees) AS fees,
       sum(cash_flow) AS cash_flow, sum(market_value) AS market_value, sum(pnl) AS pnl,
       sum(realised) AS realised, sum(unrealised) AS unrealised
FROM positions GROUP BY user_id;

-- user_pnl_range: a user's P&L per symbol over [p_from, p_to): the cash
-- its trades in the window moved (fees included) plus the change in the
-- value of what it held, q_to * price_at(p_to) - q_from * price_at(p_from).
-- It reads the user's raw trades (by the (user_id, ts) index: positions
-- at a time need them) and prices by price_at.
-- +goose StatementBegin
CREATE FUNCTION user_pnl_range(p_user bigint, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (symbol text, quantity_from bigint, quantity_to bigint, cash_flow numeric,
               price_from numeric, price_to numeric, pnl numeric)
LANGUAGE sql STABLE AS $$
    WITH q AS (
        SELECT t.symbol,
               coalesce(sum(CASE t.side WHEN 'buy' THEN t.quantity ELSE -t.quantity END) FILTER (WHERE t.ts < p_from), 0)::bigint AS q_from,
               sum(CASE t.side WHEN 'buy' THEN t.quantity ELSE -t.quantity END)::bigint AS q_to,
               coalesce(sum(CASE t.side WHEN 'buy' THEN -(t.price * t.quantity) ELSE t.price * t.quantity END - t.fee)
                   FILTER (WHERE t.ts >= p_from), 0) AS cash_flow
        FROM trades t
        WHERE t.user_id = p_user AND t.ts < p_to
        GROUP BY t.symbol
    ), p AS (
        SELECT q.*, CASE WHEN q.q_from <> 0 THEN price_at(q.symbol, p_from) END AS price_from,
               CASE WHEN q.q_to <> 0 THEN price_at(q.symbol, p_to) END AS price_to
        FROM q WHERE q.q_from <> 0 OR q.cash_flow <> 0 OR q.q_to <> 0
    )
    SELECT p.symbol, p.q_from, p.q_to, p.cash_flow, p.price_from, p.price_to,
           p.cash_flow + coalesce(p.q_to * p.price_to, 0) - coalesce(p.q_from * p.price_from, 0)
    FROM p
    ORDER BY p.symbol
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION user_pnl_range(bigint, timestamptz, timestamptz);
DROP VIEW user_pnl;
DROP VIEW positions;
DROP FUNCTION daily_summary(text, date, date);
DROP FUNCTION sector_performance(timestamptz, timestamptz);
DROP FUNCTION top_movers(timestamptz, timestamptz, integer);
DROP FUNCTION symbol_changes(timestamptz, timestamptz);
DROP FUNCTION price_at(text, timestamptz);
DROP VIEW vwap_daily;
DROP FUNCTION vwap(text, timestamptz, timestamptz);
DROP VIEW candles_1d;
DROP VIEW candles_1h;
DROP VIEW candles_5m;
DROP VIEW candles_1m;
DROP FUNCTION ohlcv(text, interval, timestamptz, timestamptz);
DROP FUNCTION price_minutes(text, timestamptz, timestamptz);
DROP FUNCTION minute_ceil(timestamptz);
DROP FUNCTION minute_floor(timestamptz);
DROP TABLE rollup_positions;
DROP TABLE rollup_trades_1m;
DROP TABLE rollup_prices_1m;
-- The analytics of migration 3 again, on the raw rows.
-- +goose StatementBegin
CREATE FUNCTION ohlcv(p_symbol text, p_width interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (bucket timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, ticks bigint)
LANGUAGE sql STABLE AS $$
    SELECT date_bin(p_width, ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
           (array_agg(last ORDER BY ts, seq))[1], max(last), min(last),
           (array_agg(last ORDER BY ts DESC, seq DESC))[1], sum(volume), count(*)
    FROM price_ticks WHERE symbol = p_symbol AND ts >= p_from AND ts < p_to
    GROUP BY 1 ORDER BY 1
$$;
CREATE FUNCTION vwap(p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT round(sum(price * quantity) / nullif(sum(quantity), 0), 4)
    FROM trades WHERE symbol = p_symbol AND ts >= p_from AND ts < p_to
$$;
CREATE FUNCTION top_movers(p_from timestamptz, p_to timestamptz, p_limit integer DEFAULT 10)
RETURNS TABLE (symbol text, open numeric, close numeric, change numeric, change_pct numeric)
LANGUAGE sql STABLE AS $$
    SELECT symbol, open, close, close - open, round(100 * (close - open) / open, 4)
    FROM (SELECT symbol, (array_agg(last ORDER BY ts, seq))[1] AS open, (array_agg(last ORDER BY ts DESC, seq DESC))[1] AS close
          FROM price_ticks WHERE ts >= p_from AND ts < p_to GROUP BY symbol) w
    WHERE open > 0 ORDER BY abs((close - open) / open) DESC, symbol LIMIT p_limit
$$;
-- +goose StatementEnd
CREATE VIEW candles_1m AS
SELECT symbol, date_bin('1 minute', ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (array_agg(last ORDER BY ts, seq))[1] AS open, max(last) AS high, min(last) AS low,
       (array_agg(last ORDER BY ts DESC, seq DESC))[1] AS close, sum(volume) AS volume, count(*) AS ticks
FROM price_ticks GROUP BY symbol, bucket;
CREATE VIEW candles_5m AS
SELECT symbol, date_bin('5 minutes', ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (array_agg(last ORDER BY ts, seq))[1] AS open, max(last) AS high, min(last) AS low,
       (array_agg(last ORDER BY ts DESC, seq DESC))[1] AS close, sum(volume) AS volume, count(*) AS ticks
FROM price_ticks GROUP BY symbol, bucket;
CREATE VIEW candles_1h AS
SELECT symbol, date_bin('1 hour', ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (array_agg(last ORDER BY ts, seq))[1] AS open, max(last) AS high, min(last) AS low,
       (array_agg(last ORDER BY ts DESC, seq DESC))[1] AS close, sum(volume) AS volume, count(*) AS ticks
FROM price_ticks GROUP BY symbol, bucket;
CREATE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', ts, 'UTC') AS day,
       round(sum(price * quantity) / nullif(sum(quantity), 0), 4) AS vwap, sum(quantity) AS volume, count(*) AS trades
FROM trades GROUP BY symbol, day;
CREATE VIEW positions AS
SELECT p.user_id, p.account_id, p.symbol, p.quantity, p.bought, p.sold, p.fees, p.cash_flow, p.trades,
       l.last AS last_price, p.quantity * l.last AS market_value, p.cash_flow + p.quantity * l.last AS pnl
FROM (SELECT user_id, account_id, symbol,
             sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity,
             sum(quantity) FILTER (WHERE side = 'buy') AS bought, sum(quantity) FILTER (WHERE side = 'sell') AS sold,
             sum(fee) AS fees,
             sum(CASE side WHEN 'buy' THEN -(price * quantity) ELSE price * quantity END) - sum(fee) AS cash_flow,
             count(*) AS trades
      FROM trades GROUP BY user_id, account_id, symbol) p
LEFT JOIN LATERAL (SELECT t.last FROM price_ticks t WHERE t.symbol = p.symbol ORDER BY t.ts DESC, t.seq DESC LIMIT 1) l ON true;
CREATE VIEW user_pnl AS
SELECT user_id, count(*) AS symbols, sum(trades) AS trades, sum(fees) AS fees,
       sum(cash_flow) AS cash_flow, sum(market_value) AS market_value, sum(pnl) AS pnl
FROM positions GROUP BY user_id;
