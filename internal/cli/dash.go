package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
)

func (r *root) dashCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dash",
		Short: "Serve the live web dashboard",
		Long: `Serve the web dashboard: candlesticks with volume, the trade tape, top movers,
user and account breakdowns, alerts and the pipeline's health (produce and
consume rates, lag per partition and in seconds, end-to-end latency, dead
letters, rows written per second).

Live data is read from Kafka from the latest offsets without a consumer group
(any number of dashboards can run side by side) and pushed to the page over
Server-Sent Events, at most 10 frames a second per browser; history comes from
PostgreSQL. The dashboard listens on 127.0.0.1:8080 by default. Writing alert
rules from the page needs --token (or TRADESTREAM_DASHBOARD_TOKEN).`,
		Example: "  tradestream dash\n  TRADESTREAM_DASHBOARD_TOKEN=$(openssl rand -hex 16) tradestream dash --addr 127.0.0.1:9000",
		Args:    cobra.NoArgs,
		RunE:    r.dash,
	}
	r.cfg.Dashboard.Bind(cmd.Flags())
	return cmd
}

func (r *root) dash(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	pool, err := r.pool(ctx, &r.cfg.Dashboard, &r.cfg.Sink)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := r.registry()
	svc, addr, cleanup, err := r.dashService(ctx, pool, reg)
	if err != nil {
		return err
	}
	defer cleanup()
	msvc, maddr, err := r.metricsService(reg, 9468, map[string]func(context.Context) error{"postgres": pool.Ping})
	if err != nil {
		return err
	}
	services := []app.Service{*svc}
	if msvc != nil {
		services = append([]app.Service{*msvc}, services...)
		fmt.Fprintf(r.io.Stdout, "metrics    http://%s/metrics\n", maddr)
	}
	fmt.Fprintf(r.io.Stdout, "dashboard  http://%s/\n", addr)
	return app.Run(ctx, r.log, services)
}

// dashService builds the dashboard on its own live Kafka client and binds
// its listener; cleanup closes the client once the service has stopped.
func (r *root) dashService(ctx context.Context, pool *pgxpool.Pool, reg prometheus.Registerer) (*app.Service, string, func(), error) {
	if err := invalid(r.cfg.Dashboard.Validate()); err != nil {
		return nil, "", nil, err
	}
	topics := kafka.TopicNames(r.cfg.Topics.Prefix)
	live, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log, append(dashboard.LiveOptions(topics), metrics.KafkaHooks(reg, "dashboard"))...)
	if err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", r.cfg.Dashboard.Addr)
	if err != nil {
		live.Close()
		return nil, "", nil, fmt.Errorf("dashboard listener on %s (set --addr or TRADESTREAM_DASHBOARD_ADDR): %w", r.cfg.Dashboard.Addr, err)
	}
	srv := dashboard.New(live, pool, dashboard.Options{
		Topics:     topics,
		SinkGroup:  r.cfg.Sink.Group,
		Token:      r.cfg.Dashboard.Token,
		Rules:      alert.NewDashboardStore(alert.NewStore(pool)),
		Registerer: reg,
		Log:        r.log.With("service", "dashboard"),
	})
	svc := &app.Service{Name: "dashboard", Run: func(ctx context.Context) error { return srv.Run(ctx, ln) }}
	return svc, ln.Addr().String(), live.Close, nil
}
