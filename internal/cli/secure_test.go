package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/status"
)

// secure is the secured 3-node cluster of `scripts/stack up --brokers 3
// --secure`: its SASL_SSL and mutual TLS listeners, the CA, and the
// directory of each principal's password, certificate and key.
type secure struct {
	sasl, mtls, ca, principals string
}

func secureCluster(t *testing.T) secure {
	t.Helper()
	s := secure{
		sasl: os.Getenv("TRADESTREAM_TEST_KAFKA_SECURE"), mtls: os.Getenv("TRADESTREAM_TEST_KAFKA_SECURE_MTLS"),
		ca: os.Getenv("TRADESTREAM_TEST_KAFKA_SECURE_CA"), principals: os.Getenv("TRADESTREAM_TEST_KAFKA_SECURE_PRINCIPALS"),
	}
	if s.sasl == "" || s.mtls == "" || s.ca == "" || s.principals == "" {
		kafkatest.Missing(t, "TRADESTREAM_TEST_KAFKA_SECURE", "the secured 3-node Kafka cluster (scripts/stack up --brokers 3 --secure)")
	}
	return s
}

// scram returns the variables that connect as name over SASL_SSL.
func (s secure) scram(t *testing.T, name string) map[string]string {
	t.Helper()
	pass, err := os.ReadFile(filepath.Join(s.principals, name+".password"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"TRADESTREAM_KAFKA_BROKERS":        s.sasl,
		"TRADESTREAM_KAFKA_TLS_CA":         s.ca,
		"TRADESTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"TRADESTREAM_KAFKA_SASL_USER":      name,
		"TRADESTREAM_KAFKA_SASL_PASSWORD":  strings.TrimSpace(string(pass)),
	}
}

// cert returns the variables that connect as name with its client
// certificate over mutual TLS.
func (s secure) cert(name string) map[string]string {
	return map[string]string{
		"TRADESTREAM_KAFKA_BROKERS":  s.mtls,
		"TRADESTREAM_KAFKA_TLS_CA":   s.ca,
		"TRADESTREAM_KAFKA_TLS_CERT": filepath.Join(s.principals, name+".crt"),
		"TRADESTREAM_KAFKA_TLS_KEY":  filepath.Join(s.principals, name+".key"),
	}
}

// adminKafka is the admin's connection as config, for the test's own
// clients.
func (s secure) adminKafka(t *testing.T) config.Kafka {
	pass, err := os.ReadFile(filepath.Join(s.principals, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	c := kafkatest.Config(strings.Split(s.sasl, ","))
	c.TLS.CAFile = s.ca
	c.SASL = config.SASL{Mechanism: "SCRAM-SHA-512", Username: "admin", Password: config.Secret(strings.TrimSpace(string(pass)))}
	return c
}

func (s secure) admin(t *testing.T) *kadm.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kafka.NewClient(ctx, s.adminKafka(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func with(base map[string]string, more ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range append([]map[string]string{base}, more...) {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// secureTopics creates the topics under a fresh prefix as the admin,
// applies the services' ACLs with `acls apply`, and deletes the topics at
// the end. It returns the variables naming prefix and groups.
func secureTopics(t *testing.T, s secure) map[string]string {
	t.Helper()
	prefix := kafkatest.Prefix(t)
	names := map[string]string{
		"TRADESTREAM_TOPIC_PREFIX":             prefix,
		"TRADESTREAM_TOPIC_PARTITIONS":         "2",
		"TRADESTREAM_TOPIC_REPLICATION_FACTOR": "3",
		"TRADESTREAM_SINK_GROUP":               prefix + "sink",
		"TRADESTREAM_ALERTS_GROUP":             prefix + "alerts",
		"TRADESTREAM_LOG_LEVEL":                "warn",
	}
	admin := with(names, s.scram(t, "admin"))
	if code, out, stderr := run(t, admin, "topics", "create"); code != ExitOK {
		t.Fatalf("topics create as admin: exit %d\n%s\n%s", code, out, stderr)
	}
	adm := s.admin(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, kafka.TopicNames(prefix).All()...); err != nil {
			t.Logf("delete test topics: %v", err)
		}
	})
	code, out, stderr := run(t, admin, "acls", "apply")
	if code != ExitOK || !strings.Contains(out, "User:tradestream-gen") {
		t.Fatalf("acls apply: exit %d\n%s\n%s", code, out, stderr)
	}
	// Applying again changes nothing and prints the same.
	if code, again, stderr := run(t, admin, "acls", "apply"); code != ExitOK || again != out {
		t.Fatalf("acls apply twice: exit %d, output changed\n%s\n%s", code, again, stderr)
	}
	return names
}

// TestSecurePipeline runs generator, alerts engine, sink and status on
// the secured cluster through their settings alone, each as its own
// principal with only the ACLs of `acls apply`: once over SASL_SSL with
// SCRAM, once over mutual TLS with client certificates.
func TestSecurePipeline(t *testing.T) {
	s := secureCluster(t)
	for _, mode := range []string{"scram", "mtls"} {
		t.Run(mode, func(t *testing.T) {
			as := func(name string) map[string]string {
				if mode == "scram" {
					return s.scram(t, name)
				}
				return s.cert(name)
			}
			names := secureTopics(t, s)
			db := pgtest.Schema(t)
			base := with(names, map[string]string{"TRADESTREAM_DATABASE_URL": db.URL.Reveal()})
			if code, out, stderr := run(t, base, "db", "migrate"); code != ExitOK {
				t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
			}
			if code, out, stderr := run(t, base, "alerts", "add", "big_trade", "*", "1"); code != ExitOK {
				t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
			}
			code, out, stderr := run(t, with(base, as("tradestream-gen")), "gen", "all", "--count", "3000", "--rate", "0", "--seed", "7", "--metrics-addr=")
			if code != ExitOK {
				t.Fatalf("gen as tradestream-gen: exit %d\n%s\n%s", code, out, stderr)
			}

			// The alerts engine until its transactions put alerts on the topic.
			topics := kafka.TopicNames(names["TRADESTREAM_TOPIC_PREFIX"])
			adm := s.admin(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var alertsErr bytes.Buffer
			actx, stop := context.WithCancel(ctx)
			done := make(chan int, 1)
			go func() {
				done <- runCtx(actx, with(base, as("tradestream-alerts")), &alertsErr, "alerts", "run", "--from-start", "--metrics-addr=")
			}()
			alertsCode := -1
			for alertsCode < 0 {
				ends, err := adm.ListEndOffsets(ctx, topics.Alerts)
				var total int64
				ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
				if err == nil && total > 0 {
					stop()
					alertsCode = <-done
					break
				}
				select {
				case <-ctx.Done():
					stop()
					<-done
					t.Fatalf("no alerts on %s from the engine:\n%s", topics.Alerts, alertsErr.String())
				case alertsCode = <-done:
				case <-time.After(200 * time.Millisecond):
				}
			}
			stop()
			if alertsCode != ExitOK {
				t.Fatalf("alerts run as tradestream-alerts: exit %d\n%s", alertsCode, alertsErr.String())
			}

			code, out, stderr = run(t, with(base, as("tradestream-sink")), "sink", "--until-caught-up", "--metrics-addr=")
			if code != ExitOK {
				t.Fatalf("sink as tradestream-sink: exit %d\n%s\n%s", code, out, stderr)
			}
			code, out, stderr = run(t, with(base, as("tradestream-status")), "status", "--json", "--samples", "1",
				"--group", names["TRADESTREAM_SINK_GROUP"])
			if code != ExitOK {
				t.Fatalf("status as tradestream-status: exit %d\n%s\n%s", code, out, stderr)
			}
			var snap status.Snapshot
			if err := json.Unmarshal([]byte(out), &snap); err != nil {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			g, ok := snap.Group(names["TRADESTREAM_SINK_GROUP"])
			if !ok || len(g.Partitions) == 0 {
				t.Fatalf("got group %+v (found %v), want the sink group's partitions and lag", g, ok)
			}
			for _, p := range g.Partitions {
				if p.Lag != 0 {
					t.Errorf("got lag %d on %s/%d, want 0 after sink --until-caught-up", p.Lag, p.Topic, p.Partition)
				}
			}
			t.Logf("%s: gen, alerts, sink and status ran as their own principals; sink group %d partitions at lag 0", mode, len(g.Partitions))
		})
	}
}

// TestSecureDenied shows each principal refused what its ACLs leave out,
// with an error naming principal, operation and resource, and the command
// ending by itself (no retrying until the test's deadline).
func TestSecureDenied(t *testing.T) {
	s := secureCluster(t)
	names := secureTopics(t, s)
	prefix := names["TRADESTREAM_TOPIC_PREFIX"]
	db := pgtest.Schema(t)
	base := with(names, map[string]string{"TRADESTREAM_DATABASE_URL": db.URL.Reveal()})
	if code, out, stderr := run(t, base, "db", "migrate"); code != ExitOK {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // regexp the error output must match
	}{
		{"sink produces to a topic it only reads", with(base, s.scram(t, "tradestream-sink")),
			[]string{"gen", "prices", "--count", "10", "--metrics-addr="},
			`principal User:tradestream-sink may not WRITE topic ` + regexp.QuoteMeta(prefix+"prices") + `: an ACL is missing \(see tradestream acls apply\)`},
		{"sink joins the alerts engine's group", with(base, s.scram(t, "tradestream-sink"), map[string]string{"TRADESTREAM_SINK_GROUP": prefix + "alerts"}),
			[]string{"sink", "--metrics-addr="},
			`principal User:tradestream-sink may not READ group ` + regexp.QuoteMeta(prefix+"alerts") + `: an ACL is missing`},
		{"generator creates topics", with(base, s.scram(t, "tradestream-gen"), map[string]string{"TRADESTREAM_TOPIC_PREFIX": prefix + "new."}),
			[]string{"topics", "create"},
			`principal User:tradestream-gen may not CREATE topic ` + regexp.QuoteMeta(prefix+"new.") + `\w+: an ACL is missing`},
		{"alerts engine takes the sink's group", with(base, s.scram(t, "tradestream-alerts"), map[string]string{"TRADESTREAM_ALERTS_GROUP": prefix + "sink"}),
			[]string{"alerts", "run", "--instance", "a", "--metrics-addr="},
			`principal User:tradestream-alerts may not WRITE transactional-id ` + regexp.QuoteMeta(prefix+"sink/a") + `: an ACL is missing`},
		{"dashboard over mutual TLS produces", with(base, s.cert("tradestream-dash")),
			[]string{"gen", "trades", "--count", "10", "--metrics-addr="},
			`principal User:tradestream-dash may not WRITE topic ` + regexp.QuoteMeta(prefix) + `\w+: an ACL is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			code := runCtx(ctx, tt.env, &stderr, tt.args...)
			if ctx.Err() != nil {
				t.Fatalf("%v still running after 90 s (retrying a refusal?):\n%s", tt.args, stderr.String())
			}
			if code != ExitFailure || !regexp.MustCompile(tt.want).MatchString(stderr.String()) {
				t.Errorf("got exit %d\n%s\nwant %d and an error matching %s", code, stderr.String(), ExitFailure, tt.want)
			}
		})
	}
}

// runCtx runs a command until it ends or ctx does, with its standard
// error in stderr.
func runCtx(ctx context.Context, env map[string]string, stderr *bytes.Buffer, args ...string) int {
	var out bytes.Buffer
	var mu sync.Mutex
	io := IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: lockedWriter{&mu, stderr},
		Getenv: func(k string) string { return env[k] }, Now: time.Now,
	}
	return Run(ctx, args, io)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
