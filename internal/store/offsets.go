package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// StoredOffsets returns, per topic and partition, the next offset the sink
// of group will load, as committed to the sink_offsets table together
// with the rows before it. Partitions the group has never committed are
// absent. db is a pool, or a transaction to read them in its snapshot.
func StoredOffsets(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, group string, topics []string) (map[string]map[int32]int64, error) {
	rows, err := db.Query(ctx, `SELECT topic, kafka_partition, next_offset FROM sink_offsets
		WHERE group_id = $1 AND topic = ANY($2)`, group, topics)
	if err != nil {
		return nil, fmt.Errorf("read stored offsets: %w", err)
	}
	defer rows.Close()
	out := map[string]map[int32]int64{}
	for rows.Next() {
		var topic string
		var part int32
		var next int64
		if err := rows.Scan(&topic, &part, &next); err != nil {
			return nil, fmt.Errorf("read stored offsets: %w", err)
		}
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][part] = next
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored offsets: %w", err)
	}
	return out, nil
}

// MoveOffsetsSQL is the statement that moves a group's stored positions
// in table (sink_offsets or alert_offsets: group_id, topic,
// kafka_partition, next_offset, updated_at) from where a batch started
// to where it ends, and returns how many it moved. Its arguments: $1 the
// group, then per partition $2 topic, $3 partition, $4 the batch's first
// offset (negative: the partition was never stored, and its row is
// created) and $5 the next offset after it. A partition whose stored
// position is not where the batch started (another instance, or a
// database that lost commits, moved it) is not moved, which fences the
// batch off: the caller compares the count and rolls back.
func MoveOffsetsSQL(table string) string {
	return fmt.Sprintf(`
WITH input AS (
    SELECT * FROM unnest($2::text[], $3::int4[], $4::int8[], $5::int8[])
        AS i(topic, kafka_partition, from_offset, to_offset)
), moved AS (
    UPDATE %[1]s o SET next_offset = i.to_offset, updated_at = now()
    FROM input i
    WHERE o.group_id = $1 AND o.topic = i.topic AND o.kafka_partition = i.kafka_partition
      AND o.next_offset = i.from_offset
    RETURNING 1
), created AS (
    INSERT INTO %[1]s (group_id, topic, kafka_partition, next_offset)
    SELECT $1, topic, kafka_partition, to_offset FROM input WHERE from_offset < 0
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM created)`, table)
}

// TopicPartition names one partition of a topic, as a group stores it.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// RecordTopicIDs records, in consumed_partitions, the id of the topic of
// each partition of ids (a group's newly assigned partitions, with their
// topic's id in the cluster now) and returns those recorded before under
// another id: partitions of a topic deleted and created again since the
// group last was assigned them, whose stored offsets count records of
// another log. A partition recorded for the first time is not returned.
func RecordTopicIDs(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, group string, ids map[TopicPartition][16]byte) ([]TopicPartition, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	topics, parts, uuids := make([]string, 0, len(ids)), make([]int32, 0, len(ids)), make([][16]byte, 0, len(ids))
	for tp, id := range ids {
		topics, parts, uuids = append(topics, tp.Topic), append(parts, tp.Partition), append(uuids, id)
	}
	// The statement's parts read the snapshot before the upsert (which
	// runs whether or not it is referenced): "changed" sees the ids
	// recorded before.
	rows, err := db.Query(ctx, `
		WITH input AS (
		    SELECT * FROM unnest($2::text[], $3::int4[], $4::uuid[]) AS i(topic, kafka_partition, topic_id)
		), changed AS (
		    SELECT c.topic, c.kafka_partition FROM consumed_partitions c
		    JOIN input i ON i.topic = c.topic AND i.kafka_partition = c.kafka_partition
		    WHERE c.group_id = $1 AND c.topic_id <> i.topic_id
		), recorded AS (
		    INSERT INTO consumed_partitions AS c (group_id, topic, kafka_partition, topic_id)
		    SELECT $1, topic, kafka_partition, topic_id FROM input
		    ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE
		    SET topic_id = excluded.topic_id, assigned_at = now()
		)
		SELECT topic, kafka_partition FROM changed`,
		group, topics, parts, uuids)
	if err != nil {
		return nil, fmt.Errorf("record topic ids: %w", err)
	}
	defer rows.Close()
	var out []TopicPartition
	for rows.Next() {
		var tp TopicPartition
		if err := rows.Scan(&tp.Topic, &tp.Partition); err != nil {
			return nil, fmt.Errorf("record topic ids: %w", err)
		}
		out = append(out, tp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("record topic ids: %w", err)
	}
	return out, nil
}
