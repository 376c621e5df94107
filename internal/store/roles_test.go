package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// rolesSchema is a migrated test schema with its own loader and reader,
// made by EnsureRoles, and pools for both over verify-full TLS.
type rolesSchema struct {
	owner          *pgxpool.Pool
	cfg            config.Database
	logins         pgtest.Logins
	loader, reader *pgxpool.Pool
}

func newRolesSchema(t *testing.T) rolesSchema {
	t.Helper()
	owner, cfg := pgtest.Migrated(t)
	logins := pgtest.NewLogins(t)
	ctx := context.Background()
	got, err := store.EnsureRoles(ctx, owner, logins.Loader, logins.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Created || !got[1].Created {
		t.Fatalf("first EnsureRoles: got %+v, want both roles created", got)
	}
	// Idempotent: run again, the roles exist and keep working.
	got, err = store.EnsureRoles(ctx, owner, logins.Loader, logins.Reader)
	if err != nil || got[0].Created || got[1].Created {
		t.Fatalf("second EnsureRoles: got %+v, %v; want both updated", got, err)
	}
	rs := rolesSchema{owner: owner, cfg: cfg, logins: logins}
	rs.loader = openAs(t, pgtest.TLS(t, cfg, logins.Loader))
	rs.reader = openAs(t, pgtest.TLS(t, cfg, logins.Reader))
	return rs
}

func openAs(t *testing.T, cfg config.Database) *pgxpool.Pool {
	t.Helper()
	pool, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// sqlState runs sql on pool and returns the SQLSTATE it failed with, or
// "" when it succeeded.
func sqlState(t *testing.T, pool *pgxpool.Pool, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// The reader's sessions are read-only by default; turn that off, as
	// anyone may, so that what is refused is refused for want of a right.
	if _, err := conn.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, sql)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return ""
}

const (
	denied     = "42501" // insufficient_privilege
	badParam   = "22023" // invalid_parameter_value
	allowed    = ""
	otherTable = "other_schema_table"
)

func TestLoaderAndReaderCannotExceedTheirJobs(t *testing.T) {
	rs := newRolesSchema(t)
	ctx := context.Background()
	other, _ := pgtest.Pool(t) // another schema, the owner's
	if _, err := other.Exec(ctx, "CREATE TABLE "+otherTable+" (secret text); INSERT INTO "+otherTable+" VALUES ('x')"); err != nil {
		t.Fatal(err)
	}
	var otherSchema string
	if err := other.QueryRow(ctx, "SELECT current_schema()").Scan(&otherSchema); err != nil {
		t.Fatal(err)
	}
	elsewhere := pgx.Identifier{otherSchema, otherTable}.Sanitize()
	if _, err := rs.owner.Exec(ctx, `INSERT INTO alert_rules (kind, symbol, threshold) VALUES ('price_above', 'ACME', 10);
		INSERT INTO users VALUES (1, 'Ada', 'ada@example.com', 'GB', now(), 'novice', 'low', '{}', now(), 0, 0)`); err != nil {
		t.Fatal(err)
	}
	future := time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly)

	for _, tc := range []struct {
		role string
		sql  string
		want string
	}{
		// The loader: its rows, nothing more.
		{"loader", "DROP TABLE trades", denied},
		{"loader", "CREATE TABLE made_by_loader (i int)", denied},
		{"loader", "ALTER TABLE trades ADD COLUMN extra int", denied},
		{"loader", "TRUNCATE sink_offsets", denied},
		{"loader", "CREATE TABLE public.made_by_loader (i int)", denied},
		{"loader", "SELECT * FROM trades", denied},
		{"loader", "SELECT * FROM price_ticks", denied},
		{"loader", "SELECT balance_after FROM trades", denied},
		{"loader", "SELECT price, quantity FROM trades", allowed},
		{"loader", "SELECT count(*) FROM rollup_positions", allowed},
		{"loader", "DELETE FROM rollup_prices_1m", denied},
		{"loader", "TRUNCATE rollup_trades_1m", denied},
		{"loader", "SELECT key, value FROM dead_letters", denied},
		{"loader", "SELECT message FROM alerts", denied},
		{"loader", "INSERT INTO alert_rules (kind, symbol, threshold) VALUES ('price_above', 'X', 1)", denied},
		{"loader", "DELETE FROM alert_rules", denied},
		{"loader", "DELETE FROM dead_letters", denied},
		// Replaying dead letters reads their raw records and marks them:
		// the owner's job (`deadletters replay`), not the loader's.
		{"loader", "UPDATE dead_letters SET replayed_at = now(), replay_outcome = 'loaded'", denied},
		{"loader", "SELECT replay_outcome FROM dead_letters", denied},
		{"loader", "SELECT * FROM " + elsewhere, denied},
		{"loader", "DROP FUNCTION create_day_partition(text, date)", denied},
		{"loader", "SELECT create_day_partition('users', current_date)", badParam},
		{"loader", "SELECT create_day_partition('trades', '1900-01-01')", badParam},
		{"loader", "SELECT user_id, kafka_offset FROM users", allowed},
		{"loader", "INSERT INTO sink_offsets (group_id, topic, kafka_partition, next_offset) VALUES ('g', 't', 0, 1)", allowed},
		{"loader", "SELECT rule_id, threshold FROM alert_rules", allowed},
		{"loader", "UPDATE users SET email = 'new@example.com' WHERE user_id = 1", allowed},
		{"loader", "SELECT create_day_partition('trades', '" + future + "')", allowed},
		// The reader: everything to read, nothing to write.
		{"reader", "SELECT count(*) FROM trades", allowed},
		{"reader", "SELECT email FROM users", allowed},
		{"reader", "SELECT * FROM user_pnl", allowed},
		{"reader", "SELECT * FROM sink_offsets", allowed},
		{"reader", "SELECT key, value, replayed_at, replay_outcome, replay_reason, replay_error FROM dead_letters", allowed},
		{"reader", "UPDATE dead_letters SET replayed_at = now(), replay_outcome = 'loaded'", denied},
		{"reader", "INSERT INTO sink_offsets (group_id, topic, kafka_partition, next_offset) VALUES ('g', 't', 0, 1)", denied},
		{"reader", "UPDATE users SET email = 'x'", denied},
		{"reader", "DELETE FROM alert_rules", denied},
		{"reader", "INSERT INTO alert_rules (kind, symbol, threshold) VALUES ('price_above', 'X', 1)", denied},
		{"reader", "TRUNCATE trades", denied},
		{"reader", "DROP TABLE alerts", denied},
		{"reader", "CREATE TABLE made_by_reader (i int)", denied},
		{"reader", "SELECT create_day_partition('trades', current_date + 40)", denied},
		{"reader", "SELECT * FROM " + elsewhere, denied},
	} {
		pool := rs.loader
		if tc.role == "reader" {
			pool = rs.reader
		}
		if got := sqlState(t, pool, tc.sql); got != tc.want {
			t.Errorf("%s: %s: got SQLSTATE %q, want %q", tc.role, tc.sql, got, tc.want)
		}
	}

	// The partition the loader asked for exists and belongs to the owner.
	var owner string
	name := "trades_p" + strings.ReplaceAll(future, "-", "")
	if err := rs.owner.QueryRow(ctx, `SELECT pg_get_userbyid(relowner) FROM pg_class
		WHERE relname = $1 AND relnamespace = current_schema()::regnamespace`, name).Scan(&owner); err != nil {
		t.Fatalf("partition %s made by the loader: %v", name, err)
	}
	if owner == rs.logins.Loader.Name {
		t.Errorf("partition %s: got owner %s, want the schema's owner", name, owner)
	}
	var again bool
	if err := rs.loader.QueryRow(ctx, "SELECT create_day_partition('trades', $1::date)", future).Scan(&again); err != nil || again {
		t.Errorf("second create_day_partition: got %v, %v; want false (it exists)", again, err)
	}
}

func TestRoleSessionsUseVerifiedTLS(t *testing.T) {
	rs := newRolesSchema(t)
	ctx := context.Background()
	for name, pool := range map[string]*pgxpool.Pool{"loader": rs.loader, "reader": rs.reader} {
		var user string
		var ssl bool
		if err := pool.QueryRow(ctx, "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&user, &ssl); err != nil {
			t.Fatal(err)
		}
		if !ssl || (user != rs.logins.Loader.Name && user != rs.logins.Reader.Name) {
			t.Errorf("%s session: got user %s, ssl %v; want its own role over TLS", name, user, ssl)
		}
	}
	var readOnly string
	if err := rs.reader.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&readOnly); err != nil || readOnly != "on" {
		t.Errorf("reader session: got default_transaction_read_only %q (%v), want on", readOnly, err)
	}
	wrong := rs.logins.Loader
	wrong.Password = "not-the-password"
	cfg := pgtest.TLS(t, rs.cfg, wrong)
	cfg.ConnectTimeout = 3 * time.Second
	_, err := store.Open(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "28P01") || !strings.Contains(err.Error(), "refused the connection") {
		t.Errorf("wrong password: got %v, want a refusal at once: an authentication failure (28P01)", err)
	}
	if err != nil && strings.Contains(err.Error(), wrong.Password.Reveal()) {
		t.Errorf("wrong password: the error shows the password: %v", err)
	}
}

func TestLoaderUpkeepCreatesButNeverDrops(t *testing.T) {
	rs := newRolesSchema(t)
	ctx := context.Background()
	old := time.Now().UTC().AddDate(0, 0, -20)
	if _, err := store.EnsurePartitions(ctx, rs.owner, old, old); err != nil {
		t.Fatal(err)
	}
	if owner, err := store.IsOwner(ctx, rs.loader); err != nil || owner {
		t.Fatalf("IsOwner as the loader: got %v, %v; want false", owner, err)
	}
	if owner, err := store.IsOwner(ctx, rs.owner); err != nil || !owner {
		t.Fatalf("IsOwner as the owner: got %v, %v; want true", owner, err)
	}
	created, dropped, err := store.Upkeep(ctx, rs.loader, time.Now().AddDate(0, 0, 10), 2, 7)
	if err != nil {
		t.Fatalf("upkeep as the loader: %v", err)
	}
	if len(created) == 0 || len(dropped) != 0 {
		t.Errorf("upkeep as the loader: got created %v, dropped %v; want new partitions and no drop", created, dropped)
	}
	_, dropped, err = store.Upkeep(ctx, rs.owner, time.Now(), 2, 7)
	if err != nil || len(dropped) == 0 {
		t.Errorf("upkeep as the owner: got dropped %v, %v; want the 20-day-old partitions dropped", dropped, err)
	}
}

func TestLoaderChecksTheSchemaVersion(t *testing.T) {
	rs := newRolesSchema(t)
	ctx := context.Background()
	if err := store.RequireVersion(ctx, rs.loader); err != nil {
		t.Fatalf("migrated schema: %v", err)
	}
	latest, err := store.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.owner.Exec(ctx, "DELETE FROM goose_db_version WHERE version_id = $1", latest); err != nil {
		t.Fatal(err)
	}
	err = store.RequireVersion(ctx, rs.loader)
	want := "run `tradestream db migrate` as the owner"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "this binary needs") {
		t.Errorf("schema one version behind: got %v, want an error saying %q", err, want)
	}
}

func TestEnsureRolesRefusesTheOwnerAndSharedNames(t *testing.T) {
	owner, cfg := pgtest.Migrated(t)
	logins := pgtest.NewLogins(t)
	ownerLogin, err := store.LoginOf(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		loader, reader store.Login
	}{
		{"owner as loader", ownerLogin, logins.Reader},
		{"one role for both", logins.Loader, logins.Loader},
	} {
		if _, err := store.EnsureRoles(context.Background(), owner, tc.loader, tc.reader); err == nil {
			t.Errorf("%s: got no error", tc.name)
		}
	}
}

func TestLoginOf(t *testing.T) {
	for _, tc := range []struct {
		cs, user, password string
	}{
		{"postgres://ld:s3cret@127.0.0.1:5432/db", "ld", "s3cret"},
		{"postgres://ld@127.0.0.1/db?password=s3cret", "ld", "s3cret"},
		{"host=127.0.0.1 user=ld password='s3 cret' dbname=db", "ld", "s3 cret"},
	} {
		got, err := store.LoginOf(config.ConnString(tc.cs))
		if err != nil || got.Name != tc.user || got.Password.Reveal() != tc.password {
			t.Errorf("LoginOf(%s): got %q, %q, %v; want %q, %q", config.Redact(tc.cs), got.Name, got.Password.Reveal(), err, tc.user, tc.password)
		}
	}
	_, err := store.LoginOf("postgres://ld@127.0.0.1/db")
	if err == nil {
		t.Errorf("LoginOf without a password: got no error")
	}
}
