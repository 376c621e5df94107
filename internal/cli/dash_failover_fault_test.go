//go:build faults

package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestFaultDashboardFollowsFailover runs `tradestream dash` on a database
// URL naming the primary and the stack's asynchronous replica (the
// writable one wanted), crashes the primary (immediate stop) and promotes
// the replica, the same dashboard process running throughout. While no
// server accepts writes, its history and rule requests are answered at
// once with 503 and Retry-After (not 500, not a hang) and /readyz says
// not ready; once the replica is promoted, the history shows a symbol
// stored on the promoted server only, a rule added through its write API
// lands there, and /readyz is ready again. The stack is put back
// afterwards (the old primary on 5432, a new replica).
func TestFaultDashboardFollowsFailover(t *testing.T) {
	if os.Getenv(pgtest.EnvReplica) == "" {
		kafkatest.Missing(t, pgtest.EnvReplica, "a PostgreSQL streaming replica (scripts/stack up --pg-replica)")
	}
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	primary := pgtest.Schema(t)
	const token = "dash-failover-token"
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS":       strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":        primary.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX":        tc.Prefix,
		"TRADESTREAM_LOG_LEVEL":           "warn",
		"TRADESTREAM_SINK_GROUP":          tc.Prefix + "sink",
		"TRADESTREAM_DASHBOARD_TOKEN":     token,
		"TRADESTREAM_DASHBOARD_ADDR":      "127.0.0.1:0",
		"TRADESTREAM_DATABASE_READ_URL":   "",
		"TRADESTREAM_DATABASE_READER_URL": "",
	}
	if code, out, stderr := run(t, env, "db", "migrate"); code != ExitOK {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	storeTicks(t, primary.URL.Reveal(), "BEFOREFO", 1)
	promotedDB := pgtest.Replica(t, primary) // the schema is on the replica too
	both := pgtest.FailoverURL(t, primary, promotedDB)

	metricsAddr := freeAddr(t)
	out, errOut, stop := background(t, copyEnv(env, "TRADESTREAM_DATABASE_URL", both.URL.Reveal()), "dash", "--metrics-addr", metricsAddr)
	dash := "http://" + await(t, "dash", out.String, regexp.MustCompile(`dashboard\s+http://(\S+)/`), 60*time.Second)
	ready := "http://" + metricsAddr + "/readyz"
	client := &http.Client{Timeout: 30 * time.Second} // a request that hangs fails the test
	answer := func(method, path, auth, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, dash+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		b, _ := json.Marshal(v)
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", method, path)
		}
		return resp.StatusCode, string(b)
	}
	readyz := func() int {
		resp, err := client.Get(ready)
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code, body := answer("GET", "/api/symbols", "", ""); code != http.StatusOK || !strings.Contains(body, "BEFOREFO") {
		t.Fatalf("/api/symbols before the failover: %d %s; want the primary's BEFOREFO", code, body)
	}
	rule := func(threshold string) string {
		return `{"kind":"big_trade","symbol":"","threshold":"` + threshold + `"}`
	}
	if code, body := answer("POST", "/api/rules", token, rule("1000001")); code != http.StatusCreated {
		t.Fatalf("POST /api/rules before the failover: %d %s", code, body)
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz before the failover: %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	promoted, err := store.Open(ctx, promotedDB)
	if err != nil {
		t.Fatal(err)
	}
	defer promoted.Close()
	rulesOn := func() (n int) {
		if err := promoted.QueryRow(ctx, `SELECT count(*) FROM alert_rules WHERE threshold IN (1000001, 1000002)`).Scan(&n); err != nil {
			t.Fatalf("the rules on the replica: %v", err)
		}
		return n
	}
	waitFor(t, time.Minute, "the first rule on the replica", func() bool { return rulesOn() == 1 })

	restore := pgtest.RestoreStack(t)
	t.Cleanup(restore) // whatever happens next
	pgtest.Stack(t, "pg-stop", "--immediate")
	crashed := time.Now()
	// Neither server accepts writes now (the replica is still a standby):
	// the history's reader and the rules' owner find no server.
	for _, r := range []struct{ method, path, auth, body string }{
		{"GET", "/api/symbols", "", ""},
		{"GET", "/api/rules", "", ""},
		{"POST", "/api/rules", token, rule("1000002")},
	} {
		start := time.Now()
		code, body := answer(r.method, r.path, r.auth, r.body)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "database is unavailable") {
			t.Errorf("%s %s with no writable server: %d %s; want 503, the database unavailable", r.method, r.path, code, body)
		}
		t.Logf("%s %s with no writable server: %d in %v", r.method, r.path, code, time.Since(start).Round(time.Millisecond))
	}
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with no writable server: %d, want 503", code)
	}

	pgtest.Stack(t, "pg-promote")
	storeTicks(t, promotedDB.URL.Reveal(), "AFTERFO", 1)
	waitFor(t, time.Minute, "the dashboard's history from the promoted server", func() bool {
		code, body := answer("GET", "/api/symbols", "", "")
		return code == http.StatusOK && strings.Contains(body, "AFTERFO") && strings.Contains(body, "BEFOREFO")
	})
	followed := time.Since(crashed)
	if code, body := answer("POST", "/api/rules", token, rule("1000002")); code != http.StatusCreated {
		t.Errorf("POST /api/rules after the promotion: %d %s", code, body)
	}
	if n := rulesOn(); n != 2 {
		t.Errorf("rules on the promoted server: %d of the two added, want both (the one before the crash, shipped, and the one after)", n)
	}
	if code, body := answer("GET", "/api/rules", "", ""); code != http.StatusOK || !strings.Contains(body, "1000002") {
		t.Errorf("/api/rules after the promotion: %d %s; want the rule added on the promoted server", code, body)
	}
	if code := readyz(); code != http.StatusOK {
		t.Errorf("/readyz after the promotion: %d, want 200", code)
	}
	t.Logf("failover: the same dashboard served the promoted server's history %v after the crash", followed.Round(time.Millisecond))
	if code := stop(); code != ExitOK {
		t.Errorf("dash: exit %d; stderr:\n%s", code, tail(errOut.String(), 40))
	}
	if strings.Contains(errOut.String(), ":tradestream@") { // the stack's user:password
		t.Errorf("the dashboard's log shows a connection string with its password:\n%s", tail(errOut.String(), 40))
	}
	restore()
}
