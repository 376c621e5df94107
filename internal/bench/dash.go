package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
)

// DashOptions configures Dash.
type DashOptions struct {
	Kafka config.Kafka
	// Topics is the topic layout; Dash replaces the prefix with a fresh one.
	Topics config.Topics
	// Gen drives the generator; Gen.Rate is the target rate.
	Gen config.Gen
	// Clients is the number of live clients.
	Clients int
	// Warmup is the time before measuring, once clients are connected;
	// Measure the measurement time.
	Warmup, Measure time.Duration
	// Interval is the candle interval the clients subscribe to.
	Interval string
	// Command starts the dashboard: the program and its first arguments
	// (e.g. the own binary and "dash"); Dash adds the topic prefix and the
	// addresses.
	Command []string
	// Env is added to the dashboard process's environment, which is
	// otherwise this process's.
	Env []string
	// Progress receives progress lines and the dashboard's own output.
	Progress io.Writer
	Log      *slog.Logger
}

// DashResult is the outcome of `tradestream bench dash`.
type DashResult struct {
	Machine      Machine    `json:"machine"`
	TargetRate   float64    `json:"target_rate"`
	ProducedRate float64    `json:"produced_rate"`
	Clients      LoadResult `json:"clients"`
	ServerCPU    float64    `json:"server_cpu_percent"` // of one core
	ServerRSSMiB float64    `json:"server_rss_mib"`     // peak during the measurement
	// StreamsEnded is the server's count of live streams ended during
	// the run, by cause (tradestream_dashboard_streams_ended_total), read
	// before the clients disconnect.
	StreamsEnded map[string]float64      `json:"server_streams_ended"`
	ServerHealth *dashboard.HealthSample `json:"server_health,omitempty"`
	Duration     time.Duration           `json:"duration_ns"`
}

// Dash starts the dashboard as its own process on fresh topics, drives
// the generator at the target rate, connects the live clients and
// measures the dashboard's CPU, peak memory and the latency the clients
// see. Everything runs on 127.0.0.1.
func Dash(ctx context.Context, o DashOptions) (DashResult, error) {
	res := DashResult{Machine: Describe(""), TargetRate: o.Gen.Rate.At(0), Duration: o.Measure}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	o.Topics.Prefix = "bench.dash." + randomSuffix(3) + "."
	topics := kafka.TopicNames(o.Topics.Prefix)
	cl, err := kafka.NewClient(ctx, o.Kafka, o.Log, kafka.ProducerOptions(o.Kafka)...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if err := ensureTopics(ctx, cl, o.Topics); err != nil {
		return res, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = kadm.NewClient(cl).DeleteTopics(dctx, topics.All()...)
	}()
	dash, err := startDashboard(o)
	if err != nil {
		return res, err
	}
	defer dash.stop()
	gctx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	genDone, err := startGenerator(gctx, o.Gen, cl, topics)
	if err != nil {
		return res, err
	}
	symbols, err := waitSymbols(ctx, dash.base, 30*time.Second)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(o.Progress, "bench dash: dashboard pid %d at %s, %d symbols live, %d clients, warm-up %v, measuring %v\n",
		dash.pid(), dash.base, len(symbols), o.Clients, o.Warmup, o.Measure)
	if err := measureDash(ctx, o, dash, symbols, &res); err != nil {
		return res, err
	}
	stopGen()
	g := <-genDone
	res.ProducedRate = g.sum.Rate
	return res, g.err
}

// ensureTopics creates the benchmark's topics. A busy broker can take
// longer than EnsureTopics waits for new topics to show; the topics exist
// then, so asking again suffices.
func ensureTopics(ctx context.Context, cl *kgo.Client, tc config.Topics) error {
	for try := 0; ; try++ {
		_, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc))
		if err == nil {
			return nil
		}
		if try == 3 || !strings.Contains(err.Error(), "not yet visible") {
			return err
		}
	}
}

// dashProcess is the dashboard under test, in its own process so that its
// CPU and memory are its own.
type dashProcess struct {
	cmd     *exec.Cmd
	base    string // http://addr
	metrics string // http://metrics-addr/metrics
}

func startDashboard(o DashOptions) (*dashProcess, error) {
	if len(o.Command) == 0 {
		return nil, fmt.Errorf("bench dash: no command to start the dashboard")
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	maddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := append(o.Command[1:len(o.Command):len(o.Command)],
		"--topic-prefix", o.Topics.Prefix, "--addr", addr, "--metrics-addr", maddr)
	cmd := exec.Command(o.Command[0], args...)
	cmd.Stdout, cmd.Stderr = io.Discard, o.Progress
	cmd.Env = append(os.Environ(), o.Env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dashboard: %w", err)
	}
	return &dashProcess{cmd: cmd, base: "http://" + addr, metrics: "http://" + maddr + "/metrics"}, nil
}

func (d *dashProcess) pid() int { return d.cmd.Process.Pid }

// stop ends the dashboard with SIGTERM, and kills it after 10 s.
func (d *dashProcess) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

type genOut struct {
	sum gen.Summary
	err error
}

// startGenerator runs the generator at g.Rate until ctx ends; the channel
// receives its summary.
func startGenerator(ctx context.Context, g config.Gen, cl *kgo.Client, topics kafka.Topics) (<-chan genOut, error) {
	sim, _, err := gen.NewSim(g, time.Now())
	if err != nil {
		return nil, err
	}
	done := make(chan genOut, 1)
	go func() {
		sum, err := gen.Run(ctx, gen.Options{Client: cl, Shape: g.Rate, RunID: gen.NewRunID()},
			gen.NewMarketSource(sim, market.KindAll, topics))
		done <- genOut{sum, err}
	}()
	return done, nil
}

// measureDash connects the clients, waits out the warm-up, samples the
// dashboard's CPU and memory over the measurement, and reads its health
// and stream-end counts before the clients disconnect.
func measureDash(ctx context.Context, o DashOptions, d *dashProcess, symbols []string, res *DashResult) error {
	measureFrom := time.Now().Add(o.Warmup)
	// The clients stop once the server's counts are read at the end of
	// the measurement; the deadline only bounds a run that hangs.
	cctx, stopClients := context.WithDeadline(ctx, measureFrom.Add(o.Measure+time.Minute))
	defer stopClients()
	loadDone := make(chan struct{})
	var loadErr error
	go func() {
		res.Clients, loadErr = LoadClients(cctx, d.base, symbols, o.Interval, o.Clients, measureFrom)
		close(loadDone)
	}()
	select {
	case <-time.After(time.Until(measureFrom)):
	case <-ctx.Done():
		return ctx.Err()
	}
	cpu, peak, err := sampleProcess(ctx, d.pid(), o.Measure)
	if err != nil {
		return err
	}
	res.ServerCPU, res.ServerRSSMiB = cpu, peak
	res.ServerHealth = lastHealth(ctx, d.base)
	res.StreamsEnded, err = streamsEnded(ctx, d.metrics)
	if err != nil {
		return err
	}
	stopClients()
	<-loadDone
	return loadErr
}

// sampleProcess measures process pid for d: its CPU use in percent of one
// core and its peak resident memory in MiB.
func sampleProcess(ctx context.Context, pid int, d time.Duration) (cpuPercent, peakMiB float64, err error) {
	cpu0, err := procCPU(pid)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for time.Since(t0) < d {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-tick.C:
			if rss, err := procRSSMiB(pid); err == nil {
				peakMiB = max(peakMiB, rss)
			}
		}
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return 0, 0, err
	}
	return (cpu1 - cpu0) / time.Since(t0).Seconds() * 100, peakMiB, nil
}
