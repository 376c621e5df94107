// Package app assembles tradestream's services from the configuration,
// for `tradestream up` and for each single-service command (`sink`,
// `alerts run`, `dash`, `gen`) alike, and runs them: every long-running
// service gets its /metrics listener and the status sampler that exports
// consumer lag, under-replicated partitions and table statistics there
// (and feeds the dashboard's health panel). The adapters between services
// live here too (the alerts store as the dashboard's RuleStore), so that
// the services do not import each other.
//
// The command line (internal/cli) turns flags into a config.Config and
// calls an Env's Up, RunSink, RunAlerts, RunDashboard or RunGen.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Service is one long-running part of the pipeline.
type Service struct {
	// Name identifies the service in logs and errors.
	Name string
	// Run runs the service until ctx ends or it fails. Returning nil after
	// ctx ends is a clean stop.
	Run func(ctx context.Context) error
	// Essential services stop the others when they return, even with nil
	// (a sink that caught up, a generator that reached its count); the
	// others keep running when a service ends cleanly.
	Essential bool
	// Stopped, when set, is called once the service has stopped in a
	// shutdown asked for (ctx ended, not a failure), before the services
	// started before it are stopped (`up` lets the consumers take in what
	// the generator sent last).
	Stopped func()
}

// Run starts every service, each in its own goroutine, and waits. When ctx
// ends, any service fails or an essential one returns, the services are
// stopped in reverse order of start, each one waited for (and its Stopped
// called) before the next is stopped, and the first failure is returned. Every goroutine Run
// starts has ended when it returns.
func Run(ctx context.Context, log *slog.Logger, services []Service) error {
	type running struct {
		cancel context.CancelFunc
		done   chan error
	}
	stop := make(chan struct{})
	var once sync.Once
	var firstErr error
	var rs []running
	for _, s := range services {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan error, 1)
		go func() {
			err := s.Run(sctx)
			failed := err != nil && !errors.Is(err, context.Canceled)
			if failed || s.Essential {
				once.Do(func() {
					if failed {
						firstErr = fmt.Errorf("%s: %w", s.Name, err)
					}
					close(stop)
				})
			}
			done <- err
		}()
		rs = append(rs, running{cancel: cancel, done: done})
		log.Info("service started", "service", s.Name)
	}
	// Stopped is for a stop asked for (ctx), not one a failure forced.
	asked := false
	select {
	case <-ctx.Done():
		asked = true
	case <-stop:
	}
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].cancel()
		<-rs[i].done
		log.Info("service stopped", "service", services[i].Name)
		if asked && services[i].Stopped != nil {
			services[i].Stopped()
		}
	}
	return firstErr
}
