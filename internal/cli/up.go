package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/kafka"
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
	r.cfg.Dashboard.BindPrefixed(cmd.Flags())
	r.cfg.Sink.Bind(cmd.Flags())
	r.cfg.Gen.Bind(cmd.Flags())
	_ = cmd.Flags().MarkHidden("dry-run")
	_ = cmd.Flags().MarkHidden("until-caught-up")
	return cmd
}

func (r *root) up(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	if err := r.validate(&r.cfg.Gen, &r.cfg.Sink, &r.cfg.Alerts, &r.cfg.Dashboard); err != nil {
		return err
	}
	cl, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log)
	if err != nil {
		return err
	}
	defer cl.Close()
	created, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(r.cfg.Topics))
	if err != nil {
		return err
	}
	fmt.Fprintf(r.io.Stdout, "kafka      %s  (topics created: %d)\n", strings.Join(r.cfg.Kafka.Brokers, ","), len(created))

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
	reg := r.registry()
	msvc, maddr, err := r.metricsService(reg, 0, map[string]func(context.Context) error{
		"kafka": cl.Ping, "postgres": pool.Ping,
	})
	if err != nil {
		return err
	}
	if msvc != nil {
		services = append(services, *msvc)
		fmt.Fprintf(r.io.Stdout, "metrics    http://%s/metrics  (health: /healthz, /readyz)\n", maddr)
	}
	ssvc, _, err := r.sinkService(pool, reg)
	if err != nil {
		return err
	}
	services = append(services, *ssvc)
	fmt.Fprintf(r.io.Stdout, "sink       group %s -> PostgreSQL\n", r.cfg.Sink.Group)
	asvc, err := r.alertsService(pool, reg)
	if err != nil {
		return err
	}
	osvc, _, err := r.observeService(cl, pool, reg)
	if err != nil {
		return err
	}
	services = append(services, *asvc, *osvc)
	fmt.Fprintf(r.io.Stdout, "alerts     group %s -> %s  (rules: tradestream alerts add|list|rm)\n", r.cfg.Alerts.Group, kafka.TopicNames(r.cfg.Topics.Prefix).Alerts)
	dsvc, daddr, closeDash, err := r.dashService(ctx, pool, reg)
	if err != nil {
		return err
	}
	defer closeDash()
	services = append(services, *dsvc)
	fmt.Fprintf(r.io.Stdout, "dashboard  http://%s/\n", daddr)
	gsvc, closeGen, err := r.genService(ctx, reg)
	if err != nil {
		return err
	}
	defer closeGen()
	services = append(services, *gsvc)
	fmt.Fprintf(r.io.Stdout, "gen        %s, %d users -> %s{users,prices,trades}\n", rateText(r.cfg.Gen.Rate), r.cfg.Gen.Users, r.cfg.Topics.Prefix)
	fmt.Fprintln(r.io.Stdout, "running; press Ctrl-C to stop")
	return app.Run(ctx, r.log, services)
}
