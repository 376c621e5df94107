package cli

import (
	"context"
	"maps"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// tableDigests are SQL digests of the loaded tables' contents without
// where the rows came from (partition, offset, run): equal digests mean
// the same rows, field for field.
var tableDigests = map[string]string{
	"users": `SELECT count(*), md5(coalesce(string_agg(concat_ws('|', user_id, name, email, country, signup_at, experience,
		risk_tolerance, array_to_string(sectors, ','), updated_at), ';' ORDER BY user_id), '')) FROM users`,
	"accounts":    `SELECT count(*), md5(coalesce(string_agg(concat_ws('|', account_id, user_id, type, currency, balance), ';' ORDER BY account_id), '')) FROM accounts`,
	"price_ticks": `SELECT count(*), md5(coalesce(string_agg(concat_ws('|', symbol, sector, seq, ts, bid, ask, last, volume), ';' ORDER BY symbol, seq), '')) FROM price_ticks`,
	"trades": `SELECT count(*), md5(coalesce(string_agg(concat_ws('|', trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts,
		balance_after, order_type, limit_price, schema_version), ';' ORDER BY trade_id), '')) FROM trades`,
	"dead_letters": `SELECT count(*), '' FROM dead_letters`,
}

// exportReimportsIdentically exports the topics of env's prefix, imports
// the file under a new prefix and checks every record's bytes are the same.
func exportReimportsIdentically(ctx context.Context, t *testing.T, brokers []string, env map[string]string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "avro.jsonl.zst")
	if code, out, stderr := run(t, env, "topics", "export", "--output", file); code != ExitOK {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, stderr)
	}
	dst := kafkatest.Topics(t, brokers, 3, 1)
	dstEnv := maps.Clone(env)
	dstEnv["TRADESTREAM_TOPIC_PREFIX"] = dst.Prefix
	if code, out, stderr := run(t, dstEnv, "topics", "import", file); code != ExitOK {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, stderr)
	}
	want, got := readTopics(ctx, t, brokers, env["TRADESTREAM_TOPIC_PREFIX"]), readTopics(ctx, t, brokers, dst.Prefix)
	n := 0
	for _, name := range []string{"users", "prices", "trades"} {
		if !reflect.DeepEqual(got[name], want[name]) {
			t.Fatalf("the re-imported %s topic differs from the exported one", name)
		}
		for _, recs := range want[name] {
			n += len(recs)
		}
	}
	t.Logf("avro: %d records exported and re-imported byte for byte", n)
}

// TestGenEveryFormatLoadsTheRowsOfJSON generates one seeded market in each
// format with the real schema registry, loads it with the sink and checks
// it with verify, and compares every loaded row, field for field, with
// the JSON run of the same seed.
func TestGenEveryFormatLoadsTheRowsOfJSON(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	registry := kafkatest.Registry(t)
	digests := map[string]map[string]string{}
	for _, f := range []string{"json", "avro", "protobuf", "jsonschema"} {
		db := pgtest.Schema(t)
		topics := kafkatest.Topics(t, brokers, 3, 1)
		env := map[string]string{
			"TRADESTREAM_KAFKA_BROKERS":           strings.Join(brokers, ","),
			"TRADESTREAM_DATABASE_URL":            db.URL.Reveal(),
			"TRADESTREAM_TOPIC_PREFIX":            topics.Prefix,
			"TRADESTREAM_SINK_GROUP":              topics.Prefix + "sink",
			"TRADESTREAM_SCHEMA_REGISTRY_URL":     registry,
			"TRADESTREAM_LOG_LEVEL":               "warn",
			"TRADESTREAM_GEN_REPORT_INTERVAL":     "1m",
			"TRADESTREAM_METRICS_ADDR":            "",
			"TRADESTREAM_DATABASE_RETENTION_DAYS": "0",
		}
		code, out, stderr := run(t, env, "gen", "all", "--seed", "21", "--users", "60", "--count", "4000", "--rate", "0", "--format", f)
		if code != ExitOK {
			t.Fatalf("gen --format %s: exit %d\n%s\n%s", f, code, out, stderr)
		}
		if f != "json" && !strings.Contains(stderr, "format "+f+" (schema ids") {
			t.Errorf("gen --format %s does not name its format and schema ids:\n%s", f, stderr)
		}
		code, out, stderr = run(t, env, "sink", "--until-caught-up", "--batch-size", "700")
		if code != ExitOK {
			t.Fatalf("%s: sink: exit %d\n%s\n%s", f, code, out, stderr)
		}
		code, out, stderr = run(t, env, "verify", "--require-caught-up")
		if code != ExitOK || !strings.Contains(out, "OK: Kafka and PostgreSQL agree") {
			t.Fatalf("%s: verify: exit %d\n%s\n%s", f, code, out, stderr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if f == "avro" {
			exportReimportsIdentically(ctx, t, brokers, env)
		}
		pool, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		digests[f] = map[string]string{}
		for table, q := range tableDigests {
			var n int64
			var sum string
			if err := pool.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
				t.Fatalf("%s: %s: %v", f, table, err)
			}
			digests[f][table] = strings.TrimSpace(strconv.FormatInt(n, 10) + " " + sum)
		}
		pool.Close()
		cancel()
		t.Logf("%s: %v", f, digests[f])
	}
	for _, f := range []string{"avro", "protobuf", "jsonschema"} {
		for table, want := range digests["json"] {
			if got := digests[f][table]; got != want {
				t.Errorf("%s: table %s is %s, JSON's %s", f, table, got, want)
			}
		}
	}
	if digests["json"]["dead_letters"] != "0" {
		t.Errorf("dead letters in a clean run: %s", digests["json"]["dead_letters"])
	}
}
