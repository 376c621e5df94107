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
