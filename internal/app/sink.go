package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/sink"
)

// sinkSection validates the sink settings and compiles their declarative
// transforms, reporting every problem of both together.
type sinkSection struct{ cfg *config.Sink }

// Validate implements the sections of Env.Validate.
func (s sinkSection) Validate() error {
	_, err := sink.CompileTransforms(s.cfg.Transforms)
	return errors.Join(s.cfg.Validate(), err)
}

// SinkSection is the sink's part of the configuration for Env.Validate:
// its settings and its declarative transforms, compiled.
func (e *Env) SinkSection() interface{ Validate() error } {
	return sinkSection{&e.Config.Sink}
}

// sinkOptions are the sink's options from the configuration, with its
// declarative transforms compiled.
func (e *Env) sinkOptions() (sink.Options, error) {
	opts := sink.OptionsFrom(e.Config)
	declared, err := sink.CompileTransforms(e.Config.Sink.Transforms)
	if err := Invalid(errors.Join(e.Config.Sink.Validate(), err)); err != nil {
		return opts, err
	}
	opts.Declared = declared
	if opts.Decoder, err = e.Decoder(); err != nil {
		return opts, err
	}
	return opts, nil
}

// sinkService builds the sink on pool with its metrics in reg; adjust
// changes the options the configuration sets (db rebuild's progress).
func (e *Env) sinkService(pool *pgxpool.Pool, reg prometheus.Registerer, adjust ...func(*sink.Options)) (Service, *sink.Sink, error) {
	opts, err := e.sinkOptions()
	if err != nil {
		return Service{}, nil, err
	}
	for _, f := range adjust {
		f(&opts)
	}
	e.decoderMetrics(reg)
	s, err := sink.New(e.Config.Kafka, pool, e.Log, reg, opts)
	if err != nil {
		return Service{}, nil, fmt.Errorf("sink: %w", err)
	}
	return Service{Name: "sink", Run: s.Run}, s, nil
}

// RunSink runs `tradestream sink`: it migrates the schema (as the owner;
// as the loader it checks the schema version), then loads the topics into
// PostgreSQL until ctx ends or, with UntilCaughtUp, until the sink has
// caught up.
func (e *Env) RunSink(ctx context.Context) error {
	tuneGC()
	ps := e.pools()
	defer ps.close()
	pool, err := e.openLoader(ctx, ps, e.SinkSection())
	if err != nil {
		return err
	}
	obsPool, err := ps.reader(ctx, pool)
	if err != nil {
		return err
	}
	read, err := ps.read(ctx)
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	svc, s, err := e.sinkService(pool, reg)
	if err != nil {
		return err
	}
	return e.runStandalone(ctx, standalone{
		main: svc, pool: obsPool, read: read, reg: reg, observe: true, announce: true,
		checks: map[string]func(context.Context) error{"postgres": pool.Ping, "kafka": s.Ping},
	})
}

// alertsService builds the alerts engine on pool with its metrics in reg.
// For a registry format it registers the alert/1 schema first.
func (e *Env) alertsService(ctx context.Context, pool *pgxpool.Pool, reg prometheus.Registerer) (Service, error) {
	a := e.Config.Alerts
	dec, err := e.Decoder()
	if err != nil {
		return Service{}, err
	}
	e.decoderMetrics(reg)
	enc, err := e.alertsFormat(ctx)
	if err != nil {
		return Service{}, err
	}
	eng, err := alert.New(e.Config.Kafka, pool, alert.Options{
		Decoder:        dec,
		Encoder:        enc,
		Topics:         kafka.TopicNames(e.Config.Topics.Prefix),
		Group:          a.Group,
		Instance:       a.Instance,
		BatchSize:      a.BatchSize,
		FromStart:      a.FromStart,
		SessionTimeout: a.SessionTimeout,
		Registerer:     reg,
		Log:            e.Log.With("service", "alerts"),
	})
	if err != nil {
		return Service{}, Invalid(err)
	}
	return Service{Name: "alerts", Run: eng.Run}, nil
}

// RunAlerts runs `tradestream alerts run`: it migrates the schema (as the
// owner; as the loader it checks the schema version), then evaluates the rules on the stream until ctx ends.
func (e *Env) RunAlerts(ctx context.Context) error {
	ps := e.pools()
	defer ps.close()
	pool, err := e.openLoader(ctx, ps, &e.Config.Alerts)
	if err != nil {
		return err
	}
	obsPool, err := ps.reader(ctx, pool)
	if err != nil {
		return err
	}
	read, err := ps.read(ctx)
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	svc, err := e.alertsService(ctx, pool, reg)
	if err != nil {
		return err
	}
	t := kafka.TopicNames(e.Config.Topics.Prefix)
	fmt.Fprintf(e.Stdout, "alerts     group %s: %s, %s -> %s%s\n", e.Config.Alerts.Group, t.Prices, t.Trades, t.Alerts, e.alertsFormatNote())
	return e.runStandalone(ctx, standalone{
		main: svc, pool: obsPool, read: read, reg: reg, observe: true, announce: true,
		checks: map[string]func(context.Context) error{"postgres": pool.Ping},
	})
}

// The standalone sink's garbage collector: its live heap is two batches and
// a fetch (tens of MB), so collecting at twice that (GOGC 200) halves the
// time spent collecting, and a soft limit of 192 MiB keeps it well inside
// its memory bound whatever happens. GOGC and GOMEMLIMIT, when set, win.
const (
	sinkGCPercent   = 200
	sinkMemoryLimit = 192 << 20
)

func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(sinkGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(sinkMemoryLimit)
	}
}
