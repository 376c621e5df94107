-- +goose Up
-- create_day_partition creates one daily partition of price_ticks or
-- trades, so that a role without DDL rights (the loader, see `tradestream
-- db roles`) can still load a day no partition holds yet. It runs as its
-- owner (the role that ran this migration, which owns the tables) and does
-- exactly one thing: p_table must be price_ticks or trades, p_day a date
-- from 1970-01-01 to ten years ahead; the partition is p_table_pYYYYMMDD
-- covering [p_day, p_day + 1) in UTC. It returns whether it created the
-- partition (false: it existed). Concurrent callers are serialised by the
-- advisory transaction lock 0x747261646573 ("trades").
--
-- search_path is fixed to this migration's schema followed by pg_temp, so
-- that no caller's search_path or temporary table can redirect the DDL.
-- EXECUTE is revoked from PUBLIC; `db roles` grants it to the loader.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- +goose StatementBegin
CREATE FUNCTION create_day_partition(p_table text, p_day date)
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
REVOKE ALL ON FUNCTION create_day_partition(text, date) FROM PUBLIC;

-- +goose Down
DROP FUNCTION create_day_partition(text, date);
