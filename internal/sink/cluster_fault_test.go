//go:build faults

package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/kafkatest"
	pmetrics "github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/status"
)

// The broker fault scenarios of the 3-broker cluster: each runs the
// pipeline (faultRun), injects its fault while the generator runs, and
// counts in finish. Every node is resumed and started again when a test
// ends (kafkatest.Cluster).

// TestFaultLeaderLoss SIGKILLs the node leading the most partitions and
// starts it again once `status` shows it down with partitions
// under-replicated (about 10 s: the time the controller takes to fence
// it).
func TestFaultLeaderLoss(t *testing.T) {
	r := newFaultRun(t, 1)
	probe := newStatusProbe(t, r)
	r.startGen(t)
	for range r.repeats {
		n := r.topLeader(t)
		r.c.Kill(n)
		probe.await(t, fmt.Sprintf("node %d down, partitions under-replicated", n), brokerDownAndUnderReplicated(n))
		r.c.Start(n)
		probe.await(t, "healthy", healthy)
	}
	r.finish(t)
}

// TestFaultHungBroker SIGSTOPs a node for 12 s, longer than the broker
// session (9 s), the sinks' group session (6 s) and the producer's request
// timeout (10 s), then SIGCONTs it: alive on the network, answering
// nothing.
func TestFaultHungBroker(t *testing.T) {
	r := newFaultRun(t, 1)
	probe := newStatusProbe(t, r)
	r.startGen(t)
	for range r.repeats {
		n := r.topLeader(t)
		r.c.Pause(n)
		stopped := time.Now()
		probe.await(t, fmt.Sprintf("node %d down", n), brokerDown(n))
		time.Sleep(time.Until(stopped.Add(12 * time.Second))) // the fault's length, not a wait for a result
		r.c.Resume(n)
		probe.await(t, "healthy", healthy)
	}
	r.finish(t)
}

// TestFaultControllerLoss SIGKILLs the active KRaft controller and starts
// it again once another controller leads the quorum.
func TestFaultControllerLoss(t *testing.T) {
	r := newFaultRun(t, 1)
	probe := newStatusProbe(t, r)
	r.startGen(t)
	for range r.repeats {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		n, err := r.c.ActiveController(ctx)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		r.c.Kill(n)
		for {
			m, err := r.c.ActiveController(ctx)
			if err == nil && m != n && m > 0 {
				t.Logf("node %d is the active controller after node %d", m, n)
				break
			}
			if ctx.Err() != nil {
				cancel()
				t.Fatalf("no other active controller after node %d was killed: %v", n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
		probe.await(t, fmt.Sprintf("node %d down and another controller active", n), func(s status.Snapshot) bool {
			return brokerDown(n)(s) && s.Controller > 0 && s.Controller != n
		})
		r.c.Start(n)
		probe.await(t, "healthy", healthy)
	}
	r.finish(t)
}

// TestFaultRollingRestart restarts the three nodes one after another
// (SIGTERM, a controlled shutdown, then a start), each once the previous
// one's partitions are back in sync, while the generator runs.
func TestFaultRollingRestart(t *testing.T) {
	r := newFaultRun(t, 1)
	probe := newStatusProbe(t, r)
	r.length *= 3 // the three restarts take about a minute: the generator runs throughout
	r.startGen(t)
	for range r.repeats {
		for _, n := range kafkatest.Nodes {
			r.c.Restart(n)
			probe.await(t, "healthy", healthy)
		}
	}
	r.finish(t)
}

// TestFaultQuorumLost takes two of the three nodes down: no partition can
// have two in-sync replicas, so acks=all produce stalls (and the KRaft
// quorum is lost too). The generator must say which partitions stalled and
// since when, its buffer must stay within its limit, and nothing may be
// reported delivered that is not in Kafka; when the nodes return it
// resumes and the counts hold.
func TestFaultQuorumLost(t *testing.T) {
	r := newFaultRun(t, 1)
	probe := newStatusProbe(t, r)
	for i := range r.repeats {
		first := r.topLeader(t)
		second := first%3 + 1
		r.c.Kill(first)
		probe.await(t, fmt.Sprintf("node %d down, partitions under-replicated", first), brokerDownAndUnderReplicated(first))
		if i == 0 {
			// The generator starts once the first node is known to be
			// down, which can take the controller its broker session
			// timeout (9 s): started before, a 10 s run could be over by
			// the time the quorum is lost, and nothing would stall.
			r.startGen(t)
		}
		r.c.Kill(second)
		// The topics are still shown: groups a dead broker coordinates
		// are missing, which the snapshot's problems say.
		probe.await(t, fmt.Sprintf("nodes %d and %d down, topics still shown", first, second), func(s status.Snapshot) bool {
			return brokerDown(first)(s) && brokerDown(second)(s) && len(s.Topics) > 0
		})
		lost := time.Now()
		deadline := lost.Add(time.Minute)
		for r.genGauge(t, "tradestream_gen_stalled_partitions") == 0 || !strings.Contains(r.genLog.String(), "produce stalled") {
			if time.Now().After(deadline) {
				t.Fatalf("the generator never said it stalled; its log:\n%s", r.genLog.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		ackedDuring := r.genCounter(t)
		time.Sleep(time.Until(lost.Add(12 * time.Second))) // the outage's length
		if got := r.genCounter(t); got > ackedDuring+int64(r.maxRecords) {
			t.Errorf("got %d acknowledged during the outage, more than the buffer (%d) could have held when it began", got-ackedDuring, r.maxRecords)
		}
		t.Logf("generator during the outage: %s", lastLine(r.genLog.String(), "STALLED"))
		r.c.Start(second)
		r.c.Start(first)
		probe.await(t, "healthy", healthy)
		deadline = time.Now().Add(time.Minute)
		for !strings.Contains(r.genLog.String(), "produce resumed") {
			if time.Now().After(deadline) {
				t.Fatalf("the generator never said it resumed; its log:\n%s", r.genLog.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if s := lastLine(r.genLog.String(), "produce stalled"); !strings.Contains(s, "partitions=") || !strings.Contains(s, "since=") {
		t.Errorf("got stall log line %q, want the partitions and since when", s)
	}
	r.finish(t)
}

// TestFaultConsumerFailover runs three sinks in one group on the cluster
// and SIGKILLs one: the survivors take over its partitions (read from the
// group's assignment), and every offset of every partition ends up loaded
// exactly once (finish).
func TestFaultConsumerFailover(t *testing.T) {
	r := newFaultRun(t, 3)
	e := r.e
	r.startGen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := []string{r.sinks[0].name, r.sinks[1].name, r.sinks[2].name}
	owned := e.awaitAssignment(ctx, t, func(m map[string]map[string][]int32) bool {
		return len(m) == 3 && len(m[names[0]]) > 0 && len(m[names[1]]) > 0 && len(m[names[2]]) > 0
	})
	victim := r.sinks[1]
	ofVictim := owned[victim.name]
	for !e.storedSome(t, ofVictim, e.names.Prices, e.names.Trades) {
		if ctx.Err() != nil {
			t.Fatalf("%s never stored offsets of its price and trade partitions %v", victim.name, ofVictim)
		}
		time.Sleep(50 * time.Millisecond)
	}
	victim.kill()
	e.awaitGone(ctx, t, victim)
	atKill := pick(e.stored(t), map[string][]int32{e.names.Prices: ofVictim[e.names.Prices], e.names.Trades: ofVictim[e.names.Trades]})
	t.Logf("%s killed holding %v; its stored offsets then: %v", victim.name, ofVictim, atKill)
	owned = e.awaitAssignment(ctx, t, func(m map[string]map[string][]int32) bool {
		if len(m) != 2 || m[victim.name] != nil {
			return false
		}
		both := map[string][]int32{}
		for _, parts := range m {
			for topic, ps := range parts {
				both[topic] = append(both[topic], ps...)
			}
		}
		return covers(both, ofVictim)
	})
	t.Logf("after the kill: %s holds %v, %s holds %v", names[0], owned[names[0]], names[2], owned[names[2]])
	r.sinks = []*proc{r.sinks[0], r.sinks[2]}
	r.finish(t)
	// The survivors loaded the victim's partitions past its stored offsets.
	after := int64(0)
	ends := e.endOffsets(ctx, t)
	for topic, ps := range atKill {
		for p, from := range ps {
			after += ends[topic][p] - from
		}
	}
	if after == 0 {
		t.Errorf("no record of %s's partitions arrived after it was killed: nothing was taken over", victim.name)
	}
	t.Logf("the survivors loaded %d records of %s's price and trade partitions after the kill", after, victim.name)
}

// topLeader returns the node leading the most data partitions.
func (r *faultRun) topLeader(t *testing.T) int32 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := r.c.TopLeader(ctx, r.e.dataTopics()...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// genCounter is the events the generator has had acknowledged so far.
func (r *faultRun) genCounter(t *testing.T) int64 {
	mfs, err := r.genReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "tradestream_gen_events_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int64(n)
}

func lastLine(s, containing string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return lines[i]
		}
	}
	return ""
}

// statusProbe samples the pipeline as `tradestream status` does, with the
// status gauges /metrics exports.
type statusProbe struct {
	s   *status.Sampler
	reg *prometheus.Registry
}

func newStatusProbe(t *testing.T, r *faultRun) *statusProbe {
	s := status.NewSampler(kafkatest.Client(t, r.c.Brokers), r.e.pool, status.Options{Prefix: r.e.topics.Prefix})
	t.Cleanup(s.Close)
	reg := prometheus.NewRegistry()
	reg.MustRegister(pmetrics.NewLagCollector(s))
	return &statusProbe{s: s, reg: reg}
}

// await samples until ok holds of the snapshot and of the metrics, and
// logs what status shows then.
func (p *statusProbe) await(t *testing.T, what string, ok func(status.Snapshot) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var snap status.Snapshot
	for {
		snap = p.s.Sample(ctx)
		if ok(snap) && p.metricsAgree(t, snap) {
			break
		}
		if ctx.Err() != nil {
			var b strings.Builder
			_ = status.Render(&b, snap)
			t.Fatalf("status never showed %s; last:\n%s", what, b.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	var b strings.Builder
	_ = status.Render(&b, snap)
	out := b.String()
	t.Logf("status shows %s:\n%s", what, out[:strings.Index(out, "CONSUMER GROUPS")])
}

// metricsAgree checks that /metrics' broker and partition gauges (the
// sampler's latest snapshot through metrics.LagCollector) say what the
// snapshot says.
func (p *statusProbe) metricsAgree(t *testing.T, snap status.Snapshot) bool {
	down, under := 0, 0
	for _, b := range snap.Brokers {
		if b.Down {
			down++
		}
	}
	for _, tp := range snap.Topics {
		under += tp.UnderReplicated + tp.Offline
	}
	gotDown := p.sum(t, "tradestream_kafka_brokers", "state", "down")
	gotUnder := p.sum(t, "tradestream_kafka_topic_under_replicated_partitions", "", "") +
		p.sum(t, "tradestream_kafka_topic_offline_partitions", "", "")
	if int(gotDown) != down || int(gotUnder) != under {
		t.Errorf("got /metrics brokers down %v and under-replicated+offline %v, want the snapshot's %d and %d", gotDown, gotUnder, down, under)
		return false
	}
	return true
}

// sum adds up the gauges of name, those whose label is value when label is
// set.
func (p *statusProbe) sum(t *testing.T, name, label, value string) float64 {
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == label && l.GetValue() == value
			}
			if match {
				n += m.GetGauge().GetValue()
			}
		}
	}
	return n
}

func brokerDown(n int32) func(status.Snapshot) bool {
	return func(s status.Snapshot) bool {
		for _, b := range s.Brokers {
			if b.ID == n {
				return b.Down
			}
		}
		return false
	}
}

func brokerDownAndUnderReplicated(n int32) func(status.Snapshot) bool {
	return func(s status.Snapshot) bool {
		under := 0
		for _, tp := range s.Topics {
			under += tp.UnderReplicated
		}
		return brokerDown(n)(s) && under > 0
	}
}

// healthy: three brokers up, every partition led and fully in sync, and
// Kafka read without error.
func healthy(s status.Snapshot) bool {
	if s.KafkaError != "" || len(s.Brokers) != 3 || len(s.Topics) == 0 {
		return false
	}
	for _, b := range s.Brokers {
		if b.Down {
			return false
		}
	}
	for _, tp := range s.Topics {
		if tp.UnderReplicated > 0 || tp.Offline > 0 {
			return false
		}
	}
	return true
}
