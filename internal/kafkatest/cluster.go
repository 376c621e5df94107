package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
)

// EnvStackDir names the variable that points at the .stack directory of
// the scripts/stack that runs the 3-broker cluster. Unset, it is the
// directory holding TRADESTREAM_KAFKA_JARS (which .stack/env sets).
const EnvStackDir = "TRADESTREAM_TEST_STACK_DIR"

// Cluster injects faults into the nodes (1..3, each a combined broker and
// KRaft controller) of the 3-broker test cluster that `scripts/stack up
// --brokers 3` runs: SIGKILL, SIGSTOP and SIGCONT by the pid in each node's
// kafka.pid, and a restart through `scripts/stack start-broker N`. Every
// node is resumed and started again when the test ends, pass or fail, and
// the cleanup waits until all three are registered, because the tests
// after it use the cluster.
type Cluster struct {
	t       testing.TB
	dir     string // .stack/kafka-3
	script  string // scripts/stack
	Brokers []string
	Admin   *kadm.Client
	client  *kgo.Client
}

// NewCluster returns the 3-broker cluster's controller for t, skipping
// (or failing, with TRADESTREAM_TEST_REQUIRE_SERVICES=1) without it.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	brokers := ClusterBrokers(t)
	stackDir := os.Getenv(EnvStackDir)
	if stackDir == "" {
		jars := os.Getenv("TRADESTREAM_KAFKA_JARS")
		if jars == "" {
			Missing(t, EnvStackDir, "the 3-broker cluster's stack directory")
		}
		stackDir = filepath.Dir(jars)
	}
	c := &Cluster{
		t: t, dir: filepath.Join(stackDir, "kafka-3"), script: filepath.Join(filepath.Dir(stackDir), "scripts", "stack"),
		Brokers: brokers, client: Client(t, brokers),
	}
	c.Admin = kadm.NewClient(c.client)
	if _, err := os.Stat(c.script); err != nil {
		t.Fatalf("the cluster's stack script: %v", err)
	}
	t.Cleanup(c.Restore)
	return c
}

// Nodes are the cluster's node ids.
var Nodes = []int32{1, 2, 3}

// Pid returns node n's broker process id, or an error when it does not run.
func (c *Cluster) Pid(n int32) (int, error) {
	dir := filepath.Join(c.dir, fmt.Sprintf("node-%d", n))
	b, err := os.ReadFile(filepath.Join(dir, "kafka.pid"))
	if err != nil {
		return 0, fmt.Errorf("node %d: %w", n, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("node %d pid file: %w", n, err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), "kafka.Kafka "+dir+"/server.properties") {
		return 0, fmt.Errorf("node %d (pid %d) is not running", n, pid)
	}
	if zombie(pid) {
		return 0, fmt.Errorf("node %d (pid %d) has exited", n, pid)
	}
	return pid, nil
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// signal sends sig to node n.
func (c *Cluster) signal(n int32, sig syscall.Signal) int {
	c.t.Helper()
	pid, err := c.Pid(n)
	if err != nil {
		c.t.Fatalf("%v: cannot send %v", err, sig)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		c.t.Fatalf("node %d: %v: %v", n, sig, err)
	}
	return pid
}

// Kill sends SIGKILL to node n and waits until its process is gone.
func (c *Cluster) Kill(n int32) {
	c.t.Helper()
	pid := c.signal(n, syscall.SIGKILL)
	deadline := time.Now().Add(30 * time.Second)
	for !zombie(pid) {
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d (pid %d) still running 30 s after SIGKILL", n, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Logf("node %d: SIGKILL (pid %d)", n, pid)
}

// Pause sends SIGSTOP to node n: it keeps its sockets but answers nothing.
func (c *Cluster) Pause(n int32) {
	c.t.Helper()
	c.t.Logf("node %d: SIGSTOP (pid %d)", n, c.signal(n, syscall.SIGSTOP))
}

// Resume sends SIGCONT to node n.
func (c *Cluster) Resume(n int32) {
	c.t.Helper()
	c.t.Logf("node %d: SIGCONT (pid %d)", n, c.signal(n, syscall.SIGCONT))
}

// Start starts node n again and waits until it is registered.
func (c *Cluster) Start(n int32) {
	c.t.Helper()
	if err := c.start(n); err != nil {
		c.t.Fatal(err)
	}
}

func (c *Cluster) start(n int32) error {
	start := time.Now()
	out, err := exec.Command(c.script, "start-broker", strconv.Itoa(int(n))).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/stack start-broker %d: %w\n%s", n, err, out)
	}
	c.t.Logf("node %d: started again in %v", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// Restart stops node n with SIGTERM (a controlled shutdown) through
// `scripts/stack stop-broker N` and starts it again.
func (c *Cluster) Restart(n int32) {
	c.t.Helper()
	out, err := exec.Command(c.script, "stop-broker", strconv.Itoa(int(n))).CombinedOutput()
	if err != nil {
		c.t.Fatalf("scripts/stack stop-broker %d: %v\n%s", n, err, out)
	}
	c.Start(n)
}

// Restore resumes every node (SIGCONT is harmless to a running one),
// starts those that do not run and waits until the cluster lists all
// three brokers. It is registered as the test's cleanup.
func (c *Cluster) Restore() {
	var errs []error
	for _, n := range Nodes {
		if pid, err := c.Pid(n); err == nil {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	for _, n := range Nodes {
		if _, err := c.Pid(n); err != nil {
			errs = append(errs, c.start(n))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs = append(errs, c.AwaitBrokers(ctx, len(Nodes)))
	if err := errors.Join(errs...); err != nil {
		c.t.Errorf("restore the 3-broker cluster: %v", err)
	}
}

// AwaitBrokers waits until the cluster's metadata lists n brokers.
func (c *Cluster) AwaitBrokers(ctx context.Context, n int) error {
	for {
		meta, err := c.Admin.BrokerMetadata(ctx)
		if err == nil && len(meta.Brokers) == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster does not list %d brokers (last: %v, %v): %w", n, meta.Brokers.NodeIDs(), err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Leaders counts, per node, the partitions of topics it leads.
func (c *Cluster) Leaders(ctx context.Context, topics ...string) (map[int32]int, error) {
	meta, err := c.Admin.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	led := map[int32]int{}
	for _, td := range meta.Topics {
		for _, p := range td.Partitions {
			if p.Leader >= 0 {
				led[p.Leader]++
			}
		}
	}
	return led, nil
}

// TopLeader returns the node leading the most partitions of topics.
func (c *Cluster) TopLeader(ctx context.Context, topics ...string) (int32, error) {
	led, err := c.Leaders(ctx, topics...)
	if err != nil {
		return 0, err
	}
	best, most := int32(-1), -1
	for _, n := range Nodes {
		if led[n] > most {
			best, most = n, led[n]
		}
	}
	return best, nil
}

// ActiveController returns the KRaft quorum's leader: the active
// controller.
func (c *Cluster) ActiveController(ctx context.Context) (int32, error) {
	return kafka.ActiveController(ctx, c.client)
}

// AwaitInSync waits until every partition of topics has all its replicas
// in sync.
func (c *Cluster) AwaitInSync(ctx context.Context, topics ...string) error {
	for {
		under := -1
		meta, err := c.Admin.Metadata(ctx, topics...)
		if err == nil {
			under = 0
			for _, td := range meta.Topics {
				for _, p := range td.Partitions {
					if len(p.ISR) < len(p.Replicas) || p.Leader < 0 {
						under++
					}
				}
			}
			if under == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d partitions still under-replicated (%v): %w", under, err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
