package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// The PLAIN user of the single broker's SASL listener
// (deploy/kafka/single.properties.in).
const saslUser, saslPassword = "tradestream", "tradestream-secret"

// keyValue writes cfg's URL as a key=value connection string with user
// and password as given.
func keyValue(t *testing.T, rawURL, user, password string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	s := fmt.Sprintf("host=%s port=%s dbname=%s user=%s password='%s' sslmode=%s sslrootcert=%s search_path=%s connect_timeout=3",
		u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), user, password, q.Get("sslmode"), q.Get("sslrootcert"), q.Get("search_path"))
	return s
}

// withPasswordQuery moves the URL's password from its userinfo to a
// password= query parameter.
func withPasswordQuery(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	q := u.Query()
	q.Set("password", pw)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestNoSecretIsEverPrinted runs `up` with every kind of secret set (the
// SASL password, database passwords in URL userinfo, as a password= query
// parameter and in key=value form, the dashboard token), uses its
// dashboard and /metrics, runs `status --json`, `--help` and connections
// that fail, and looks for each secret in everything they wrote or served.
func TestNoSecretIsEverPrinted(t *testing.T) {
	sasl := os.Getenv("TRADESTREAM_TEST_KAFKA_SASL")
	if sasl == "" {
		kafkatest.Missing(t, "TRADESTREAM_TEST_KAFKA_SASL", "the single broker's SASL listener")
	}
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 2, 1)
	pool, db := pgtest.Migrated(t)
	logins := pgtest.NewLogins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := store.EnsureRoles(ctx, pool, logins.Loader, logins.Reader); err != nil {
		t.Fatal(err)
	}
	token := "dash-token-" + strings.ReplaceAll(logins.Reader.Name, "_", "-") + "-x9"
	wrongDB, wrongSASL := "wrong-db-pw-Zq81", "wrong-sasl-pw-Kp27"
	secrets := []string{
		saslPassword, token, logins.Loader.Password.Reveal(), logins.Reader.Password.Reveal(), wrongDB, wrongSASL,
	}

	owner := pgtest.TLS(t, db, store.Login{}).URL.Reveal()
	loader := pgtest.TLS(t, db, logins.Loader).URL.Reveal()                       // password in the userinfo
	reader := withPasswordQuery(t, pgtest.TLS(t, db, logins.Reader).URL.Reveal()) // password= query
	readerKV := keyValue(t, reader, logins.Reader.Name, logins.Reader.Password.Reveal())
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS":        sasl,
		"TRADESTREAM_KAFKA_SASL_MECHANISM": "PLAIN",
		"TRADESTREAM_KAFKA_SASL_USER":      saslUser,
		"TRADESTREAM_KAFKA_SASL_PASSWORD":  saslPassword,
		"TRADESTREAM_DATABASE_URL":         owner,
		"TRADESTREAM_DATABASE_LOADER_URL":  loader,
		"TRADESTREAM_DATABASE_READER_URL":  reader,
		"TRADESTREAM_DASHBOARD_TOKEN":      token,
		"TRADESTREAM_TOPIC_PREFIX":         topics.Prefix,
		"TRADESTREAM_SINK_GROUP":           topics.Prefix + "sink",
		"TRADESTREAM_ALERTS_GROUP":         topics.Prefix + "alerts",
		"TRADESTREAM_LOG_LEVEL":            "debug",
	}
	var seen []string // everything printed or served, one entry per source
	record := func(what, text string) { seen = append(seen, what+"\n"+text) }

	dashAddr, metricsAddr := freeAddr(t), freeAddr(t)
	stdout, stderr, stop := background(t, env, "up", "--dashboard-addr", dashAddr, "--metrics-addr", metricsAddr,
		"--rate", "200", "--users", "20")
	var trades int
	for trades == 0 {
		if ctx.Err() != nil {
			t.Fatalf("up loaded no trade; stderr:\n%s", tail(stderr.String(), 40))
		}
		time.Sleep(200 * time.Millisecond)
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM trades").Scan(&trades)
	}
	dash, metrics := "http://"+dashAddr, "http://"+metricsAddr
	for _, path := range []string{"/", "/api/config", "/api/health", "/api/rules", "/api/alerts", "/api/symbols",
		"/api/trades", "/api/movers", "/api/nothing-here"} {
		record("GET "+path, get(t, dash+path, ""))
	}
	rule := `{"kind":"big_trade","symbol":"","threshold":"1000000"}`
	record("POST /api/rules, wrong token", send(t, "POST", dash+"/api/rules", "Bearer not-"+token, rule))
	record("POST /api/rules, no token", send(t, "POST", dash+"/api/rules", "", rule))
	record("POST /api/rules", send(t, "POST", dash+"/api/rules", "Bearer "+token, rule))
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		record("GET metrics "+path, get(t, metrics+path, ""))
	}

	statusEnv := copyEnv(env, "TRADESTREAM_DATABASE_READER_URL", readerKV)
	code, out, errOut := run(t, statusEnv, "status", "--json")
	record("status --json", out+errOut)
	if code != ExitOK || !strings.Contains(out, topics.Prefix+"trades") {
		t.Errorf("status --json with the reader in key=value form: exit %d\n%s\n%s", code, out, errOut)
	}
	if code := stop(); code != ExitOK {
		t.Errorf("up: exit %d; stderr:\n%s", code, tail(stderr.String(), 40))
	}
	record("up stdout", stdout.String())
	record("up stderr", stderr.String())
	if !strings.Contains(stderr.String(), "level=DEBUG") {
		t.Errorf("up logged no debug line; the scan would see nothing:\n%s", tail(stderr.String(), 20))
	}

	// Connections that fail: a wrong database password in each form, a
	// wrong SASL password.
	failing := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"db version, userinfo", copyEnv(env, "TRADESTREAM_DATABASE_URL", strings.Replace(loader, logins.Loader.Password.Reveal(), wrongDB, 1)),
			[]string{"db", "version", "--database-connect-timeout", "2s"}},
		{"db version, key=value", copyEnv(env, "TRADESTREAM_DATABASE_URL", keyValue(t, loader, logins.Loader.Name, wrongDB)),
			[]string{"db", "version", "--database-connect-timeout", "2s"}},
		{"status, key=value", copyEnv(env, "TRADESTREAM_DATABASE_READER_URL", keyValue(t, reader, logins.Reader.Name, wrongDB)),
			[]string{"status", "--json", "--database-connect-timeout", "2s"}},
		{"topics list, SASL", copyEnv(env, "TRADESTREAM_KAFKA_SASL_PASSWORD", wrongSASL),
			[]string{"topics", "list", "--kafka-connect-timeout", "3s"}},
		{"malformed url", copyEnv(env, "TRADESTREAM_DATABASE_LOADER_URL", "postgres://u:"+wrongDB+"@127.0.0.1:5432/db?sslmode=bogus"),
			[]string{"sink"}},
	}
	for _, f := range failing {
		code, out, errOut := run(t, f.env, f.args...)
		record(f.name, out+errOut)
		if f.name != "status, key=value" && code == ExitOK {
			t.Errorf("%s: exit 0, want a failure\n%s\n%s", f.name, out, errOut)
		}
	}
	for _, args := range [][]string{{"--help"}, {"up", "--help"}, {"sink", "--help"}, {"dash", "--help"},
		{"status", "--help"}, {"db", "roles", "--help"}, {"alerts", "run", "--help"}} {
		_, out, errOut := run(t, env, args...)
		record(strings.Join(args, " "), out+errOut)
	}

	for _, text := range seen {
		what, body, _ := strings.Cut(text, "\n")
		if body == "" {
			t.Errorf("%s: printed or served nothing; the scan would prove nothing", what)
		}
		for _, s := range secrets {
			if i := strings.Index(body, s); i >= 0 {
				t.Errorf("%s shows the secret %q: ...%s...", what, s, body[max(0, i-120):min(len(body), i+len(s)+40)])
			}
		}
	}
}

func copyEnv(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func get(t *testing.T, url, auth string) string { return send(t, "GET", url, auth, "") }

// send makes one request and returns its status line, headers and body.
func send(t *testing.T, method, url, auth, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h strings.Builder
	_ = resp.Header.Write(&h)
	return resp.Status + "\n" + h.String() + "\n" + string(b)
}
