-- +goose Up
-- The id of the topic each partition a consumer group (the sink's, the
-- alerts engine's) was last assigned belonged to. A topic deleted and
-- created again under the same name gets a new id: the offsets stored
-- for its partitions then count records of another log, and the group
-- reads the partitions again from their start instead of resuming there.
CREATE TABLE consumed_partitions (
    group_id        text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    topic_id        uuid        NOT NULL,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, kafka_partition)
);

-- +goose Down
DROP TABLE consumed_partitions;
