-- +goose Up
-- Every write of a position gives it a new version from one sequence, so
-- a loader that remembers the version it wrote can update the position
-- without reading it again or locking it first: its UPDATE matches only
-- that version, and a position another loader (or a rebuild) wrote since
-- is read and folded again (see internal/rollup/positions.go).
CREATE SEQUENCE rollup_positions_version;
ALTER TABLE rollup_positions ADD COLUMN version bigint NOT NULL DEFAULT nextval('rollup_positions_version');

-- +goose Down
ALTER TABLE rollup_positions DROP COLUMN version;
DROP SEQUENCE rollup_positions_version;
