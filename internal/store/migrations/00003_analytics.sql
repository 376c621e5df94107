-- +goose Up
-- Analytics over the stored history. Buckets are aligned on
-- 2000-01-01 00:00 UTC (date_bin), so 1-minute candles start on the minute
-- and 1-hour candles on the hour, in UTC.

-- OHLCV candles of one symbol from its price ticks (last price and volume):
-- open is the first tick's last price in the bucket, close the last one's
-- (ticks ordered by ts, then seq), volume the sum of tick volumes.
-- +goose StatementBegin
CREATE FUNCTION ohlcv(p_symbol text, p_width interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (bucket timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, ticks bigint)
LANGUAGE sql STABLE AS $$
    SELECT date_bin(p_width, ts, timestamptz '2000-01-01 00:00:00+00') AS bucket,
           (array_agg(last ORDER BY ts, seq))[1],
           max(last),
           min(last),
           (array_agg(last ORDER BY ts DESC, seq DESC))[1],
           sum(volume),
           count(*)
    FROM price_ticks
    WHERE symbol = p_symbol AND ts >= p_from AND ts < p_to
    GROUP BY 1
    ORDER BY 1
$$;
-- +goose StatementEnd

-- The same candles for every symbol, as views at the three usual widths.
-- Filter them on symbol and bucket; for one symbol over a time range the
-- ohlcv function reads only the partitions and index entries it needs.
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

-- Volume-weighted average trade price of a symbol over [p_from, p_to):
-- sum(price * quantity) / sum(quantity), exact, rounded to 4 decimals;
-- NULL without trades.
-- +goose StatementBegin
CREATE FUNCTION vwap(p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT round(sum(price * quantity) / nullif(sum(quantity), 0), 4)
    FROM trades
    WHERE symbol = p_symbol AND ts >= p_from AND ts < p_to
$$;
-- +goose StatementEnd

-- Daily VWAP, volume and trade count per symbol (UTC days).
CREATE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', ts, 'UTC') AS day,
       round(sum(price * quantity) / nullif(sum(quantity), 0), 4) AS vwap,
       sum(quantity) AS volume, count(*) AS trades
FROM trades GROUP BY symbol, day;

-- Positions per user, account and symbol: shares held (negative: short),
-- the cash the trades moved (sells minus buys, fees included), the last
-- price (the symbol's latest tick), the position's market value at it, and
-- P&L = cash flow + market value: realised and unrealised together, exact
-- for any sequence of buys and sells.
CREATE VIEW positions AS
SELECT p.user_id, p.account_id, p.symbol, p.quantity, p.bought, p.sold, p.fees, p.cash_flow, p.trades,
       l.last AS last_price,
       p.quantity * l.last AS market_value,
       p.cash_flow + p.quantity * l.last AS pnl
FROM (
    SELECT user_id, account_id, symbol,
           sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity,
           sum(quantity) FILTER (WHERE side = 'buy') AS bought,
           sum(quantity) FILTER (WHERE side = 'sell') AS sold,
           sum(fee) AS fees,
           sum(CASE side WHEN 'buy' THEN -(price * quantity) ELSE price * quantity END) - sum(fee) AS cash_flow,
           count(*) AS trades
    FROM trades
    GROUP BY user_id, account_id, symbol
) p
LEFT JOIN LATERAL (
    SELECT t.last FROM price_ticks t WHERE t.symbol = p.symbol ORDER BY t.ts DESC, t.seq DESC LIMIT 1
) l ON true;

-- P&L per user: the sum over the user's positions (NULL market value and
-- P&L while any traded symbol has no tick).
CREATE VIEW user_pnl AS
SELECT user_id, count(*) AS symbols, sum(trades) AS trades, sum(fees) AS fees,
       sum(cash_flow) AS cash_flow, sum(market_value) AS market_value, sum(pnl) AS pnl
FROM positions GROUP BY user_id;

-- Top movers over [p_from, p_to): per symbol the first and last tick's
-- last price in the window and the change between them, largest absolute
-- percentage change first.
-- +goose StatementBegin
CREATE FUNCTION top_movers(p_from timestamptz, p_to timestamptz, p_limit integer DEFAULT 10)
RETURNS TABLE (symbol text, open numeric, close numeric, change numeric, change_pct numeric)
LANGUAGE sql STABLE AS $$
    SELECT symbol, open, close, close - open, round(100 * (close - open) / open, 4)
    FROM (
        SELECT symbol,
               (array_agg(last ORDER BY ts, seq))[1] AS open,
               (array_agg(last ORDER BY ts DESC, seq DESC))[1] AS close
        FROM price_ticks
        WHERE ts >= p_from AND ts < p_to
        GROUP BY symbol
    ) w
    WHERE open > 0
    ORDER BY abs((close - open) / open) DESC, symbol
    LIMIT p_limit
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION top_movers(timestamptz, timestamptz, integer);
DROP VIEW user_pnl;
DROP VIEW positions;
DROP VIEW vwap_daily;
DROP FUNCTION vwap(text, timestamptz, timestamptz);
DROP VIEW candles_1h;
DROP VIEW candles_5m;
DROP VIEW candles_1m;
DROP FUNCTION ohlcv(text, interval, timestamptz, timestamptz);
