package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/store"
)

// randomSuffix returns n random bytes in hex, which name a benchmark's
// own topics and schema.
func randomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// benchDB is a benchmark's own schema in a database: a pool whose
// connections use it, and the connection that drops it at the end.
type benchDB struct {
	pool   *pgxpool.Pool
	admin  *pgx.Conn
	schema string
	// rawURL is the database's connection string, rawSchema the schema's
	// name unquoted.
	rawURL, rawSchema string
	// checkpointed is whether truncate could start a checkpoint.
	checkpointed bool
	// keep leaves the schema in place at close.
	keep bool
}

// newBenchDB creates schema in the database at url.
func newBenchDB(ctx context.Context, url, schema string) (*benchDB, error) {
	return openBenchDB(ctx, url, schema, true)
}

// openBenchDB opens schema in the database at url, creating it when
// create is set; an existing schema must already exist.
func openBenchDB(ctx context.Context, url, schema string, create bool) (*benchDB, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url %s: malformed connection string", config.Redact(url))
	}
	admin, err := pgx.ConnectConfig(ctx, pc.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	db := &benchDB{admin: admin, schema: pgx.Identifier{schema}.Sanitize(), rawURL: url, rawSchema: schema}
	if create {
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+db.schema); err != nil {
			admin.Close(ctx)
			return nil, fmt.Errorf("create schema %s: %w", schema, err)
		}
	} else {
		var found bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema).Scan(&found); err != nil || !found {
			admin.Close(ctx)
			if err == nil {
				err = fmt.Errorf("no such schema")
			}
			return nil, fmt.Errorf("open schema %s: %w", schema, err)
		}
		db.keep = true
	}
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	if db.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		db.close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return db, nil
}

// url returns the connection string with the schema as its search path,
// for another process.
func (db *benchDB) url() string {
	u, err := neturl.Parse(db.rawURL)
	if err != nil || u.Scheme == "" {
		return db.rawURL + " search_path=" + db.rawSchema
	}
	q := u.Query()
	q.Set("search_path", db.rawSchema)
	u.RawQuery = q.Encode()
	return u.String()
}

// close closes the pool and drops the schema (unless keep is set).
func (db *benchDB) close() {
	if db.pool != nil {
		db.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !db.keep {
		_, _ = db.admin.Exec(ctx, "DROP SCHEMA "+db.schema+" CASCADE")
	}
	db.admin.Close(ctx)
}

// truncate empties the tables the sink loads and its offsets, then
// checkpoints.
func (db *benchDB) truncate(ctx context.Context) error {
	names := make([]string, 0, len(store.LoadedTables)+2)
	for _, t := range store.LoadedTables {
		names = append(names, t.Name)
	}
	names = append(names, "dead_letters", "sink_offsets", "rollup_prices_1m", "rollup_trades_1m", "rollup_positions",
		"rollup_prices_1h", "rollup_trades_1h", "rollup_symbols")
	if _, err := db.pool.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	// Every timed run starts from a checkpoint, so that none pays for the
	// WAL of the one before; without pg_checkpoint rights, runs go on
	// without (Checkpointed says so).
	if _, err := db.pool.Exec(ctx, "CHECKPOINT"); err == nil {
		db.checkpointed = true
	}
	return nil
}

// emptied truncates the tables (with a checkpoint) and returns a
// connection for a timed run; the caller releases it.
func (db *benchDB) emptied(ctx context.Context) (*pgxpool.Conn, error) {
	if err := db.truncate(ctx); err != nil {
		return nil, err
	}
	return db.pool.Acquire(ctx)
}

// countRows returns the number of rows in tables.
func (db *benchDB) countRows(ctx context.Context, tables []store.Table) (int64, error) {
	counts := make([]string, len(tables))
	for i, t := range tables {
		counts[i] = "(SELECT count(*) FROM " + pgx.Identifier{t.Name}.Sanitize() + ")"
	}
	var n int64
	if err := db.pool.QueryRow(ctx, "SELECT "+strings.Join(counts, " + ")).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	return n, nil
}

// settings reads the server version and the settings that shape load
// throughput.
func (db *benchDB) settings(ctx context.Context) (map[string]string, error) {
	names := []string{"server_version", "shared_buffers", "synchronous_commit", "fsync", "wal_level",
		"max_wal_size", "checkpoint_timeout", "wal_buffers", "work_mem", "maintenance_work_mem", "full_page_writes"}
	rows, err := db.pool.Query(ctx, `SELECT name, current_setting(name) FROM unnest($1::text[]) AS name`, names)
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	out := map[string]string{}
	var name, value string
	_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error {
		out[name] = value
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	return out, nil
}
