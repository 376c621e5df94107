// Package store owns tradestream's PostgreSQL schema: the connection pool,
// the versioned migrations embedded in the binary, the daily partitions of
// the time-series tables, and the queries the services share.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

// Unavailable reports whether err says that the database could not be
// reached or went away rather than that it refused the request: no
// connection could be made (the server is down, or no listed server
// accepts writes while a standby is being promoted), a connection broke,
// or the server is starting, shutting down or read-only. Such an error
// passes by itself; a request that met it may simply be made again.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code != "57014" && transient(pgErr.Code) || pgErr.Code == "25006" // not a cancelled statement; read-only transaction
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
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
