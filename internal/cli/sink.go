package cli

import (
	"github.com/spf13/cobra"
)

func (r *root) sinkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Load the topics into PostgreSQL, effectively once",
		Long: `Consume the users, prices, trades and alerts topics in a consumer group and
load them into PostgreSQL with COPY, in batches of --batch-size records or
--batch-timeout, whichever comes first. Each batch's rows and the offsets they
came from commit in one transaction, and consumption resumes from the offsets
stored there, so a killed sink neither loses nor duplicates a row. Run more
instances with the same --group to split the partitions between them.

Records that can never be loaded (malformed JSON, an unknown schema version,
missing or out-of-range fields, a date before the retention window) go to the
deadletter topic and the dead_letters table. While PostgreSQL is unreachable
the sink pauses and retries; it never dead-letters a record for that.

The sink migrates the schema and keeps the daily partitions created ahead (and
dropped past --database-retention-days) while it runs. With --until-caught-up
it exits 0 once every partition is loaded up to the end offsets it saw when it
started.`,
		Example: "  tradestream sink\n  tradestream sink --group sink-b --batch-size 10000\n  tradestream sink --until-caught-up && tradestream verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.env().RunSink(cmd.Context())
		},
	}
	r.cfg.Sink.Bind(cmd.Flags())
	return withMetricsPort(cmd, "9466")
}
