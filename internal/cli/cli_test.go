package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// pipeline is a test's own topics (3 partitions, one replica) and
// migrated schema, with env pointing tradestream at them.
type pipeline struct {
	brokers []string
	prefix  string
	db      config.Database
	env     map[string]string
}

// newPipeline creates a pipeline's topics and schema and migrates it; env
// also holds the extra name, value pairs.
func newPipeline(t *testing.T, extra ...string) pipeline {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	db := pgtest.Schema(t)
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":  db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX":  tc.Prefix,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	if code, out, stderr := run(t, env, "db", "migrate"); code != 0 {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	return pipeline{brokers: brokers, prefix: tc.Prefix, db: db, env: env}
}

// run executes a command line with env as the whole environment.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	io := IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }, Now: time.Now,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = Run(ctx, args, io)
	return code, out.String(), errb.String()
}

func TestBadConfigListsEveryProblem(t *testing.T) {
	env := map[string]string{"TRADESTREAM_DATABASE_URL": "postgres://u:pw@db:notaport/x"}
	start := time.Now()
	code, _, stderr := run(t, env, "up", "--kafka-compression", "brotli", "--topic-partitions", "-2",
		"--kafka-brokers", "127.0.0.1:1")
	if code != ExitUsage {
		t.Errorf("got exit %d, want %d", code, ExitUsage)
	}
	for _, want := range []string{"invalid configuration", "compression", "partitions", "database url"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if strings.Contains(stderr, "pw@") {
		t.Errorf("stderr leaks the password: %q", stderr)
	}
	// Nothing was started: no broker dial (127.0.0.1:1 would time out).
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; validation must come before any connection", d)
	}
}

func TestBadFlagIsUsageError(t *testing.T) {
	code, _, stderr := run(t, nil, "topics", "list", "--topic-partitions", "lots")
	if code != ExitUsage || !strings.Contains(stderr, "topic-partitions") {
		t.Errorf("got exit %d, stderr %q; want %d naming the flag", code, stderr, ExitUsage)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	r := &root{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("command %q has no short help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && sub.Name() != "completion" {
				walk(sub)
			}
		}
	}
	walk(r.command())
}

func TestTopicsAndMigrateAgainstRealServices(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	db := pgtest.Schema(t)
	prefix := kafkatest.Prefix(t)
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":  db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX":  prefix,
	}
	t.Cleanup(func() {
		adm := kafkatest.Admin(t, brokers)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, prefix+"users", prefix+"prices", prefix+"trades", prefix+"alerts", prefix+"deadletter")
	})

	code, out, stderr := run(t, env, "topics", "create", "--topic-partitions", "3")
	if code != 0 || strings.Count(out, "created ") != 5 {
		t.Fatalf("topics create: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = run(t, env, "topics", "list")
	if code != 0 || !strings.Contains(out, prefix+"users") || !strings.Contains(out, "compact") {
		t.Errorf("topics list: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "topics", "describe", prefix+"trades")
	if code != 0 || strings.Count(out, " ok\n") != 3 {
		t.Errorf("topics describe: exit %d, want 3 healthy partitions\n%s", code, out)
	}
	code, out, stderr = run(t, env, "db", "migrate")
	if code != 0 || !strings.Contains(out, "applied migration 1") {
		t.Errorf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = run(t, env, "db", "migrate")
	if code != 0 || strings.Contains(out, "applied migration") {
		t.Errorf("second db migrate: exit %d, want nothing applied\n%s", code, out)
	}
}

func TestNothingIsWrittenAfterRunReturns(t *testing.T) {
	var b bytes.Buffer
	u := &untilReturn{w: &b}
	fmt.Fprint(u, "before")
	u.end()
	if n, err := fmt.Fprint(u, " after"); n != 6 || err != nil {
		t.Errorf("a write after the end returned %d, %v; want 6, nil", n, err)
	}
	if b.String() != "before" {
		t.Errorf("the caller's writer holds %q, want %q", b.String(), "before")
	}
}
