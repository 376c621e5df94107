package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/bench"
)

func (r *root) benchProduceCommand() *cobra.Command {
	var (
		records    int64
		rounds     int
		partitions int
		asJSON     bool
		jars       string
	)
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "The generator against Apache Kafka's ProducerPerformance on the same broker",
		Long: `Measure tradestream's generator (market simulation and JSON encoding
included) producing to Kafka against Apache Kafka's own ProducerPerformance
tool on the same broker, in the same run, with the same record values (the
Java tool sends, in random order, the records a run of the generator
produces), acks=all, idempotence, compression, linger and batch size. The
generator writes keyed records with headers to the users, prices and trades
topics; the Java tool writes unkeyed records without headers to one topic of
as many partitions. MiB/s counts record values only, on both sides. Runs
alternate for --rounds rounds; the best rate of each side is compared.`,
		Example: "  tradestream bench produce --records 2000000 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.validate(&r.cfg.Gen); err != nil {
				return err
			}
			if records <= 0 || rounds <= 0 || partitions <= 0 {
				return usageError{fmt.Errorf("--records, --rounds and --partitions must be positive")}
			}
			if jars == "" {
				jars = r.io.Getenv("TRADESTREAM_KAFKA_JARS")
			}
			if jars == "" {
				return usageError{fmt.Errorf("no Kafka jars: pass --jars or source .stack/env (scripts/stack up fetches them)")}
			}
			progress := r.io.Stderr
			if !asJSON {
				progress = r.io.Stdout
			}
			gcfg := r.cfg.Gen
			gcfg.Seed = max(gcfg.Seed, 1)
			log4j := filepath.Join("deploy", "kafka", "tools-log4j2.properties")
			if _, err := os.Stat(log4j); err != nil {
				log4j = "" // run from elsewhere than the repository: the tool's defaults
			}
			res, err := bench.Produce(cmd.Context(), bench.ProduceOptions{
				Kafka: r.cfg.Kafka, Topics: r.cfg.Topics, Gen: gcfg, Jars: jars, Log4j: log4j,
				Record: records, Rounds: rounds, Partitions: partitions, Log: r.log, Progress: progress,
			})
			if err != nil {
				return err
			}
			if asJSON {
				return r.printJSON(res)
			}
			printProduce(r.io.Stdout, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&records, "records", 1_000_000, "records per run")
	f.IntVar(&rounds, "rounds", 2, "alternating runs of each side")
	f.IntVar(&partitions, "partitions", 6, "partitions of the benchmark topics")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&jars, "jars", "", "Kafka jars directory (default $TRADESTREAM_KAFKA_JARS)")
	r.cfg.Gen.Bind(f)
	honourOnly(cmd, benchProduceFlags)
	return cmd
}

// benchProduceFlags are the flags `bench produce` honours. The generator
// runs flat out for --records, so --rate, --count, --duration, --dry-run
// and --report-interval do not apply; it uses no database.
var benchProduceFlags = honoured(benchGlobalFlags, benchSimFlags,
	[]string{"records", "rounds", "partitions", "json", "jars"})

func printProduce(w io.Writer, res bench.ProduceResult) {
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB; Kafka %s\n", res.Machine.CPUModel, res.Machine.CPUs, res.Machine.MemoryGiB, res.Machine.Kafka)
	fmt.Fprintf(w, "records %s, %.0f bytes each on average, compression %s, acks=all\n",
		res.Settings["records"], res.AvgRecordBytes, res.Settings["compression"])
	fmt.Fprintf(w, "Apache ProducerPerformance  %10.0f records/s  %6.1f MiB/s of values\n", res.ApacheRate, res.ApacheMBPerSec)
	fmt.Fprintf(w, "tradestream gen             %10.0f records/s  %6.1f MiB/s of values\n", res.TradestreamRate, res.TradestreamMBPerSec)
	fmt.Fprintf(w, "ratio                       %10.1f%%\n", 100*res.Ratio)
}
