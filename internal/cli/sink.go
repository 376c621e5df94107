package cli

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/sink"
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
			return r.sink(cmd.Context())
		},
	}
	r.cfg.Sink.Bind(cmd.Flags())
	return cmd
}

func (r *root) sink(ctx context.Context) error {
	pool, err := r.pool(ctx, &r.cfg.Sink)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := r.migrate(ctx, pool); err != nil {
		return err
	}
	reg := r.registry()
	svc, s, err := r.sinkService(pool, reg)
	if err != nil {
		return err
	}
	stop, err := r.serveMetrics(ctx, reg, 9466, map[string]func(context.Context) error{"postgres": pool.Ping, "kafka": s.Ping})
	if err != nil {
		return err
	}
	defer stop()
	return svc.Run(ctx)
}

// sinkService builds the sink on pool with its metrics in reg.
func (r *root) sinkService(pool *pgxpool.Pool, reg prometheus.Registerer) (*app.Service, *sink.Sink, error) {
	if err := invalid(r.cfg.Sink.Validate()); err != nil {
		return nil, nil, err
	}
	s, err := sink.New(r.cfg.Kafka, pool, r.log, reg, sink.OptionsFrom(r.cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("sink: %w", err)
	}
	return &app.Service{Name: "sink", Run: s.Run}, s, nil
}
