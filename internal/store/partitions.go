package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/rollup"
)

// PartitionedTables are the tables partitioned by day on event time.
var PartitionedTables = []string{"price_ticks", "trades"}

const dayLayout = "20060102"

// PartitionName returns the name of table's partition holding day.
func PartitionName(table string, day time.Time) string {
	return table + "_p" + day.UTC().Format(dayLayout)
}

// Day truncates t to the start of its UTC day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// EnsurePartitions creates, for every partitioned table, the daily
// partitions covering the UTC days from through to (inclusive) that do not
// exist yet, and returns the names it created. It is idempotent and safe to
// run concurrently.
func EnsurePartitions(ctx context.Context, pool *pgxpool.Pool, from, to time.Time) ([]string, error) {
	var created []string
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for day := Day(from); !day.After(Day(to)); day = day.AddDate(0, 0, 1) {
			for _, table := range PartitionedTables {
				ok, err := EnsurePartition(ctx, tx, table, day)
				if err != nil {
					return err
				}
				if ok {
					created = append(created, PartitionName(table, day))
				}
			}
		}
		return nil
	})
	return created, err
}

// EnsurePartition creates table's partition for day inside tx unless it
// exists, and reports whether it created it. It calls the schema's
// create_day_partition function (migration 4), which runs as the tables'
// owner, so a role without DDL rights that may execute it (the loader)
// creates partitions too; the function checks again under an advisory
// transaction lock, so concurrent callers never collide.
func EnsurePartition(ctx context.Context, tx pgx.Tx, table string, day time.Time) (bool, error) {
	var created bool
	d := Day(day)
	if err := tx.QueryRow(ctx, "SELECT create_day_partition($1, $2::date)", table, d.Format(time.DateOnly)).Scan(&created); err != nil {
		return false, fmt.Errorf("create partition %s: %w", PartitionName(table, d), err)
	}
	return created, nil
}

// Partition is one daily partition of a partitioned table.
type Partition struct {
	Table string
	Name  string
	Day   time.Time
}

// Partitions lists the daily partitions of the partitioned tables in the
// connection's schema, oldest first per table.
func Partitions(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]Partition, error) {
	return listPartitions(ctx, db, PartitionedTables, dayLayout)
}

// listPartitions lists the partitions of tables named TABLE_p<layout>
// (layout a time layout: the partition's first day), oldest first per
// table; others are skipped.
func listPartitions(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, tables []string, layout string) ([]Partition, error) {
	rows, err := db.Query(ctx, `
		SELECT parent.relname, child.relname
		FROM pg_inherits i
		JOIN pg_class parent ON parent.oid = i.inhparent
		JOIN pg_class child ON child.oid = i.inhrelid
		WHERE parent.relnamespace = current_schema()::regnamespace
		  AND parent.relname = ANY($1)
		ORDER BY parent.relname, child.relname`, tables)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", strings.Join(tables, ", "), err)
	}
	var parts []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.Name); err != nil {
			return nil, err
		}
		day, err := time.Parse(layout, strings.TrimPrefix(p.Name, p.Table+"_p"))
		if err != nil {
			continue // not one of ours
		}
		p.Day = day
		parts = append(parts, p)
	}
	return parts, rows.Err()
}

// DropPartitionsBefore drops the daily partitions whose day is before
// cutoff's day and returns their names.
func DropPartitionsBefore(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) ([]string, error) {
	parts, err := Partitions(ctx, pool)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, p := range parts {
		if !p.Day.Before(Day(cutoff)) {
			continue
		}
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{p.Name}.Sanitize()); err != nil {
			return dropped, fmt.Errorf("drop partition %s: %w", p.Name, err)
		}
		dropped = append(dropped, p.Name)
	}
	return dropped, nil
}

// Upkeep creates the partitions from yesterday to ahead days from now and,
// when retentionDays is positive and the connection's role owns the
// tables, drops those older than that. Dropping is the owner's job (`db
// migrate`): as any other role (the loader) Upkeep only creates.
func Upkeep(ctx context.Context, pool *pgxpool.Pool, now time.Time, ahead, retentionDays int) (created, dropped []string, err error) {
	created, err = EnsurePartitions(ctx, pool, now.AddDate(0, 0, -1), now.AddDate(0, 0, ahead))
	if err != nil || retentionDays <= 0 {
		return created, nil, err
	}
	if owner, err := IsOwner(ctx, pool); err != nil || !owner {
		return created, nil, err
	}
	dropped, err = DropPartitionsBefore(ctx, pool, now.AddDate(0, 0, -retentionDays))
	return created, dropped, err
}

// RollupPartitionedTables are the rollup tables partitioned by UTC month
// (migration 9), in partitions named TABLE_pYYYYMM.
var RollupPartitionedTables = []string{"rollup_prices_1m", "rollup_trades_1m", "rollup_prices_1h", "rollup_trades_1h"}

const monthLayout = "200601"

// RollupPartitions lists the monthly partitions of the rollup tables in
// the connection's schema, oldest first per table; Day is the month's
// first day.
func RollupPartitions(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]Partition, error) {
	return listPartitions(ctx, db, RollupPartitionedTables, monthLayout)
}

// UpkeepRollups enforces, when days is positive and the connection's role
// owns the tables, the retention of the minute and hour rollups: it drops
// their monthly partitions that end on or before the UTC day days before
// now, then deletes the rows before that day in the month it cuts. It
// returns the partitions it dropped and how many rows it deleted.
func UpkeepRollups(ctx context.Context, pool *pgxpool.Pool, now time.Time, days int) (dropped []string, deleted int64, err error) {
	if days <= 0 {
		return nil, 0, nil
	}
	if owner, err := IsOwner(ctx, pool); err != nil || !owner {
		return nil, 0, err
	}
	cutoff := Day(now.AddDate(0, 0, -days))
	parts, err := RollupPartitions(ctx, pool)
	if err != nil {
		return nil, 0, err
	}
	for _, p := range parts {
		if p.Day.AddDate(0, 1, 0).After(cutoff) {
			continue
		}
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{p.Name}.Sanitize()); err != nil {
			return dropped, 0, fmt.Errorf("drop rollup partition %s: %w", p.Name, err)
		}
		dropped = append(dropped, p.Name)
	}
	deleted, err = rollup.DeleteBefore(ctx, pool, cutoff)
	return dropped, deleted, err
}
