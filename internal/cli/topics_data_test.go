package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/archive"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// stored is what a topic partition holds, as compared by a round trip.
type stored struct {
	key, value []byte
	headers    []kgo.RecordHeader
	ts         int64
}

// readTopics reads every record (control records aside) of the topics of
// prefix, per topic and partition, in offset order.
func readTopics(ctx context.Context, t *testing.T, brokers []string, prefix string) map[string]map[int32][]stored {
	t.Helper()
	adm := kafkatest.Admin(t, brokers)
	names := kafka.TopicNames(prefix).All()
	spans, err := kafka.Spans(ctx, adm, time.Time{}, names...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int32][]stored{}
	_, err = kafka.ReadSpans(ctx, kafkatest.Config(brokers), slog.New(slog.DiscardHandler), spans, 5*time.Second, func(r *kgo.Record) error {
		short := strings.TrimPrefix(r.Topic, prefix)
		if out[short] == nil {
			out[short] = map[int32][]stored{}
		}
		out[short][r.Partition] = append(out[short][r.Partition], stored{
			key: bytes.Clone(r.Key), value: bytes.Clone(r.Value), headers: append([]kgo.RecordHeader(nil), r.Headers...), ts: r.Timestamp.UnixMilli(),
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// produceAlerts writes alert records into the alerts topic in
// transactions, one committed and one aborted, as the alerts engine does.
func produceAlerts(ctx context.Context, t *testing.T, brokers []string, topic string) {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.TransactionalID(topic+"-txn"), kgo.DefaultProduceTopic(topic))
	for i, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			rec := &kgo.Record{Key: []byte("AAPL"), Value: []byte(fmt.Sprintf(`{"txn":%d,"n":%d}`, i, j)),
				Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("alert/1")}}}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExportImportRoundTrip exports every topic of a generator run (with
// the sink's dead letters and transactional alerts), imports the file
// under another prefix, and requires every partition to hold the same
// records byte for byte; the sink then loads the imported topics into an
// empty database and verify passes, with the same rows as the original.
func TestExportImportRoundTrip(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	src := kafkatest.Topics(t, brokers, 3, 1)
	dst := kafkatest.Topics(t, brokers, 3, 1)
	db1, db2 := pgtest.Schema(t), pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := func(prefix string, db string) map[string]string {
		return map[string]string{
			"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","), "TRADESTREAM_DATABASE_URL": db,
			"TRADESTREAM_TOPIC_PREFIX": prefix, "TRADESTREAM_SINK_GROUP": prefix + "sink", "TRADESTREAM_LOG_LEVEL": "warn",
		}
	}
	srcEnv, dstEnv := env(src.Prefix, db1.URL.Reveal()), env(dst.Prefix, db2.URL.Reveal())
	code, out, stderr := run(t, srcEnv, "gen", "all", "--seed", "7", "--users", "40", "--count", "4000", "--rate", "0",
		"--inject", "malformed=0.01,unknown_schema=0.005", "--inject-manifest", filepath.Join(t.TempDir(), "m.json"), "--metrics-addr=")
	if code != ExitOK {
		t.Fatalf("gen: exit %d\n%s\n%s", code, out, stderr)
	}
	produceAlerts(ctx, t, brokers, src.Prefix+"alerts")
	if code, out, stderr = run(t, srcEnv, "sink", "--until-caught-up", "--metrics-addr="); code != ExitOK {
		t.Fatalf("sink: exit %d\n%s\n%s", code, out, stderr)
	}

	file := filepath.Join(t.TempDir(), "backup.jsonl.zst")
	code, out, stderr = run(t, srcEnv, "topics", "export", "--output", file)
	if code != ExitOK || !strings.Contains(stderr, "export: ") {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run(t, dstEnv, "topics", "import", file)
	if code != ExitOK {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, stderr)
	}

	want, got := readTopics(ctx, t, brokers, src.Prefix), readTopics(ctx, t, brokers, dst.Prefix)
	for _, name := range []string{"users", "prices", "trades", "deadletter", "alerts"} {
		n := 0
		for p := range int32(3) {
			w, g := want[name][p], got[name][p]
			n += len(w)
			if len(g) != len(w) {
				t.Errorf("%s partition %d: got %d records, want %d", name, p, len(g), len(w))
				continue
			}
			for i := range w {
				if !reflect.DeepEqual(g[i], w[i]) {
					t.Errorf("%s partition %d record %d: got %+v, want %+v", name, p, i, g[i], w[i])
					break
				}
			}
		}
		if n == 0 {
			t.Errorf("topic %s held no records: the round trip did not cover it", name)
		}
		if name == "alerts" && n != 3 {
			t.Errorf("alerts: got %d records exported, want the 3 committed ones", n)
		}
	}

	// The imported topics load into an empty database as the originals did.
	if code, out, stderr = run(t, dstEnv, "sink", "--until-caught-up", "--metrics-addr="); code != ExitOK {
		t.Fatalf("sink of the imported topics: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run(t, dstEnv, "verify", "--require-caught-up")
	if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") {
		t.Fatalf("verify of the imported topics: exit %d\n%s\n%s", code, out, stderr)
	}
	c1, c2 := tableCounts(ctx, t, db1.URL.Reveal()), tableCounts(ctx, t, db2.URL.Reveal())
	if !reflect.DeepEqual(c1, c2) {
		t.Errorf("rows loaded from the imported topics %v, from the originals %v", c2, c1)
	}
	if c1["trades"] == 0 || c1["dead_letters"] == 0 {
		t.Errorf("the run loaded %v: want trades and dead letters", c1)
	}

	// A second import into the same topics would duplicate them.
	code, _, stderr = run(t, dstEnv, "topics", "import", file)
	if code != ExitUsage || !strings.Contains(stderr, "already holds") {
		t.Errorf("second import: exit %d, want %d refusing\n%s", code, ExitUsage, stderr)
	}

	// By key, into missing topics: they get --topic-partitions, and every
	// record lands once.
	wide := kafkatest.Prefix(t)
	adm := kafkatest.Admin(t, brokers)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), kafka.TopicNames(wide).All()...) })
	code, out, stderr = run(t, env(wide, db2.URL.Reveal()), "topics", "import", file, "--partitioner", "key", "--topic-partitions", "5")
	if code != ExitOK {
		t.Fatalf("import by key: exit %d\n%s\n%s", code, out, stderr)
	}
	details, err := adm.ListTopics(ctx, wide+"trades", wide+"prices")
	if err != nil {
		t.Fatal(err)
	}
	wideRecs := readTopics(ctx, t, brokers, wide)
	for _, name := range []string{"trades", "prices"} {
		if n := len(details[wide+name].Partitions); n != 5 {
			t.Errorf("%s imported by key: %d partitions, want --topic-partitions 5", name, n)
		}
		var n, w int
		for _, recs := range wideRecs[name] {
			n += len(recs)
		}
		for _, recs := range want[name] {
			w += len(recs)
		}
		if n != w {
			t.Errorf("%s imported by key: %d records, want %d", name, n, w)
		}
	}
}

// tableCounts counts the rows of the loaded tables of the database at url.
func tableCounts(ctx context.Context, t *testing.T, url string) map[string]int64 {
	t.Helper()
	cfg := config.Default().Database
	cfg.URL = config.ConnString(url)
	pool, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	out := map[string]int64{}
	for _, table := range []string{"users", "accounts", "price_ticks", "trades", "alerts", "dead_letters"} {
		var n int64
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestExportTimeRange keeps only the records of [--from, --to).
func TestExportTimeRange(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	src := kafkatest.Topics(t, brokers, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	base := time.Date(2025, 6, 20, 14, 0, 0, 0, time.UTC)
	for i := range 100 {
		rec := &kgo.Record{Topic: src.Prefix + "trades", Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprint(i)),
			Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","), "TRADESTREAM_TOPIC_PREFIX": src.Prefix}
	file := filepath.Join(t.TempDir(), "range.jsonl.zst")
	code, out, stderr := run(t, env, "topics", "export", "trades", "--from", "2025-06-20T14:30:00Z", "--to", "2025-06-20T15:00:00Z", "-o", file)
	if code != ExitOK {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, stderr)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := archive.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m := rec.Timestamp.Sub(base) / time.Minute; m < 30 || m >= 60 || rec.Topic != "trades" {
			t.Errorf("exported %s at minute %d, outside [30, 60)", rec.Topic, m)
		}
		n++
	}
	if n != 30 {
		t.Errorf("got %d records exported, want 30", n)
	}
	if h := r.Header(); len(h.Topics) != 1 || h.From == nil || h.To == nil {
		t.Errorf("got header %+v, want trades alone and the range", h)
	}
}

func TestExportImportBadInput(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	src := kafkatest.Topics(t, brokers, 1, 1)
	env := map[string]string{"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","), "TRADESTREAM_TOPIC_PREFIX": src.Prefix}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl.zst")
	if code, out, stderr := run(t, env, "topics", "export", "-o", good); code != ExitOK {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, stderr)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.jsonl.zst")
	if err := os.WriteFile(truncated, data[:len(data)-6], 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := kafkatest.Prefix(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"truncated file", []string{"topics", "import", truncated, "--topic-prefix", fresh}, ExitFailure, "line "},
		{"missing file", []string{"topics", "import", filepath.Join(dir, "nope"), "--topic-prefix", fresh}, ExitFailure, "no such file"},
		{"bad partitioner", []string{"topics", "import", good, "--partitioner", "random"}, ExitUsage, "partitioner"},
		{"no output", []string{"topics", "export"}, ExitUsage, "--output"},
		{"unknown topic", []string{"topics", "export", "orders", "-o", filepath.Join(dir, "x")}, ExitUsage, "no topic " + src.Prefix + "orders"},
		{"bad time", []string{"topics", "export", "-o", filepath.Join(dir, "x"), "--from", "yesterday"}, ExitUsage, "--from"},
		{"to before from", []string{"topics", "export", "-o", filepath.Join(dir, "x"), "--from", "2h", "--to", "3h"}, ExitUsage, "not after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, env, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d saying %q", code, stderr, tt.code, tt.want)
			}
		})
	}
	// Nothing was written from the bad file: not even the topics.
	infos, err := kafka.Describe(context.Background(), kafkatest.Admin(t, brokers), fresh)
	if err != nil || len(infos) != 0 {
		t.Errorf("after failed imports, prefix %s has topics %v (%v), want none", fresh, infos, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".x.partial*")); len(leftovers) > 0 {
		t.Errorf("failed exports left %v", leftovers)
	}
}
