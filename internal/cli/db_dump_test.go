package cli

import (
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestPgDumpRestoreResumesFromItsOffsets is the README's first backup
// path: a pg_dump taken while the sink loads holds the rows and the offsets
// of one moment together, so after the database is lost and the dump
// restored, the sink resumes at the dump's offsets and loads only the
// tail produced since: the same rows as a database that was never lost,
// each offset of the topics once, the alert rules kept, verify OK.
func TestPgDumpRestoreResumesFromItsOffsets(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (Debian's postgresql-client; scripts/stack installs it): %v", tool, err)
		}
	}
	brokers := kafkatest.Brokers(t)
	db := pgtest.Schema(t)
	base := pgtest.URL(t)
	u, err := url.Parse(db.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	topics := kafkatest.Topics(t, brokers, 2, 1)
	names := kafka.TopicNames(topics.Prefix)
	group := topics.Prefix + "sink"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","), "TRADESTREAM_DATABASE_URL": db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX": topics.Prefix, "TRADESTREAM_SINK_GROUP": group, "TRADESTREAM_LOG_LEVEL": "warn",
	}
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	if _, err := feed.Produce(ctx, producer, names, feed.Config{Seed: 1, Users: 60, Events: 3000, MalformedEvery: 150}); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := run(t, env, "sink", "--until-caught-up", "--metrics-addr="); code != ExitOK {
		t.Fatalf("sink: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := run(t, env, "alerts", "add", "big_trade", "any", "250000", "--note", "kept by the dump"); code != ExitOK {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}
	first := loadedRows(tableCounts(ctx, t, db.URL.Reveal()))

	// The dump is taken while more records arrive and the sink loads them.
	pool, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sink := start(t, env, "sink", "--metrics-addr=", "--batch-size", "500", "--batch-timeout", "20ms")
	var produced sync.WaitGroup
	produced.Add(1)
	go func() {
		defer produced.Done()
		for seed := uint64(2); seed <= 11 && ctx.Err() == nil; seed++ {
			if _, err := feed.Produce(ctx, producer, names, feed.Config{Seed: seed, Users: 60, Events: 1500, MalformedEvery: 150}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
	}()
	waitFor(t, time.Minute, "the sink loading the later records", func() bool {
		return count(ctx, t, pool, `SELECT (SELECT count(*) FROM price_ticks) + (SELECT count(*) FROM trades)`) > first+1000
	})
	dump := filepath.Join(t.TempDir(), "tradestream.dump")
	if out, err := exec.CommandContext(ctx, "pg_dump", "-Fc", "-n", schema, "-f", dump, "-d", base).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	produced.Wait()
	waitFor(t, time.Minute, "the sink to catch up", func() bool { return caughtUp(ctx, t, pool, brokers, group, names) })
	sink.stop(t, "sink")
	never := tableCounts(ctx, t, db.URL.Reveal())
	pool.Close()

	// The database is lost, and restored from the dump.
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if out, err := exec.CommandContext(ctx, "pg_restore", "--exit-on-error", "-d", base, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	restored := tableCounts(ctx, t, db.URL.Reveal())
	if r, n := loadedRows(restored), loadedRows(never); r <= first || r >= n {
		t.Fatalf("the dump holds %d rows of prices and trades; want more than the %d before it was taken, fewer than the %d at the end: it was not taken mid-load",
			r, first, n)
	}
	code, out, stderr := run(t, env, "alerts", "list")
	if code != ExitOK || !strings.Contains(out, "kept by the dump") {
		t.Errorf("alerts list after the restore: exit %d, want the rule kept by the dump\n%s\n%s", code, out, stderr)
	}

	code, out, stderr = run(t, env, "sink", "--until-caught-up", "--metrics-addr=")
	if code != ExitOK {
		t.Fatalf("sink on the restored database: exit %d\n%s\n%s", code, out, stderr)
	}
	got := tableCounts(ctx, t, db.URL.Reveal())
	if !reflect.DeepEqual(got, never) {
		t.Errorf("after the restore and the tail: rows %v, want those of the database never lost %v", got, never)
	}
	code, out, stderr = run(t, env, "verify", "--require-caught-up")
	if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") {
		t.Fatalf("verify after the restore: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("rows of prices and trades: %d before the dump, %d in it, %d after the tail (%d in the database never lost)",
		first, loadedRows(restored), loadedRows(got), loadedRows(never))
}

// loadedRows is the price ticks and trades of tableCounts.
func loadedRows(c map[string]int64) int64 { return c["price_ticks"] + c["trades"] }
