package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// interopPython returns the interpreter of the virtual environment
// `scripts/deps test` makes, with confluent-kafka and its serdes.
func interopPython(t *testing.T) (python, script string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	python = filepath.Join(root, ".stack", "venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		kafkatest.Missing(t, "TRADESTREAM_TEST_REQUIRE_SERVICES", "the interop virtual environment .stack/venv (run scripts/deps test)")
	}
	return python, filepath.Join(root, "scripts", "interop", "consume.py")
}

// normalized re-encodes a JSON value with its times in one spelling, so
// that "…:00.25Z" and "…:00.250000Z" compare equal.
func normalized(t *testing.T, raw []byte) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	for _, k := range []string{"ts", "signup_at", "updated_at"} {
		if s, ok := v[k].(string); ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatalf("%s: %s: %v", raw, k, err)
			}
			v[k] = ts.UTC().Format(time.RFC3339Nano)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAClientNobodyHereWroteReadsEveryFormat generates a seeded market in
// Avro, Protobuf and JSON Schema and reads it back with Python's
// confluent-kafka and its schema-registry deserializers: every record,
// field for field, is one of the JSON dry run of the same seed, each as
// many times.
func TestAClientNobodyHereWroteReadsEveryFormat(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	registry := kafkatest.Registry(t)
	python, script := interopPython(t)
	const count, total = "1500", 1500
	args := []string{"gen", "all", "--seed", "33", "--users", "40", "--count", count, "--rate", "0"}
	code, dry, stderr := run(t, map[string]string{"TRADESTREAM_METRICS_ADDR": ""}, append(args, "--dry-run")...)
	if code != ExitOK {
		t.Fatalf("dry run: exit %d\n%s", code, stderr)
	}
	want := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(dry), "\n") {
		want[normalized(t, []byte(line))]++
	}
	for _, f := range []string{"avro", "protobuf", "jsonschema"} {
		t.Run(f, func(t *testing.T) {
			topics := kafkatest.Topics(t, brokers, 3, 1)
			env := map[string]string{
				"TRADESTREAM_KAFKA_BROKERS":       strings.Join(brokers, ","),
				"TRADESTREAM_TOPIC_PREFIX":        topics.Prefix,
				"TRADESTREAM_SCHEMA_REGISTRY_URL": registry,
				"TRADESTREAM_LOG_LEVEL":           "warn",
				"TRADESTREAM_METRICS_ADDR":        "",
			}
			if code, out, stderr := run(t, env, append(args, "--format", f)...); code != ExitOK {
				t.Fatalf("gen --format %s: exit %d\n%s\n%s", f, code, out, stderr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// Alerts as the engine writes them with --format f (its record
			// encoding is alert.Engine's, through the same Encoder).
			want := maps.Clone(want)
			produceFramedAlerts(ctx, t, brokers, registry, f, topics.Prefix+"alerts", want)
			cmd := exec.CommandContext(ctx, python, script, "--brokers", strings.Join(brokers, ","), "--registry", registry,
				"--format", f, "--topic", topics.Prefix+"users", "--topic", topics.Prefix+"prices", "--topic", topics.Prefix+"trades",
				"--topic", topics.Prefix+"alerts", "--count", strconv.Itoa(total+interopAlerts), "--timeout", "60")
			var stdout, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("consume.py: %v\n%s", err, errb.String())
			}
			got := map[string]int{}
			n := 0
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var rec struct {
					Topic string          `json:"topic"`
					Value json.RawMessage `json:"value"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("consume.py printed %q: %v", sc.Text(), err)
				}
				got[normalized(t, rec.Value)]++
				n++
			}
			if n != total+interopAlerts {
				t.Fatalf("consume.py read %d records, want %d", n, total+interopAlerts)
			}
			for v, c := range got {
				if want[v] != c {
					t.Fatalf("%s: Python read %d times, the JSON dry run has it %d times:\n%s", f, c, want[v], v)
				}
			}
			t.Logf("%s: Python's confluent-kafka read all %d records (%d of them alerts), every field equal to tradestream's JSON of it", f, n, interopAlerts)
		})
	}
}

// interopAlerts is how many alerts TestAClientNobodyHereWroteReadsEveryFormat
// writes in each format.
const interopAlerts = 60

// produceFramedAlerts writes interopAlerts alerts to topic in format f, with
// edge values (negative, large, whole microseconds), and counts the JSON
// of each in want.
func produceFramedAlerts(ctx context.Context, t *testing.T, brokers []string, registry, f, topic string, want map[string]int) {
	t.Helper()
	fm, err := format.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := format.NewRegistry(format.RegistryConfig{URL: registry})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := format.NewEncoder(ctx, reg, fm, []format.Registration{{Version: event.SchemaAlertV1, Topic: topic}})
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, brokers)
	base := time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range interopAlerts {
		a := event.Alert{ID: fmt.Sprintf("r%d-prices-%d-%d-0123456789abcdef", 1+i%4, i%3, 1000+i), RuleID: int64(1 + i%4),
			Kind: []string{"price_above", "pct_move", "volume_spike", "big_trade"}[i%4], Symbol: []string{"AAPL", "BRK.B", "NVDA"}[i%3],
			Message: fmt.Sprintf("alert %d: \"quoted\", ünïcode", i), Value: event.Decimal((int64(i) - 30) * 123_456_789),
			Time: base.Add(time.Duration(i) * 1_234_567 * time.Microsecond)}
		v, err := enc.Append(nil, event.SchemaAlertV1, &a)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: a.AppendKey(nil), Value: v})
		want[normalized(t, a.AppendJSON(nil))]++
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
