package status

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// tables returns the tables of the connection's schema with their rows
// and sizes (partitions folded into their parent), and the dead letters
// stored by reason.
func (s *Sampler) tables(ctx context.Context) ([]Table, map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `
		WITH tables AS (
			SELECT c.oid, c.relname FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace
			  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
			  AND c.relname <> 'goose_db_version'
		), rels AS (
			SELECT t.relname AS name, t.oid AS rel, false AS child FROM tables t
			UNION ALL
			SELECT t.relname, i.inhrelid, true FROM tables t JOIN pg_inherits i ON i.inhparent = t.oid
		)
		SELECT r.name, coalesce(sum(st.n_live_tup), 0)::bigint,
		       coalesce(sum(pg_total_relation_size(r.rel)), 0)::bigint, count(*) FILTER (WHERE r.child)
		FROM rels r LEFT JOIN pg_stat_user_tables st ON st.relid = r.rel
		GROUP BY r.name ORDER BY r.name`)
	if err != nil {
		return nil, nil, fmt.Errorf("table statistics: %w", err)
	}
	var out []Table
	for rows.Next() {
		var t Table
		var parts int64
		if err := rows.Scan(&t.Name, &t.Rows, &t.Bytes, &parts); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("table statistics: %w", err)
		}
		t.Partitions, t.Estimated = int(parts), !s.opts.ExactRows
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("table statistics: %w", err)
	}
	hasDeadLetters := false
	for i := range out {
		t := &out[i]
		hasDeadLetters = hasDeadLetters || t.Name == "dead_letters"
		if !s.opts.ExactRows {
			continue
		}
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Name}.Sanitize()).Scan(&t.Rows); err != nil {
			return out, nil, fmt.Errorf("count %s: %w", t.Name, err)
		}
	}
	if !hasDeadLetters {
		return out, nil, nil
	}
	stored := map[string]int64{}
	rows, err = s.pool.Query(ctx, `SELECT reason, count(*) FROM dead_letters GROUP BY reason`)
	if err != nil {
		return out, nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return out, nil, fmt.Errorf("dead letters: %w", err)
		}
		stored[reason] = n
	}
	return out, stored, rows.Err()
}
