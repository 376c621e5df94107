package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// started is a command running in the background.
type started struct {
	cancel   context.CancelFunc
	done     chan int
	out, err bytes.Buffer
}

// start runs a command line until stop, like run.
func start(t *testing.T, env map[string]string, args ...string) *started {
	t.Helper()
	s := &started{done: make(chan int, 1)}
	io := IO{Stdin: strings.NewReader(""), Stdout: &s.out, Stderr: &s.err,
		Getenv: func(k string) string { return env[k] }, Now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- Run(ctx, args, io) }()
	t.Cleanup(func() { cancel(); <-s.done; s.done <- 0 })
	return s
}

// stop ends the command and fails the test unless it exited 0.
func (s *started) stop(t *testing.T, what string) {
	t.Helper()
	s.cancel()
	code := <-s.done
	s.done <- code
	if code != ExitOK {
		t.Errorf("%s: exit %d\n%s\n%s", what, code, s.out.String(), s.err.String())
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAddPartitionsOnline grows the topics from 2 to 4 partitions while
// the generator, the sink and the alerts engine run: the sink and the
// engine consume the new partitions without a restart, every offset ends
// as exactly one row (verify), users whose key moved to a new partition
// end at their newest version, and the alerts engine's state of each
// symbol that moved goes along with it.
func TestAddPartitionsOnline(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	db := pgtest.Schema(t)
	topics := kafkatest.Topics(t, brokers, 2, 1)
	names := kafka.TopicNames(topics.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","), "TRADESTREAM_DATABASE_URL": db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX": topics.Prefix, "TRADESTREAM_SINK_GROUP": topics.Prefix + "sink", "TRADESTREAM_LOG_LEVEL": "warn",
	}
	if code, out, stderr := run(t, env, "db", "migrate"); code != ExitOK {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := run(t, env, "alerts", "add", "big_trade", "any", "0.01"); code != ExitOK {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}
	// A baseline that never fires counts each symbol's ticks in its state.
	if code, out, stderr := run(t, env, "alerts", "add", "volume_spike", "any", "1000", "--window", "1h"); code != ExitOK {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}
	pool, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// Users of our own, whose second version comes after the growth.
	const users = 40
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	v1 := produceUsers(ctx, t, brokers, names.Users, users, "v1", t0)

	gen := start(t, env, "gen", "all", "--seed", "4", "--users", "20", "--rate", "400", "--metrics-addr=")
	sink := start(t, env, "sink", "--metrics-addr=", "--batch-timeout", "50ms")
	alerts := start(t, env, "alerts", "run", "--group", topics.Prefix+"alerts", "--from-start", "--metrics-addr=")
	waitFor(t, time.Minute, "trades and alerts loaded before the growth", func() bool {
		return count(ctx, t, pool, `SELECT count(*) FROM trades`) > 0 && count(ctx, t, pool, `SELECT count(*) FROM alerts`) > 0
	})

	code, out, stderr := run(t, env, "topics", "add-partitions", "--topic-partitions", "4")
	if code != ExitOK || strings.Count(out, "from 2 to 4 partitions") != 5 {
		t.Fatalf("add-partitions: exit %d\n%s\n%s", code, out, stderr)
	}
	code, _, stderr = run(t, env, "topics", "add-partitions", "--topic-partitions", "3")
	if code == ExitOK || !strings.Contains(stderr, "has 4 partitions already") {
		t.Errorf("shrinking: exit %d, stderr %q; want a refusal naming the count", code, stderr)
	}
	v2 := produceUsers(ctx, t, brokers, names.Users, users, "v2", t0.Add(time.Minute))

	waitFor(t, 90*time.Second, "rows and alerts from the new partitions", func() bool {
		return count(ctx, t, pool, `SELECT count(*) FROM trades WHERE kafka_partition >= 2`) > 0 &&
			count(ctx, t, pool, `SELECT count(*) FROM price_ticks WHERE kafka_partition >= 2`) > 0 &&
			count(ctx, t, pool, `SELECT count(*) FROM alerts WHERE alert_id ~ '-trades-[23]-'`) > 0
	})
	// The producers stop first (the alerts engine writes the alerts topic
	// the sink loads), then the sink catches up with all they wrote.
	gen.stop(t, "gen")
	alerts.stop(t, "alerts")
	waitFor(t, time.Minute, "the sink to catch up", func() bool { return caughtUp(ctx, t, pool, brokers, topics.Prefix+"sink", names) })
	sink.stop(t, "sink")

	code, out, stderr = run(t, env, "verify", "--require-caught-up")
	if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, stderr)
	}
	moved := 0
	for id := int64(1); id <= users; id++ {
		if v1[id] != v2[id] {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no user key moved to another partition: the test tested nothing")
	}
	if n := count(ctx, t, pool, `SELECT count(*) FROM users WHERE user_id > 900000 AND name = 'v2'`); n != users {
		t.Errorf("got %d of %d users at their newest version (%d keys moved partition)", n, users, moved)
	}

	// The alerts engine's per-symbol state went along with each symbol that
	// moved to a new partition: the baseline in the new partition counts
	// the symbol's ticks evaluated in the old partition too, not only those
	// evaluated in the new one.
	rows, err := pool.Query(ctx, `
		WITH evaluated AS (
			SELECT t.symbol, t.kafka_partition, count(*) AS n
			FROM price_ticks t JOIN alert_offsets o
			  ON o.group_id = $1 AND o.topic = 'prices' AND o.kafka_partition = t.kafka_partition AND t.kafka_offset < o.next_offset
			GROUP BY 1, 2)
		SELECT s.symbol, s.kafka_partition, (s.state->>'n')::bigint, e.n, (SELECT sum(n) FROM evaluated a WHERE a.symbol = s.symbol)::bigint
		FROM alert_state s JOIN alert_rules r ON r.rule_id = s.rule_id AND r.kind = 'volume_spike'
		JOIN evaluated e ON e.symbol = s.symbol AND e.kafka_partition = s.kafka_partition
		WHERE s.group_id = $1 AND s.topic = 'prices' AND s.kafka_partition >= 2
		ORDER BY 1`, topics.Prefix+"alerts")
	if err != nil {
		t.Fatal(err)
	}
	symbols := 0
	for rows.Next() {
		var sym string
		var part int32
		var counted, here, all int64
		if err := rows.Scan(&sym, &part, &counted, &here, &all); err != nil {
			t.Fatal(err)
		}
		symbols++
		if counted <= here || counted > all {
			t.Errorf("%s in new partition %d: its baseline counts %d ticks; %d were evaluated there and %d in all: want more than the first, at most the second",
				sym, part, counted, here, all)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if symbols == 0 {
		t.Fatal("no symbol moved to a new partition of prices: the state move was not tested")
	}
	t.Logf("%d symbols moved to a new partition with their alert state", symbols)
}

// produceUsers writes users 900001... named name, updated at at, keyed by
// id (the key hash picks the partition), and returns each one's partition.
func produceUsers(ctx context.Context, t *testing.T, brokers []string, topic string, n int, name string, at time.Time) map[int64]int32 {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	parts := map[int64]int32{}
	for i := int64(1); i <= int64(n); i++ {
		u := event.User{ID: 900000 + i, Name: name, Email: "u@example.com", Country: "DE", SignupAt: at.AddDate(-1, 0, 0),
			Experience: event.ExperienceAdvanced, RiskTolerance: event.RiskHigh, Sectors: []string{"Technology"},
			Account: event.Account{ID: 900000 + i, Type: event.AccountCash, Currency: "EUR", Balance: 100 * event.Unit}, UpdatedAt: at}
		rec := &kgo.Record{Topic: topic, Key: u.Key(), Value: u.AppendJSON(nil), Headers: []kgo.RecordHeader{
			{Key: event.HeaderSchema, Value: []byte(event.SchemaUserV1)},
			{Key: event.HeaderProducedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
			{Key: event.HeaderRunID, Value: []byte("grow-" + name)},
		}}
		res := cl.ProduceSync(ctx, rec)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		parts[i] = res[0].Record.Partition
	}
	return parts
}

func count(ctx context.Context, t *testing.T, pool *pgxpool.Pool, sql string) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// caughtUp reports whether the sink's stored offsets reach the end of every
// non-empty partition of the data topics.
func caughtUp(ctx context.Context, t *testing.T, pool *pgxpool.Pool, brokers []string, group string, names kafka.Topics) bool {
	t.Helper()
	data := []string{names.Users, names.Prices, names.Trades, names.Alerts}
	spans, err := kafka.Spans(ctx, kafkatest.Admin(t, brokers), time.Time{}, data...)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.StoredOffsets(ctx, pool, group, data)
	if err != nil {
		t.Fatal(err)
	}
	for topic, ss := range spans {
		for p, s := range ss {
			if s.Len() > 0 && stored[topic][int32(p)] < s.End {
				return false
			}
		}
	}
	return true
}
