// Package pgtest gives tests their own schema in the real PostgreSQL
// database named by TRADESTREAM_TEST_DATABASE. Without it a test skips,
// unless TRADESTREAM_TEST_REQUIRE_SERVICES=1, which `make test` sets: then a
// missing database fails the test.
package pgtest

import (
	"context"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/store"
)

// EnvDatabase names the variable holding the test database URL.
const EnvDatabase = "TRADESTREAM_TEST_DATABASE"

// URL returns the test database's connection string.
func URL(t testing.TB) string {
	t.Helper()
	v := os.Getenv(EnvDatabase)
	if v == "" {
		kafkatest.Missing(t, EnvDatabase, "a PostgreSQL database")
	}
	return v
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// Schema creates a fresh, empty schema for this test, dropped when the test
// ends, and returns database settings whose connections use it (through
// search_path).
func Schema(t testing.TB) config.Database {
	t.Helper()
	base := URL(t)
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	schema := "t_" + name + "_" + randomHex(4)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop test schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop test schema: %v", err)
		}
	})

	cfg := config.Default().Database
	cfg.URL = config.ConnString(withSearchPath(t, base, schema))
	return cfg
}

func withSearchPath(t testing.TB, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		t.Fatalf("%s must be a postgres:// URL", EnvDatabase)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Pool opens a pool on a fresh schema, closed when the test ends.
func Pool(t testing.TB) (*pgxpool.Pool, config.Database) {
	t.Helper()
	cfg := Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, cfg
}

// Migrated opens a pool on a fresh schema with every migration applied and
// today's partitions created.
func Migrated(t testing.TB) (*pgxpool.Pool, config.Database) {
	t.Helper()
	pool, cfg := Pool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate test schema: %v", err)
	}
	if _, _, err := store.Upkeep(ctx, pool, time.Now(), cfg.PartitionsAhead, 0); err != nil {
		t.Fatalf("create test partitions: %v", err)
	}
	return pool, cfg
}
