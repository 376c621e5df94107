package app

import (
	"context"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
)

// dashboardService builds the dashboard on its own live Kafka client,
// reading history and analytics through pool (the read URL's when set)
// and editing alert rules through
// rules, its health panel from health, and binds its listener; cleanup
// closes the client once the service has stopped.
func (e *Env) dashboardService(ctx context.Context, pool, rules *pgxpool.Pool, reg prometheus.Registerer, health dashboard.HealthSource) (svc Service, addr string, cleanup func(), err error) {
	if err := Invalid(e.Config.Dashboard.Validate()); err != nil {
		return Service{}, "", nil, err
	}
	topics := kafka.TopicNames(e.Config.Topics.Prefix)
	dec, err := e.Decoder()
	if err != nil {
		return Service{}, "", nil, err
	}
	e.decoderMetrics(reg)
	live, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log, append(dashboard.LiveOptions(topics), metrics.KafkaHooks(reg, "dashboard"))...)
	if err != nil {
		return Service{}, "", nil, err
	}
	tlsConfig, err := e.Config.Dashboard.TLSConfig()
	if err != nil {
		live.Close()
		return Service{}, "", nil, Invalid(err)
	}
	ln, err := net.Listen("tcp", e.Config.Dashboard.Addr)
	if err != nil {
		live.Close()
		return Service{}, "", nil, fmt.Errorf("dashboard listener on %s (set --addr or TRADESTREAM_DASHBOARD_ADDR): %w", e.Config.Dashboard.Addr, err)
	}
	srv := dashboard.New(live, pool, dashboard.Options{
		Topics:     topics,
		SinkGroup:  e.Config.Sink.Group,
		Health:     health,
		Token:      e.Config.Dashboard.Token,
		TLS:        tlsConfig,
		Rules:      NewRuleStore(alert.NewStore(rules)),
		Registerer: reg,
		Log:        e.Log.With("service", "dashboard"),
		Decoder:    dec,
	})
	svc = Service{Name: "dashboard", Run: func(ctx context.Context) error { return srv.Run(ctx, ln) }}
	return svc, ln.Addr().String(), live.Close, nil
}

// RunDashboard runs `tradestream dash`: the dashboard, with the status
// sampler its health panel reads (once a second), also exported on
// /metrics. It reads as the reader role, its history, analytics and
// table figures from the read URL when set; with a token, its write API
// edits alert rules as the owner.
func (e *Env) RunDashboard(ctx context.Context) error {
	if err := e.Validate(&e.Config.Dashboard, &e.Config.Sink); err != nil {
		return err
	}
	ps := e.pools()
	defer ps.close()
	pool, err := ps.get(ctx, config.RoleReader)
	if err != nil {
		return err
	}
	rules, err := e.rulesPool(ctx, ps, pool)
	if err != nil {
		return err
	}
	read, history, err := ps.reads(ctx, pool)
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	obs, err := e.observe(ctx, pool, read, reg, dashboardInterval, dashboardWindow)
	if err != nil {
		return err
	}
	defer obs.close()
	svc, addr, cleanup, err := e.dashboardService(ctx, history, rules, reg, obs.sampler)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(e.Stdout, "dashboard  %s://%s/  (sink group %s)\n", e.Config.Dashboard.Scheme(), addr, e.Config.Sink.Group)
	return e.runStandalone(ctx, standalone{
		main: svc, pool: pool, reg: reg, obs: obs,
		checks:   map[string]func(context.Context) error{"postgres": pool.Ping},
		announce: true,
	})
}

// rulesPool is the pool the dashboard's write API edits alert rules
// through: the owner's when a token enables writes, else the reader's
// (listing only).
func (e *Env) rulesPool(ctx context.Context, ps *pools, reader *pgxpool.Pool) (*pgxpool.Pool, error) {
	if e.Config.Dashboard.Token == "" {
		return reader, nil
	}
	return ps.get(ctx, config.RoleOwner)
}
