-- +goose Up
-- Monthly partitions of the minute and hour rollups (rollup_prices_1m,
-- rollup_trades_1m, rollup_prices_1h, rollup_trades_1h), named
-- TABLE_pYYYYMM and covering one UTC month, so that their retention
-- (--database-rollup-retention-days) drops whole months: `migrate`
-- (store.UpkeepRollups) drops the months that end before the cutoff and
-- deletes the rows before it in the month it cuts. The months are made by
-- create_rollup_partitions, which create_day_partition calls for the day's
-- month before it makes the day's partitions of price_ticks and trades:
-- whatever creates a day (the sink for a batch, upkeep ahead, `migrate`)
-- creates the rollups' month with it, and a rollup row is always for a
-- day whose partition exists.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- create_rollup_partitions creates the month partitions of the four
-- rollup tables holding p_day that do not exist yet and returns how many
-- it created. It runs as its owner; the bounds are checked as
-- create_day_partition checks them, and concurrent callers are serialised
-- by the same advisory transaction lock.
-- +goose StatementBegin
CREATE FUNCTION create_rollup_partitions(p_day date)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema text := current_schema();
    v_month  date;
    v_table  text;
    v_name   text;
    v_made   integer := 0;
    v_locked boolean := false;
BEGIN
    IF p_day IS NULL OR p_day < date '1970-01-01' OR p_day > current_date + 3653 THEN
        RAISE EXCEPTION 'create_rollup_partitions: day %, want 1970-01-01 to ten years ahead', quote_nullable(p_day)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_month := date_trunc('month', p_day)::date;
    FOREACH v_table IN ARRAY ARRAY['rollup_prices_1m', 'rollup_trades_1m', 'rollup_prices_1h', 'rollup_trades_1h'] LOOP
        v_name := v_table || '_p' || to_char(v_month, 'YYYYMM');
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = v_name AND relnamespace = v_schema::regnamespace) THEN
            CONTINUE;
        END IF;
        IF NOT v_locked THEN
            PERFORM pg_catalog.pg_advisory_xact_lock(128034609063283);
            v_locked := true;
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = v_name AND relnamespace = v_schema::regnamespace) THEN
                CONTINUE;
            END IF;
        END IF;
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
            v_schema, v_name, v_schema, v_table,
            to_char(v_month, 'YYYY-MM-DD') || ' 00:00:00+00', to_char((v_month + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
        v_made := v_made + 1;
    END LOOP;
    RETURN v_made;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION create_rollup_partitions(date) FROM PUBLIC;

-- create_day_partition (migration 4) makes the rollups' month first.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION create_day_partition(p_table text, p_day date)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema text := current_schema();
    v_name   text;
BEGIN
    IF p_table IS NULL OR p_table NOT IN ('price_ticks', 'trades') THEN
        RAISE EXCEPTION 'create_day_partition: table %, want price_ticks or trades', quote_nullable(p_table)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_day IS NULL OR p_day < date '1970-01-01' OR p_day > current_date + 3653 THEN
        RAISE EXCEPTION 'create_day_partition: day %, want 1970-01-01 to ten years ahead', quote_nullable(p_day)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM create_rollup_partitions(p_day);
    v_name := p_table || '_p' || to_char(p_day, 'YYYYMMDD');
    -- Each statement of a volatile function reads with a new snapshot, so
    -- the second look sees a partition committed while this one waited.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = v_name AND relnamespace = v_schema::regnamespace) THEN
        RETURN false;
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(128034609063283);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = v_name AND relnamespace = v_schema::regnamespace) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
        v_schema, v_name, v_schema, p_table,
        to_char(p_day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(p_day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
    RETURN true;
END
$$;
-- +goose StatementEnd

-- The tables, partitioned, with the rows they held: the views on them are
-- made again around the swap.
DROP VIEW candles_1d;
DROP VIEW candles_1h;
DROP VIEW candles_5m;
DROP VIEW candles_1m;
DROP VIEW vwap_daily;

ALTER TABLE rollup_prices_1m RENAME TO rollup_prices_1m_unpartitioned;
ALTER INDEX rollup_prices_1m_pkey RENAME TO rollup_prices_1m_unpartitioned_pkey;
ALTER INDEX rollup_prices_1m_minute_idx RENAME TO rollup_prices_1m_unpartitioned_minute_idx;
CREATE TABLE rollup_prices_1m (LIKE rollup_prices_1m_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (minute);
ALTER TABLE rollup_prices_1m ADD PRIMARY KEY (symbol, minute);
CREATE INDEX rollup_prices_1m_minute_idx ON rollup_prices_1m (minute);
ALTER TABLE rollup_trades_1m RENAME TO rollup_trades_1m_unpartitioned;
ALTER INDEX rollup_trades_1m_pkey RENAME TO rollup_trades_1m_unpartitioned_pkey;
ALTER INDEX rollup_trades_1m_minute_idx RENAME TO rollup_trades_1m_unpartitioned_minute_idx;
CREATE TABLE rollup_trades_1m (LIKE rollup_trades_1m_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (minute);
ALTER TABLE rollup_trades_1m ADD PRIMARY KEY (symbol, minute);
CREATE INDEX rollup_trades_1m_minute_idx ON rollup_trades_1m (minute);
ALTER TABLE rollup_prices_1h RENAME TO rollup_prices_1h_unpartitioned;
ALTER INDEX rollup_prices_1h_pkey RENAME TO rollup_prices_1h_unpartitioned_pkey;
ALTER INDEX rollup_prices_1h_hour_idx RENAME TO rollup_prices_1h_unpartitioned_hour_idx;
CREATE TABLE rollup_prices_1h (LIKE rollup_prices_1h_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (hour);
ALTER TABLE rollup_prices_1h ADD PRIMARY KEY (symbol, hour);
CREATE INDEX rollup_prices_1h_hour_idx ON rollup_prices_1h (hour);
ALTER TABLE rollup_trades_1h RENAME TO rollup_trades_1h_unpartitioned;
ALTER INDEX rollup_trades_1h_pkey RENAME TO rollup_trades_1h_unpartitioned_pkey;
ALTER INDEX rollup_trades_1h_hour_idx RENAME TO rollup_trades_1h_unpartitioned_hour_idx;
CREATE TABLE rollup_trades_1h (LIKE rollup_trades_1h_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (hour);
ALTER TABLE rollup_trades_1h ADD PRIMARY KEY (symbol, hour);
CREATE INDEX rollup_trades_1h_hour_idx ON rollup_trades_1h (hour);

-- The months of every stored rollup row and of every day partition of
-- price_ticks and trades (the days a loader may already write), and this
-- month.
SELECT create_rollup_partitions(m::date)
FROM (
    SELECT least((SELECT min(minute) FROM rollup_prices_1m_unpartitioned), (SELECT min(minute) FROM rollup_trades_1m_unpartitioned), (SELECT min(hour) FROM rollup_prices_1h_unpartitioned), (SELECT min(hour) FROM rollup_trades_1h_unpartitioned), (SELECT min(to_date(substring(c.relname FROM '_p([0-9]{8})$'), 'YYYYMMDD'))::timestamp AT TIME ZONE 'UTC'
                          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                          WHERE i.inhparent IN ('price_ticks'::regclass, 'trades'::regclass)), now()) AS lo,
           greatest((SELECT max(minute) FROM rollup_prices_1m_unpartitioned), (SELECT max(minute) FROM rollup_trades_1m_unpartitioned), (SELECT max(hour) FROM rollup_prices_1h_unpartitioned), (SELECT max(hour) FROM rollup_trades_1h_unpartitioned), (SELECT max(to_date(substring(c.relname FROM '_p([0-9]{8})$'), 'YYYYMMDD'))::timestamp AT TIME ZONE 'UTC'
                             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                             WHERE i.inhparent IN ('price_ticks'::regclass, 'trades'::regclass)), now()) AS hi
) b, generate_series(date_trunc('month', b.lo AT TIME ZONE 'UTC'), b.hi AT TIME ZONE 'UTC', interval '1 month') m;

INSERT INTO rollup_prices_1m SELECT * FROM rollup_prices_1m_unpartitioned;
DROP TABLE rollup_prices_1m_unpartitioned;
INSERT INTO rollup_trades_1m SELECT * FROM rollup_trades_1m_unpartitioned;
DROP TABLE rollup_trades_1m_unpartitioned;
INSERT INTO rollup_prices_1h SELECT * FROM rollup_prices_1h_unpartitioned;
DROP TABLE rollup_prices_1h_unpartitioned;
INSERT INTO rollup_trades_1h SELECT * FROM rollup_trades_1h_unpartitioned;
DROP TABLE rollup_trades_1h_unpartitioned;

CREATE VIEW candles_1m AS
SELECT symbol, minute AS bucket, open, high, low, close, volume, ticks FROM rollup_prices_1m;

CREATE VIEW candles_5m AS
SELECT symbol, date_bin('5 minutes', minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

CREATE VIEW candles_1h AS
SELECT symbol, hour AS bucket, open::numeric AS open, high::numeric AS high, low::numeric AS low, close::numeric AS close, volume, ticks
FROM rollup_prices_1h;

CREATE VIEW candles_1d AS
SELECT symbol, date_trunc('day', hour, 'UTC') AS bucket,
       (min(ARRAY[extract(epoch FROM hour), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM hour), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1h GROUP BY symbol, 2;

CREATE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', hour, 'UTC') AS day,
       round(sum(notional) / nullif(sum(quantity), 0), 4) AS vwap,
       sum(quantity) AS volume, sum(trades)::bigint AS trades
FROM rollup_trades_1h GROUP BY symbol, 2;

-- +goose Down
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION create_day_partition(p_table text, p_day date)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema text := current_schema();
    v_name   text;
BEGIN
    IF p_table IS NULL OR p_table NOT IN ('price_ticks', 'trades') THEN
        RAISE EXCEPTION 'create_day_partition: table %, want price_ticks or trades', quote_nullable(p_table)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_day IS NULL OR p_day < date '1970-01-01' OR p_day > current_date + 3653 THEN
        RAISE EXCEPTION 'create_day_partition: day %, want 1970-01-01 to ten years ahead', quote_nullable(p_day)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_name := p_table || '_p' || to_char(p_day, 'YYYYMMDD');
    -- Each statement of a volatile function reads with a new snapshot, so
    -- the second look sees a partition committed while this one waited.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = v_name AND relnamespace = v_schema::regnamespace) THEN
        RETURN false;
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(128034609063283);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = v_name AND relnamespace = v_schema::regnamespace) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
        v_schema, v_name, v_schema, p_table,
        to_char(p_day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(p_day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
    RETURN true;
END
$$;
-- +goose StatementEnd
DROP FUNCTION create_rollup_partitions(date);

DROP VIEW candles_1d;
DROP VIEW candles_1h;
DROP VIEW candles_5m;
DROP VIEW candles_1m;
DROP VIEW vwap_daily;

ALTER TABLE rollup_prices_1m RENAME TO rollup_prices_1m_partitioned;
ALTER INDEX rollup_prices_1m_pkey RENAME TO rollup_prices_1m_partitioned_pkey;
ALTER INDEX rollup_prices_1m_minute_idx RENAME TO rollup_prices_1m_partitioned_minute_idx;
CREATE TABLE rollup_prices_1m (LIKE rollup_prices_1m_partitioned INCLUDING DEFAULTS);
INSERT INTO rollup_prices_1m SELECT * FROM rollup_prices_1m_partitioned;
DROP TABLE rollup_prices_1m_partitioned;
ALTER TABLE rollup_prices_1m ADD PRIMARY KEY (symbol, minute);
CREATE INDEX rollup_prices_1m_minute_idx ON rollup_prices_1m (minute);
ALTER TABLE rollup_trades_1m RENAME TO rollup_trades_1m_partitioned;
ALTER INDEX rollup_trades_1m_pkey RENAME TO rollup_trades_1m_partitioned_pkey;
ALTER INDEX rollup_trades_1m_minute_idx RENAME TO rollup_trades_1m_partitioned_minute_idx;
CREATE TABLE rollup_trades_1m (LIKE rollup_trades_1m_partitioned INCLUDING DEFAULTS);
INSERT INTO rollup_trades_1m SELECT * FROM rollup_trades_1m_partitioned;
DROP TABLE rollup_trades_1m_partitioned;
ALTER TABLE rollup_trades_1m ADD PRIMARY KEY (symbol, minute);
CREATE INDEX rollup_trades_1m_minute_idx ON rollup_trades_1m (minute);
ALTER TABLE rollup_prices_1h RENAME TO rollup_prices_1h_partitioned;
ALTER INDEX rollup_prices_1h_pkey RENAME TO rollup_prices_1h_partitioned_pkey;
ALTER INDEX rollup_prices_1h_hour_idx RENAME TO rollup_prices_1h_partitioned_hour_idx;
CREATE TABLE rollup_prices_1h (LIKE rollup_prices_1h_partitioned INCLUDING DEFAULTS);
INSERT INTO rollup_prices_1h SELECT * FROM rollup_prices_1h_partitioned;
DROP TABLE rollup_prices_1h_partitioned;
ALTER TABLE rollup_prices_1h ADD PRIMARY KEY (symbol, hour);
CREATE INDEX rollup_prices_1h_hour_idx ON rollup_prices_1h (hour);
ALTER TABLE rollup_trades_1h RENAME TO rollup_trades_1h_partitioned;
ALTER INDEX rollup_trades_1h_pkey RENAME TO rollup_trades_1h_partitioned_pkey;
ALTER INDEX rollup_trades_1h_hour_idx RENAME TO rollup_trades_1h_partitioned_hour_idx;
CREATE TABLE rollup_trades_1h (LIKE rollup_trades_1h_partitioned INCLUDING DEFAULTS);
INSERT INTO rollup_trades_1h SELECT * FROM rollup_trades_1h_partitioned;
DROP TABLE rollup_trades_1h_partitioned;
ALTER TABLE rollup_trades_1h ADD PRIMARY KEY (symbol, hour);
CREATE INDEX rollup_trades_1h_hour_idx ON rollup_trades_1h (hour);

CREATE VIEW candles_1m AS
SELECT symbol, minute AS bucket, open, high, low, close, volume, ticks FROM rollup_prices_1m;

CREATE VIEW candles_5m AS
SELECT symbol, date_bin('5 minutes', minute, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       (min(ARRAY[extract(epoch FROM minute), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM minute), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1m GROUP BY symbol, 2;

CREATE VIEW candles_1h AS
SELECT symbol, hour AS bucket, open::numeric AS open, high::numeric AS high, low::numeric AS low, close::numeric AS close, volume, ticks
FROM rollup_prices_1h;

CREATE VIEW candles_1d AS
SELECT symbol, date_trunc('day', hour, 'UTC') AS bucket,
       (min(ARRAY[extract(epoch FROM hour), open]))[2] AS open, max(high) AS high, min(low) AS low,
       (max(ARRAY[extract(epoch FROM hour), close]))[2] AS close, sum(volume) AS volume, sum(ticks)::bigint AS ticks
FROM rollup_prices_1h GROUP BY symbol, 2;

CREATE VIEW vwap_daily AS
SELECT symbol, date_trunc('day', hour, 'UTC') AS day,
       round(sum(notional) / nullif(sum(quantity), 0), 4) AS vwap,
       sum(quantity) AS volume, sum(trades)::bigint AS trades
FROM rollup_trades_1h GROUP BY symbol, 2;
