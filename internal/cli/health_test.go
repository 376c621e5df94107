package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/status"
	"github.com/tradestream/tradestream/internal/store"
)

// healthState is one known pipeline state: records on the prices topic
// written an hour ago, a sink group with commits in Kafka and, for one
// partition further on, in sink_offsets, and dead letters stored.
type healthState struct {
	env     map[string]string
	topics  kafka.Topics
	group   string
	lag     int64 // the group's lag on prices
	minAge  float64
	stored  int64 // dead_letters rows
	perPart int64
}

func setUpHealthState(t *testing.T) healthState {
	t.Helper()
	pl := newPipeline(t, "TRADESTREAM_LOG_LEVEL", "warn")
	brokers, db := pl.brokers, pl.db
	s := healthState{env: pl.env, topics: kafka.TopicNames(pl.prefix), group: "health-" + pl.prefix, perPart: 30, stored: 7, minAge: 3590}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prod := kafkatest.Client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	written := time.Now().Add(-time.Hour)
	for p := range int32(3) {
		for i := range s.perPart {
			rec := &kgo.Record{Topic: s.topics.Prices, Partition: p, Value: []byte("{}"), Timestamp: written.Add(time.Duration(i) * time.Second)}
			if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Kafka commits 10 on every partition; the sink stored 20 for
	// partition 1 with its rows (it commits to Kafka afterwards).
	offs := kadm.Offsets{}
	for p := range int32(3) {
		offs.Add(kadm.Offset{Topic: s.topics.Prices, Partition: p, At: 10, LeaderEpoch: -1})
	}
	if _, err := kafkatest.Admin(t, brokers).CommitOffsets(ctx, s.group, offs); err != nil {
		t.Fatal(err)
	}
	s.lag = (s.perPart - 10) + (s.perPart - 20) + (s.perPart - 10)
	pool, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO sink_offsets (group_id, topic, kafka_partition, next_offset) VALUES ($1, $2, 1, 20)`,
		s.group, s.topics.Prices); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error)
		SELECT 't', 0, g, 'x', 'malformed_json', 'e' FROM generate_series(1, $1::int) g`, s.stored); err != nil {
		t.Fatal(err)
	}
	return s
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func fetchJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestStatusDashboardAndMetricsAgree feeds one pipeline state and checks
// that `status --json`, the dashboard's /api/health and its /metrics show
// the same lag, lag in seconds and row counts, the sink group's position
// being the larger of its Kafka commit and its sink_offsets row.
func TestStatusDashboardAndMetricsAgree(t *testing.T) {
	s := setUpHealthState(t)
	metricsAddr := freeAddr(t)
	out, errOut, _ := background(t, s.env, "dash", "--group", s.group, "--addr", "127.0.0.1:0", "--metrics-addr", metricsAddr)
	dash := "http://" + await(t, "dash", out.String, regexp.MustCompile(`dashboard\s+http://(\S+)/`), 60*time.Second)
	// The address is used as given.
	await(t, "dash", out.String, regexp.MustCompile(`metrics\s+http://(`+regexp.QuoteMeta(metricsAddr)+`)/metrics`), 30*time.Second)

	var cfg map[string]any
	if err := fetchJSON(dash+"/api/config", &cfg); err != nil || cfg["sink_group"] != s.group {
		t.Fatalf("/api/config: got %v (%v), want sink_group %s", cfg["sink_group"], err, s.group)
	}

	// Wait until every view has the state: PostgreSQL's statistics arrive
	// within a second or so, the samplers run once a second.
	var snap status.Snapshot
	var health dashboard.HealthSample
	var scraped map[string]float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, stdout, stderr := run(t, s.env, "status", "--json", "--samples", "1")
		if code != 0 {
			t.Fatalf("status --json: exit %d\n%s", code, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
			t.Fatalf("status --json: %v\n%s", err, stdout)
		}
		var body struct {
			History []dashboard.HealthSample `json:"history"`
		}
		err := fetchJSON(dash+"/api/health", &body)
		if err == nil && len(body.History) > 0 {
			health = body.History[len(body.History)-1]
		}
		scraped = scrapeSeries(t, "http://"+metricsAddr+"/metrics", s.group)
		dl, _ := snap.Table("dead_letters")
		if dl.Rows == s.stored && healthTable(health, "dead_letters") == s.stored && scraped["rows"] == float64(s.stored) &&
			healthTopic(health, "prices").Lag == s.lag {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("views never showed the state: status dead_letters %d, health %+v, metrics %v\n%s", dl.Rows, health, scraped, errOut.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	g, ok := snap.Group(s.group)
	if !ok {
		t.Fatalf("status: no group %s in %+v", s.group, snap.Groups)
	}
	prices := healthTopic(health, "prices")
	lags := map[string]float64{"status": float64(g.Lag), "dashboard": float64(prices.Lag), "metrics": scraped["lag"]}
	for view, got := range lags {
		if got != float64(s.lag) {
			t.Errorf("%s: got lag %v, want %d (Kafka's commits, sink_offsets ahead on partition 1)", view, got, s.lag)
		}
	}
	for _, p := range g.Partitions {
		if want := map[int32]bool{1: true}[p.Partition]; p.Stored != want {
			t.Errorf("status partition %d: got stored %v, want %v", p.Partition, p.Stored, want)
		}
	}
	// Lag in seconds is the age of the record at the commit: the oldest is
	// offset 10 of partitions 0 and 2, written an hour less ten seconds
	// ago. The views sample at different moments a few seconds apart.
	ages := map[string]float64{"status": g.LagSeconds, "dashboard": prices.LagSeconds, "metrics": scraped["lag_seconds"]}
	for view, got := range ages {
		if got < s.minAge || math.Abs(got-ages["status"]) > 30 {
			t.Errorf("%s: got lag %.1fs, want at least %.0fs and within 30s of status's %.1fs", view, got, s.minAge, ages["status"])
		}
	}
	dl, _ := snap.Table("dead_letters")
	rows := map[string]int64{"status": dl.Rows, "status inserted": dl.Inserted, "dashboard": healthTable(health, "dead_letters"),
		"dashboard dead letters": health.DeadLetters.Table, "metrics": int64(scraped["rows"])}
	for view, got := range rows {
		if got != s.stored {
			t.Errorf("%s: got %d dead_letters rows, want %d", view, got, s.stored)
		}
	}
}

func healthTopic(h dashboard.HealthSample, name string) dashboard.TopicHealth {
	for _, t := range h.Topics {
		if t.Topic == name {
			return t
		}
	}
	return dashboard.TopicHealth{}
}

func healthTable(h dashboard.HealthSample, name string) int64 {
	for _, r := range h.Rows {
		if r.Table == name {
			return r.Total
		}
	}
	return -1
}

// scrapeSeries reads from /metrics the group's lag, its largest lag in
// seconds and the dead_letters row count.
func scrapeSeries(t *testing.T, url, group string) map[string]float64 {
	t.Helper()
	fams := scrape(t, url)
	out := map[string]float64{}
	label := func(ls []*dto.LabelPair, name string) string {
		for _, l := range ls {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	if f, ok := fams["tradestream_kafka_consumer_group_lag"]; ok {
		for _, m := range f.GetMetric() {
			if label(m.GetLabel(), "group") == group {
				out["lag"] = m.GetGauge().GetValue()
			}
		}
	}
	if f, ok := fams["tradestream_kafka_consumer_lag_seconds"]; ok {
		for _, m := range f.GetMetric() {
			if label(m.GetLabel(), "group") == group {
				out["lag_seconds"] = max(out["lag_seconds"], m.GetGauge().GetValue())
			}
		}
	}
	if f, ok := fams["tradestream_pg_table_live_rows"]; ok {
		for _, m := range f.GetMetric() {
			if label(m.GetLabel(), "table") == "dead_letters" {
				out["rows"] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestLongRunningServicesExportLag checks that sink, alerts run, dash and
// up each export consumer lag and under-replicated partitions on their own
// /metrics.
func TestLongRunningServicesExportLag(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every service")
	}
	s := setUpHealthState(t)
	env := func(extra ...string) map[string]string {
		e := map[string]string{}
		for k, v := range s.env {
			e[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			e[extra[i]] = extra[i+1]
		}
		return e
	}
	// up's generator appends to prices, so its lag only grows from there.
	services := []struct {
		name    string
		env     map[string]string
		args    []string
		growing bool
	}{
		{"sink", env("TRADESTREAM_SINK_GROUP", "sink-"+s.group), []string{"sink", "--metrics-addr", "127.0.0.1:0"}, false},
		{"alerts run", env("TRADESTREAM_METRICS_ADDR", "127.0.0.1:0"), []string{"alerts", "run", "--group", "alerts-" + s.group}, false},
		{"dash", env("TRADESTREAM_METRICS_ADDR", "127.0.0.1:0", "TRADESTREAM_SINK_GROUP", s.group), []string{"dash", "--addr", "127.0.0.1:0"}, false},
		{"up", env("TRADESTREAM_METRICS_ADDR", "127.0.0.1:0", "TRADESTREAM_SINK_GROUP", "up-sink-"+s.group),
			[]string{"up", "--dashboard-addr", "127.0.0.1:0", "--alerts-group", "up-alerts-" + s.group, "--rate", "20", "--users", "20"}, true},
	}
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			out, errOut, stop := background(t, svc.env, svc.args...)
			addr := await(t, svc.name, out.String, regexp.MustCompile(`metrics\s+http://(\S+)/metrics`), 60*time.Second)
			deadline := time.Now().Add(60 * time.Second)
			for {
				fams := scrape(t, "http://"+addr+"/metrics")
				lag := scrapeSeries(t, "http://"+addr+"/metrics", s.group)["lag"]
				under := 0
				if f, ok := fams["tradestream_kafka_topic_under_replicated_partitions"]; ok {
					for _, m := range f.GetMetric() {
						for _, l := range m.GetLabel() {
							if l.GetName() == "topic" && strings.HasPrefix(l.GetValue(), strings.TrimSuffix(s.topics.Prices, "prices")) {
								under++
							}
						}
					}
				}
				if (lag == float64(s.lag) || svc.growing && lag > float64(s.lag)) && under == 5 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s /metrics: got group lag %v and %d topics' under-replicated series, want %d and 5\n%s",
						svc.name, lag, under, s.lag, tail(errOut.String(), 20))
				}
				time.Sleep(500 * time.Millisecond)
			}
			if code := stop(); code != 0 {
				t.Errorf("%s exited %d\n%s", svc.name, code, tail(errOut.String(), 20))
			}
		})
	}
}
