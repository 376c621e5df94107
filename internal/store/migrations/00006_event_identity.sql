-- +goose Up
-- A price tick or a trade is one event however many times Kafka holds it (a
-- producer retrying without idempotence, a topic imported twice, the
-- generator's --inject duplicate): its identity is the generator run it came
-- from with its symbol, event time and sequence number (a tick) or trade id
-- (a trade). The sink stores a second copy of an event as a dead letter with
-- reason "duplicate" rather than a second row. The unique indexes replace
-- the (symbol, ts) ones, which are their leading columns, so every query
-- keeps its index and loading maintains no index more than before. Copies
-- that earlier releases stored are deleted first, keeping the earliest by
-- Kafka position (verify then reports the later copies' offsets as holding
-- no row).
DELETE FROM price_ticks a USING price_ticks b
WHERE a.symbol = b.symbol AND a.ts = b.ts AND a.seq = b.seq AND a.run_id = b.run_id
  AND (a.kafka_partition, a.kafka_offset) > (b.kafka_partition, b.kafka_offset);
DELETE FROM trades a USING trades b
WHERE a.symbol = b.symbol AND a.ts = b.ts AND a.trade_id = b.trade_id AND a.run_id = b.run_id
  AND (a.kafka_partition, a.kafka_offset) > (b.kafka_partition, b.kafka_offset);
DROP INDEX price_ticks_symbol_ts_idx;
CREATE UNIQUE INDEX price_ticks_identity_idx ON price_ticks (symbol, ts, seq, run_id);
DROP INDEX trades_symbol_ts_idx;
CREATE UNIQUE INDEX trades_identity_idx ON trades (symbol, ts, trade_id, run_id);

-- +goose Down
DROP INDEX trades_identity_idx;
CREATE INDEX trades_symbol_ts_idx ON trades (symbol, ts);
DROP INDEX price_ticks_identity_idx;
CREATE INDEX price_ticks_symbol_ts_idx ON price_ticks (symbol, ts);
