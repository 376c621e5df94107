package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
)

func (r *root) upCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole pipeline in one process",
		Long: `Run the whole pipeline in one process: create the topics that are missing,
migrate the database, then run the services until interrupted (Ctrl-C stops
them in reverse order of start). It prints what it started and where.`,
		Example: "  tradestream up\n  tradestream up --rate 2000 --users 5000",
		Args:    cobra.NoArgs,
		RunE:    r.up,
	}
	return cmd
}

func (r *root) up(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	if err := r.validate(); err != nil {
		return err
	}
	cl, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log)
	if err != nil {
		return err
	}
	defer cl.Close()
	created, err := kafka.EnsureTopics(ctx, kadm.NewClient(cl), kafka.Specs(r.cfg.Topics))
	if err != nil {
		return err
	}
	fmt.Fprintf(r.io.Stdout, "kafka      %s  (topics created: %d)\n", joinComma(r.cfg.Kafka.Brokers), len(created))

	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := r.migrate(ctx, pool); err != nil {
		return err
	}
	fmt.Fprintf(r.io.Stdout, "postgres   %s\n", r.cfg.Database.URL)

	var services []app.Service
	if addr := r.cfg.Metrics.Addr; addr != "" {
		reg := metrics.NewRegistry()
		srv := metrics.NewServer(reg, r.log)
		srv.AddCheck("kafka", func(ctx context.Context) error { return cl.Ping(ctx) })
		srv.AddCheck("postgres", pool.Ping)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		services = append(services, app.Service{Name: "metrics", Run: func(ctx context.Context) error { return srv.Run(ctx, ln) }})
		fmt.Fprintf(r.io.Stdout, "metrics    http://%s/metrics  (health: /healthz, /readyz)\n", ln.Addr())
	}
	fmt.Fprintln(r.io.Stdout, "running; press Ctrl-C to stop")
	return app.Run(ctx, r.log, services)
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
