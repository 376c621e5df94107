// Package store owns tradestream's PostgreSQL schema: the connection pool,
// the versioned migrations embedded in the binary, the daily partitions of
// the time-series tables, and the queries the services share.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
)

// Open connects a pool to the configured database and waits, up to
// cfg.ConnectTimeout, until it answers; an unreachable database is an error
// naming it (password hidden) rather than a hang. A database that answers
// with a refusal (a wrong password, a missing database, no pg_hba entry) is
// an error at once: waiting longer would not change its answer.
func Open(ctx context.Context, cfg config.Database) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("database url %s: malformed connection string", cfg.URL)
	}
	pc.MaxConns = int32(cfg.MaxConns)
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > cfg.ConnectTimeout {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", cfg.URL, err)
	}
	if err := ping(ctx, pool, cfg); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// transient reports whether a server's refusal may go away by itself: it is
// starting up or shutting down (class 57), or the connection broke (08).
func transient(code string) bool {
	return strings.HasPrefix(code, "57") || strings.HasPrefix(code, "08")
}

func ping(ctx context.Context, pool *pgxpool.Pool, cfg config.Database) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var last error
	for {
		if last = pool.Ping(ctx); last == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if errors.As(last, &pgErr) && !transient(pgErr.Code) {
			return fmt.Errorf("database %s refused the connection: %w", cfg.URL, last)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("database %s did not answer within %v (is PostgreSQL running? `scripts/stack up` starts it): %w",
					cfg.URL, cfg.ConnectTimeout, last)
			}
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
