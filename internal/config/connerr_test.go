package config_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// TestFailedConnectionShowsNoSecret connects with wrong passwords and to an
// unreachable address, through pgx alone and through store.Open: pgx's
// error must name the failure, and neither error may show a secret.
func TestFailedConnectionShowsNoSecret(t *testing.T) {
	for name, s := range badConnStrings(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, s)
			if err == nil {
				conn.Close(ctx)
				t.Skipf("the test server accepted a wrong password (trust authentication): nothing to check")
			}
			want := "password authentication failed"
			if name == "unreachable" {
				want = "connection refused"
			}
			if msg := err.Error(); strings.Contains(msg, "leak") || !strings.Contains(msg, want) {
				t.Errorf("pgx: got error %q, want one saying %q without a secret", msg, want)
			}

			cfg := config.Default().Database
			cfg.URL = config.ConnString(s)
			cfg.ConnectTimeout = 3 * time.Second
			pool, err := store.Open(ctx, cfg)
			if err == nil {
				pool.Close()
				t.Fatal("store.Open: got a pool, want an error")
			}
			if msg := err.Error(); strings.Contains(msg, "leak") || !strings.Contains(msg, "database") {
				t.Errorf("store.Open: got error %q, want one naming the database without a secret", msg)
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
		// up's standard output, read line by line until the postgres line.
		pr, pw := io.Pipe()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		done := make(chan int, 1)
		go func() {
			done <- cli.Run(ctx, []string{"up", "--dashboard-addr", "127.0.0.1:0", "--rate", "1", "--users", "10"}, cli.IO{
				Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard,
				Getenv: func(k string) string { return env[k] }, Now: time.Now,
			})
			pw.Close()
		}()
		line := regexp.MustCompile(`^postgres\s+(\S+)$`)
		var shown []string
		var seen strings.Builder
		sc := bufio.NewScanner(pr)
		for shown == nil && sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			shown = line.FindStringSubmatch(sc.Text())
		}
		cancel()
		_, _ = io.Copy(io.Discard, pr)
		code := <-done
		if shown == nil {
			t.Fatalf("up (exit %d) printed no postgres line:\n%s", code, seen.String())
		}
		if strings.Contains(shown[1], "password="+url.QueryEscape(password)) || !strings.Contains(shown[1], "password=xxxxx") {
			t.Errorf("up shows the database as %s, want its password as xxxxx", shown[1])
		}
	})
}
