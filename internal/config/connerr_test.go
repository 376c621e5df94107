package config_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradestream/tradestream/internal/cli"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// badConnStrings returns connection strings to the test server with wrong
// passwords (in every place one can be given) and to a port nobody
// listens on; every secret in them contains "leak".
func badConnStrings(t *testing.T) map[string]string {
	t.Helper()
	pc, err := pgconn.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	hp := fmt.Sprintf("%s:%d", pc.Host, pc.Port)
	user, db := url.PathEscape(pc.User), url.PathEscape(pc.Database)
	return map[string]string{
		"userinfo password": fmt.Sprintf("postgres://%s:leak1@%s/%s?sslmode=disable", user, hp, db),
		"query password":    fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&password=leak2", user, hp, db),
		"both":              fmt.Sprintf("postgres://%s:leak3@%s/%s?password=leak4&sslmode=disable", user, hp, db),
		"key=value": fmt.Sprintf(`host=%s port=%d user=%s dbname=%s sslmode=disable password='leak 5 \' x'`,
			pc.Host, pc.Port, pc.User, pc.Database),
		"unreachable": fmt.Sprintf("postgres://%s:leak6@127.0.0.1:1/%s?sslmode=disable&sslpassword=leak7", user, db),
	}
}

// TestFailedConnectionShowsNoSecret opens the database with wrong
// passwords and at an unreachable address: the errors, pgx's included,
// must name the failure and show no secret.
func TestFailedConnectionShowsNoSecret(t *testing.T) {
	for name, s := range badConnStrings(t) {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default().Database
			cfg.URL = config.ConnString(s)
			cfg.ConnectTimeout = 3 * time.Second
			pool, err := store.Open(context.Background(), cfg)
			if err == nil {
				pool.Close()
				t.Skipf("the test server accepted a wrong password (trust authentication): nothing to check")
			}
			msg := err.Error()
			if strings.Contains(msg, "leak") {
				t.Errorf("error shows a secret: %s", msg)
			}
			want := "password authentication failed"
			if name == "unreachable" {
				want = "connection refused"
			}
			if !strings.Contains(msg, want) {
				t.Errorf("got error %q, want one saying %q", msg, want)
			}
		})
	}
}

// TestCommandsShowNoSecret runs commands with the bad connection strings:
// neither their output nor their errors may show a secret. `up`'s start-up
// line, with a working URL whose password is a query parameter, must show
// the URL without it.
func TestCommandsShowNoSecret(t *testing.T) {
	for name, s := range badConnStrings(t) {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"TRADESTREAM_DATABASE_URL": s, "TRADESTREAM_DATABASE_CONNECT_TIMEOUT": "3s"}
			var out, errb bytes.Buffer
			code := cli.Run(context.Background(), []string{"db", "migrate"}, cli.IO{
				Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
				Getenv: func(k string) string { return env[k] }, Now: time.Now,
			})
			if code == 0 {
				t.Skipf("the test server accepted a wrong password (trust authentication): nothing to check")
			}
			if all := out.String() + errb.String(); strings.Contains(all, "leak") || !strings.Contains(all, "database") {
				t.Errorf("db migrate shows a secret or no database error:\n%s", all)
			}
		})
	}

	t.Run("up", func(t *testing.T) {
		brokers := kafkatest.Brokers(t)
		tc := kafkatest.Topics(t, brokers, 1, 1)
		db := pgtest.Schema(t)
		u, err := url.Parse(db.URL.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		password, ok := u.User.Password()
		if !ok || password == "" {
			t.Skip("the test database URL has no password to hide")
		}
		q := u.Query()
		q.Set("password", password)
		u.User, u.RawQuery = url.User(u.User.Username()), q.Encode()
		env := map[string]string{
			"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","),
			"TRADESTREAM_DATABASE_URL":  u.String(),
			"TRADESTREAM_TOPIC_PREFIX":  tc.Prefix,
			"TRADESTREAM_METRICS_ADDR":  "127.0.0.1:0",
		}
		out := &lockedBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- cli.Run(ctx, []string{"up", "--dashboard-addr", "127.0.0.1:0", "--rate", "1", "--users", "10"}, cli.IO{
				Stdin: strings.NewReader(""), Stdout: out, Stderr: &lockedBuffer{},
				Getenv: func(k string) string { return env[k] }, Now: time.Now,
			})
		}()
		line := regexp.MustCompile(`(?m)^postgres\s+(\S+)$`)
		var shown []string
		deadline := time.After(2 * time.Minute)
		for shown == nil {
			select {
			case <-deadline:
				cancel()
				t.Fatalf("no postgres start-up line within 2 minutes:\n%s", out.String())
			case code := <-done:
				cancel()
				t.Fatalf("up exited %d before its start-up lines:\n%s", code, out.String())
			case <-time.After(100 * time.Millisecond):
				shown = line.FindStringSubmatch(out.String())
			}
		}
		cancel()
		<-done
		if strings.Contains(shown[1], "password="+url.QueryEscape(password)) || !strings.Contains(shown[1], "password=xxxxx") {
			t.Errorf("up shows the database as %s, want its password as xxxxx", shown[1])
		}
	})
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
