-- +goose Up
-- user_pnl in integer arithmetic: every user's P&L at once reads all the
-- positions, and numeric arithmetic per position was most of its time.
-- Each position keeps its cash flow (sells - buys - fees) in units of
-- 0.0001 as a stored generated column (NULL beyond 9e14, summed in
-- numeric then), each symbol its close likewise; a user's cash flow and
-- market value are then bigint sums (exact: PostgreSQL accumulates them
-- in 128 bits) scaled back once per user. A product quantity * close
-- that could leave bigint's range (a quantity of 900,000,000 or more, or
-- a price of 1,000,000 or more) is summed in numeric instead. Market
-- value, P&L and unrealised P&L are NULL while any of the user's symbols
-- has no price yet (a partial sum would mislead).
ALTER TABLE rollup_positions
    ADD COLUMN cash_e4 bigint GENERATED ALWAYS AS (
        CASE WHEN abs(sell_notional - buy_notional - fees) < 900000000000000
             THEN ((sell_notional - buy_notional - fees) * 10000)::bigint END) STORED;
ALTER TABLE rollup_symbols
    ADD COLUMN close_e4 bigint GENERATED ALWAYS AS ((close * 10000)::bigint) STORED; -- a price is an int64 of 0.0001 units (event.Decimal): it fits

CREATE OR REPLACE VIEW user_pnl AS
SELECT u.user_id, u.symbols, u.trades, u.fees, u.cash AS cash_flow,
       CASE WHEN u.priced = u.symbols THEN u.mv END AS market_value,
       CASE WHEN u.priced = u.symbols THEN u.cash + u.mv END AS pnl,
       u.realised,
       CASE WHEN u.priced = u.symbols THEN u.mv - u.cost END AS unrealised
FROM (
    SELECT p.user_id, count(*) AS symbols, sum(p.trades) AS trades, sum(p.fees) AS fees,
           coalesce(sum(p.cash_e4), 0) * 0.0001
             + coalesce(sum(p.sell_notional - p.buy_notional - p.fees) FILTER (WHERE p.cash_e4 IS NULL), 0) AS cash,
           count(l.close_e4) AS priced,
           coalesce(sum(p.quantity * l.close_e4) FILTER (WHERE abs(p.quantity) < 900000000 AND l.close_e4 < 10000000000), 0) * 0.0001
             + coalesce(sum(p.quantity * l.close) FILTER (WHERE NOT (abs(p.quantity) < 900000000 AND l.close_e4 < 10000000000)), 0) AS mv,
           sum(p.realised) AS realised, sum(p.cost) AS cost
    FROM rollup_positions p
    LEFT JOIN rollup_symbols l ON l.symbol = p.symbol
    GROUP BY p.user_id
) u;

-- +goose Down
CREATE OR REPLACE VIEW user_pnl AS
SELECT user_id, count(*) AS symbols, sum(trades) AS trades, sum(fees) AS fees,
       sum(cash_flow) AS cash_flow, sum(market_value) AS market_value, sum(pnl) AS pnl,
       sum(realised) AS realised, sum(unrealised) AS unrealised
FROM positions GROUP BY user_id;
ALTER TABLE rollup_symbols DROP COLUMN close_e4;
ALTER TABLE rollup_positions DROP COLUMN cash_e4;
