package sink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/store"
)

// partitionCache knows which days have their daily partitions in every
// partitioned table, so that a batch only pays for partition DDL when it
// carries a day not seen before. It is used by the consuming goroutine
// only.
type partitionCache struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	metrics *metrics
	known   map[time.Time]bool
}

// load fills the cache from the database.
func (c *partitionCache) load(ctx context.Context) error {
	parts, err := store.Partitions(ctx, c.pool)
	if err != nil {
		return err
	}
	perDay := map[time.Time]int{}
	for _, p := range parts {
		perDay[p.Day]++
	}
	c.known = map[time.Time]bool{}
	for day, n := range perDay {
		if n == len(store.PartitionedTables) {
			c.known[day] = true
		}
	}
	return nil
}

// forget empties the cache, after a partition turned out to be missing.
func (c *partitionCache) forget() { c.known = map[time.Time]bool{} }

// ensure creates the daily partitions b's ticks and trades need that are
// not known yet. Each day is created in its own short transaction, before
// and outside the batch's, so partition DDL never holds locks while rows
// load (concurrent instances would otherwise deadlock on the parents).
func (c *partitionCache) ensure(ctx context.Context, b *batch) error {
	var missing []time.Time
	var lo, hi time.Time // the last day seen, [lo, hi), to skip most lookups
	check := func(ts time.Time) {
		if !ts.Before(lo) && ts.Before(hi) {
			return
		}
		lo = store.Day(ts)
		hi = lo.AddDate(0, 0, 1)
		if !c.known[lo] {
			c.known[lo] = true // tentatively, so it is listed once
			missing = append(missing, lo)
		}
	}
	for i := range b.ticks {
		check(b.ticks[i].ev.Time)
	}
	for i := range b.trades {
		check(b.trades[i].ev.Time)
	}
	for i, day := range missing {
		created, err := store.EnsurePartitions(ctx, c.pool, day, day)
		if err != nil {
			for _, d := range missing[i:] {
				delete(c.known, d)
			}
			return fmt.Errorf("partitions for %s: %w", day.Format(time.DateOnly), err)
		}
		if len(created) > 0 {
			c.metrics.partitionsCreated.Add(float64(len(created)))
			c.log.Info("created partitions", "day", day.Format(time.DateOnly), "partitions", created)
		}
	}
	return nil
}

// upkeep keeps the partitions ahead created and, with a retention, drops
// those past it, once at start and then every interval until ctx ends.
// Failures are logged and retried at the next round: upkeep never stops
// loading, and the sink creates any partition a batch needs on its own.
func upkeep(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, m *metrics, opts Options) {
	t := time.NewTicker(opts.UpkeepInterval)
	defer t.Stop()
	for {
		created, dropped, err := store.Upkeep(ctx, pool, opts.Now(), opts.PartitionsAhead, opts.RetentionDays)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("partition upkeep failed; retrying at the next round", "error", err, "next", opts.UpkeepInterval)
		case len(created)+len(dropped) > 0:
			m.partitionsCreated.Add(float64(len(created)))
			m.partitionsDropped.Add(float64(len(dropped)))
			log.Info("partition upkeep", "created", len(created), "dropped", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
