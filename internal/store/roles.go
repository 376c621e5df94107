package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
)

// The database roles, least privilege first. The owner (the role of
// --database-url) owns the schema: it runs the migrations, drops old
// partitions and edits alert rules. EnsureRoles gives the other two
// exactly what their services use, on the owner's schema only.
//
// The loader (the sink and the alerts engine) loads rows: COPY into
// price_ticks and trades, the upserts of the rollups (reading the stored
// rollup rows, and the fill columns of trades for a position's replay),
// the upserts of users and accounts, dead letters,
// alerts, the offset tables and the alerts engine's state and outbox. It
// reads what those statements read (users and accounts for the upserts,
// the offset tables, alert_rules) and nothing it only writes: not the
// trades' balances, order details or Kafka positions, not the dead letters' raw records or replay marks, not
// the stored alerts. Replaying dead letters, which reads their raw
// records and marks them, is the owner's (`deadletters replay`). It
// creates a missing day partition through the owner's
// create_day_partition function. It has no DDL right (temporary tables
// aside, which every role may create: its staging tables) and no right on
// any other schema.
//
// The reader (the dashboard, status, verify, analytics) may read every
// table and view of the schema and nothing else; its sessions are
// read-only by default.

// loaderGrants are the loader's privileges, table by table.
var loaderGrants = []struct{ table, privileges string }{
	{"price_ticks", "INSERT"},
	// The rollups' position replay (a late trade) reads a position's
	// trades: the columns a fill needs, nothing else of the history.
	{"trades", "INSERT, SELECT (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, run_id)"},
	// The rollups are merged by upserts, which read the stored row.
	{"rollup_prices_1m", "SELECT, INSERT, UPDATE"},
	{"rollup_trades_1m", "SELECT, INSERT, UPDATE"},
	{"rollup_positions", "SELECT, INSERT, UPDATE"},
	{"rollup_prices_1h", "SELECT, INSERT, UPDATE"},
	{"rollup_trades_1h", "SELECT, INSERT, UPDATE"},
	{"rollup_symbols", "SELECT, INSERT, UPDATE"},
	// ON CONFLICT DO UPDATE reads the excluded row's columns, which takes
	// SELECT on them: the profile upsert needs every column of users.
	{"users", "SELECT, INSERT, UPDATE, DELETE"},
	{"accounts", "SELECT, INSERT, UPDATE"},
	{"dead_letters", "INSERT, SELECT (topic, kafka_partition, kafka_offset)"},
	{"sink_offsets", "SELECT, INSERT, UPDATE"},
	{"consumed_partitions", "SELECT, INSERT, UPDATE"},
	{"alerts", "INSERT, SELECT (alert_id)"},
	{"alert_rules", "SELECT"},
	{"alert_offsets", "SELECT, INSERT, UPDATE"},
	{"alert_state", "SELECT, INSERT, UPDATE"},
	{"alert_outbox", "SELECT, INSERT, DELETE"},
	{"goose_db_version", "SELECT"},
}

// Login is a role that logs in: its name and password, as a service's
// connection string gives them.
type Login struct {
	Name     string
	Password config.Secret
}

// LoginOf reads the user and password of a connection string (URL or
// key=value; a password from PGPASSWORD or the password file counts, as
// for a connection). Neither the string nor the password is in its errors.
func LoginOf(cs config.ConnString) (Login, error) {
	pc, err := pgconn.ParseConfig(cs.Reveal())
	if err != nil {
		return Login{}, fmt.Errorf("connection string %s: malformed", cs)
	}
	if pc.User == "" || pc.Password == "" {
		return Login{}, fmt.Errorf("connection string %s: needs a user and a password", cs)
	}
	return Login{Name: pc.User, Password: config.Secret(pc.Password)}, nil
}

// RoleReport says what EnsureRoles did for one role.
type RoleReport struct {
	Name    string
	Created bool // false: it existed and got its password and rights again
}

// EnsureRoles creates the loader and reader roles that do not exist yet,
// sets their passwords (sent as SCRAM-SHA-256 verifiers where they
// are printable ASCII) and gives them exactly their rights on the connection's schema,
// revoking any other they had there. It runs as the owner (a role with
// CREATEROLE that owns the schema), after the migrations, and is
// idempotent and safe to run concurrently.
func EnsureRoles(ctx context.Context, pool *pgxpool.Pool, loader, reader Login) ([]RoleReport, error) {
	var out []RoleReport
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var owner, schema string
		if err := tx.QueryRow(ctx, "SELECT current_user, coalesce(current_schema(), '')").Scan(&owner, &schema); err != nil {
			return fmt.Errorf("roles: %w", err)
		}
		if schema == "" {
			return fmt.Errorf("roles: no schema on the search_path")
		}
		if err := checkNames(owner, loader.Name, reader.Name); err != nil {
			return err
		}
		// Role creation is cluster-wide: serialise concurrent callers.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('tradestream db roles'))"); err != nil {
			return fmt.Errorf("roles: lock: %w", err)
		}
		for _, l := range []Login{loader, reader} {
			created, err := ensureLogin(ctx, tx, l)
			if err != nil {
				return err
			}
			out = append(out, RoleReport{Name: l.Name, Created: created})
		}
		return grantRights(ctx, tx, schema, loader.Name, reader.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkNames(owner, loader, reader string) error {
	switch {
	case loader == "" || reader == "":
		return fmt.Errorf("roles: the loader and the reader need user names")
	case loader == owner || reader == owner:
		return fmt.Errorf("roles: the loader and the reader must not be the owner %q", owner)
	case loader == reader:
		return fmt.Errorf("roles: the loader and the reader must be different roles (both %q)", loader)
	}
	return nil
}

// ensureLogin creates or updates one login role and reports whether it
// created it. A superuser or a role with more attributes is refused.
func ensureLogin(ctx context.Context, tx pgx.Tx, l Login) (bool, error) {
	var super bool
	err := tx.QueryRow(ctx, "SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = $1", l.Name).Scan(&super)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("role %s: %w", l.Name, err)
	}
	if super {
		return false, fmt.Errorf("role %s is a superuser or may replicate or bypass row security: refusing to make it a service role", l.Name)
	}
	secret, err := passwordLiteral(l.Password.Reveal())
	if err != nil {
		return false, fmt.Errorf("role %s: %w", l.Name, err)
	}
	// Only a superuser may name the superuser, replication and row
	// security attributes, even to deny them; a new role lacks them.
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	sql := fmt.Sprintf("%s ROLE %s LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD %s",
		verb, pgx.Identifier{l.Name}.Sanitize(), secret)
	if _, err := tx.Exec(ctx, sql); err != nil {
		return false, fmt.Errorf("%s role %s: %w", strings.ToLower(verb), l.Name, err)
	}
	return !exists, nil
}

// grantRights revokes whatever the two roles hold in schema and grants
// exactly their rights.
func grantRights(ctx context.Context, tx pgx.Tx, schema, loader, reader string) error {
	s, ld, rd := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{loader}.Sanitize(), pgx.Identifier{reader}.Sanitize()
	var stmts []string
	for _, r := range []string{ld, rd} {
		stmts = append(stmts,
			fmt.Sprintf("REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %s", s, r),
			fmt.Sprintf("REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s FROM %s", s, r),
			fmt.Sprintf("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s FROM %s", s, r),
			fmt.Sprintf("REVOKE ALL ON SCHEMA %s FROM %s", s, r),
			fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", s, r))
	}
	for _, g := range loaderGrants {
		stmts = append(stmts, fmt.Sprintf("GRANT %s ON %s.%s TO %s", g.privileges, s, pgx.Identifier{g.table}.Sanitize(), ld))
	}
	stmts = append(stmts,
		fmt.Sprintf("GRANT USAGE ON SEQUENCE %s.dead_letters_id_seq TO %s", s, ld),
		fmt.Sprintf("GRANT USAGE ON SEQUENCE %s.rollup_positions_version TO %s", s, ld),
		fmt.Sprintf("GRANT EXECUTE ON FUNCTION %s.create_day_partition(text, date) TO %s", s, ld),
		fmt.Sprintf("GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s", s, rd),
		// Partitions and tables made later by the owner are readable too.
		fmt.Sprintf("ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT SELECT ON TABLES TO %s", s, rd),
		fmt.Sprintf("ALTER ROLE %s SET default_transaction_read_only = on", rd))
	for _, sql := range stmts {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("roles: %s: %w", sql, err)
		}
	}
	return nil
}

// IsOwner reports whether the connection's role may migrate the schema:
// it may create in the current schema and, once price_ticks exists, is a
// member of the role owning it (DDL on a table needs its owner).
func IsOwner(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT coalesce(has_schema_privilege(current_schema(), 'CREATE')
		AND coalesce((SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_class c
			WHERE c.relname = 'price_ticks' AND c.relnamespace = current_schema()::regnamespace), true), false)`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check schema ownership: %w", err)
	}
	return ok, nil
}

// RequireVersion checks, without changing anything, that the schema has
// every migration this binary knows: what a service that is not the owner
// does instead of migrating.
func RequireVersion(ctx context.Context, pool *pgxpool.Pool) error {
	latest, err := LatestVersion()
	if err != nil {
		return err
	}
	var current int64
	err = pool.QueryRow(ctx, `SELECT CASE WHEN to_regclass('goose_db_version') IS NULL THEN 0
		ELSE (SELECT coalesce(max(version_id), 0) FROM goose_db_version) END`).Scan(&current)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if current < latest {
		return fmt.Errorf("schema at version %d, this binary needs %d: run `tradestream db migrate` as the owner", current, latest)
	}
	return nil
}

// LatestVersion is the newest migration embedded in the binary.
func LatestVersion() (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		digits, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: no version number", e.Name())
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
