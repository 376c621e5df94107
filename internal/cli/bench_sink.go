package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/bench"
)

// sinkBenchResult is what `bench sink --json` prints.
type sinkBenchResult struct {
	Machine bench.Machine `json:"machine"`
	*bench.SinkResult
}

func (r *root) benchSinkCommand() *cobra.Command {
	var (
		cfg    bench.SinkOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "The sink from Kafka against a raw COPY of the same rows, and a naive INSERT per record",
		Long: `Measure the sink loading a seeded feed (users, prices, trades) from Kafka into
the partitioned, indexed schema against a raw COPY of the same rows, decoded
beforehand, into the same schema in the same batches and transactions (no
Kafka, no decoding), in the same run; rounds alternate and the best rate of
each side is compared (target: the sink at 75% or more of the raw rate). It
also measures one INSERT and one commit per record, the naive approach.

It uses its own topics (bench.sink.<random>.*) and its own schema in the
configured database, and deletes both at the end.`,
		Example: "  tradestream bench sink --json\n  tradestream bench sink --events 500000 --rounds 3",
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
			cfg.Progress = r.io.Stdout
			if asJSON {
				cfg.Progress = r.io.Stderr
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
	f.IntVar(&cfg.Events, "events", 300_000, "events per run")
	f.IntVar(&cfg.Users, "users", 2_000, "synthetic users")
	f.IntVar(&cfg.Rounds, "rounds", 2, "alternating runs of each side")
	f.IntVar(&cfg.Partitions, "partitions", 6, "partitions of the benchmark topics")
	f.IntVar(&cfg.NaiveRecords, "naive-records", 5_000, "records the naive side inserts")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the feed")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	r.cfg.Sink.Bind(f)
	honourOnly(cmd, benchSinkFlags)
	return cmd
}

// benchSinkFlags are the flags `bench sink` honours. It makes its own
// schema in --database-url and its own consumer groups; of the sink's
// settings only --batch-size applies.
var benchSinkFlags = honoured(benchGlobalFlags,
	[]string{"events", "users", "rounds", "partitions", "naive-records", "seed", "json", "batch-size", "database-url"})

func printSinkBench(w io.Writer, res sinkBenchResult) {
	m, pg := res.Machine, res.Postgres
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB; PostgreSQL %s (shared_buffers %s, synchronous_commit %s)\n",
		m.CPUModel, m.CPUs, m.MemoryGiB, pg["server_version"], pg["shared_buffers"], pg["synchronous_commit"])
	fmt.Fprintf(w, "%d events, %d rows, batches of %d, %d partitions\n", res.Events, res.Rows, res.BatchSize, res.Partitions)
	fmt.Fprintf(w, "raw COPY of pre-built rows      %10.0f rows/s\n", res.RawRate)
	fmt.Fprintf(w, "tradestream sink from Kafka     %10.0f rows/s\n", res.SinkRate)
	fmt.Fprintf(w, "ratio                           %10.1f%%  (target %.0f%%)\n", 100*res.Ratio, 100*res.Target)
	fmt.Fprintf(w, "naive INSERT + COMMIT per row   %10.0f rows/s\n", res.NaiveRate)
}
