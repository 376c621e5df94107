package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
)

// dashboardFile is the Grafana dashboard shipped for Docker users.
var dashboardFile = filepath.Join("..", "..", "deploy", "grafana", "tradestream.json")

// mayRest lists the counters the dashboard shows that count events a
// healthy pipeline need not have between two scrapes: they must be
// exported, not moving.
var mayRest = map[string]string{
	"tradestream_pg_transactions_rolled_back_total": "a healthy pipeline rolls nothing back",
}

// dashboardMetrics returns every metric name the dashboard's PromQL
// queries, histograms by family name: every "expr" anywhere in the JSON,
// rows nested or not.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if e, ok := x.(string); ok && k == "expr" {
					exprs = append(exprs, e)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(d)
	name := regexp.MustCompile(`\b(?:tradestream|process|go)_[a-z0-9_]+\b`)
	set := map[string]bool{}
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			set[strings.TrimSuffix(n, "_bucket")] = true
		}
	}
	out := slices.Sorted(maps.Keys(set))
	if len(out) == 0 {
		t.Fatalf("found no metric in the %d queries of %s", len(exprs), dashboardFile)
	}
	return out
}

// plausibleGauge checks the samples of a gauge the dashboard shows, beyond
// every gauge's rule (at least one sample, each finite and not negative).
var plausibleGauge = map[string]func(samples []float64) error{
	"tradestream_kafka_consumer_group_status": func(s []float64) error {
		for _, v := range s {
			if !slices.Contains([]float64{1, 2, 3, 4, 5, 6}, v) {
				return fmt.Errorf("%v is not a Burrow verdict (1-6)", v)
			}
		}
		return nil
	},
	"tradestream_kafka_topic_under_replicated_partitions": gaugeEach(func(v float64) bool { return v == 0 }, "0 on a healthy broker"),
	"tradestream_alerts_rules":                            gaugeSum(func(v float64) bool { return v >= 1 }, "at least the one rule added"),
	"tradestream_pg_connections":                          gaugeSum(func(v float64) bool { return v >= 1 }, "at least one connection"),
	"tradestream_pg_pool_acquired_connections":            gaugeEach(isCount, "a whole number"),
	"tradestream_pg_pool_idle_connections":                gaugeEach(isCount, "a whole number"),
	"tradestream_pg_table_size_bytes":                     gaugeSum(func(v float64) bool { return v > 0 }, "tables holding data"),
	"tradestream_pg_partition_size_bytes":                 gaugeSum(func(v float64) bool { return v > 0 }, "partitions holding data"),
	"process_resident_memory_bytes":                       gaugeEach(func(v float64) bool { return v >= 1<<20 }, "at least 1 MiB"),
	"go_memstats_heap_inuse_bytes":                        gaugeEach(func(v float64) bool { return v > 0 }, "positive"),
	"go_goroutines":                                       gaugeEach(func(v float64) bool { return v >= 1 && isCount(v) }, "a whole number, at least 1"),
}

func isCount(v float64) bool { return v == math.Trunc(v) }

func gaugeEach(ok func(float64) bool, want string) func([]float64) error {
	return func(s []float64) error {
		for _, v := range s {
			if !ok(v) {
				return fmt.Errorf("sample %v, want %s", v, want)
			}
		}
		return nil
	}
}

func gaugeSum(ok func(float64) bool, want string) func([]float64) error {
	return func(s []float64) error {
		var t float64
		for _, v := range s {
			t += v
		}
		if !ok(t) {
			return fmt.Errorf("sum %v, want %s", t, want)
		}
		return nil
	}
}

// checkGauge applies every gauge's rule and the gauge's own to f.
func checkGauge(f *dto.MetricFamily) error {
	var s []float64
	for _, m := range f.GetMetric() {
		v := m.GetGauge().GetValue()
		if f.GetType() == dto.MetricType_UNTYPED {
			v = m.GetUntyped().GetValue()
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("sample %v, want a finite value not below 0", v)
		}
		s = append(s, v)
	}
	if len(s) == 0 {
		return fmt.Errorf("no sample")
	}
	if check, ok := plausibleGauge[f.GetName()]; ok {
		return check(s)
	}
	return nil
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
// `tradestream gen all` beside it) and checks every metric the Grafana
// dashboard queries: each must be in the first scrape once data flows; each
// counter and histogram must then move (a later scrape, waited for, shows
// more), but for the few in mayRest; each gauge must hold a plausible
// value.
func TestGrafanaDashboardMetricsMove(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline for half a minute")
	}
	names := dashboardMetrics(t)
	pl := newPipeline(t, "TRADESTREAM_METRICS_ADDR", "127.0.0.1:0")
	env := pl.env
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
		prod := kafkatest.Client(t, pl.brokers)
		for i := range 3 {
			rec := &kgo.Record{Topic: kafka.TopicNames(pl.prefix).Prices, Key: []byte{byte(i)}, Value: []byte(`{"symbol":"X"}`),
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
	first := awaitScrape(t, urls, 90*time.Second, func(fams map[string]*dto.MetricFamily) []string {
		var missing []string
		for _, n := range ready {
			if f, ok := fams[n]; !ok || total(f) == 0 {
				missing = append(missing, n+" (zero)")
			}
		}
		return missing
	}, upErr)
	var counters []string
	for _, n := range names {
		f, ok := first[n]
		switch {
		case !ok:
			t.Errorf("%s: queried by the dashboard, not exported once data flows", n)
		case f.GetType() == dto.MetricType_COUNTER || f.GetType() == dto.MetricType_HISTOGRAM:
			counters = append(counters, n)
		}
	}

	// Counters and histograms must move: wait for a scrape in which every
	// one of them (but those that may rest) is above the first.
	badRecords()
	last := awaitScrape(t, urls, 90*time.Second, func(fams map[string]*dto.MetricFamily) []string {
		var still []string
		for _, n := range counters {
			b, ok := fams[n]
			switch {
			case !ok:
				still = append(still, n+" (gone)")
			case total(b) <= total(first[n]) && mayRest[n] == "":
				still = append(still, fmt.Sprintf("%s (%v then %v)", n, total(first[n]), total(b)))
			}
		}
		return still
	}, upErr)

	var moved, rest, gauges []string
	for _, n := range names {
		f, ok := last[n]
		if first[n] == nil {
			continue // reported above
		}
		if !ok {
			t.Errorf("%s: in the first scrape, gone from the last", n)
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER, dto.MetricType_HISTOGRAM:
			if total(f) > total(first[n]) {
				moved = append(moved, n)
			} else {
				rest = append(rest, n+" ("+mayRest[n]+")")
			}
		default:
			if err := checkGauge(f); err != nil {
				t.Errorf("%s: %v", n, err)
			}
			gauges = append(gauges, n)
		}
	}
	t.Logf("dashboard metrics: %d queried, %d counters and histograms moved, %d at rest, %d gauges checked",
		len(names), len(moved), len(rest), len(gauges))
	t.Logf("moved: %s", strings.Join(moved, ", "))
	t.Logf("at rest: %s", strings.Join(rest, ", "))
	t.Logf("gauges: %s", strings.Join(gauges, ", "))

	if code := stopGen(); code != 0 {
		t.Errorf("gen exited %d", code)
	}
	if code := stopUp(); code != 0 {
		t.Errorf("up exited %d\n%s", code, tail(upErr.String(), 40))
	}
}

// awaitScrape scrapes urls every second until pending, given the
// scrape, lists nothing, and returns that scrape; after timeout it fails
// the test with what is still pending.
func awaitScrape(t *testing.T, urls []string, timeout time.Duration, pending func(map[string]*dto.MetricFamily) []string, log *syncBuffer) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		fams := scrape(t, urls...)
		left := pending(fams)
		if len(left) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for: %s\nup stderr:\n%s", timeout, strings.Join(left, ", "), tail(log.String(), 40))
		}
		time.Sleep(time.Second)
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
