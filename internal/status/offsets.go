package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradestream/tradestream/internal/kafka"
)

// topicPartition names one partition.
type topicPartition struct {
	topic     string
	partition int32
}

// storedPositions are, per group, the next offsets PostgreSQL holds for it.
type storedPositions map[string]map[topicPartition]int64

// storedOffsets reads the positions the sink (sink_offsets) and the
// alerts engine (alert_offsets) commit to PostgreSQL together with their
// rows. Both commit to Kafka only afterwards, so a group's position is
// the larger of the two: what lag is measured from, as the services would
// resume from it. A schema without those tables has none. The sink stores
// topic names; the alerts engine its two sources' short names ("prices",
// "trades"), named here as the topics under Prefix.
func (s *Sampler) storedOffsets(ctx context.Context) (storedPositions, error) {
	out := storedPositions{}
	names := kafka.TopicNames(s.opts.Prefix)
	full := map[string]string{"prices": names.Prices, "trades": names.Trades}
	for _, table := range []string{"sink_offsets", "alert_offsets"} {
		rows, err := s.pool.Query(ctx, `SELECT group_id, topic, kafka_partition, next_offset FROM `+table)
		if undefinedTable(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", table, err)
		}
		for rows.Next() {
			var group string
			var tp topicPartition
			var next int64
			if err := rows.Scan(&group, &tp.topic, &tp.partition, &next); err != nil {
				rows.Close()
				return out, fmt.Errorf("%s: %w", table, err)
			}
			if table == "alert_offsets" {
				if name, ok := full[tp.topic]; ok {
					tp.topic = name
				}
			}
			if out[group] == nil {
				out[group] = map[topicPartition]int64{}
			}
			out[group][tp] = max(out[group][tp], next)
		}
		rows.Close()
		if err := rows.Err(); err != nil && !undefinedTable(err) {
			return out, fmt.Errorf("%s: %w", table, err)
		}
	}
	return out, nil
}

func undefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}
