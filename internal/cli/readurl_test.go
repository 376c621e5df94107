package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/status"
)

// storeTicks stores n price ticks of symbol through url.
func storeTicks(t *testing.T, url, symbol string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset)
		SELECT $1, 'Tech', i, now(), 1, 1, 1, 1, 0, i FROM generate_series(1, $2::int) i`, symbol, n); err != nil {
		t.Fatal(err)
	}
}

func statusJSON(t *testing.T, env map[string]string, args ...string) status.Snapshot {
	t.Helper()
	code, out, stderr := run(t, env, append([]string{"status", "--json", "--samples", "1"}, args...)...)
	if code != ExitOK {
		t.Fatalf("status --json: exit %d\n%s\n%s", code, out, stderr)
	}
	var snap status.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return snap
}

func getBody(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// TestReadURLServesDashboardAndStatus points --database-read-url at a
// second schema holding other rows than the primary's: the dashboard's
// history and status's row counts come from it, the alert rules and the
// migrations from the primary; /metrics shows the read server. Then, with
// the stack's streaming replica as the read URL, status shows its lag.
func TestReadURLServesDashboardAndStatus(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	primary, read := pgtest.Schema(t), pgtest.Schema(t)
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS":       strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":        primary.URL.Reveal(),
		"TRADESTREAM_DATABASE_READ_URL":   read.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX":        tc.Prefix,
		"TRADESTREAM_LOG_LEVEL":           "warn",
		"TRADESTREAM_SINK_GROUP":          tc.Prefix + "sink",
		"TRADESTREAM_DASHBOARD_TOKEN":     "",
		"TRADESTREAM_DASHBOARD_ADDR":      "127.0.0.1:0",
		"TRADESTREAM_METRICS_ADDR":        "",
		"TRADESTREAM_DATABASE_READER_URL": "",
	}
	for _, url := range []string{primary.URL.Reveal(), read.URL.Reveal()} {
		if code, out, stderr := run(t, copyEnv(env, "TRADESTREAM_DATABASE_URL", url), "db", "migrate"); code != ExitOK {
			t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
		}
	}
	storeTicks(t, primary.URL.Reveal(), "ONPRIMARY", 1)
	storeTicks(t, read.URL.Reveal(), "ONREAD", 3)
	if code, out, stderr := run(t, env, "alerts", "add", "big_trade", "*", "1"); code != ExitOK {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}

	snap := statusJSON(t, env, "--exact-rows")
	if ticks, ok := snap.Table("price_ticks"); !ok || ticks.Rows != 3 {
		t.Errorf("status price_ticks: got %+v (found %v), want the read URL's 3 rows", ticks, ok)
	}
	if r := snap.Replication; r == nil || r.Read == nil || r.Read.Standby || r.Error != "" {
		t.Errorf("status replication: got %+v, want the read server shown as a primary", r)
	}

	metricsAddr := freeAddr(t)
	out, errOut, _ := background(t, env, "dash", "--metrics-addr", metricsAddr)
	dash := "http://" + await(t, "dash", out.String, regexp.MustCompile(`dashboard\s+http://(\S+)/`), 60*time.Second)
	symbols, err := getBody(dash + "/api/symbols")
	if err != nil || !strings.Contains(symbols, "ONREAD") || strings.Contains(symbols, "ONPRIMARY") {
		t.Errorf("/api/symbols: got %s (%v), want the read URL's ONREAD only\n%s", symbols, err, errOut.String())
	}
	rules, err := getBody(dash + "/api/rules")
	if err != nil || !strings.Contains(rules, "big_trade") {
		t.Errorf("/api/rules: got %s (%v), want the primary's big_trade rule", rules, err)
	}
	waitFor(t, 60*time.Second, "/metrics showing the read server", func() bool {
		body, err := getBody("http://" + metricsAddr + "/metrics")
		return err == nil && strings.Contains(body, "tradestream_pg_read_standby 0") &&
			strings.Contains(body, "tradestream_pg_replication_error 0")
	})

	replica := copyEnv(env, "TRADESTREAM_DATABASE_READ_URL", pgtest.Replica(t, primary).URL.Reveal())
	snap = statusJSON(t, replica)
	if r := snap.Replication; r == nil || r.Read == nil || !r.Read.Standby || r.Error != "" {
		t.Fatalf("status with the replica: got %+v, want the read server as a standby", r)
	}
	code, text, stderr := run(t, replica, "status", "--samples", "1")
	for _, want := range []string{"POSTGRESQL REPLICATION", "tradestream_replica", "read url: a standby"} {
		if code != ExitOK || !strings.Contains(text, want) {
			t.Errorf("status: exit %d, output lacks %q\n%s\n%s", code, want, text, stderr)
		}
	}
}
