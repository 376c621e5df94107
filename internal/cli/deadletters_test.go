package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tradestream/tradestream/internal/pgtest"
)

func TestDeadLettersUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"deadletters", "replay"},
		{"deadletters", "list", "--since", "yesterday"},
		{"deadletters", "show", "forty-two"},
		{"deadletters", "frobnicate"},
	} {
		if code, _, stderr := run(t, nil, args...); code != ExitUsage {
			t.Errorf("%v: got exit %d (%s), want %d", args, code, stderr, ExitUsage)
		}
	}
}

// TestSinkRejectsBadTransformsBeforeStarting: every problem of the
// declarative transforms is reported with the other settings' problems,
// before anything connects.
func TestSinkRejectsBadTransformsBeforeStarting(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(conf, []byte(`sink:
  transforms:
    - name: typo
      topics: [trades]
      reject: record.notionl > 1.0
      reason: big
    - name: two-kinds
      drop: "true"
      unset: [limit_price]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRADESTREAM_DATABASE_URL": "postgres://u:pw@127.0.0.1:1/x", "TRADESTREAM_KAFKA_BROKERS": "127.0.0.1:1"}
	code, _, stderr := run(t, env, "--config", conf, "sink", "--batch-size", "0", "--metrics-addr=")
	if code != ExitUsage {
		t.Errorf("got exit %d, want %d", code, ExitUsage)
	}
	for _, want := range []string{"sink batch size: 0", "sink transform 1 (typo): reject: record.notionl: no such field on topic trades",
		"sink transform 2 (two-kinds): give exactly one of drop, reject, set and unset"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
}

func TestDeadLettersListShowReplay(t *testing.T) {
	pool, db := pgtest.Migrated(t)
	ctx := context.Background()
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error, key, value)
		VALUES ('tradestream.trades', 2, 7, 'trade/9', 'unknown_schema', 'unknown schema version', '1', '{"trade_id":1}') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error, key, value)
		VALUES ('tradestream.prices', 0, 3, 'price/1', 'invalid_field', 'bad symbol', 'X', '{}')`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRADESTREAM_DATABASE_URL": db.URL.Reveal()}

	code, out, stderr := run(t, env, "deadletters", "list", "--topic", "trades", "--json")
	var listed struct {
		Total       int64 `json:"total"`
		DeadLetters []struct {
			ID     int64  `json:"id"`
			Reason string `json:"reason"`
		} `json:"dead_letters"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &listed) != nil || listed.Total != 1 || listed.DeadLetters[0].ID != id {
		t.Fatalf("list --topic trades: exit %d, %s %s; want dead letter %d alone", code, out, stderr, id)
	}
	code, out, _ = run(t, env, "deadletters", "list")
	if code != ExitOK || !strings.Contains(out, "unknown_schema") || !strings.Contains(out, "invalid_field") || !strings.Contains(out, "2 of 2 dead letters") {
		t.Errorf("list: exit %d, output:\n%s", code, out)
	}
	code, out, _ = run(t, env, "deadletters", "show", strconv.FormatInt(id, 10))
	for _, want := range []string{"tradestream.trades partition 2 offset 7", `{"trade_id":1}`, "unknown schema version", "replay now dead (unknown_schema"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("show: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, out, stderr = run(t, env, "deadletters", "replay", "--reason", "unknown_schema")
	if code != ExitOK || !strings.Contains(out, "replayed 1 dead letters in 1 transactions: 0 loaded, 0 dropped, 1 dead again") {
		t.Errorf("replay: exit %d, %s %s", code, out, stderr)
	}
	code, out, _ = run(t, env, "deadletters", "list", "--state", "pending", "--json")
	if code != ExitOK || json.Unmarshal([]byte(out), &listed) != nil || listed.Total != 1 || listed.DeadLetters[0].Reason != "invalid_field" {
		t.Errorf("list --state pending after the replay: exit %d, %s; want the price dead letter alone", code, out)
	}
}
