package sink

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tradestreamBinary builds the tradestream command once per test run (without the
// race detector: it is the system under test, not the test).
func tradestreamBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "tradestream-sink-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "tradestream")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/tradestream/tradestream/cmd/tradestream").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a `tradestream` subprocess (a sink, a replay).
type proc struct {
	t    *testing.T
	name string
	// app is the process's PostgreSQL application_name, unique to it; its
	// Kafka client id is its name.
	app  string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startSink starts `tradestream sink` on e's topics, schema and group.
func (e *testEnv) startSink(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return e.start(t, name, append([]string{"sink", "--metrics-addr=", "--session-timeout", "6s", "--batch-size", "2000"}, args...)...)
}

// start starts `tradestream args...` on e's topics, schema and group.
func (e *testEnv) start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, app: name + "-" + rand.Text()[:10], log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	dbURL, err := url.Parse(e.db.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	q := dbURL.Query()
	q.Set("application_name", p.app)
	dbURL.RawQuery = q.Encode()
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(tradestreamBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRADESTREAM_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env,
		"TRADESTREAM_KAFKA_BROKERS="+strings.Join(e.kcfg.Brokers, ","),
		"TRADESTREAM_DATABASE_URL="+dbURL.String(),
		"TRADESTREAM_KAFKA_CLIENT_ID="+name,
		"TRADESTREAM_TOPIC_PREFIX="+e.topics.Prefix,
		"TRADESTREAM_SINK_GROUP="+e.group,
		"TRADESTREAM_LOG_LEVEL=info",
	)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			p.dumpStacks()
		}
		p.signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			kept := filepath.Join(os.TempDir(), strings.ReplaceAll(fmt.Sprintf("tradestream-%s-%s.log", t.Name(), p.app), "/", "_"))
			if err := os.WriteFile(kept, b, 0o644); err == nil {
				t.Logf("the whole log of %s, with its goroutines if it was still running: %s", p.name, kept)
			}
			t.Logf("log of %s:\n%s", p.name, tail(stripStacks(string(b)), 60))
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// dumpStacks makes a process that is still running print its goroutines
// to its log and exit (SIGQUIT, the Go runtime's dump), so that a test
// that failed on a hung process shows where it hung.
func (p *proc) dumpStacks() {
	select {
	case <-p.done:
		return
	default:
	}
	p.signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// stripStacks is a log without the goroutine dump that dumpStacks adds
// (it is in the kept file).
func stripStacks(s string) string {
	if i := strings.Index(s, "\nSIGQUIT: quit"); i >= 0 {
		return s[:i] + "\n(goroutines dumped on SIGQUIT: see the kept log)"
	}
	return s
}

// sigterm asks a process to stop cleanly.
const sigterm = syscall.SIGTERM

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// wait waits for the process to exit and returns its error (nil: exit 0).
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v", p.name, timeout)
		return nil
	}
}

// logContains reports how many lines of the log contain s.
func (p *proc) logContains(s string) int {
	b, _ := os.ReadFile(p.log)
	return strings.Count(string(b), s)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// feedRecords generates a feed in memory.
func feedRecords(t *testing.T, cfg feed.Config) ([]feed.Record, feed.Expect) {
	t.Helper()
	var recs []feed.Record
	exp, err := feed.Generate(cfg, func(r feed.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, exp
}

// produceFeed produces recs at about perSecond records a second (0: as
// fast as possible) and returns when the brokers have them all.
func (e *testEnv) produceFeed(ctx context.Context, recs []feed.Record, perSecond int) error {
	const chunk = 1000
	start := time.Now()
	for i := 0; i < len(recs); i += chunk {
		if perSecond > 0 {
			if ahead := time.Duration(i)*time.Second/time.Duration(perSecond) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		if err := feed.ProduceRecords(ctx, e.producer, e.names, recs[i:min(i+chunk, len(recs))], "sink-test"); err != nil {
			return err
		}
	}
	return nil
}
