package gen_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/market"
)

func newSource(t *testing.T, seed uint64, users int, kinds market.Kind, topics kafka.Topics) *gen.MarketSource {
	t.Helper()
	cfg := config.Default().Gen
	cfg.Seed, cfg.Users = seed, users
	sim, _, err := gen.NewSim(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return gen.NewMarketSource(sim, kinds, topics)
}

func dryRun(t *testing.T, seed uint64, count int64) []byte {
	t.Helper()
	var out bytes.Buffer
	_, err := gen.Run(context.Background(), gen.Options{DryRun: &out, Count: count}, newSource(t, seed, 500, market.KindAll, kafka.TopicNames("x.")))
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDryRunIsDeterministic(t *testing.T) {
	a, b, c := dryRun(t, 42, 50_000), dryRun(t, 42, 50_000), dryRun(t, 43, 50_000)
	if !bytes.Equal(a, b) {
		t.Error("seed 42 twice: outputs differ, want byte-identical")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 42 and 43: outputs identical, want different")
	}
	if n := bytes.Count(a, []byte("\n")); n != 50_000 {
		t.Errorf("got %d lines, want 50000", n)
	}
}

// TestRateAgainstBroker runs the generator at 20,000 events/s for 30 s
// against the real broker: Kafka must hold within 2% of 600,000 events and
// the rate report must say so.
func TestRateAgainstBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s run")
	}
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 6, 1)
	topics := kafka.TopicNames(tc.Prefix)
	kc := kafkatest.Config(brokers)
	cl := kafkatest.Client(t, brokers, kafka.ProducerOptions(kc)...)

	var report bytes.Buffer
	opts := gen.Options{
		Client: cl, Rate: 20_000, Duration: 30 * time.Second, RunID: "rate-test",
		Report: &report, ReportInterval: 5 * time.Second,
	}
	sum, err := gen.Run(context.Background(), opts, newSource(t, 7, 1000, market.KindAll, topics))
	if err != nil {
		t.Fatal(err)
	}
	inKafka := endOffsets(t, brokers, topics)
	const want = 600_000
	if d := float64(inKafka-want) / want; d < -0.02 || d > 0.02 {
		t.Errorf("Kafka holds %d events, want within 2%% of %d", inKafka, want)
	}
	if inKafka != sum.Delivered {
		t.Errorf("Kafka holds %d events, the generator says %d delivered", inKafka, sum.Delivered)
	}
	last := lastLine(report.String())
	wantReport := fmt.Sprintf("delivered %d events", inKafka)
	if !strings.Contains(last, wantReport) || !strings.Contains(last, "target 20.0k/s") {
		t.Errorf("final report %q, want it to say %q against target 20.0k/s", last, wantReport)
	}
	t.Logf("%s", report.String())
}

// TestKcatReadsDocumentedJSON consumes every topic with kcat, a client
// nobody here wrote, and decodes each value by its schema header.
func TestKcatReadsDocumentedJSON(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	kcat := kafkatest.Kcat(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	topics := kafka.TopicNames(tc.Prefix)
	cl := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	sum, err := gen.Run(context.Background(), gen.Options{Client: cl, Count: 5000, RunID: "kcat"}, newSource(t, 9, 200, market.KindAll, topics))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, topic := range []string{topics.Users, topics.Prices, topics.Trades} {
		out, err := exec.Command(kcat, "-C", "-b", brokers[0], "-t", topic, "-o", "beginning", "-e", "-q",
			"-f", "%h\t%s\n").Output()
		if err != nil {
			t.Fatalf("kcat %s: %v", topic, err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			if line == "" {
				continue
			}
			headers, value, ok := strings.Cut(line, "\t")
			if !ok {
				t.Fatalf("%s: unexpected kcat line %q", topic, line)
			}
			schema := header(headers, "schema")
			if _, err := event.Decode(schema, []byte(value)); err != nil {
				t.Errorf("%s: value does not decode as %s: %v\n%s", topic, schema, err, value)
			}
			if header(headers, "produced_at") == "" || header(headers, "run_id") != "kcat" {
				t.Errorf("%s: headers %q lack produced_at or run_id", topic, headers)
			}
			total++
		}
	}
	if int64(total) != sum.Delivered {
		t.Errorf("kcat read %d records, the generator delivered %d", total, sum.Delivered)
	}
}

// endOffsets returns the records in the data topics, from their end offsets.
func endOffsets(t *testing.T, brokers []string, topics kafka.Topics) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kafkatest.Admin(t, brokers).ListEndOffsets(ctx, topics.Users, topics.Prices, topics.Trades)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

func header(headers, key string) string {
	for _, kv := range strings.Split(headers, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
