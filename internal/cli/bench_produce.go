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
tool on the same broker, in the same run. Both sides write to one fresh
topic of --partitions partitions (the generator's users, prices and trades
all go to it), with the same record values (the Java tool sends, in random
order, the records a run of the generator produces), acks=all, idempotence,
compression, linger, batch size and in-flight requests, each passed to the
Java tool explicitly. Each run's records are counted on the topic itself.
MiB/s counts record values only, on both sides. Runs alternate for --rounds
rounds; the best rate of each side is compared (tradestream / Apache). What
still differs (keys and headers, partitioning, record order, ...) is listed
under "differences".

With --format avro, protobuf or jsonschema the generator writes that format
through the schema registry (--schema-registry-url), and the Java tool, which
reads its payload file as text, sends random values of the same mean size.`,
		Example: "  tradestream bench produce --records 2000000 --json\n" +
			"  tradestream bench produce --format avro --schema-registry-url http://127.0.0.1:8081/apis/ccompat/v7",
		Args: cobra.NoArgs,
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
			reg, err := r.env().Registry()
			if err != nil {
				return err
			}
			res, err := bench.Produce(cmd.Context(), bench.ProduceOptions{
				Kafka: r.cfg.Kafka, Topics: r.cfg.Topics, Gen: gcfg, Jars: jars, Log4j: log4j, Registry: reg,
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
	f.IntVar(&partitions, "partitions", 6, "partitions of the benchmark topic")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&jars, "jars", "", "Kafka jars directory (default $TRADESTREAM_KAFKA_JARS)")
	r.cfg.Gen.Bind(f)
	honourOnly(cmd, benchProduceFlags)
	return cmd
}

// benchProduceFlags are the flags `bench produce` honours. The generator
// runs flat out for --records, so --rate, --count, --duration, --dry-run
// and --report-interval do not apply; it uses no database.
var benchProduceFlags = honoured(benchGlobalFlags, benchSimFlags, benchRegistryFlags,
	[]string{"records", "rounds", "partitions", "json", "jars", "format"})

func printProduce(w io.Writer, res bench.ProduceResult) {
	st := res.Settings
	fmt.Fprintf(w, "\nmachine: %s, %d CPUs, %d GiB; Kafka %s\n", res.Machine.CPUModel, res.Machine.CPUs, res.Machine.MemoryGiB, res.Machine.Kafka)
	fmt.Fprintf(w, "both sides: topic %s (%s partitions), %s records a run, %.0f bytes a value on average (format %s)\n",
		st["topic"], st["partitions"], st["records"], res.AvgRecordBytes, st["format"])
	fmt.Fprintf(w, "  acks=%s, idempotent, compression %s, linger %s, batch %s bytes, %s requests in flight\n",
		st["acks"], st["compression"], st["linger"], st["batch_bytes"], st["max_in_flight"])
	fmt.Fprintf(w, "Apache ProducerPerformance  %10.0f records/s  %6.1f MiB/s of values  peak RSS %4.0f MiB (its JVM, -Xmx1g)\n",
		res.ApacheRate, res.ApacheMBPerSec, res.ApachePeakRSSMiB)
	fmt.Fprintf(w, "tradestream gen             %10.0f records/s  %6.1f MiB/s of values  peak RSS %4.0f MiB (the benchmark process)\n",
		res.TradestreamRate, res.TradestreamMBPerSec, res.TradestreamPeakRSSMiB)
	fmt.Fprintf(w, "ratio                       %10.1f%%\n", 100*res.Ratio)
	fmt.Fprintln(w, "differences:")
	for _, d := range res.Differences {
		fmt.Fprintf(w, "  - %s\n", d)
	}
}
