package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tradestream/tradestream/internal/bench"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/rate"
)

// benchDashRate is the generator rate `bench dash` runs at by default.
const benchDashRate = 10_000

func (r *root) benchDashCommand() *cobra.Command {
	o := bench.DashOptions{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "dash",
		Short: "The dashboard under live clients while the pipeline runs at a high rate",
		Long: `Start the dashboard as its own process on fresh topics, drive the generator at
--rate events/s, connect --clients live clients (Server-Sent Events) spread over
the symbols, and measure the dashboard process's CPU and peak memory and the
produced-to-pushed latency every client sees (from the produced_at of a record
in each frame to the frame's arrival). It reports every live stream that ended
before the measurement did, by cause, as the server counted it and as the
clients saw it. Everything runs on 127.0.0.1.`,
		Example: "  tradestream bench dash --clients 100 --rate 10000 --measure 30s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("rate") && r.io.Getenv("TRADESTREAM_GEN_RATE") == "" {
				r.cfg.Gen.Rate = rate.Of(benchDashRate)
			}
			if err := r.validate(&r.cfg.Gen); err != nil {
				return err
			}
			if o.Clients <= 0 || o.Measure <= 0 || !r.cfg.Gen.Rate.Paced() {
				return usageError{errors.New("--clients, --measure and --rate must be positive")}
			}
			if _, err := dashboard.ParseInterval(o.Interval); err != nil {
				return usageError{err}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find own binary: %w", err)
			}
			o.Command, o.Env = []string{exe, "dash"}, dashChildEnv(cmd)
			o.Kafka, o.Topics, o.Gen, o.Log, o.Progress = r.cfg.Kafka, r.cfg.Topics, r.cfg.Gen, r.log, r.io.Stderr
			res, err := bench.Dash(cmd.Context(), o)
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
	f.IntVar(&o.Clients, "clients", 100, "concurrent live clients")
	f.DurationVar(&o.Measure, "measure", 30*time.Second, "measurement time")
	f.DurationVar(&o.Warmup, "warmup", 5*time.Second, "time before measuring, once clients are connected")
	f.StringVar(&o.Interval, "interval", "1s", "candle interval the clients subscribe to")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	r.cfg.Gen.Bind(f)
	// This benchmark's rate defaults to 10,000 events/s; the shared
	// config keeps its own default for every other command.
	f.Lookup("rate").DefValue = strconv.Itoa(benchDashRate)
	honourOnly(cmd, benchDashFlags)
	return cmd
}

// benchDashForwarded are the global flags the dashboard process needs as
// given to `bench dash`; it inherits the environment too.
var benchDashForwarded = slices.Concat([]string{"config", "log-format", "log-level",
	"database-url", "database-connect-timeout", "database-max-conns"}, benchKafkaFlags)

// benchDashFlags are the flags `bench dash` honours. The generator runs at
// --rate until the measurement ends, so --count, --duration, --dry-run and
// --report-interval do not apply; the topics' prefix is its own.
var benchDashFlags = honoured(benchGlobalFlags, benchSimFlags, benchDashForwarded,
	[]string{"clients", "measure", "warmup", "interval", "json", "rate", "topic-partitions"})

// dashChildEnv returns the forwarded flags set on cmd's command line as
// environment entries for the dashboard process, where they take the
// place of the bench's own environment (and keep secrets out of its
// arguments).
func dashChildEnv(cmd *cobra.Command) []string {
	var env []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !slices.Contains(benchDashForwarded, f.Name) {
			return
		}
		name := config.EnvName(f)
		if f.Name == "config" {
			name = "TRADESTREAM_CONFIG"
		}
		if name != "" {
			env = append(env, name+"="+config.RawValue(f))
		}
	})
	return env
}
func printDashBench(w io.Writer, res bench.DashResult) {
	c := res.Clients
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB\n", res.Machine.CPUModel, res.Machine.CPUs, res.Machine.MemoryGiB)
	fmt.Fprintf(w, "pipeline: target %.0f events/s, produced %.0f events/s\n", res.TargetRate, res.ProducedRate)
	fmt.Fprintf(w, "clients: %d connected, %d still connected at the end, %.1f frames/s each, %.1f KiB/s each\n",
		c.Clients, c.Connected, c.FramesPerClientSecond, float64(c.Bytes)/1024/float64(c.Clients)/c.Elapsed.Seconds())
	fmt.Fprintf(w, "streams ended early: server says %s; clients say %s\n", counts(res.StreamsEnded), counts(c.Ended))
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

// counts prints a count per cause, in name order, or "none".
func counts[N int | float64](m map[string]N) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	sort.Strings(keys)
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%v %s", m[k], k)
	}
	return out
}
