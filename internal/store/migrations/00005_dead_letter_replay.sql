-- +goose Up
-- A dead letter can be replayed once, after a fix (a new schema version, a
-- changed transform), through the sink's decode, transform and load path:
-- `tradestream deadletters replay`. The mark and the rows it loaded commit
-- in one transaction, so a dead letter is replayed at most once and a
-- crashed replay leaves no trace. replay_outcome is 'loaded' (the record
-- is now a row, and no longer counts as a dead letter), 'dropped' (a
-- transform now filters it out) or 'dead' (dead again, with replay_reason
-- and replay_error saying why this time). run_id is the record's run_id
-- header, so that the rows a replay loads keep the run they came from.
ALTER TABLE dead_letters
    ADD COLUMN run_id         text,
    ADD COLUMN replayed_at    timestamptz,
    ADD COLUMN replay_outcome text CHECK (replay_outcome IN ('loaded', 'dropped', 'dead')),
    ADD COLUMN replay_reason  text,
    ADD COLUMN replay_error   text,
    ADD CONSTRAINT dead_letters_replay_marked
        CHECK ((replayed_at IS NULL) = (replay_outcome IS NULL));
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at);
CREATE INDEX dead_letters_topic_idx ON dead_letters (topic, received_at);

-- +goose Down
DROP INDEX dead_letters_topic_idx;
DROP INDEX dead_letters_received_idx;
ALTER TABLE dead_letters
    DROP CONSTRAINT dead_letters_replay_marked,
    DROP COLUMN replay_error,
    DROP COLUMN replay_reason,
    DROP COLUMN replay_outcome,
    DROP COLUMN replayed_at,
    DROP COLUMN run_id;
