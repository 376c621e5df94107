package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// dashboardFile is the Grafana dashboard shipped for Docker users.
var dashboardFile = filepath.Join("..", "..", "deploy", "grafana", "tradestream.json")

// mayRest lists the counters the dashboard shows that count events a
// healthy pipeline need not have between two scrapes: they must be
// exported, not moving.
var mayRest = map[string]string{
	"tradestream_pg_transactions_rolled_back_total": "a healthy pipeline rolls nothing back",
}

// dashboardMetrics returns the metric names the dashboard's PromQL
// queries, histograms by family name.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	name := regexp.MustCompile(`\b(?:tradestream|process|go)_[a-z0-9_]+\b`)
	set := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			for _, n := range name.FindAllString(tg.Expr, -1) {
				set[strings.TrimSuffix(n, "_bucket")] = true
			}
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) < 20 {
		t.Fatalf("found only %d metrics in %s: %v", len(out), dashboardFile, out)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// background runs a command line until the returned stop is called.
func background(t *testing.T, env map[string]string, args ...string) (stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, args, IO{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr,
			Getenv: func(k string) string { return env[k] }, Now: time.Now})
	}()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				t.Errorf("%s did not stop within 60s", args[0])
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// await returns the first submatch of re in out() within timeout.
func await(t *testing.T, what string, out func() string, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out()); m != nil {
			return m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: no match for %s within %v; output:\n%s", what, re, timeout, out())
	return ""
}

// scrape reads and merges the /metrics of every URL.
func scrape(t *testing.T, urls ...string) map[string]*dto.MetricFamily {
	t.Helper()
	out := map[string]*dto.MetricFamily{}
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("scrape %s: %v", u, err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("parse %s: %v", u, err)
		}
		for n, f := range fams {
			if prev, ok := out[n]; ok {
				prev.Metric = append(prev.Metric, f.Metric...)
			} else {
				out[n] = f
			}
		}
	}
	return out
}

// total sums a family's counters, gauges or histogram sample counts.
func total(f *dto.MetricFamily) float64 {
	var s float64
	for _, m := range f.GetMetric() {
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			s += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			s += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			s += float64(m.GetHistogram().GetSampleCount())
		default:
			s += m.GetUntyped().GetValue()
		}
	}
	return s
}

// TestGrafanaDashboardMetricsMove runs the pipeline (`tradestream up`, plus
// `tradestream gen all` beside it), scrapes every /metrics twice and checks
// that every metric the Grafana dashboard queries is exported, and that
// every counter and histogram among them moved between the scrapes.
func TestGrafanaDashboardMetricsMove(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline for half a minute")
	}
	names := dashboardMetrics(t)
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	db := pgtest.Schema(t)
	env := map[string]string{
		"TRADESTREAM_KAFKA_BROKERS": strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL":  db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX":  tc.Prefix,
		"TRADESTREAM_METRICS_ADDR":  "127.0.0.1:0",
	}
	if code, out, stderr := run(t, env, "db", "migrate"); code != 0 {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	// Every trade fires an alert, so the alerts path moves all the time.
	if code, out, stderr := run(t, env, "alerts", "add", "big_trade", "*", "1"); code != 0 {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}

	upOut, upErr, stopUp := background(t, env, "up", "--dashboard-addr", "127.0.0.1:0")
	upMetrics := await(t, "up", upOut.String, regexp.MustCompile(`metrics\s+http://(\S+)/metrics`), 90*time.Second)
	dashAddr := await(t, "up", upOut.String, regexp.MustCompile(`dashboard\s+http://(\S+)/`), 60*time.Second)
	_, genErr, stopGen := background(t, env, "gen", "all", "--rate", "300", "--users", "50", "--report-interval", "1h")
	genMetrics := await(t, "gen", genErr.String, regexp.MustCompile(`addr=http://(\S+)/metrics`), 60*time.Second)
	urls := []string{"http://" + upMetrics + "/metrics", "http://" + genMetrics + "/metrics"}

	// A browser on the live stream, so frames are pushed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchStream(ctx, t, "http://"+dashAddr)
	badRecords := func() {
		prod := kafkatest.Client(t, brokers)
		for i := range 3 {
			rec := &kgo.Record{Topic: kafka.TopicNames(tc.Prefix).Prices, Key: []byte{byte(i)}, Value: []byte(`{"symbol":"X"}`),
				Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("price/9")}}}
			if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	badRecords()

	// Wait until data has gone all the way through: rows loaded, alerts
	// fired and stored, frames pushed, lag sampled.
	ready := []string{"tradestream_sink_rows_written_total", "tradestream_alerts_fired_total",
		"tradestream_dashboard_frames_total", "tradestream_sink_dead_letters_total", "tradestream_kafka_consumer_lag"}
	deadline := time.Now().Add(90 * time.Second)
	for {
		fams := scrape(t, urls...)
		var missing []string
		for _, n := range ready {
			if f, ok := fams[n]; !ok || total(f) == 0 {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline not flowing after 90s: %v still zero\nup stderr:\n%s", missing, tail(upErr.String(), 40))
		}
		time.Sleep(time.Second)
	}

	first := scrape(t, urls...)
	badRecords()
	time.Sleep(12 * time.Second) // more than the lag sampler's 5 s and PostgreSQL's 1 s statistics flush
	second := scrape(t, urls...)

	var moved, present []string
	for _, n := range names {
		b, ok := second[n]
		if !ok {
			t.Errorf("%s: queried by the dashboard, not exported", n)
			continue
		}
		a := first[n]
		switch b.GetType() {
		case dto.MetricType_COUNTER, dto.MetricType_HISTOGRAM:
			if a != nil && total(b) <= total(a) {
				if why, ok := mayRest[n]; ok {
					present = append(present, n+" (at rest: "+why+")")
					continue
				}
				t.Errorf("%s: did not move between two scrapes 12s apart (%v then %v)", n, total(a), total(b))
				continue
			}
			moved = append(moved, n)
		default:
			present = append(present, n)
		}
	}
	t.Logf("dashboard metrics moving (%d): %s", len(moved), strings.Join(moved, ", "))
	t.Logf("dashboard gauges exported (%d): %s", len(present), strings.Join(present, ", "))

	if code := stopGen(); code != 0 {
		t.Errorf("gen exited %d", code)
	}
	if code := stopUp(); code != 0 {
		t.Errorf("up exited %d\n%s", code, tail(upErr.String(), 40))
	}
}

// watchStream follows the dashboard's live stream for a known symbol until
// ctx ends.
func watchStream(ctx context.Context, t *testing.T, base string) {
	var sym string
	for sym == "" && ctx.Err() == nil {
		resp, err := http.Get(base + "/api/symbols")
		if err == nil {
			var body struct {
				Symbols []struct {
					Symbol string `json:"symbol"`
				} `json:"symbols"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if len(body.Symbols) > 0 {
				sym = body.Symbols[0].Symbol
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/stream?symbol=%s", base, sym), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
