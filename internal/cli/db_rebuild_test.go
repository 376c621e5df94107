package cli

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestDBRebuild loads a run, loses the database's rows, and rebuilds them
// from the topics: the same rows, one per offset of the topics, and
// verify's verdict OK. A database holding rows is refused, unless --force.
func TestDBRebuild(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	db := pgtest.Schema(t)
	topics := kafkatest.Topics(t, brokers, 2, 1)
	kcfg := kafkatest.Config(brokers)
	names := kafka.TopicNames(topics.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	exp, err := feed.Produce(ctx, producer, names, feed.Config{Seed: 5, Users: 60, Events: 4000, MalformedEvery: 90})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","), "TRADESTREAM_DATABASE_URL": db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX": topics.Prefix, "TRADESTREAM_SINK_GROUP": topics.Prefix + "sink", "TRADESTREAM_LOG_LEVEL": "warn",
	}
	if code, out, stderr := run(t, env, "sink", "--until-caught-up", "--metrics-addr="); code != ExitOK {
		t.Fatalf("sink: exit %d\n%s\n%s", code, out, stderr)
	}
	loaded := tableCounts(ctx, t, db.URL.Reveal())

	code, _, stderr := run(t, env, "db", "rebuild")
	if code != ExitUsage || !strings.Contains(stderr, "hold rows") || !strings.Contains(stderr, "--force") {
		t.Errorf("rebuild of a loaded database: exit %d, want %d refusing\n%s", code, ExitUsage, stderr)
	}

	pool, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `TRUNCATE users, accounts, price_ticks, trades, alerts, dead_letters, sink_offsets, rollup_prices_1m, rollup_trades_1m, rollup_positions, rollup_prices_1h, rollup_trades_1h, rollup_symbols`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"db", "rebuild"}, {"db", "rebuild", "--force"}} {
		code, out, stderr := run(t, env, args...)
		if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") || !strings.Contains(out, "rebuild: loaded ") {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, stderr)
		}
		if got := tableCounts(ctx, t, db.URL.Reveal()); !reflect.DeepEqual(got, loaded) {
			t.Errorf("%v: got rows %v, want those of the first load %v", args, got, loaded)
		}
	}

	// Against the topics: every offset of prices and trades is one row or
	// one dead letter; every user one row.
	spans, err := kafka.Spans(ctx, kafkatest.Admin(t, brokers), time.Time{}, names.Prices, names.Trades)
	if err != nil {
		t.Fatal(err)
	}
	var offsets int64
	for _, ss := range spans {
		for _, s := range ss {
			offsets += s.Len()
		}
	}
	var rows, dead, users int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM price_ticks) + (SELECT count(*) FROM trades),
		(SELECT count(*) FROM dead_letters WHERE topic <> $1), (SELECT count(*) FROM users)`, names.Users).Scan(&rows, &dead, &users); err != nil {
		t.Fatal(err)
	}
	if rows+dead != offsets || users != int64(exp.Users) {
		t.Errorf("got %d rows + %d dead letters of prices and trades, %d users; want %d offsets, %d users", rows, dead, users, offsets, exp.Users)
	}
}
