package sink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/verify"
)

// testEnv is one test's own topics and schema on the real services.
type testEnv struct {
	kcfg     config.Kafka
	topics   config.Topics
	names    kafka.Topics
	pool     *pgxpool.Pool
	db       config.Database
	producer *kgo.Client
	group    string
}

func newTestEnv(t *testing.T, partitions int) *testEnv {
	t.Helper()
	return newTestEnvOn(t, kafkatest.Brokers(t), partitions, 1)
}

// newTestEnvOn is newTestEnv on brokers, with topics of replication
// replicas.
func newTestEnvOn(t *testing.T, brokers []string, partitions, replication int) *testEnv {
	t.Helper()
	pool, db := pgtest.Migrated(t)
	topics := kafkatest.Topics(t, brokers, partitions, replication)
	kcfg := kafkatest.Config(brokers)
	return &testEnv{
		kcfg: kcfg, topics: topics, names: kafka.TopicNames(topics.Prefix), pool: pool, db: db,
		producer: kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...),
		group:    topics.Prefix + "sink",
	}
}

func (e *testEnv) options() Options {
	return Options{
		Group: e.group, Topics: e.names, BatchSize: 1000, BatchTimeout: 100 * time.Millisecond,
		UntilCaughtUp: true, PartitionsAhead: 3, SessionTimeout: 6 * time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: time.Second,
	}
}

// testLogger logs to stderr with TRADESTREAM_TEST_SINK_LOG set, else into
// a buffer that is printed if the test fails.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("TRADESTREAM_TEST_SINK_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("sink log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runSink runs a sink with opts until it returns, failing the test after
// timeout.
func (e *testEnv) runSink(t *testing.T, opts Options, reg prometheus.Registerer, timeout time.Duration) {
	t.Helper()
	s, err := New(e.kcfg, e.pool, testLogger(t), reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("sink run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("sink did not catch up within %v", timeout)
	}
}

// produce sends records and waits for them.
func (e *testEnv) produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// record builds a data record with the contract's headers.
func record(topic, schema string, key, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: key, Value: value, Headers: []kgo.RecordHeader{
		{Key: event.HeaderSchema, Value: []byte(schema)},
		{Key: event.HeaderProducedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		{Key: event.HeaderRunID, Value: []byte("test")},
	}}
}

func (e *testEnv) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// verify runs `tradestream verify`'s reconciliation and fails the test on
// any problem.
func (e *testEnv) verify(t *testing.T, retentionDays int) *verify.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{
		Group: e.group, Topics: e.names, RetentionDays: retentionDays, RequireCaughtUp: true,
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		t.Errorf("verify found problems: %v", rep.Problems)
	}
	// Every rollup, not verify's sample of them, equals the raw rows'
	// recomputation: effectively-once like the rows.
	assertRollupsExact(t, e.pool, retentionDays)
	return rep
}

// consumer returns a client reading topic from its start, without a group.
func (e *testEnv) consumer(t *testing.T, topic string) *kgo.Client {
	t.Helper()
	return kafkatest.Client(t, e.kcfg.Brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
}
