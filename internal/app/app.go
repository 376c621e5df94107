// Package app wires tradestream's services together for `tradestream up`:
// it ensures the topics, migrates the database, then runs every service
// until the context ends, stopping them in reverse order of start.
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
}

// Run starts every service, each in its own goroutine, and waits. When ctx
// ends or any service fails, the services are stopped in reverse order of
// start, each one waited for before the next is stopped, and the first
// failure is returned. Every goroutine Run starts has ended when it returns.
func Run(ctx context.Context, log *slog.Logger, services []Service) error {
	type running struct {
		cancel context.CancelFunc
		done   chan error
	}
	failed := make(chan struct{})
	var once sync.Once
	var firstErr error
	var rs []running
	for _, s := range services {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan error, 1)
		go func() {
			err := s.Run(sctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				once.Do(func() {
					firstErr = fmt.Errorf("%s: %w", s.Name, err)
					close(failed)
				})
			}
			done <- err
		}()
		rs = append(rs, running{cancel: cancel, done: done})
		log.Info("service started", "service", s.Name)
	}
	select {
	case <-ctx.Done():
	case <-failed:
	}
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].cancel()
		<-rs[i].done
		log.Info("service stopped", "service", services[i].Name)
	}
	return firstErr
}
