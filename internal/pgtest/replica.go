package pgtest

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// EnvReplica names the variable holding the URL of the test database on
// its streaming replica (scripts/stack up --pg-replica).
const EnvReplica = "TRADESTREAM_TEST_DATABASE_REPLICA"

// Replica returns the settings of cfg (a Schema's) with URL on the
// streaming replica, the same schema on its search_path, once the schema
// has reached the replica. Without a replica a test skips, or fails with
// TRADESTREAM_TEST_REQUIRE_SERVICES=1.
func Replica(t testing.TB, cfg config.Database) config.Database {
	t.Helper()
	base := os.Getenv(EnvReplica)
	if base == "" {
		kafkatest.Missing(t, EnvReplica, "a PostgreSQL streaming replica (scripts/stack up --pg-replica)")
	}
	u, err := url.Parse(cfg.URL.Reveal())
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	schema := u.Query().Get("search_path")
	cfg.URL = config.ConnString(withSearchPath(t, base, schema))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the replica: %v", err)
	}
	defer conn.Close(context.Background())
	for {
		var there bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&there); err != nil {
			t.Fatalf("schema %s on the replica: %v", schema, err)
		}
		if there {
			return cfg
		}
		select {
		case <-ctx.Done():
			t.Fatalf("schema %s never reached the replica", schema)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
