package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/bench"
)

// analyticsBenchResult is what `bench analytics --json` prints.
type analyticsBenchResult struct {
	Machine bench.Machine `json:"machine"`
	*bench.AnalyticsResult
}

func (r *root) benchAnalyticsCommand() *cobra.Command {
	var (
		o      bench.AnalyticsOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "analytics",
		Short: "Every analytics query at a large history, on the rollups and on the raw rows",
		Long: `Load a history of --ticks price ticks over --span (one trade per --trade-every
ticks, among --accounts accounts, each trading a handful of the --symbols
symbols) into a schema of its own: the raw rows by COPY and the rollups, chunk
by chunk, by the sink's own rollup code in the same transactions; it reports
the load rate. Then it runs each analytics query --runs times at random
windows (cutting minutes), symbols and users, and its raw-row counterpart (the
definitions before the rollups) --raw-runs times, and reports p50 and p99 of
both (target: every query's p99 under 50 ms at 50 M ticks). --plans saves an
EXPLAIN (ANALYZE, BUFFERS) of each. The schema is dropped at the end, unless
--keep (which prints its name); --reuse-schema NAME skips the load and times
the queries on a schema a --keep run left (after migrating it to this
release), and keeps it. Drop a kept schema with DROP SCHEMA NAME CASCADE.`,
		Example: "  tradestream bench analytics --ticks 50000000 --plans bench-plans\n  tradestream bench analytics --ticks 2000000 --runs 50 --json\n  tradestream bench analytics --ticks 10000000 --keep\n  tradestream bench analytics --reuse-schema bench_analytics_1a2b3c4d",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Ticks < 1000 || o.Symbols < 1 || o.Accounts < 1 || o.TradeEvery < 1 || o.Runs < 1 || o.Span < time.Hour {
				return usageError{fmt.Errorf("bench analytics: want --ticks >= 1000, --span >= 1h and positive --symbols, --accounts, --trade-every and --runs")}
			}
			if o.ReuseSchema != "" && !strings.HasPrefix(o.ReuseSchema, "bench_analytics_") {
				return usageError{fmt.Errorf("bench analytics: --reuse-schema takes a schema a --keep run left (bench_analytics_...), not %q", o.ReuseSchema)}
			}
			o.URL = r.cfg.Database.URL.Reveal()
			last := time.Now()
			o.Progress = func(loaded, total int, rate float64) {
				if time.Since(last) > 10*time.Second || loaded == total {
					last = time.Now()
					fmt.Fprintf(r.io.Stderr, "bench analytics: loaded %d of %d ticks (%.0f rows/s)\n", loaded, total, rate)
				}
			}
			res, err := bench.Analytics(cmd.Context(), o)
			if err != nil {
				return err
			}
			if res.Schema != "" {
				fmt.Fprintf(r.io.Stderr, "bench analytics: kept schema %s\n", res.Schema)
			}
			if asJSON {
				enc := json.NewEncoder(r.io.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(analyticsBenchResult{Machine: bench.Describe(""), AnalyticsResult: res})
			}
			printAnalyticsBench(r.io.Stdout, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Ticks, "ticks", 50_000_000, "price ticks in the history")
	f.IntVar(&o.Symbols, "symbols", 100, "symbols")
	f.DurationVar(&o.Span, "span", 30*24*time.Hour, "length of the history, ending now")
	f.IntVar(&o.Accounts, "accounts", 10_000, "trading accounts")
	f.IntVar(&o.TradeEvery, "trade-every", 10, "one trade per this many ticks")
	f.IntVar(&o.Runs, "runs", 200, "runs of each query on the rollups")
	f.IntVar(&o.RawRuns, "raw-runs", 10, "runs of each query's raw-row counterpart (0: none)")
	f.StringVar(&o.PlansDir, "plans", "", "directory for the EXPLAIN plans")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the history and of the random arguments")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&o.Keep, "keep", false, "keep the schema with the loaded history (its name is printed)")
	f.StringVar(&o.ReuseSchema, "reuse-schema", "", "time the queries on this kept schema instead of loading a history")
	return cmd
}

func printAnalyticsBench(w io.Writer, res *bench.AnalyticsResult) {
	fmt.Fprintf(w, "history  %d ticks, %d trades; %d rollup minutes, %d positions; database %.0f MiB\n",
		res.Ticks, res.Trades, res.RollupMinutes, res.Positions, res.DatabaseSizeMiB)
	if res.LoadSeconds > 0 {
		fmt.Fprintf(w, "load     %.1f s, %.0f rows/s (raw rows by COPY and rollups in the same transactions); peak RSS %.0f MiB\n\n",
			res.LoadSeconds, res.LoadRowsPerSec, res.PeakRSSMiB)
	} else {
		fmt.Fprintf(w, "load     none: the history of schema %s, migrated\n\n", res.Schema)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "query\truns\tp50 ms\tp99 ms\traw p50 ms\traw p99 ms\tp50 ratio\t")
	for _, q := range res.Queries {
		raw := "\t\t\t"
		if q.RawRuns > 0 {
			raw = fmt.Sprintf("%.2f\t%.2f\t%.0fx\t", q.RawP50ms, q.RawP99ms, q.RawP50ms/max(q.P50ms, 0.001))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%s\n", q.Name, q.Runs, q.P50ms, q.P99ms, raw)
	}
	_ = tw.Flush()
}
