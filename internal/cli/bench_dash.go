package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/bench"
	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/rate"
)

// dashBenchResult is the outcome of `tradestream bench dash`.
type dashBenchResult struct {
	Machine      bench.Machine           `json:"machine"`
	TargetRate   float64                 `json:"target_rate"`
	ProducedRate float64                 `json:"produced_rate"`
	Clients      dashboard.LoadResult    `json:"clients"`
	ServerCPU    float64                 `json:"server_cpu_percent"` // of one core
	ServerRSSMiB float64                 `json:"server_rss_mib"`     // peak during the measurement
	ServerHealth *dashboard.HealthSample `json:"server_health,omitempty"`
	Duration     time.Duration           `json:"duration_ns"`
}

// benchDashRate is the generator rate `bench dash` runs at by default.
const benchDashRate = 10_000

func (r *root) benchDashCommand() *cobra.Command {
	var (
		clients  int
		duration time.Duration
		warmup   time.Duration
		interval string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "dash",
		Short: "The dashboard under live clients while the pipeline runs at a high rate",
		Long: `Start the dashboard as its own process on fresh topics, drive the generator at
--rate events/s, connect --clients live clients (Server-Sent Events) spread over
the symbols, and measure the dashboard process's CPU and peak memory and the
produced-to-pushed latency every client sees (from the produced_at of a record
in each frame to the frame's arrival). Everything runs on 127.0.0.1.`,
		Example: "  tradestream bench dash --clients 100 --rate 10000 --measure 30s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("rate") && r.io.Getenv("TRADESTREAM_GEN_RATE") == "" {
				r.cfg.Gen.Rate = rate.Of(benchDashRate)
			}
			if err := r.validate(&r.cfg.Gen); err != nil {
				return err
			}
			if clients <= 0 || duration <= 0 || !r.cfg.Gen.Rate.Paced() {
				return usageError{errors.New("--clients, --measure and --rate must be positive")}
			}
			if _, err := dashboard.ParseInterval(interval); err != nil {
				return usageError{err}
			}
			res, err := r.benchDash(cmd.Context(), clients, warmup, duration, interval)
			if err != nil {
				return err
			}
			if asJSON {
				return r.printJSON(res)
			}
			printDashBench(r.io.Stdout, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&clients, "clients", 100, "concurrent live clients")
	f.DurationVar(&duration, "measure", 30*time.Second, "measurement time")
	f.DurationVar(&warmup, "warmup", 5*time.Second, "time before measuring, once clients are connected")
	f.StringVar(&interval, "interval", "1s", "candle interval the clients subscribe to")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	r.cfg.Gen.Bind(f)
	// This benchmark's rate defaults to 10,000 events/s; the shared
	// config keeps its own default for every other command.
	f.Lookup("rate").DefValue = strconv.Itoa(benchDashRate)
	return cmd
}

func (r *root) benchDash(ctx context.Context, clients int, warmup, duration time.Duration, interval string) (dashBenchResult, error) {
	res := dashBenchResult{Machine: bench.Describe(""), TargetRate: r.cfg.Gen.Rate.At(0), Duration: duration}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tcfg := r.cfg.Topics
	tcfg.Prefix = "bench.dash." + hex.EncodeToString(b) + "."
	topics := kafka.TopicNames(tcfg.Prefix)

	cl, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log, kafka.ProducerOptions(r.cfg.Kafka)...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// A busy broker can take longer than EnsureTopics waits for new
	// topics to show; the topics exist then, so asking again suffices.
	for try := 0; ; try++ {
		_, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tcfg))
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(err.Error(), "not yet visible") {
			return res, err
		}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, topics.All()...)
	}()

	// The dashboard in its own process, so its CPU and memory are its own.
	addr, err := freeLoopbackAddr()
	if err != nil {
		return res, err
	}
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find own binary: %w", err)
	}
	args := []string{"dash", "--topic-prefix", tcfg.Prefix, "--addr", addr, "--metrics-addr", ""}
	if r.configFile != "" {
		args = append(args, "--config", r.configFile)
	}
	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = io.Discard, r.io.Stderr
	if err := child.Start(); err != nil {
		return res, fmt.Errorf("start dashboard: %w", err)
	}
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = child.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = child.Process.Kill()
			<-done
		}
	}()
	base := "http://" + addr

	// The generator, in this process.
	gctx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	sim, _, err := gen.NewSim(r.cfg.Gen, r.io.Now())
	if err != nil {
		return res, usageError{err}
	}
	type genOut struct {
		sum gen.Summary
		err error
	}
	genDone := make(chan genOut, 1)
	go func() {
		sum, err := gen.Run(gctx, gen.Options{Client: cl, Shape: r.cfg.Gen.Rate, RunID: gen.NewRunID()},
			gen.NewMarketSource(sim, market.KindAll, topics))
		genDone <- genOut{sum, err}
	}()

	symbols, err := waitSymbols(ctx, base, 30*time.Second)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(r.io.Stderr, "bench dash: dashboard pid %d at %s, %d symbols live, %d clients, warm-up %v, measuring %v\n",
		child.Process.Pid, base, len(symbols), clients, warmup, duration)

	measureFrom := time.Now().Add(warmup)
	// The clients stop at the end of the measurement (or when stopped
	// earlier), which lets them count who is still connected just before.
	cctx, stopClients := context.WithDeadline(ctx, measureFrom.Add(duration+time.Second))
	defer stopClients()
	loadDone := make(chan struct{})
	var load dashboard.LoadResult
	var loadErr error
	go func() {
		load, loadErr = dashboard.LoadClients(cctx, base, symbols, interval, clients, measureFrom)
		close(loadDone)
	}()
	select {
	case <-time.After(time.Until(measureFrom)):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	cpu0, err := procCPU(child.Process.Pid)
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	var peak float64
	tick := time.NewTicker(500 * time.Millisecond)
	for time.Since(t0) < duration {
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-tick.C:
			if rss, err := procRSSMiB(child.Process.Pid); err == nil {
				peak = max(peak, rss)
			}
		}
	}
	tick.Stop()
	cpu1, err := procCPU(child.Process.Pid)
	if err != nil {
		return res, err
	}
	res.ServerCPU = (cpu1 - cpu0) / time.Since(t0).Seconds() * 100
	res.ServerRSSMiB = peak
	res.ServerHealth = lastHealth(ctx, base)
	stopClients()
	<-loadDone
	stopGen()
	g := <-genDone
	if g.err != nil {
		return res, g.err
	}
	res.ProducedRate = g.sum.Rate
	res.Clients = load
	return res, loadErr
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitSymbols waits until the dashboard answers and has live symbols.
func waitSymbols(ctx context.Context, base string, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		var body struct {
			Symbols []dashboard.Quote `json:"symbols"`
		}
		if err := getJSON(ctx, base+"/api/symbols", &body); err != nil {
			last = err
		} else if len(body.Symbols) > 0 {
			out := make([]string, len(body.Symbols))
			for i, q := range body.Symbols {
				out[i] = q.Symbol
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("dashboard at %s had no live symbols within %v: %v", base, timeout, last)
}

func lastHealth(ctx context.Context, base string) *dashboard.HealthSample {
	var body struct {
		History []*dashboard.HealthSample `json:"history"`
	}
	if err := getJSON(ctx, base+"/api/health", &body); err != nil || len(body.History) == 0 {
		return nil
	}
	return body.History[len(body.History)-1]
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// procCPU returns the user+system CPU seconds process pid has used.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read process cpu: %w", err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read process cpu: short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// procRSSMiB returns process pid's resident memory in MiB.
func procRSSMiB(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func printDashBench(w io.Writer, res dashBenchResult) {
	c := res.Clients
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB\n", res.Machine.CPUModel, res.Machine.CPUs, res.Machine.MemoryGiB)
	fmt.Fprintf(w, "pipeline: target %.0f events/s, produced %.0f events/s\n", res.TargetRate, res.ProducedRate)
	fmt.Fprintf(w, "clients: %d connected, %d still connected at the end, %.1f frames/s each, %.1f KiB/s each\n",
		c.Clients, c.Connected, c.FramesPerClientSecond, float64(c.Bytes)/1024/float64(c.Clients)/c.Elapsed.Seconds())
	fmt.Fprintf(w, "produced->pushed latency (client-side, %d frames): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		c.Latency.Samples, c.Latency.P50, c.Latency.P90, c.Latency.P99, c.Latency.Max)
	fmt.Fprintf(w, "freshness (newest record in a frame -> arrival): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
		c.Freshness.P50, c.Freshness.P90, c.Freshness.P99)
	fmt.Fprintf(w, "dashboard process: %.0f%% of one core, peak RSS %.0f MiB\n", res.ServerCPU, res.ServerRSSMiB)
	if h := res.ServerHealth; h != nil {
		fmt.Fprintf(w, "server: %d frames skipped, %d clients dropped; produced->read p99 %.1f ms\n",
			h.FramesSkipped, h.ClientsDropped, h.Received.P99)
	}
}
