//go:build faults

package sink

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/rate"
)

// Cluster fault runs: TRADESTREAM_TEST_FAULT_RATE sets the generator's
// rate (events/s, default 20,000) and TRADESTREAM_SOAK=1 (make soak) makes
// every run longer and repeats its fault.
const (
	envFaultRate = "TRADESTREAM_TEST_FAULT_RATE"
	envSoak      = "TRADESTREAM_SOAK"
)

// faultRun is one scenario's pipeline on the 3-broker cluster: the
// generator in this process (acks=all, idempotent, bounded buffer), sinks
// as `tradestream sink` subprocesses in one group, and an alerts engine in
// this process.
type faultRun struct {
	e       *testEnv
	c       *kafkatest.Cluster
	rate    float64
	length  time.Duration
	repeats int

	genLog      lockedBuffer
	genReg      *prometheus.Registry
	genCl       *kgo.Client
	genDone     chan struct{}
	sum         gen.Summary
	genErr      error
	maxBuffered atomic.Int64
	maxRecords  int64

	alertsGroup string
	alerts      *alertsRun
	sinks       []*proc
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newFaultRun makes the topics (6 partitions, replication factor 3,
// min.insync.replicas 2), the schema and the alert rules, and starts
// sinks `tradestream sink` subprocesses and the alerts engine.
func newFaultRun(t *testing.T, sinks int) *faultRun {
	c := kafkatest.NewCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.AwaitBrokers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, c.Brokers, 6, 3)
	if err := c.AwaitInSync(ctx, e.dataTopics()...); err != nil {
		t.Fatal(err)
	}
	r := &faultRun{e: e, c: c, rate: 20_000, length: 10 * time.Second, repeats: 1, alertsGroup: e.topics.Prefix + "alerts"}
	if v := os.Getenv(envFaultRate); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", envFaultRate, err)
		}
		r.rate = f
	}
	if os.Getenv(envSoak) == "1" {
		r.length, r.repeats = 3*time.Minute, 4
	}
	st := alert.NewStore(e.pool)
	for _, rule := range []alert.Rule{
		{Kind: alert.KindBigTrade, Threshold: event.FromInt(100_000)},
		{Kind: alert.KindPctMove, Threshold: event.MustParseDecimal("0.3"), Window: 30 * time.Second},
	} {
		if _, err := st.Add(ctx, rule); err != nil {
			t.Fatalf("add rule: %v", err)
		}
	}
	for i := range sinks {
		r.sinks = append(r.sinks, e.startSink(t, "sink-"+string(rune('a'+i))))
	}
	r.alerts = r.runAlerts(t, r.alertsGroup, e.names)
	return r
}

// alertsRun is an alerts engine running in this process.
type alertsRun struct {
	cancel func()
	done   chan struct{}
	err    error
}

// stop stops the engine and returns its error.
func (a *alertsRun) stop() error {
	a.cancel()
	<-a.done
	return a.err
}

// runAlerts runs an alerts engine of group over topics until it is
// stopped (at the latest when the test ends).
func (r *faultRun) runAlerts(t *testing.T, group string, topics kafka.Topics) *alertsRun {
	eng, err := alert.New(r.e.kcfg, r.e.pool, alert.Options{
		Topics: topics, Group: group, Instance: "a", FromStart: true, SessionTimeout: 6 * time.Second,
		RulesRefresh: 500 * time.Millisecond, Log: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &alertsRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.err = eng.Run(ctx)
	}()
	t.Cleanup(func() { _ = a.stop() })
	return a
}

// startGen runs the generator at r.rate for r.length, in the background.
func (r *faultRun) startGen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watch := gen.NewWatch(nil)
	kcfg := r.e.kcfg
	kcfg.Linger = 5 * time.Millisecond
	r.maxRecords = int64(kcfg.MaxBufferedRecords)
	log := slog.New(slog.NewTextHandler(&r.genLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cl, err := kafka.NewClient(ctx, kcfg, log, append(kafka.ProducerOptions(kcfg), kgo.WithHooks(watch))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r.genCl, r.genReg = cl, prometheus.NewRegistry()
	gcfg := config.Default().Gen
	gcfg.Seed, gcfg.Users = 42, 500
	sim, _, err := gen.NewSim(gcfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	opts := gen.Options{
		Client: cl, Shape: rate.Of(r.rate), Duration: r.length, RunID: gen.NewRunID(), Report: &r.genLog,
		ReportInterval: 2 * time.Second, FlushTimeout: 3 * time.Minute, Metrics: gen.NewMetrics(r.genReg),
		Watch: watch, Log: log,
	}
	r.genDone = make(chan struct{})
	go func() {
		defer close(r.genDone)
		r.sum, r.genErr = gen.Run(context.Background(), opts, gen.NewMarketSource(sim, market.KindAll, r.e.names))
	}()
	go func() { // the buffer's high-water mark, until the run ends
		for {
			if n := cl.BufferedProduceRecords(); n > r.maxBuffered.Load() {
				r.maxBuffered.Store(n)
			}
			select {
			case <-r.genDone:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { <-r.genDone })
	if t.Failed() {
		return
	}
	// The fault comes once records flow.
	deadline := time.Now().Add(time.Minute)
	for r.inKafka(t) < int64(r.rate) {
		if time.Now().After(deadline) {
			t.Fatalf("the generator delivered too little in a minute; its log:\n%s", r.genLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inKafka sums the end offsets of the generator's topics.
func (r *faultRun) inKafka(t *testing.T) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	for _, ps := range r.e.endOffsets(ctx, t) {
		for _, end := range ps {
			n += end
		}
	}
	return n
}

// genGauge reads one of the generator's gauges.
func (r *faultRun) genGauge(t *testing.T, name string) float64 {
	mfs, err := r.genReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// finish waits for the generator, then for the sinks and the alerts
// engine to consume everything, stops them and counts: acknowledged, in
// Kafka, rows and dead letters per partition, duplicates, alerts against
// an independent replay, and `verify --require-caught-up`.
func (r *faultRun) finish(t *testing.T) {
	select {
	case <-r.genDone:
	case <-time.After(r.length + 5*time.Minute):
		t.Fatalf("the generator did not end; its log:\n%s", r.genLog.String())
	}
	if r.genErr != nil {
		t.Errorf("generator: %v", r.genErr)
	}
	t.Logf("generator: %d sent, %d acknowledged, %d failed in %v: %.0f events/s (target %.0f); buffer at most %d records (limit %d)",
		r.sum.Sent, r.sum.Delivered, r.sum.Failed, r.sum.Elapsed.Round(time.Millisecond), r.sum.Rate, r.rate, r.maxBuffered.Load(), r.maxRecords)
	// franz-go counts, with the records in its buffer, the Produce calls
	// blocked waiting for room: the generator's one goroutine makes at most
	// one.
	if got := r.maxBuffered.Load(); got > r.maxRecords+1 {
		t.Errorf("got %d records buffered, want at most the limit %d and the one blocked Produce call", got, r.maxRecords)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := r.c.AwaitInSync(ctx, r.e.dataTopics()...); err != nil {
		t.Errorf("after the fault: %v", err)
	}
	ends := r.e.endOffsets(ctx, t)
	for !r.e.storedUpTo(t, ends) {
		if ctx.Err() != nil {
			t.Fatalf("the sinks did not load every partition to its end: stored %v, ends %v", r.e.stored(t), ends)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.awaitAlerts(ctx, t, r.alerts, r.alertsGroup, ends)
	if err := r.alerts.stop(); err != nil {
		t.Errorf("alerts engine: %v", err)
	}
	// Alerts the engine fired reach the sink after the data: load them too.
	ends = r.e.endOffsets(ctx, t)
	for !r.e.storedUpTo(t, ends) {
		if ctx.Err() != nil {
			t.Fatalf("the sinks did not load the alerts: stored %v, ends %v", r.e.stored(t), ends)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range r.sinks {
		p.signal(sigterm)
	}
	for _, p := range r.sinks {
		select {
		case <-p.done:
		case <-time.After(time.Minute):
			t.Errorf("%s still running a minute after SIGTERM", p.name)
		}
	}
	r.count(ctx, t, ends)
	r.e.verify(t, 0)
}

// count asserts and prints the totals.
func (r *faultRun) count(ctx context.Context, t *testing.T, ends map[string]map[int32]int64) {
	e := r.e
	inKafka := int64(0)
	for _, topic := range []string{e.names.Users, e.names.Prices, e.names.Trades} {
		for _, end := range ends[topic] {
			inKafka += end
		}
	}
	if r.sum.Delivered > inKafka {
		t.Errorf("got %d records in Kafka, want at least the %d acknowledged", inKafka, r.sum.Delivered)
	}
	tables := map[string]string{e.names.Prices: "price_ticks", e.names.Trades: "trades"}
	var rows, dead, dupOffsets int64
	for topic, table := range tables {
		for p, end := range ends[topic] {
			held := e.count(t, fmt.Sprintf(`SELECT count(DISTINCT o) FROM (
				SELECT kafka_offset AS o FROM %s WHERE kafka_partition = $1
				UNION ALL SELECT kafka_offset FROM dead_letters WHERE topic = $2 AND kafka_partition = $1) x`, table), p, topic)
			all := e.count(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM %s WHERE kafka_partition = $1)
				+ (SELECT count(*) FROM dead_letters WHERE topic = $2 AND kafka_partition = $1)`, table), p, topic)
			if held != end || all != held {
				t.Errorf("%s/%d: got offsets 0..%d as %d offsets in %d rows and dead letters, want %d once each", topic, p, end, held, all, end)
			}
			dupOffsets += all - held
			rows += e.count(t, fmt.Sprintf(`SELECT count(*) FROM %s WHERE kafka_partition = $1`, table), p)
		}
	}
	dead = e.count(t, `SELECT count(*) FROM dead_letters`)
	dupTrades := e.count(t, `SELECT count(*) - count(DISTINCT trade_id) FROM trades`)
	dupTicks := e.count(t, `SELECT count(*) - count(DISTINCT (symbol, seq)) FROM price_ticks`)
	if dupTrades != 0 || dupTicks != 0 {
		t.Errorf("got %d duplicate trades and %d duplicate price ticks (the same event twice in Kafka), want none", dupTrades, dupTicks)
	}
	lost := max(0, r.sum.Delivered-inKafka)
	fired, replayed := r.replayAlerts(ctx, t, ends)
	stored := e.count(t, `SELECT count(*) FROM alerts`)
	if stored != int64(len(fired)) {
		t.Errorf("got %d alerts in PostgreSQL, want the %d in the alerts topic", stored, len(fired))
	}
	t.Logf("COUNTS %s: acknowledged %d, in Kafka %d (users, prices, trades), rows %d + dead letters %d (prices, trades), duplicate offsets %d, duplicate events %d, lost %d, alerts fired %d, stored %d, replayed %d",
		t.Name(), r.sum.Delivered, inKafka, rows, dead, dupOffsets, dupTrades+dupTicks, lost, len(fired), stored, len(replayed))
}

// awaitAlerts waits until group's stored positions reach the prices' and
// trades' ends.
func (r *faultRun) awaitAlerts(ctx context.Context, t *testing.T, a *alertsRun, group string, ends map[string]map[int32]int64) {
	short := map[string]string{r.e.names.Prices: "prices", r.e.names.Trades: "trades"}
	for {
		got := map[string]int64{}
		rows, err := r.e.pool.Query(ctx, `SELECT topic, kafka_partition, next_offset FROM alert_offsets WHERE group_id = $1`, group)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var topic string
			var p int32
			var off int64
			if err := rows.Scan(&topic, &p, &off); err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprintf("%s/%d", topic, p)] = off
		}
		rows.Close()
		behind := 0
		for topic, name := range short {
			for p, end := range ends[topic] {
				if end > 0 && got[fmt.Sprintf("%s/%d", name, p)] < end {
					behind++
				}
			}
		}
		if behind == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("alerts group %s: %d partitions behind their ends: %v", group, behind, got)
		case <-a.done:
			t.Fatalf("the alerts engine of group %s stopped with %d partitions behind their ends: %v", group, behind, a.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// replayAlerts runs a second alerts engine, in its own group, from the
// start over the same prices and trades into a topic of its own, and
// compares the alert ids it fires with those in the alerts topic: each
// alert's id names its rule and source record, so the two sets must be
// equal.
func (r *faultRun) replayAlerts(ctx context.Context, t *testing.T, ends map[string]map[int32]int64) (fired, replayed []string) {
	topics := r.e.names
	topics.Alerts = r.e.topics.Prefix + "alerts-replay"
	adm := kadm.NewClient(r.e.producer)
	if _, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topics.Alerts); err != nil {
		t.Fatalf("create %s: %v", topics.Alerts, err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topics.Alerts) })
	group := r.e.topics.Prefix + "alerts-replay"
	replay := r.runAlerts(t, group, topics)
	r.awaitAlerts(ctx, t, replay, group, ends)
	if err := replay.stop(); err != nil {
		t.Errorf("replay alerts engine: %v", err)
	}
	brokers := r.e.kcfg.Brokers
	fired, replayed = kafkatest.AlertIDs(t, brokers, r.e.names.Alerts, true), kafkatest.AlertIDs(t, brokers, topics.Alerts, true)
	if strings.Join(fired, ",") != strings.Join(replayed, ",") {
		t.Errorf("got %d alerts fired during the fault, want the %d of the replay, the same ids; %s",
			len(fired), len(replayed), idDiff(fired, replayed))
	}
	if len(fired) == 0 {
		t.Error("no alert fired: the rules test nothing")
	}
	return fired, replayed
}

// idDiff says how two sorted lists of alert ids differ: ids twice in
// either, and ids in one only (at most 10 of each).
func idDiff(got, want []string) string {
	count := func(ids []string) map[string]int {
		m := map[string]int{}
		for _, id := range ids {
			m[id]++
		}
		return m
	}
	g, w := count(got), count(want)
	var twice, only, missing []string
	for id, n := range g {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s x%d", id, n))
		}
		if w[id] == 0 {
			only = append(only, id)
		}
	}
	for id := range w {
		if g[id] == 0 {
			missing = append(missing, id)
		}
	}
	first := func(s []string) []string {
		sort.Strings(s)
		return s[:min(len(s), 10)]
	}
	return fmt.Sprintf("%d fired more than once %v, %d fired but not replayed %v, %d replayed but not fired %v",
		len(twice), first(twice), len(only), first(only), len(missing), first(missing))
}
