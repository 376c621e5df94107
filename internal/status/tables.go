package status

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rows is the pool tables and dead letters are read through: the read
// URL's when configured, else the sampler's.
func (s *Sampler) rows() *pgxpool.Pool {
	if s.opts.Read != nil {
		return s.opts.Read
	}
	return s.pool
}

// tables returns the tables of the connection's schema with their rows,
// write counters and sizes (partitions folded into their parent), and the
// dead letters stored by reason. With a read URL the rows and dead letters
// are the read server's; the counters and sizes stay the primary's (a
// standby keeps no write statistics of its own).
func (s *Sampler) tables(ctx context.Context) ([]Table, map[string]int64, error) {
	out, err := s.tableStats(ctx, s.pool)
	if err != nil {
		return nil, nil, err
	}
	if s.opts.Read != nil {
		read, err := s.tableStats(ctx, s.opts.Read)
		if err != nil {
			return out, nil, fmt.Errorf("read url: %w", err)
		}
		rows := map[string]int64{}
		for _, t := range read {
			rows[t.Name] = t.Rows
		}
		for i := range out {
			out[i].Rows = rows[out[i].Name]
		}
	}
	hasDeadLetters := false
	for i := range out {
		t := &out[i]
		hasDeadLetters = hasDeadLetters || t.Name == "dead_letters"
		if !s.opts.ExactRows {
			continue
		}
		if err := s.rows().QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Name}.Sanitize()).Scan(&t.Rows); err != nil {
			return out, nil, fmt.Errorf("count %s: %w", t.Name, err)
		}
	}
	if !hasDeadLetters {
		return out, nil, nil
	}
	stored, err := s.deadLetters(ctx)
	return out, stored, err
}

// tableStats reads, through pool, pg_stat_user_tables and the relation
// sizes of every table and partition of the schema. A standby's rows are
// the planner's estimate (pg_class.reltuples, replicated from the
// primary's vacuum and analyze), since its statistics count nothing.
func (s *Sampler) tableStats(ctx context.Context, pool *pgxpool.Pool) ([]Table, error) {
	rows, err := pool.Query(ctx, `
		WITH tables AS (
			SELECT c.oid, c.relname, c.reltuples FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace
			  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
			  AND c.relname <> 'goose_db_version'
		), rels AS (
			SELECT t.relname AS name, '' AS part, t.oid AS rel, t.reltuples FROM tables t
			UNION ALL
			SELECT t.relname, p.relname, p.oid, p.reltuples
			FROM tables t JOIN pg_inherits i ON i.inhparent = t.oid JOIN pg_class p ON p.oid = i.inhrelid
		)
		SELECT r.name, r.part,
		       CASE WHEN pg_is_in_recovery() THEN greatest(r.reltuples, 0)::bigint ELSE coalesce(st.n_live_tup, 0) END,
		       coalesce(st.n_tup_ins, 0), coalesce(st.n_tup_upd, 0), pg_total_relation_size(r.rel)
		FROM rels r LEFT JOIN pg_stat_user_tables st ON st.relid = r.rel
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("table statistics: %w", err)
	}
	defer rows.Close()
	var out []Table
	for rows.Next() {
		var name, part string
		var live, ins, upd, size int64
		if err := rows.Scan(&name, &part, &live, &ins, &upd, &size); err != nil {
			return nil, fmt.Errorf("table statistics: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Name != name {
			out = append(out, Table{Name: name, Estimated: !s.opts.ExactRows})
		}
		t := &out[len(out)-1]
		t.Rows, t.Inserted, t.Updated, t.Bytes = t.Rows+live, t.Inserted+ins, t.Updated+upd, t.Bytes+size
		if part != "" {
			t.Partitions++
			t.PartitionSizes = append(t.PartitionSizes, PartitionSize{Name: part, Bytes: size})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table statistics: %w", err)
	}
	return out, nil
}

// deadLetters counts the dead_letters rows by reason.
func (s *Sampler) deadLetters(ctx context.Context) (map[string]int64, error) {
	stored := map[string]int64{}
	rows, err := s.rows().Query(ctx, `SELECT reason, count(*) FROM dead_letters GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		stored[reason] = n
	}
	return stored, rows.Err()
}
