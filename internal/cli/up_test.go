package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/status"
	"github.com/tradestream/tradestream/internal/store"
)

// TestUpTellsThePipelineAndStopsWithoutLag checks `up`'s one report line:
// the generator's rate followed by the sink's and the alerts engine's lag
// and the dead letters, read from the same status sampler as the
// dashboard. Seven dead letters are stored beforehand and one malformed
// price is produced, so the line must come to count 8 stored dead letters
// (and the one in the deadletter topic), and the sink must be keeping up
// or caught up with a lag never above what the generator delivered. Then
// `up` is stopped while the generator runs: the sink and the engine take
// in what it sent last before they stop, so `status` finds both groups
// without lag, every record of the prices and trades consumed by both.
func TestUpTellsThePipelineAndStopsWithoutLag(t *testing.T) {
	if testing.Short() {
		t.Skip("runs up against Kafka and PostgreSQL")
	}
	pl := newPipeline(t, "TRADESTREAM_LOG_LEVEL", "warn", "TRADESTREAM_METRICS_ADDR", "127.0.0.1:0",
		"TRADESTREAM_DASHBOARD_ADDR", "127.0.0.1:0")
	env := pl.env
	env["TRADESTREAM_SINK_GROUP"], env["TRADESTREAM_ALERTS_GROUP"] = "up-sink-"+pl.prefix, "up-alerts-"+pl.prefix
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pool, err := store.Open(ctx, pl.db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error)
		SELECT 't', 0, g, 'x', 'malformed_json', 'e' FROM generate_series(1, 7) g`); err != nil {
		t.Fatal(err)
	}
	prod := kafkatest.Client(t, pl.brokers)
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: kafka.TopicNames(pl.prefix).Prices, Value: []byte("{not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	out, errOut, stop := background(t, env, "up", "--rate", "100", "--users", "20", "--report-interval", "1s")
	line := regexp.MustCompile(`(?m)^gen: \S+ elapsed, \d+ sent, (\d+) delivered, 0 failed, .*; ` +
		`sink lag (\d+)(?: \([^)]*\))? (keeping up|caught up|catching up in \S+|measuring|NOT catching up), ` +
		`alerts (?:lag \d+(?: \([^)]*\))? [a-zA-Z ]+?|starting), dead letters (\d+) in Kafka, (\d+) stored$`)
	deadline := time.Now().Add(90 * time.Second)
	seen := 0
	for {
		var settled bool
		ms := line.FindAllStringSubmatch(errOut.String(), -1)
		for _, m := range ms[seen:] {
			delivered, _ := strconv.ParseInt(m[1], 10, 64)
			lag, _ := strconv.ParseInt(m[2], 10, 64)
			// The malformed price is in the sink's lag until loaded, and
			// not among the generator's deliveries.
			if lag > delivered+1 {
				t.Errorf("sink lag %d above the %d records delivered (and 1 produced): %s", lag, delivered, m[0])
			}
			settled = (m[3] == "keeping up" || m[3] == "caught up") && m[4] == "1" && m[5] == "8"
		}
		seen = len(ms)
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rate line with the sink keeping up and 1 dead letter in Kafka, 8 stored within 90s on stderr; stdout:\n%s\nstderr:\n%s",
				tail(out.String(), 20), tail(errOut.String(), 20))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Errorf("up exited %d\n%s", code, tail(errOut.String(), 20))
	}
	code, stdout, stderr := run(t, env, "status", "--json")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	var snap status.Snapshot
	if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
		t.Fatal(err)
	}
	lags := map[string]int64{}
	for _, g := range snap.Groups {
		lags[g.Name] = g.Lag
		if g.Name == env["TRADESTREAM_ALERTS_GROUP"] {
			// The engine's lag is on the prices and trades: their
			// records all consumed.
			var ends, committed int64
			for _, p := range g.Partitions {
				ends += p.End
				if p.Committed > 0 || p.End > 0 {
					committed += p.Committed
				}
			}
			if ends == 0 || committed != ends {
				t.Errorf("alerts engine: %d of the %d records of its topics consumed when up stopped", committed, ends)
			}
		}
	}
	for _, group := range []string{env["TRADESTREAM_SINK_GROUP"], env["TRADESTREAM_ALERTS_GROUP"]} {
		if lag, ok := lags[group]; !ok || lag != 0 {
			t.Errorf("after up stopped, group %s: lag %d (known %v), want 0\nup's log:\n%s", group, lag, ok, tail(errOut.String(), 10))
		}
	}
}
