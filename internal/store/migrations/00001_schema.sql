-- +goose Up
-- Users: the latest profile per user wins, as the compacted users topic
-- implies. kafka_partition and kafka_offset say which record the row holds,
-- which is how `verify` checks it against the topic.
CREATE TABLE users (
    user_id         bigint      PRIMARY KEY,
    name            text        NOT NULL,
    email           text        NOT NULL,
    country         text        NOT NULL,
    signup_at       timestamptz NOT NULL,
    experience      text        NOT NULL,
    risk_tolerance  text        NOT NULL,
    sectors         text[]      NOT NULL,
    updated_at      timestamptz NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL
);

-- Accounts: opened by user events (type, currency) or by a first trade,
-- whichever comes first. The balance follows the newest event that states
-- it: a trade's balance_after or a profile's account balance, compared on
-- event time (balance_at; a trade wins a tie). last_trade_id names the
-- trade the balance came from (NULL when it came from a profile), so a
-- replayed or late event never moves a balance backwards.
CREATE TABLE accounts (
    account_id    bigint        PRIMARY KEY,
    user_id       bigint        NOT NULL,
    type          text,
    currency      text,
    balance       numeric(20,4) NOT NULL,
    balance_at    timestamptz   NOT NULL,
    last_trade_id bigint,
    updated_at    timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX accounts_user_id_idx ON accounts (user_id);

-- Price ticks, partitioned by day on event time. run_id is the generator
-- run (record header) that produced the row: ids and sequence numbers are
-- unique within a run. Every row keeps the Kafka
-- coordinates it came from, which is how `verify` finds gaps and duplicates.
CREATE TABLE price_ticks (
    symbol          text          NOT NULL,
    sector          text          NOT NULL,
    seq             bigint        NOT NULL,
    ts              timestamptz   NOT NULL,
    bid             numeric(20,4) NOT NULL,
    ask             numeric(20,4) NOT NULL,
    last            numeric(20,4) NOT NULL,
    volume          bigint        NOT NULL,
    run_id          text          NOT NULL DEFAULT '',
    kafka_partition integer       NOT NULL,
    kafka_offset    bigint        NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX price_ticks_symbol_ts_idx ON price_ticks (symbol, ts);

-- Trades, partitioned by day on event time. order_type and limit_price come
-- with schema trade/2 and are NULL for trade/1; schema_version says which.
CREATE TABLE trades (
    trade_id        bigint        NOT NULL,
    user_id         bigint        NOT NULL,
    account_id      bigint        NOT NULL,
    symbol          text          NOT NULL,
    side            text          NOT NULL,
    quantity        bigint        NOT NULL,
    price           numeric(20,4) NOT NULL,
    fee             numeric(20,4) NOT NULL,
    ts              timestamptz   NOT NULL,
    balance_after   numeric(20,4) NOT NULL,
    order_type      text,
    limit_price     numeric(20,4),
    schema_version  smallint      NOT NULL,
    run_id          text          NOT NULL DEFAULT '',
    kafka_partition integer       NOT NULL,
    kafka_offset    bigint        NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX trades_user_id_ts_idx ON trades (user_id, ts);
CREATE INDEX trades_symbol_ts_idx ON trades (symbol, ts);

-- Records that can never be loaded, with why and where they came from. The
-- same record also goes to the deadletter topic.
CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    schema          text        NOT NULL,
    reason          text        NOT NULL,
    error           text        NOT NULL,
    key             bytea,
    value           bytea,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason);

-- The sink's position: the next offset to load per group and partition,
-- committed in the same transaction as the rows it covers.
CREATE TABLE sink_offsets (
    group_id        text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    next_offset     bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, kafka_partition)
);

-- +goose Down
DROP TABLE sink_offsets;
DROP TABLE dead_letters;
DROP TABLE trades;
DROP TABLE price_ticks;
DROP TABLE accounts;
DROP TABLE users;
