package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/status"
)

// Sampling paces of the one status sampler of a process. With a dashboard
// it samples once a second, the health panel's pace; otherwise every five
// seconds, enough for /metrics. Either way the verdicts' window spans a
// minute. A sample is a handful of admin requests, two small catalogue
// queries and, for lag in seconds, one small fetch per partition whose
// commit moved, through one client the sampler keeps.
const (
	dashboardInterval, dashboardWindow = time.Second, 60
	metricsInterval, metricsWindow     = 5 * time.Second, 12
)

// Sampler returns a status sampler over the configured topics, reading
// Kafka through cl and PostgreSQL through pool (which may be nil), its
// tables and replication lag through read when not nil (the read URL's
// pool, see status.Options.Read); groups
// empty shows every group reading a topic under the prefix. The caller
// closes it.
func (e *Env) Sampler(cl *kgo.Client, pool, read *pgxpool.Pool, groups []string, window int, exactRows bool) (*status.Sampler, error) {
	copts, err := kafka.Options(e.Config.Kafka, e.Log)
	if err != nil {
		return nil, err
	}
	return status.NewSampler(cl, pool, status.Options{
		Prefix: e.Config.Topics.Prefix, Groups: groups, Window: window, ExactRows: exactRows, Read: read,
		ClientOpts: copts, Log: e.Log.With("service", "status"),
	}), nil
}

// observer is a process's status sampler with its Kafka client.
type observer struct {
	cl      *kgo.Client
	sampler *status.Sampler
	service Service
}

// observe connects the status sampler and exports what it samples on reg
// (consumer lag, verdicts, under-replicated partitions, table figures:
// metrics.LagCollector and TableCollector) with PostgreSQL's database and
// pool statistics, and replication lag); its tables and replication lag
// read through read when not nil (Sampler). Its service samples every
// interval. close releases the sampler and its client once the service
// has stopped.
func (e *Env) observe(ctx context.Context, pool, read *pgxpool.Pool, reg prometheus.Registerer, interval time.Duration, window int) (*observer, error) {
	cl, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log)
	if err != nil {
		return nil, err
	}
	sampler, err := e.Sampler(cl, pool, read, nil, window, false)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if reg != nil {
		reg.MustRegister(metrics.NewLagCollector(sampler), metrics.NewTableCollector(sampler), metrics.NewReplicationCollector(sampler))
		if pool != nil {
			reg.MustRegister(metrics.NewPostgresCollector(pool, e.Log.With("component", "pg-stats")))
		}
	}
	run := func(ctx context.Context) error { return sampler.Run(ctx, interval, nil) }
	return &observer{cl: cl, sampler: sampler, service: Service{Name: "status sampler", Run: run}}, nil
}

func (o *observer) close() {
	o.sampler.Close()
	o.cl.Close()
}

// metricsService listens on the configured metrics address for /metrics,
// /healthz and /readyz and returns the service serving them with the
// address it bound; nil means metrics are off (an empty address).
func (e *Env) metricsService(reg *prometheus.Registry, checks map[string]func(context.Context) error) (*Service, string, error) {
	addr := e.Config.Metrics.Addr
	if addr == "" {
		return nil, "", nil
	}
	srv := metrics.NewServer(reg, e.Log)
	for name, c := range checks {
		srv.AddCheck(name, c)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics listener on %s (set --metrics-addr, or empty to disable): %w", addr, err)
	}
	return &Service{Name: "metrics", Run: func(ctx context.Context) error { return srv.Run(ctx, ln) }}, ln.Addr().String(), nil
}

// standalone is how a single-service command runs.
type standalone struct {
	main   Service
	pool   *pgxpool.Pool // nil: no database
	read   *pgxpool.Pool // the read URL's, or nil
	reg    *prometheus.Registry
	checks map[string]func(context.Context) error
	// observe adds the status sampler exporting consumer lag on /metrics
	// (every long-running pipeline service; not the generator).
	observe bool
	// obs is a sampler the service already uses (the dashboard's), run
	// and exported instead of a new one.
	obs *observer
	// announce prints the metrics address on Stdout.
	announce bool
}

// runStandalone runs the service with what a long-running process has
// around it: the metrics listener and, when it listens and observe is
// set, the status sampler exporting consumer lag there. The main service
// is essential: when it ends, so does the process.
func (e *Env) runStandalone(ctx context.Context, s standalone) error {
	s.main.Essential = true
	if s.observe && s.obs == nil && e.Config.Metrics.Addr != "" {
		var err error
		if s.obs, err = e.observe(ctx, s.pool, s.read, s.reg, metricsInterval, metricsWindow); err != nil {
			return err
		}
		defer s.obs.close()
	}
	msvc, maddr, err := e.metricsService(s.reg, s.checks)
	if err != nil {
		return err
	}
	var services []Service
	if msvc != nil {
		services = append(services, *msvc)
		e.Log.Info("metrics listening", "addr", "http://"+maddr+"/metrics")
		if s.announce {
			fmt.Fprintf(e.Stdout, "metrics    http://%s/metrics\n", maddr)
		}
	}
	if s.obs != nil {
		services = append(services, s.obs.service)
	}
	return Run(ctx, e.Log, append(services, s.main))
}
