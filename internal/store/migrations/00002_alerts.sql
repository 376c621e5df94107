-- +goose Up
-- Alert rules, managed with `tradestream alerts add|list|rm` and the
-- dashboard's authenticated API. threshold means, by kind:
--   price_above, price_below  the price level ("last") that is crossed
--   pct_move                  the move in percent within window (2.5000 = 2.5 %)
--   volume_spike              the multiple of the rolling baseline volume (3.0000 = 3x)
--   big_trade                 the notional (price * quantity) of one trade
-- window_size is the pct_move look-back and the volume_spike baseline span;
-- cooldown is the least event time between two alerts of one rule and symbol.
-- A NULL symbol matches every symbol (not for price levels).
CREATE TABLE alert_rules (
    rule_id     bigserial     PRIMARY KEY,
    kind        text          NOT NULL CHECK (kind IN ('price_above', 'price_below', 'pct_move', 'volume_spike', 'big_trade')),
    symbol      text          CHECK (symbol ~ '^[A-Z][A-Z0-9.]{0,9}$'),
    threshold   numeric(20,4) NOT NULL CHECK (threshold > 0),
    window_size interval      NOT NULL DEFAULT '0',
    cooldown    interval      NOT NULL DEFAULT '0',
    enabled     boolean       NOT NULL DEFAULT true,
    note        text          NOT NULL DEFAULT '',
    created_at  timestamptz   NOT NULL DEFAULT now(),
    CHECK (symbol IS NOT NULL OR kind NOT IN ('price_above', 'price_below')),
    CHECK (kind NOT IN ('pct_move', 'volume_spike') OR window_size > '0'),
    CHECK (window_size >= '0' AND cooldown >= '0')
);

-- Fired alerts (alert/1), stored by the sink from the alerts topic. alert_id
-- is deterministic (rule and source record), so a record the engine produced
-- twice is stored once: load with INSERT ... ON CONFLICT (alert_id) DO NOTHING.
-- No foreign key to alert_rules: alerts outlive deleted rules.
CREATE TABLE alerts (
    alert_id        text          PRIMARY KEY,
    rule_id         bigint        NOT NULL,
    kind            text          NOT NULL,
    symbol          text          NOT NULL,
    message         text          NOT NULL,
    value           numeric(20,4) NOT NULL,
    ts              timestamptz   NOT NULL,
    kafka_partition integer       NOT NULL,
    kafka_offset    bigint        NOT NULL,
    received_at     timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX alerts_ts_idx ON alerts (ts);
CREATE INDEX alerts_symbol_ts_idx ON alerts (symbol, ts);
CREATE INDEX alerts_rule_id_idx ON alerts (rule_id);

-- The alerts engine's position: the next offset to evaluate per group and
-- source partition, committed in the same transaction as its rule state.
CREATE TABLE alert_offsets (
    group_id        text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    next_offset     bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, kafka_partition)
);

-- Per rule, source partition and symbol: what the engine remembers between
-- records (last side of a level, last fire time, the pct_move window, the
-- volume baseline), as of alert_offsets.next_offset.
CREATE TABLE alert_state (
    group_id        text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    rule_id         bigint      NOT NULL REFERENCES alert_rules ON DELETE CASCADE,
    symbol          text        NOT NULL,
    state           jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, kafka_partition, rule_id, symbol)
);

-- Alerts decided but not yet known to be in the alerts topic. Written in the
-- transaction that advances alert_offsets, deleted once the Kafka
-- transaction holding them has committed; a restart produces what is left
-- here (after checking the topic), so an alert is neither lost nor repeated.
CREATE TABLE alert_outbox (
    group_id        text        NOT NULL,
    alert_id        text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    alert           jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, alert_id)
);

-- +goose Down
DROP TABLE alert_outbox;
DROP TABLE alert_state;
DROP TABLE alert_offsets;
DROP TABLE alerts;
DROP TABLE alert_rules;
