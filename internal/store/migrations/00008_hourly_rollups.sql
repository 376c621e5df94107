-- +goose Up
-- Hourly rollups and each symbol's latest close, maintained by the sink in
-- the same transaction as the 1-minute rollups (rollup.Batch.Write): after
-- a batch's minute upserts, every (symbol, hour) the batch touched is
-- recomputed from the 1-minute rows of that hour, so the hourly rows equal
-- an aggregation of the minute rows by construction, late ticks included.
-- The analytics read the coarsest level that fits a window: whole hours
-- from the 1-hour rollups, whole minutes of the hours the window cuts from
-- the 1-minute rollups, the minutes it cuts from the raw rows.

-- 1-hour OHLCV per symbol: open of the hour's first minute, close of its
-- last, high, low, volume and ticks over its minutes; and what the daily
-- realised volatility needs: the number of minutes, the first minute's
-- close, and the sum of squared log returns between consecutive minute
-- closes inside the hour (NULL when there is none: one minute).
CREATE TABLE rollup_prices_1h (
    symbol      text             NOT NULL,
    hour        timestamptz      NOT NULL,
    open        numeric(20,4)    NOT NULL,
    high        numeric(20,4)    NOT NULL,
    low         numeric(20,4)    NOT NULL,
    close       numeric(20,4)    NOT NULL,
    volume      numeric          NOT NULL,
    ticks       bigint           NOT NULL,
    minutes     integer          NOT NULL,
    first_close numeric(20,4)    NOT NULL,
    sq_returns  double precision,
    PRIMARY KEY (symbol, hour)
);
CREATE INDEX rollup_prices_1h_hour_idx ON rollup_prices_1h (hour);

-- 1-hour VWAP parts per symbol.
CREATE TABLE rollup_trades_1h (
    symbol   text        NOT NULL,
    hour     timestamptz NOT NULL,
    notional numeric     NOT NULL,
    quantity numeric     NOT NULL,
    trades   bigint      NOT NULL,
    PRIMARY KEY (symbol, hour)
);
CREATE INDEX rollup_trades_1h_hour_idx ON rollup_trades_1h (hour);

-- Per symbol its latest tick: sector, close, the minute and the (ts, seq,
-- run_id) stamp that order it (the close of its latest 1-minute rollup).
-- A batch replaces it only by a later stamp. No retention: one row per
-- symbol.
CREATE TABLE rollup_symbols (
    symbol    text          PRIMARY KEY,
    sector    text          NOT NULL,
    close     numeric(20,4) NOT NULL,
    minute    timestamptz   NOT NULL,
    close_ts  timestamptz   NOT NULL,
    close_seq bigint        NOT NULL,
    close_run text          NOT NULL
);

-- hour_floor and hour_ceil align a time on the hours of the 2000-01-01
-- UTC grid (UTC hours, whatever the session's time zone).
-- +goose StatementBegin
CREATE FUNCTION hour_floor(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin('1 hour', t, timestamptz '2000-01-01 00:00:00+00')
$$;
CREATE FUNCTION hour_ceil(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN date_bin('1 hour', t, timestamptz '2000-01-01 00:00:00+00') = t THEN t
                ELSE date_bin('1 hour', t, timestamptz '2000-01-01 00:00:00+00') + interval '1 hour' END
$$;
-- +goose StatementEnd

-- The hours of what is already rolled up (the same statements as
-- rollup.Rebuild's).
INSERT INTO rollup_prices_1h (symbol, hour, open, high, low, close, volume, ticks, minutes, first_close, sq_returns)
SELECT m.symbol, m.hour, (array_agg(m.open ORDER BY m.minute))[1], max(m.high), min(m.low),
       (array_agg(m.close ORDER BY m.minute DESC))[1], sum(m.volume), sum(m.ticks)::bigint, count(*)::integer,
       (array_agg(m.close ORDER BY m.minute))[1], sum(m.ret ^ 2 ORDER BY m.minute)
FROM (
    SELECT r.symbol, hour_floor(r.minute) AS hour, r.minute, r.open, r.high, r.low, r.close, r.volume, r.ticks,
           CASE WHEN lag(r.close) OVER w > 0 THEN ln(r.close::double precision / (lag(r.close) OVER w)::double precision) END AS ret
    FROM rollup_prices_1m r
    WINDOW w AS (PARTITION BY r.symbol, hour_floor(r.minute) ORDER BY r.minute)
) m
GROUP BY m.symbol, m.hour;

INSERT INTO rollup_trades_1h (symbol, hour, notional, quantity, trades)
SELECT r.symbol, hour_floor(r.minute), sum(r.notional), sum(r.quantity), sum(r.trades)::bigint
FROM rollup_trades_1m r GROUP BY 1, 2;

INSERT INTO rollup_symbols (symbol, sector, close, minute, close_ts, close_seq, close_run)
SELECT DISTINCT ON (r.symbol) r.symbol, r.sector, r.close, r.minute, r.close_ts, r.close_seq, r.close_run
FROM rollup_prices_1m r ORDER BY r.symbol, r.minute DESC;

-- price_parts: one symbol's OHLCV over [p_from, p_to) in parts that each
-- lie within one UTC hour, keyed by their start: the whole hours from
-- rollup_prices_1h, and the hours the window cuts (its first and last,
-- when not on an hour) by price_minutes (whole minutes from
-- rollup_prices_1m, cut minutes from the raw ticks).
-- +goose StatementBegin
CREATE FUNCTION price_parts(p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (start timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, ticks bigint)
LANGUAGE sql STABLE AS $$
    SELECT h.hour, h.open, h.high, h.low, h.close, h.volume, h.ticks
    FROM rollup_prices_1h h
    WHERE h.symbol = p_symbol AND h.hour >= hour_ceil(p_from) AND h.hour < hour_floor(p_to)
    UNION ALL
    SELECT m.minute, m.open, m.high, m.low, m.close, m.volume, m.ticks
    FROM price_minutes(p_symbol, p_from, least(hour_ceil(p_from), p_to)) m
    UNION ALL
    SELECT m.minute, m.open, m.high, m.low, m.close, m.volume, m.ticks
    FROM price_minutes(p_symbol, greatest(hour_floor(p_to), hour_ceil(p_from)), p_to) m
$$;
-- +goose StatementEnd

-- ohlcv: a width of whole hours (1 hour, 1 day, ...) is answered from
-- price_parts, any other width of whole minutes from price_minutes, any
-- other (1 second) from the raw ticks.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ohlcv(p_symbol text, p_width interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (bucket timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, ticks bigint)
LANGUAGE sql STABLE AS $$
    SELECT date_bin(p_width, m.start, timestamptz '2000-01-01 00:00:00+00') AS bucket,
           (min(ARRAY[extract(epoch FROM m.start), m.open]))[2], max(m.high), min(m.low),
           (max(ARRAY[extract(epoch FROM m.start), m.close]))[2], sum(m.volume), sum(m.ticks)::bigint
    FROM price_parts(p_symbol, p_from, p_to) m
    WHERE p_width >= interval '1 hour' AND extract(epoch FROM p_width) % 3600 = 0
    GROUP BY 1
    UNION ALL
    SELECT date_bin(p_width, m.minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
           (min(ARRAY[extract(epoch FROM m.minute), m.open]))[2], max(m.high), min(m.low),
           (max(ARRAY[extract(epoch FROM m.minute), m.close]))[2], sum(m.volume), sum(m.ticks)::bigint
    FROM price_minutes(p_symbol, p_from, p_to) m
    WHERE p_width >= interval '1 minute' AND extract(epoch FROM p_width) % 60 = 0
      AND NOT (p_width >= interval '1 hour' AND extract(epoch FROM p_width) % 3600 = 0)
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

-- The hourly and daily candle views read the hourly rollups.
CREATE OR REPLACE VIEW candles_1h AS
SELECT symbol, hour AS bucket, open::numeric AS open, high::numeric AS high, low::numeric AS low, close::numeric AS close, volume, ticks
FROM rollup_prices_1h;

CREATE OR REPLACE VIEW candles_1d AS
SELECT symbol, date_trunc('day', hour, 'UTC') AS bucket,
       (min(ARRAY[extract(epoch FROM hour), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM hour), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1h GROUP BY symbol, 2;

CREATE OR REPLACE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', hour, 'UTC') AS day,
       round(sum(notional) / nullif(sum(quantity), 0), 4) AS vwap,
       sum(quantity) AS volume, sum(trades)::bigint AS trades
FROM rollup_trades_1h GROUP BY symbol, 2;

-- vwap: whole hours from rollup_trades_1h, whole minutes of the cut hours
-- from rollup_trades_1m, cut minutes from raw trades. PL/pgSQL planned
-- with its arguments (force_custom_plan): the raw edges are pruned to
-- their day's partition of trades at plan time, not planned over every
-- partition at each call as an SQL function's body is.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION vwap(p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan SET jit = off AS $$
BEGIN
    RETURN (
        SELECT round(sum(v.n) / nullif(sum(v.q), 0), 4)
        FROM (
            SELECT h.notional AS n, h.quantity AS q FROM rollup_trades_1h h
            WHERE h.symbol = p_symbol AND h.hour >= hour_ceil(p_from) AND h.hour < hour_floor(p_to)
            UNION ALL
            SELECT r.notional, r.quantity FROM rollup_trades_1m r
            WHERE r.symbol = p_symbol AND r.minute >= minute_ceil(p_from) AND r.minute < least(hour_ceil(p_from), minute_floor(p_to))
            UNION ALL
            SELECT r.notional, r.quantity FROM rollup_trades_1m r
            WHERE r.symbol = p_symbol AND r.minute >= greatest(hour_floor(p_to), hour_ceil(p_from)) AND r.minute < minute_floor(p_to)
            UNION ALL
            SELECT t.price * t.quantity, t.quantity FROM trades t
            WHERE t.symbol = p_symbol AND t.ts >= p_from AND t.ts < least(minute_ceil(p_from), p_to)
            UNION ALL
            SELECT t.price * t.quantity, t.quantity FROM trades t
            WHERE t.symbol = p_symbol AND t.ts >= greatest(minute_floor(p_to), minute_ceil(p_from)) AND t.ts < p_to
        ) v);
END
$$;
-- +goose StatementEnd

-- symbol_changes: the symbols and their sectors from rollup_symbols; the
-- probes as before.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION symbol_changes(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (symbol text, sector text, open numeric, close numeric, change numeric, change_pct numeric)
LANGUAGE sql STABLE AS $$
    WITH w AS (
        SELECT s.symbol, s.sector,
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
        FROM rollup_symbols s WHERE p_from < p_to
    )
    SELECT symbol, sector, open, close, close - open,
           CASE WHEN open > 0 THEN round(100 * (close - open) / open, 4) END
    FROM w WHERE open IS NOT NULL
$$;
-- +goose StatementEnd

-- daily_summary: the hourly rollups. A day's volatility is the square
-- root of the sum of squared log returns between consecutive 1-minute
-- closes within the day: the hours' own sums plus, between consecutive
-- hours of the day, the return from the earlier hour's close (its last
-- minute's) to the later one's first minute close. PL/pgSQL planned with
-- its arguments (a generic plan of these ranges is far off) and without
-- JIT (compiling costs more than the query).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION daily_summary(p_symbol text, p_from date, p_to date)
RETURNS TABLE (day date, open numeric, high numeric, low numeric, close numeric, vwap numeric,
               volume numeric, ticks bigint, traded numeric, trades bigint, volatility double precision)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan SET jit = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH w AS (
        SELECT (h.hour AT TIME ZONE 'UTC')::date AS day, h.hour, h.open, h.high, h.low, h.close, h.volume, h.ticks,
               h.first_close, h.sq_returns,
               lag(h.close) OVER (ORDER BY h.hour) AS prev_close, lag(h.hour) OVER (ORDER BY h.hour) AS prev_hour
        FROM rollup_prices_1h h
        WHERE h.symbol = p_symbol AND h.hour >= p_from::timestamp AT TIME ZONE 'UTC' AND h.hour < p_to::timestamp AT TIME ZONE 'UTC'
    ), m AS (
        SELECT w.*, CASE WHEN (w.prev_hour AT TIME ZONE 'UTC')::date = w.day AND w.prev_close > 0
                         THEN ln(w.first_close::double precision / w.prev_close::double precision) ^ 2 END AS edge
        FROM w
    ), d AS (
        SELECT m.day, (min(ARRAY[extract(epoch FROM m.hour), m.open]))[2] AS open, max(m.high) AS high, min(m.low) AS low,
               (max(ARRAY[extract(epoch FROM m.hour), m.close]))[2] AS close, sum(m.volume) AS volume, sum(m.ticks)::bigint AS ticks,
               CASE WHEN count(m.sq_returns) + count(m.edge) > 0
                    THEN sqrt(coalesce(sum(m.sq_returns), 0) + coalesce(sum(m.edge), 0)) END AS volatility
        FROM m GROUP BY m.day
    ), t AS (
        SELECT (r.hour AT TIME ZONE 'UTC')::date AS day, sum(r.notional) AS notional, sum(r.quantity) AS quantity, sum(r.trades)::bigint AS trades
        FROM rollup_trades_1h r
        WHERE r.symbol = p_symbol AND r.hour >= p_from::timestamp AT TIME ZONE 'UTC' AND r.hour < p_to::timestamp AT TIME ZONE 'UTC'
        GROUP BY 1
    )
    SELECT d.day, d.open, d.high, d.low, d.close, round(t.notional / nullif(t.quantity, 0), 4),
           d.volume, d.ticks, coalesce(t.quantity, 0), coalesce(t.trades, 0), d.volatility
    FROM d LEFT JOIN t ON t.day = d.day
    ORDER BY d.day;
END
$$;
-- +goose StatementEnd

-- positions: the last price from rollup_symbols, one hash join instead of
-- a probe per position.
CREATE OR REPLACE VIEW positions AS
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
LEFT JOIN rollup_symbols l ON l.symbol = p.symbol;

-- +goose Down
-- Migration 7's definitions again.
CREATE OR REPLACE VIEW positions AS
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

DROP FUNCTION daily_summary(text, date, date);
-- +goose StatementBegin
CREATE FUNCTION daily_summary(p_symbol text, p_from date, p_to date)
RETURNS TABLE (day date, open numeric, high numeric, low numeric, close numeric, vwap numeric,
               volume numeric, ticks bigint, traded numeric, trades bigint, volatility double precision)
LANGUAGE sql STABLE AS $$
    WITH w AS (
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION symbol_changes(p_from timestamptz, p_to timestamptz)
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

CREATE OR REPLACE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', minute, 'UTC') AS day,
       round(sum(notional) / nullif(sum(quantity), 0), 4) AS vwap,
       sum(quantity) AS volume, sum(trades)::bigint AS trades
FROM rollup_trades_1m GROUP BY symbol, 2;

CREATE OR REPLACE VIEW candles_1d AS
SELECT symbol, date_trunc('day', minute, 'UTC') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

CREATE OR REPLACE VIEW candles_1h AS
SELECT symbol, date_bin('1 hour', minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ohlcv(p_symbol text, p_width interval, p_from timestamptz, p_to timestamptz)
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

DROP FUNCTION price_parts(text, timestamptz, timestamptz);
DROP FUNCTION hour_ceil(timestamptz);
DROP FUNCTION hour_floor(timestamptz);
DROP TABLE rollup_symbols;
DROP TABLE rollup_trades_1h;
DROP TABLE rollup_prices_1h;
