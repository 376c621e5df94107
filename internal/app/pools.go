package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/store"
)

// pools opens the database pools of a process, one per role, sharing one
// pool between roles configured with the same connection string (all of
// them, unless --database-loader-url or --database-reader-url is set).
type pools struct {
	cfg  config.Database
	open map[config.ConnString]*pgxpool.Pool
}

func (e *Env) pools() *pools {
	return &pools{cfg: e.Config.Database, open: map[config.ConnString]*pgxpool.Pool{}}
}

// get returns role's pool, connecting it on first use.
func (p *pools) get(ctx context.Context, role config.Role) (*pgxpool.Pool, error) {
	return p.connect(ctx, p.cfg.As(role))
}

// read returns the read URL's pool (a replica's, for the reads that may
// lag: the dashboard's history and status's row counts), connecting it on
// first use, or nil when no read URL is configured.
func (p *pools) read(ctx context.Context) (*pgxpool.Pool, error) {
	if p.cfg.ReadURL == "" {
		return nil, nil
	}
	return p.connect(ctx, p.cfg.Read())
}

// reads returns read's pool (nil without a read URL) and the pool the
// dashboard's history reads through: the read URL's, else fallback.
func (p *pools) reads(ctx context.Context, fallback *pgxpool.Pool) (read, history *pgxpool.Pool, err error) {
	if read, err = p.read(ctx); err != nil {
		return nil, nil, err
	}
	if read == nil {
		return nil, fallback, nil
	}
	return read, read, nil
}

// connect returns the pool of cfg.URL, opening it on first use.
func (p *pools) connect(ctx context.Context, cfg config.Database) (*pgxpool.Pool, error) {
	if pool, ok := p.open[cfg.URL]; ok {
		return pool, nil
	}
	pool, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p.open[cfg.URL] = pool
	return pool, nil
}

// reader returns the reader's pool when its URL is set, else fallback:
// for a service's own status sampler, which reads with the service's role
// unless a reader is configured.
func (p *pools) reader(ctx context.Context, fallback *pgxpool.Pool) (*pgxpool.Pool, error) {
	if p.cfg.ReaderURL == "" {
		return fallback, nil
	}
	return p.get(ctx, config.RoleReader)
}

// close closes every pool opened.
func (p *pools) close() {
	for _, pool := range p.open {
		pool.Close()
	}
}
