package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

func TestMigrateIsIdempotent(t *testing.T) {
	pool, _ := pgtest.Pool(t)
	ctx := context.Background()
	first, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 {
		t.Fatal("first migrate applied nothing")
	}
	again, err := store.Migrate(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Errorf("second migrate: applied %v, err %v; want nothing", again, err)
	}
	cur, latest, err := store.SchemaVersion(ctx, pool)
	if err != nil || cur != latest {
		t.Errorf("got version %d of %d (err %v), want the latest", cur, latest, err)
	}
}

func TestTradesRoundTripThroughPartitions(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	now := time.Now().UTC()
	rows := [][]any{}
	for i := range 500 {
		rows = append(rows, []any{
			int64(i), int64(i % 7), int64(i % 7), "AAPL", "buy", int64(10), "187.2500", "1.0000",
			now.Add(-time.Duration(i) * time.Second), "1000.0000", "market", nil, int16(2), int32(0), int64(i),
		})
	}
	cols := []string{"trade_id", "user_id", "account_id", "symbol", "side", "quantity", "price", "fee", "ts",
		"balance_after", "order_type", "limit_price", "schema_version", "kafka_partition", "kafka_offset"}
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"trades"}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	var count int64
	var notional string
	if err := pool.QueryRow(ctx, "SELECT count(*), sum(price*quantity)::text FROM trades").Scan(&count, &notional); err != nil {
		t.Fatal(err)
	}
	if count != n || count != 500 {
		t.Errorf("got %d rows (copied %d), want 500", count, n)
	}
	if notional != "936250.0000" {
		t.Errorf("got notional %s, want 936250.0000 (exact decimal arithmetic)", notional)
	}
	t.Logf("round-tripped %d trades through PostgreSQL partitions", count)
}

func TestPartitionUpkeep(t *testing.T) {
	pool, _ := pgtest.Pool(t)
	ctx := context.Background()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	created, _, err := store.Upkeep(ctx, pool, now, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	// yesterday, today and three ahead: five days, two tables.
	if len(created) != 10 {
		t.Errorf("got %d partitions created, want 10: %v", len(created), created)
	}
	for _, want := range []string{"trades_p20260309", "price_ticks_p20260313"} {
		if !contains(created, want) {
			t.Errorf("missing partition %s in %v", want, created)
		}
	}
	// Ten days later with a 5-day retention: the old ones go.
	later := now.AddDate(0, 0, 10)
	_, dropped, err := store.Upkeep(ctx, pool, later, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dropped {
		if !strings.Contains(d, "202603") {
			t.Errorf("dropped unexpected partition %s", d)
		}
	}
	if len(dropped) != 10 {
		t.Errorf("got %d dropped, want all 10 old partitions: %v", len(dropped), dropped)
	}
	parts, err := store.Partitions(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Day.Before(store.Day(later.AddDate(0, 0, -5))) {
			t.Errorf("partition %s outlived retention", p.Name)
		}
	}
}

func TestConcurrentPartitionCreation(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	day := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := store.EnsurePartitions(ctx, pool, day, day.AddDate(0, 0, 2))
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent EnsurePartitions: %v", err)
		}
	}
}

func TestUnreachableDatabaseFailsFast(t *testing.T) {
	cfg := config.Default().Database
	cfg.URL = "postgres://u:topsecret@127.0.0.1:1/db"
	cfg.ConnectTimeout = 1500 * time.Millisecond
	start := time.Now()
	_, err := store.Open(context.Background(), cfg)
	if err == nil {
		t.Fatal("got a pool, want an error")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("got %q, want it to name the database without its password", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v, want it bounded by the connect timeout", d)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestRollupRetentionDropsWholeMonths: the minute and hour rollups are
// partitioned by month, each month made with the days of price_ticks and
// trades; their retention drops the months that end before the cutoff and
// deletes the rows before it in the month it cuts.
func TestRollupRetentionDropsWholeMonths(t *testing.T) {
	pool, _ := pgtest.Pool(t)
	ctx := context.Background()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"2025-11-15", "2025-12-05", "2025-12-20", "2026-01-19"} {
		day, _ := time.Parse(time.DateOnly, d)
		if _, err := store.EnsurePartitions(ctx, pool, day, day); err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{
			`INSERT INTO rollup_trades_1m (symbol, minute, notional, quantity, trades) VALUES ('AAPL', ($1::date + time '10:01') AT TIME ZONE 'UTC', 100, 1, 1)`,
			`INSERT INTO rollup_trades_1h (symbol, hour, notional, quantity, trades) VALUES ('AAPL', ($1::date + time '10:00') AT TIME ZONE 'UTC', 100, 1, 1)`,
		} {
			if _, err := pool.Exec(ctx, sql, d); err != nil {
				t.Fatalf("rollup rows of %s: %v", d, err)
			}
		}
	}
	parts, err := store.RollupPartitions(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	for _, table := range store.RollupPartitionedTables {
		for _, month := range []string{"202511", "202512", "202601"} {
			if !contains(names, table+"_p"+month) {
				t.Errorf("no partition %s_p%s in %v", table, month, names)
			}
		}
	}
	// 25 days before 2026-01-10: 2025-12-16. November goes whole,
	// December keeps its rows from the 16th.
	dropped, deleted, err := store.UpkeepRollups(ctx, pool, time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC), 25)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != len(store.RollupPartitionedTables) || !contains(dropped, "rollup_trades_1m_p202511") || deleted != 2 {
		t.Errorf("retention: dropped %v, deleted %d rows; want the four November partitions and the 2 rows of 2025-12-05", dropped, deleted)
	}
	var left []string
	rows, err := pool.Query(ctx, `SELECT to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM rollup_trades_1m
		UNION ALL SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM rollup_trades_1h ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if strings.Join(left, " ") != "2025-12-20 2025-12-20 2026-01-19 2026-01-19" {
		t.Errorf("rollup rows left: %v", left)
	}
}
