package gen_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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

// TestRateAgainstBroker runs the built `tradestream gen all --rate 5000
// --duration 10s` (built without the race detector: it is the system under
// test) against the real broker. A paced run with a duration sends exactly
// the events due within it, rate*duration = 50,000: Kafka's end offsets
// must add up to that, with a tolerance of zero (the run stops early only
// if it falls more than a second behind its schedule, which is then a
// failure to hold the rate). Pacing is checked from below only, which no
// slow machine can break: event n is not sent before n/rate seconds into
// the run, so the records' timestamps span at least the duration, less a
// second for the run's start.
func TestRateAgainstBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s run")
	}
	const (
		rate     = 5_000
		duration = 10 * time.Second
		want     = 50_000 // rate * duration
	)
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 6, 1)
	topics := kafka.TopicNames(tc.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := genCommand(ctx, t, brokers, tc.Prefix, "all", "--rate", fmt.Sprint(rate), "--duration", duration.String(),
		"--users", "1000", "--seed", "7", "--report-interval", "5s", "--metrics-addr=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr.String())
	}

	inKafka := endOffsets(t, brokers, topics)
	if inKafka != want {
		t.Errorf("Kafka holds %d events, want exactly %d (%d/s for %v)", inKafka, want, rate, duration)
	}
	// The final report line (log lines may follow it).
	var last string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "gen: delivered ") {
			last = l
		}
	}
	wantReport := fmt.Sprintf("delivered %d events", inKafka)
	if !strings.Contains(last, wantReport) || !strings.Contains(last, "target 5000/s") {
		t.Errorf("final report %q, want it to say %q against target 5000/s", last, wantReport)
	}

	first, latest, n := timestampSpan(ctx, t, brokers, inKafka, topics.Users, topics.Prices, topics.Trades)
	if n != inKafka {
		t.Errorf("read %d records back, want %d", n, inKafka)
	}
	if span := latest.Sub(first); span < duration-time.Second {
		t.Errorf("records span %v from first to last, want at least %v: %d events were not paced at %d/s",
			span, duration-time.Second, n, rate)
	}
	t.Logf("%s", stderr.String())
}

// genCommand returns `tradestream gen args...`, built for the test, on
// brokers and the topics of prefix, with no other TRADESTREAM_ setting of
// the environment.
func genCommand(ctx context.Context, t *testing.T, brokers []string, prefix string, args ...string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tradestream")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tradestream/tradestream/cmd/tradestream").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"gen"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRADESTREAM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TRADESTREAM_KAFKA_BROKERS="+strings.Join(brokers, ","), "TRADESTREAM_TOPIC_PREFIX="+prefix)
	return cmd
}

// endOffsets returns the records in the data topics, from their end offsets.
func endOffsets(t *testing.T, brokers []string, topics kafka.Topics) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kafkatest.Admin(t, brokers).ListEndOffsets(ctx, topics.Users, topics.Prices, topics.Trades)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// timestampSpan reads n records from the start of topics and returns the
// earliest and latest record timestamps and how many it read.
func timestampSpan(ctx context.Context, t *testing.T, brokers []string, n int64, topics ...string) (first, last time.Time, read int64) {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for read < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", read, n, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if first.IsZero() || r.Timestamp.Before(first) {
				first = r.Timestamp
			}
			if r.Timestamp.After(last) {
				last = r.Timestamp
			}
			read++
		})
	}
	return first, last, read
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

func header(headers, key string) string {
	for _, kv := range strings.Split(headers, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
