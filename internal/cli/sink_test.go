package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

func TestSinkThenVerifyCommands(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	db := pgtest.Schema(t)
	topics := kafkatest.Topics(t, brokers, 2, 1)
	kcfg := kafkatest.Config(brokers)
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exp, err := feed.Produce(ctx, producer, kafka.TopicNames(topics.Prefix), feed.Config{Seed: 9, Users: 50, Events: 3000, MalformedEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":  db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX":  topics.Prefix,
		"TRADESTREAM_SINK_GROUP":    topics.Prefix + "sink",
		"TRADESTREAM_LOG_LEVEL":     "warn",
	}
	code, out, stderr := run(t, env, "sink", "--until-caught-up", "--metrics-addr=", "--batch-size", "500")
	if code != ExitOK {
		t.Fatalf("sink --until-caught-up: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run(t, env, "verify", "--require-caught-up")
	if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "dead ") || !strings.Contains(out, "malformed_json") {
		t.Errorf("verify output lacks the dead letters by reason (%d malformed):\n%s", exp.MalformedTotal(), out)
	}

	pool, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `DELETE FROM price_ticks WHERE kafka_offset = 7`); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, env, "verify", "--json")
	if code != ExitFailure || !strings.Contains(out, `"missing": 1`) || !strings.Contains(stderr, "verify: ") {
		t.Errorf("verify after deleting a row: exit %d, want %d with the missing offset\n%s\n%s", code, ExitFailure, out, stderr)
	}
}
