package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// unreachableOwner is a --database-url no connection can use: a service
// that needs only its own role never touches it.
const unreachableOwner = "postgres://nobody:unused@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"

// TestServicesRunAsTheirRoles migrates as the owner, creates the roles
// with `db roles`, then runs the alerts engine and the sink as the loader
// and verify as the reader, all over verify-full TLS and with an owner URL
// that cannot connect: the sink creates the day partition the feed needs
// (2025-06-02, far from today's) through create_day_partition.
func TestServicesRunAsTheirRoles(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	db := pgtest.Schema(t)
	logins := pgtest.NewLogins(t)
	owner := pgtest.TLS(t, db, store.Login{})
	loader := pgtest.TLS(t, db, logins.Loader).URL.Reveal()
	reader := pgtest.TLS(t, db, logins.Reader).URL.Reveal()
	topics := kafkatest.Topics(t, brokers, 2, 1)
	base := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","),
		"TRADESTREAM_TOPIC_PREFIX":  topics.Prefix,
		"TRADESTREAM_SINK_GROUP":    topics.Prefix + "sink",
		"TRADESTREAM_ALERTS_GROUP":  topics.Prefix + "alerts",
		"TRADESTREAM_LOG_LEVEL":     "warn",
	}
	asOwner := copyEnv(base, "TRADESTREAM_DATABASE_URL", owner.URL.Reveal(),
		"TRADESTREAM_DATABASE_LOADER_URL", loader, "TRADESTREAM_DATABASE_READER_URL", reader)
	asLoader := copyEnv(base, "TRADESTREAM_DATABASE_URL", unreachableOwner, "TRADESTREAM_DATABASE_LOADER_URL", loader)
	asReader := copyEnv(base, "TRADESTREAM_DATABASE_URL", unreachableOwner, "TRADESTREAM_DATABASE_READER_URL", reader)

	if code, out, stderr := run(t, asOwner, "db", "migrate"); code != ExitOK {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr := run(t, asOwner, "db", "roles")
	if code != ExitOK || !strings.Contains(out, "role "+logins.Loader.Name+" (loader): created") ||
		!strings.Contains(out, "role "+logins.Reader.Name+" (reader): created") {
		t.Fatalf("db roles: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, secret := range []string{logins.Loader.Password.Reveal(), logins.Reader.Password.Reveal()} {
		if strings.Contains(out+stderr, secret) {
			t.Errorf("db roles printed a password:\n%s\n%s", out, stderr)
		}
	}
	if code, out, stderr := run(t, asOwner, "alerts", "add", "big_trade", "*", "1"); code != ExitOK {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kcfg := kafkatest.Config(brokers)
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	exp, err := feed.Produce(ctx, producer, kafka.TopicNames(topics.Prefix), feed.Config{Seed: 11, Users: 40, Events: 1500})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.Open(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// The alerts engine as the loader, until it has evaluated every price
	// and trade and its outbox is empty.
	_, alertsErr, stopAlerts := background(t, asLoader, "alerts", "run", "--from-start", "--metrics-addr=")
	evaluated := func() bool {
		var next, pending int64
		err := pool.QueryRow(ctx, `SELECT (SELECT coalesce(sum(next_offset), 0) FROM alert_offsets WHERE group_id = $1),
			(SELECT count(*) FROM alert_outbox)`, topics.Prefix+"alerts").Scan(&next, &pending)
		return err == nil && next == int64(exp.Prices+exp.Trades) && pending == 0
	}
	for !evaluated() {
		if ctx.Err() != nil {
			t.Fatalf("alerts engine as the loader did not evaluate %d records; stderr:\n%s", exp.Prices+exp.Trades, alertsErr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := stopAlerts(); code != ExitOK {
		t.Fatalf("alerts run as the loader: exit %d\n%s", code, alertsErr.String())
	}

	code, out, stderr = run(t, asLoader, "sink", "--until-caught-up", "--metrics-addr=", "--batch-size", "400")
	if code != ExitOK {
		t.Fatalf("sink as the loader: exit %d\n%s\n%s", code, out, stderr)
	}
	if strings.Contains(out, "applied migration") {
		t.Errorf("sink as the loader migrated:\n%s", out)
	}
	code, out, stderr = run(t, asReader, "verify", "--require-caught-up")
	if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") {
		t.Fatalf("verify as the reader: exit %d\n%s\n%s", code, out, stderr)
	}

	var ticks, trades, users, alerts int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM price_ticks), (SELECT count(*) FROM trades),
		(SELECT count(*) FROM users), (SELECT count(*) FROM alerts)`).Scan(&ticks, &trades, &users, &alerts); err != nil {
		t.Fatal(err)
	}
	if ticks != exp.Prices || trades != exp.Trades || users != exp.Users || alerts != exp.Trades {
		t.Errorf("got %d ticks, %d trades, %d users, %d alerts; want %d, %d, %d and one alert per trade (%d)",
			ticks, trades, users, alerts, exp.Prices, exp.Trades, exp.Users, exp.Trades)
	}
	for day := range exp.Days {
		name := store.PartitionName("trades", day)
		var partOwner string
		if err := pool.QueryRow(ctx, `SELECT pg_get_userbyid(relowner) FROM pg_class
			WHERE relname = $1 AND relnamespace = current_schema()::regnamespace`, name).Scan(&partOwner); err != nil {
			t.Errorf("partition %s of the feed's day: %v", name, err)
		} else if partOwner == logins.Loader.Name {
			t.Errorf("partition %s is owned by the loader", name)
		}
	}
}

// TestLoaderOnAnOldSchemaSaysToMigrate runs the sink as the loader on a
// schema a migration behind: it must stop with the versions and the fix.
func TestLoaderOnAnOldSchemaSaysToMigrate(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	pool, db := pgtest.Migrated(t)
	logins := pgtest.NewLogins(t)
	ctx := context.Background()
	if _, err := store.EnsureRoles(ctx, pool, logins.Loader, logins.Reader); err != nil {
		t.Fatal(err)
	}
	latest, err := store.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM goose_db_version WHERE version_id = $1", latest); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS":       strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":        unreachableOwner,
		"TRADESTREAM_DATABASE_LOADER_URL": pgtest.TLS(t, db, logins.Loader).URL.Reveal(),
	}
	code, _, stderr := run(t, env, "sink", "--until-caught-up", "--metrics-addr=")
	want := "this binary needs " + strconv.FormatInt(latest, 10) + ": run `tradestream db migrate` as the owner"
	if code == ExitOK || !strings.Contains(stderr, want) {
		t.Errorf("sink as the loader on an old schema: exit %d, stderr %q; want a failure saying %q", code, stderr, want)
	}
}
