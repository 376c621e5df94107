package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/metrics"
)

// registry returns a fresh registry for this process's metrics.
func (r *root) registry() *prometheus.Registry { return metrics.NewRegistry() }

// metricsAddr is the listen address of a service's /metrics: the configured
// one, except that standalone services keep out of each other's way on one
// machine by default (gen 9465, sink 9466, alerts 9467, dash 9468), while
// `up` uses the default 9464.
func (r *root) metricsAddr(defaultPort int) string {
	addr := r.cfg.Metrics.Addr
	if addr == config.Default().Metrics.Addr && defaultPort != 0 {
		host, _, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort(host, strconv.Itoa(defaultPort))
	}
	return addr
}

// metricsService listens for /metrics, /healthz and /readyz and returns the
// service serving them with the address it bound; a nil service means
// metrics are off.
func (r *root) metricsService(reg *prometheus.Registry, defaultPort int, checks map[string]func(context.Context) error) (*app.Service, string, error) {
	addr := r.metricsAddr(defaultPort)
	if addr == "" {
		return nil, "", nil
	}
	srv := metrics.NewServer(reg, r.log)
	for name, c := range checks {
		srv.AddCheck(name, c)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics listener on %s (set --metrics-addr, or empty to disable): %w", addr, err)
	}
	return &app.Service{Name: "metrics", Run: func(ctx context.Context) error { return srv.Run(ctx, ln) }}, ln.Addr().String(), nil
}

// serveMetrics runs the metrics service in the background for a standalone
// command; the returned function stops it and waits for it to end.
func (r *root) serveMetrics(ctx context.Context, reg *prometheus.Registry, defaultPort int, checks map[string]func(context.Context) error) (func(), error) {
	svc, addr, err := r.metricsService(reg, defaultPort, checks)
	if err != nil || svc == nil {
		return func() {}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			r.log.Error("metrics server", "err", err)
		}
	}()
	r.log.Info("metrics listening", "addr", "http://"+addr+"/metrics")
	return func() { cancel(); <-done }, nil
}
