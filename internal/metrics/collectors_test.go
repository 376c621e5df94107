package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/status"
)

// find returns the series of name whose labels include want.
func find(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func TestKafkaHooksExportTheClientsOwnMetrics(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	topic := kafka.TopicNames(tc.Prefix).Prices
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	prod := kafkatest.Client(t, brokers, append(kafka.ProducerOptions(kafkatest.Config(brokers)),
		metrics.KafkaHooks(reg, "producer"))...)
	// A second live client under the same name must not crash the process.
	kafkatest.Client(t, brokers, metrics.KafkaHooks(reg, "producer"))
	for i := range 50 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		metrics.KafkaHooks(reg, "consumer"))
	for n := 0; n < 50; {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
	}

	tests := []struct {
		name   string
		labels map[string]string
		want   float64 // at least
	}{
		{"tradestream_kafka_produce_records_total", map[string]string{"client": "producer", "topic": topic}, 50},
		{"tradestream_kafka_produce_uncompressed_bytes_total", map[string]string{"client": "producer", "topic": topic}, 50},
		{"tradestream_kafka_produce_batches_total", map[string]string{"client": "producer", "topic": topic}, 1},
		{"tradestream_kafka_fetch_records_total", map[string]string{"client": "consumer", "topic": topic}, 50},
		{"tradestream_kafka_fetch_uncompressed_bytes_total", map[string]string{"client": "consumer", "topic": topic}, 50},
		{"tradestream_kafka_connects_total", map[string]string{"client": "consumer"}, 1},
		{"tradestream_kafka_request_duration_e2e_seconds", map[string]string{"client": "producer"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum float64
			for _, m := range find(t, reg, tt.name, tt.labels) {
				sum += value(m)
			}
			if sum < tt.want {
				t.Errorf("got %v, want at least %v", sum, tt.want)
			}
		})
	}
}

func TestPostgresCollector(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error)
		SELECT 't', 0, g, 'x', 'malformed_json', 'e' FROM generate_series(1, 25) g`); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewPostgresCollector(pool, nil))
	// pg_stat_database is updated when the inserting backend reports;
	// wait for it rather than assume.
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := find(t, reg, "tradestream_pg_database_rows_total", map[string]string{"op": "inserted"})
		if len(m) == 1 && value(m[0]) >= 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tradestream_pg_database_rows_total{op=inserted}: got %v, want 25", m)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tests := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"tradestream_pg_up", nil, 1},
		{"tradestream_pg_transactions_committed_total", nil, 1},
		{"tradestream_pg_database_size_bytes", nil, 1},
		{"tradestream_pg_connections", map[string]string{"state": "active"}, 1},
		{"tradestream_pg_max_connections", nil, 1},
		{"tradestream_pg_pool_total_connections", nil, 1},
		{"tradestream_pg_pool_acquires_total", nil, 1},
		{"tradestream_pg_database_rows_total", map[string]string{"op": "inserted"}, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := find(t, reg, tt.name, tt.labels)
			if len(ms) == 0 {
				t.Fatalf("no series")
			}
			if v := value(ms[0]); v < tt.min {
				t.Errorf("got %v, want at least %v", v, tt.min)
			}
		})
	}
	if got := len(find(t, reg, "tradestream_pg_table_size_bytes", nil)); got != 0 {
		t.Errorf("got %d per-table series, want none: they come from the status sampler (TableCollector)", got)
	}
}

func TestTableCollector(t *testing.T) {
	snap := status.Snapshot{At: time.Now(), Tables: []status.Table{
		{Name: "trades", Rows: 40, Estimated: true, Bytes: 9000, Partitions: 2, Inserted: 50, Updated: 3,
			PartitionSizes: []status.PartitionSize{{Name: "trades_p20260310", Bytes: 5000}, {Name: "trades_p20260311", Bytes: 4000}}},
		{Name: "users", Rows: 7, Bytes: 100, Inserted: 7, Updated: 9},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewTableCollector(fixedSource{snap}))
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tradestream_pg_table_rows_inserted_total", map[string]string{"table": "trades"}, 50},
		{"tradestream_pg_table_rows_updated_total", map[string]string{"table": "users"}, 9},
		{"tradestream_pg_table_live_rows", map[string]string{"table": "trades"}, 40},
		{"tradestream_pg_table_size_bytes", map[string]string{"table": "users"}, 100},
		{"tradestream_pg_partition_size_bytes", map[string]string{"table": "trades", "partition": "trades_p20260311"}, 4000},
	}
	for _, tt := range tests {
		ms := find(t, reg, tt.name, tt.labels)
		if len(ms) != 1 || value(ms[0]) != tt.want {
			t.Errorf("%s%v: got %v, want one series of %v", tt.name, tt.labels, ms, tt.want)
		}
	}
	if n := len(find(t, reg, "tradestream_pg_partition_size_bytes", nil)); n != 2 {
		t.Errorf("got %d partition series, want 2", n)
	}
}

// fixedSource is a LagSource with a fixed snapshot.
type fixedSource struct{ snap status.Snapshot }

func (f fixedSource) Latest() (status.Snapshot, bool) { return f.snap, true }

func TestLagCollector(t *testing.T) {
	snap := status.Snapshot{
		At:         time.Now(),
		Topics:     []status.Topic{{Name: "p.prices", UnderReplicated: 1, Offline: 2}},
		Brokers:    []status.Broker{{ID: 1}, {ID: 2, Down: true}, {ID: 3}},
		KafkaError: "list topics: i/o timeout",
		Groups: []status.Group{{
			Name: "sink", Members: 2, Lag: 30, Verdict: status.Stall,
			Trend: status.Shrinking, ConsumeRate: 120, CatchUpSeconds: 7.5,
			Partitions: []status.PartitionState{
				{Topic: "p.prices", Partition: 0, Committed: 70, End: 100, Lag: 30, LagSeconds: 2.5,
					RetentionLeftSeconds: 40, Retention: status.RetentionAtRisk},
				{Topic: "p.prices", Partition: 1, Committed: -1, End: 50, Lag: -1, RetentionLeftSeconds: -1},
			},
		}},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewLagCollector(fixedSource{snap}))
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tradestream_kafka_consumer_lag", map[string]string{"group": "sink", "topic": "p.prices", "partition": "0"}, 30},
		{"tradestream_kafka_consumer_lag_seconds", map[string]string{"group": "sink", "partition": "0"}, 2.5},
		{"tradestream_kafka_consumer_committed_offset", map[string]string{"group": "sink", "partition": "0"}, 70},
		{"tradestream_kafka_log_end_offset", map[string]string{"topic": "p.prices", "partition": "1"}, 50},
		{"tradestream_kafka_consumer_group_lag", map[string]string{"group": "sink"}, 30},
		{"tradestream_kafka_consumer_group_members", map[string]string{"group": "sink"}, 2},
		{"tradestream_kafka_consumer_group_verdict", map[string]string{"group": "sink", "verdict": "STALL"}, 1},
		{"tradestream_kafka_consumer_group_verdict", map[string]string{"group": "sink", "verdict": "OK"}, 0},
		{"tradestream_kafka_consumer_group_status", map[string]string{"group": "sink"}, 5},
		{"tradestream_kafka_topic_under_replicated_partitions", map[string]string{"topic": "p.prices"}, 1},
		{"tradestream_kafka_topic_offline_partitions", map[string]string{"topic": "p.prices"}, 2},
		{"tradestream_kafka_brokers", map[string]string{"state": "up"}, 2},
		{"tradestream_kafka_brokers", map[string]string{"state": "down"}, 1},
		{"tradestream_kafka_broker_up", map[string]string{"broker": "2"}, 0},
		{"tradestream_kafka_broker_up", map[string]string{"broker": "3"}, 1},
		{"tradestream_kafka_sample_error", nil, 1},
		{"tradestream_kafka_consumer_group_lag_trend", map[string]string{"group": "sink"}, -1},
		{"tradestream_kafka_consumer_group_consume_records_per_second", map[string]string{"group": "sink"}, 120},
		{"tradestream_kafka_consumer_group_catch_up_seconds", map[string]string{"group": "sink"}, 7.5},
		{"tradestream_kafka_consumer_retention_left_seconds", map[string]string{"group": "sink", "partition": "0"}, 40},
		{"tradestream_kafka_consumer_retention_risk", map[string]string{"group": "sink", "partition": "0"}, 1},
	}
	for _, tt := range tests {
		ms := find(t, reg, tt.name, tt.labels)
		if len(ms) != 1 || value(ms[0]) != tt.want {
			t.Errorf("%s%v: got %v, want one series of %v", tt.name, tt.labels, ms, tt.want)
		}
	}
	if n := len(find(t, reg, "tradestream_kafka_consumer_committed_offset", nil)); n != 1 {
		t.Errorf("got %d committed offset series, want 1 (none for a partition without commit)", n)
	}
	if n := len(find(t, reg, "tradestream_kafka_consumer_group_verdict", nil)); n != 5 {
		t.Errorf("got %d verdict series, want 5 (one per verdict)", n)
	}
}
