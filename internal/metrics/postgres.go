package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PostgresCollector exports, at every scrape, PostgreSQL's database-wide
// statistics for the pool's database (pg_stat_database, pg_stat_activity)
// and the pool's statistics (pgxpool.Stat), as tradestream_pg_*. The
// per-table figures come from the status sampler instead (TableCollector).
//
//	tradestream_pg_up                                 1 if the statistics could be read
//	tradestream_pg_transactions_committed_total       pg_stat_database.xact_commit
//	tradestream_pg_transactions_rolled_back_total     pg_stat_database.xact_rollback
//	tradestream_pg_database_rows_total{op}            tup_inserted, tup_updated, tup_deleted, tup_fetched
//	tradestream_pg_blocks_total{source}               blks_hit (cache), blks_read (disk)
//	tradestream_pg_deadlocks_total
//	tradestream_pg_database_size_bytes
//	tradestream_pg_connections{state}                 backends of this database by state
//	tradestream_pg_max_connections                    the server's max_connections
//	tradestream_pg_pool_*                             the pgxpool.Stat figures
//
// A scrape queries the database at most once, bounded by a timeout.
type PostgresCollector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	log     *slog.Logger

	up, commits, rollbacks, rows, blocks, deadlocks, dbSize  *prometheus.Desc
	conns, maxConns                                          *prometheus.Desc
	poolAcquired, poolIdle, poolTotal, poolMax, poolBuilding *prometheus.Desc
	poolAcquires, poolAcquireSeconds, poolEmpty, poolCancel  *prometheus.Desc
	poolNew, poolLifetime, poolIdleDestroyed                 *prometheus.Desc
}

// NewPostgresCollector returns a collector for pool; log (nil: discarded)
// receives the scrape's errors at debug level.
func NewPostgresCollector(pool *pgxpool.Pool, log *slog.Logger) *PostgresCollector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tradestream_pg_"+name, help, labels, nil)
	}
	return &PostgresCollector{
		pool: pool, timeout: 3 * time.Second, log: log,
		up:                 d("up", "1 if PostgreSQL's statistics could be read at this scrape, else 0."),
		commits:            d("transactions_committed_total", "Transactions committed in this database (pg_stat_database.xact_commit)."),
		rollbacks:          d("transactions_rolled_back_total", "Transactions rolled back in this database (pg_stat_database.xact_rollback)."),
		rows:               d("database_rows_total", "Rows inserted, updated, deleted and fetched in this database (pg_stat_database.tup_*).", "op"),
		blocks:             d("blocks_total", "Blocks read from the buffer cache (hit) or from disk (read).", "source"),
		deadlocks:          d("deadlocks_total", "Deadlocks detected in this database."),
		dbSize:             d("database_size_bytes", "Size of this database on disk."),
		conns:              d("connections", "Backends connected to this database, by state.", "state"),
		maxConns:           d("max_connections", "The server's max_connections setting."),
		poolAcquired:       d("pool_acquired_connections", "Pool connections currently in use."),
		poolIdle:           d("pool_idle_connections", "Pool connections idle."),
		poolTotal:          d("pool_total_connections", "Pool connections open."),
		poolMax:            d("pool_max_connections", "Largest number of pool connections."),
		poolBuilding:       d("pool_constructing_connections", "Pool connections being opened."),
		poolAcquires:       d("pool_acquires_total", "Successful acquires from the pool."),
		poolAcquireSeconds: d("pool_acquire_duration_seconds_total", "Total time spent in successful acquires."),
		poolEmpty:          d("pool_empty_acquires_total", "Acquires that had to wait for a connection."),
		poolCancel:         d("pool_canceled_acquires_total", "Acquires canceled by their context."),
		poolNew:            d("pool_new_connections_total", "Connections the pool opened."),
		poolLifetime:       d("pool_max_lifetime_destroyed_total", "Connections closed for reaching their maximum lifetime."),
		poolIdleDestroyed:  d("pool_max_idle_destroyed_total", "Connections closed for idling too long."),
	}
}

// Describe implements prometheus.Collector.
func (c *PostgresCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.up, c.commits, c.rollbacks, c.rows, c.blocks, c.deadlocks, c.dbSize, c.conns, c.maxConns,
		c.poolAcquired, c.poolIdle, c.poolTotal, c.poolMax, c.poolBuilding, c.poolAcquires,
		c.poolAcquireSeconds, c.poolEmpty, c.poolCancel, c.poolNew, c.poolLifetime, c.poolIdleDestroyed,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PostgresCollector) Collect(ch chan<- prometheus.Metric) {
	c.collectPool(ch)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	up := 1.0
	if err := c.collectDatabase(ctx, ch); err != nil {
		c.log.Debug("postgres statistics", "err", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

func (c *PostgresCollector) collectPool(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.poolAcquired, float64(s.AcquiredConns()))
	g(c.poolIdle, float64(s.IdleConns()))
	g(c.poolTotal, float64(s.TotalConns()))
	g(c.poolMax, float64(s.MaxConns()))
	g(c.poolBuilding, float64(s.ConstructingConns()))
	n(c.poolAcquires, float64(s.AcquireCount()))
	n(c.poolAcquireSeconds, s.AcquireDuration().Seconds())
	n(c.poolEmpty, float64(s.EmptyAcquireCount()))
	n(c.poolCancel, float64(s.CanceledAcquireCount()))
	n(c.poolNew, float64(s.NewConnsCount()))
	n(c.poolLifetime, float64(s.MaxLifetimeDestroyCount()))
	n(c.poolIdleDestroyed, float64(s.MaxIdleDestroyCount()))
}

func (c *PostgresCollector) collectDatabase(ctx context.Context, ch chan<- prometheus.Metric) error {
	var commits, rollbacks, ins, upd, del, fetched, hit, read, deadlocks, size, maxConns int64
	err := c.pool.QueryRow(ctx, `
		SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched,
		       blks_hit, blks_read, deadlocks, pg_database_size(datid),
		       current_setting('max_connections')::bigint
		FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&commits, &rollbacks, &ins, &upd, &del, &fetched, &hit, &read, &deadlocks, &size, &maxConns)
	if err != nil {
		return fmt.Errorf("pg_stat_database: %w", err)
	}
	n := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	n(c.commits, commits)
	n(c.rollbacks, rollbacks)
	n(c.rows, ins, "inserted")
	n(c.rows, upd, "updated")
	n(c.rows, del, "deleted")
	n(c.rows, fetched, "fetched")
	n(c.blocks, hit, "hit")
	n(c.blocks, read, "read")
	n(c.deadlocks, deadlocks)
	ch <- prometheus.MustNewConstMetric(c.dbSize, prometheus.GaugeValue, float64(size))
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(maxConns))

	rows, err := c.pool.Query(ctx, `
		SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
		WHERE datname = current_database() GROUP BY 1`)
	if err != nil {
		return fmt.Errorf("pg_stat_activity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var count int64
		if err := rows.Scan(&state, &count); err != nil {
			return fmt.Errorf("pg_stat_activity: %w", err)
		}
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(count), state)
	}
	return rows.Err()
}
