package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/bench"
	"github.com/tradestream/tradestream/internal/format"
)

// sinkBenchResult is what `bench sink --json` prints.
type sinkBenchResult struct {
	Machine bench.Machine `json:"machine"`
	*bench.SinkResult
}

func (r *root) benchSinkCommand() *cobra.Command {
	var (
		cfg    bench.SinkOptions
		live   bench.LiveOptions
		asLive bool
		asJSON bool
		// feedFormat is the format of the feed's records in Kafka.
		feedFormat string
		exe        string
		err        error
	)
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "The sink from Kafka against PostgreSQL's own binary COPY of the same rows",
		Long: `Measure the sink against the database's own speed, on the same rows, schema and
machine, in one run. A seeded feed (users, prices, trades) is produced to fresh
topics, then rounds alternate:

  ceiling  PostgreSQL's own binary COPY of the same rows through pgx: one COPY per
           table holding all its rows, one transaction, into the same partitioned,
           indexed tables, no staging; timed from first byte to commit
  sink     tradestream sink --until-caught-up from Kafka, as its own process (fetch,
           decode, validate, load, offsets in the same transactions), from its first
           record to caught up; its peak RSS is reported
  writer   the sink's own writer on the rows decoded beforehand, in the sink's
           batches and transactions, without Kafka or decoding

The best round of each is compared: rows/s, MB/s of record values, and the sink's
and the writer's shares of the ceiling (target: the sink at 0.75x or more). Then one
INSERT and one commit per record, the naive approach. The differences between the
sides are printed with the figures.

--instances 1,2,3 then loads the same backlog with 1, 2 and 3 sink processes in
one group, each configuration timed from the first record any of them received
to the last one caught up (scale-out).

--live instead runs the generator at a steady --rate into fresh topics while the
sink process loads them, warms up, then for --measure samples the lag every
second (flat: it grows by less than 1% of the rate per second) and reads the
sink's end-to-end latency histogram (produced_at header to commit) before and
after, for its p50, p90 and p99 (target: p99 under 500 ms).

It uses its own topics (bench.sink.<random>.* or bench.live.<random>.*) and its
own schema in the configured database, and deletes both at the end.`,
		Example: "  tradestream bench sink --json\n  tradestream bench sink --events 2000000 --rounds 1 --instances 1,2,3\n  tradestream bench sink --live --rate 50000 --measure 30s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.validate(&r.cfg.Sink); err != nil {
				return err
			}
			if cfg.Events <= 0 || cfg.Rounds <= 0 || cfg.Partitions <= 0 || cfg.NaiveRecords <= 0 || cfg.Users <= 0 {
				return usageError{fmt.Errorf("--events, --rounds, --partitions, --naive-records and --users must be positive")}
			}
			cfg.Kafka, cfg.Topics, cfg.DatabaseURL = r.cfg.Kafka, r.cfg.Topics, r.cfg.Database.URL.Reveal()
			cfg.BatchSize, cfg.Log = r.cfg.Sink.BatchSize, r.log
			if cfg.Format, err = format.Parse(feedFormat); err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			if cfg.Registry, err = r.env().Registry(); err != nil {
				return err
			}
			exe, err = os.Executable()
			if err != nil {
				return err
			}
			cfg.Command, cfg.Env = []string{exe, "sink"}, dashChildEnv(cmd)
			cfg.Progress = r.io.Stdout
			if asJSON {
				cfg.Progress = r.io.Stderr
			}
			if asLive {
				if cfg.Format.Registered() {
					return usageError{fmt.Errorf("--format %s is for the backlog rounds; --live runs the generator in JSON", cfg.Format)}
				}
				return r.benchSinkLive(cmd, cfg, live, asJSON)
			}
			for _, n := range cfg.Instances {
				if n <= 0 {
					return usageError{fmt.Errorf("--instances: %d; every count must be positive", n)}
				}
			}
			res, err := bench.Sink(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := sinkBenchResult{Machine: bench.Describe(r.io.Getenv("TRADESTREAM_KAFKA_JARS")), SinkResult: res}
			if asJSON {
				return r.printJSON(out)
			}
			printSinkBench(r.io.Stdout, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", 1_000_000, "events per run")
	f.IntVar(&cfg.Users, "users", 2_000, "synthetic users")
	f.IntVar(&cfg.Rounds, "rounds", 3, "alternating runs of each side")
	f.IntVar(&cfg.Partitions, "partitions", 6, "partitions of the benchmark topics")
	f.IntVar(&cfg.NaiveRecords, "naive-records", 5_000, "records the naive side inserts")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the feed")
	f.StringVar(&feedFormat, "format", "json", "format of the feed's records in Kafka: json, or avro, protobuf or jsonschema through --schema-registry-url")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.IntSliceVar(&cfg.Instances, "instances", nil, "after the rounds, load the backlog with each of these numbers of sink processes in one group (e.g. 1,2,3)")
	f.BoolVar(&asLive, "live", false, "measure a live pipeline instead: lag and end-to-end latency at a steady --rate")
	f.Float64Var(&live.Rate, "rate", 50_000, "with --live: the generator's events per second")
	f.DurationVar(&live.Warmup, "warmup", 10*time.Second, "with --live: how long the pipeline runs before the measurement")
	f.DurationVar(&live.Measure, "measure", 30*time.Second, "with --live: how long the measurement lasts")
	r.cfg.Sink.Bind(f)
	honourOnly(cmd, benchSinkFlags)
	return cmd
}

// benchSinkFlags are the flags `bench sink` honours. It makes its own
// schema in --database-url and its own consumer groups; of the sink's
// settings only --batch-size applies.
var benchSinkFlags = honoured(benchGlobalFlags, benchRegistryFlags,
	[]string{"events", "users", "rounds", "partitions", "naive-records", "seed", "json", "batch-size", "database-url",
		"instances", "live", "rate", "warmup", "measure", "format"})

// benchSinkLive runs `bench sink --live`.
func (r *root) benchSinkLive(cmd *cobra.Command, cfg bench.SinkOptions, live bench.LiveOptions, asJSON bool) error {
	if live.Rate <= 0 || live.Measure < 2*time.Second || live.Warmup < 0 {
		return usageError{fmt.Errorf("--rate must be positive, --measure at least 2s and --warmup not negative")}
	}
	live.SinkOptions, live.Gen = cfg, r.cfg.Gen
	res, err := bench.SinkLive(cmd.Context(), live)
	if err != nil {
		return err
	}
	out := struct {
		Machine bench.Machine `json:"machine"`
		*bench.SinkLiveResult
	}{bench.Describe(r.io.Getenv("TRADESTREAM_KAFKA_JARS")), res}
	if asJSON {
		return r.printJSON(out)
	}
	w, m := r.io.Stdout, out.Machine
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB; batches of %d, %d partitions, %.0f s measured\n",
		m.CPUModel, m.CPUs, m.MemoryGiB, res.BatchSize, res.Partitions, res.Seconds)
	fmt.Fprintf(w, "generator: target %.0f events/s, produced %.0f events/s; sink committed %.0f records/s\n",
		res.TargetRate, res.ProducedRate, res.LoadedRate)
	flat := "growing"
	switch {
	case res.LagFlat:
		flat = "flat"
	case res.LagSlope < 0:
		flat = "shrinking"
	}
	fmt.Fprintf(w, "lag: %d records at the start, %d at the end, %d at most; %+.0f records/s: %s\n",
		res.LagFirst, res.LagLast, res.LagMax, res.LagSlope, flat)
	fmt.Fprintf(w, "produced -> committed latency (%0.f records): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms (target p99 < %.0f ms)\n",
		res.Latency.Samples, res.Latency.P50, res.Latency.P90, res.Latency.P99, res.Target99ms)
	fmt.Fprintf(w, "sink process: peak RSS %.0f MiB\n", float64(res.PeakRSSByte)/(1<<20))
	return nil
}

func printSinkBench(w io.Writer, res sinkBenchResult) {
	m, pg := res.Machine, res.Postgres
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB; PostgreSQL %s (shared_buffers %s, synchronous_commit %s)\n",
		m.CPUModel, m.CPUs, m.MemoryGiB, pg["server_version"], pg["shared_buffers"], pg["synchronous_commit"])
	fmt.Fprintf(w, "%d events in %s, %d rows (%.1f MB of record values), batches of %d, %d partitions; best of %d rounds\n",
		res.Events, res.Format, res.Rows, float64(res.ValueBytes)/1e6, res.BatchSize, res.Partitions, len(res.Sink))
	mb := func(rate float64) float64 { return rate / float64(res.Rows) * float64(res.ValueBytes) / 1e6 }
	fmt.Fprintf(w, "ceiling: PostgreSQL binary COPY    %10.0f rows/s %6.1f MB/s\n", res.CeilingRate, mb(res.CeilingRate))
	fmt.Fprintf(w, "tradestream sink from Kafka        %10.0f rows/s %6.1f MB/s  %5.2fx the ceiling (target %.2fx), peak RSS %.0f MiB\n",
		res.SinkRate, mb(res.SinkRate), res.Ratio, res.Target, float64(res.SinkPeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "the sink's writer, rows pre-decoded %10.0f rows/s %6.1f MB/s  %5.2fx the ceiling\n",
		res.WriterRate, mb(res.WriterRate), res.WriterRatio)
	fmt.Fprintf(w, "naive INSERT + COMMIT per row      %10.0f rows/s\n", res.NaiveRate)
	for _, s := range res.ScaleOut {
		fmt.Fprintf(w, "scale-out: %d sink processes       %10.0f rows/s  (records per instance %v, peak RSS %.0f MiB)\n",
			s.Instances, s.RowsPerSec, s.Records, float64(s.PeakRSSBytes)/(1<<20))
	}
	if !res.Checkpointed {
		fmt.Fprintln(w, "note: runs did not start from a checkpoint (the role lacks pg_checkpoint), so a run may pay for the WAL of the one before")
	}
	fmt.Fprintln(w, "differences:")
	for _, d := range res.Differences {
		fmt.Fprintf(w, "  - %s\n", d)
	}
}
