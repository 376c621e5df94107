package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/store"
)

// Env is what the services are assembled from: the loaded configuration
// and the process's logger, output and clock.
type Env struct {
	// Config is the whole configuration, loaded but not yet validated:
	// every entry point validates the sections it uses first.
	Config config.Config
	// Log receives every service's logs.
	Log *slog.Logger
	// Stdout receives the lines saying what was started and where (and
	// the records of a generator's dry run); Stderr the generator's
	// report.
	Stdout, Stderr io.Writer
	// Terminal reports whether Stdout is an interactive terminal (the
	// generator then draws a progress bar).
	Terminal bool
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	// dec is the record decoder the services share (Decoder).
	dec           *format.Decoder
	decRegistered bool
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// ConfigError is a configuration problem found before anything started;
// the command line exits 2 on it.
type ConfigError struct{ Err error }

// Error lists every problem, one a line.
func (e ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, line := range strings.Split(e.Err.Error(), "\n") {
		b.WriteString("\n  - ")
		b.WriteString(line)
	}
	return b.String()
}

func (e ConfigError) Unwrap() error { return e.Err }

// Invalid returns err as a ConfigError, or nil for nil.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return ConfigError{err}
}

// Validate checks the shared configuration plus the given sections and
// reports every problem at once, as a ConfigError.
func (e *Env) Validate(sections ...interface{ Validate() error }) error {
	errs := []error{e.Config.Validate()}
	for _, s := range sections {
		errs = append(errs, s.Validate())
	}
	return Invalid(errors.Join(errs...))
}

// OpenPool validates the configuration with sections and opens the
// database as the owner (--database-url).
func (e *Env) OpenPool(ctx context.Context, sections ...interface{ Validate() error }) (*pgxpool.Pool, error) {
	return e.OpenPoolAs(ctx, config.RoleOwner, sections...)
}

// OpenPoolAs validates the configuration with sections and opens the
// database as role.
func (e *Env) OpenPoolAs(ctx context.Context, role config.Role, sections ...interface{ Validate() error }) (*pgxpool.Pool, error) {
	if err := e.Validate(sections...); err != nil {
		return nil, err
	}
	return store.Open(ctx, e.Config.Database.As(role))
}

// openLoader validates the configuration with sections and opens the
// loader's pool in ps, for the services that write; then, connected as
// the schema's owner (no separate loader configured), it migrates, and
// as any other role it only checks that the schema is migrated.
func (e *Env) openLoader(ctx context.Context, ps *pools, sections ...interface{ Validate() error }) (*pgxpool.Pool, error) {
	if err := e.Validate(sections...); err != nil {
		return nil, err
	}
	pool, err := ps.get(ctx, config.RoleLoader)
	if err != nil {
		return nil, err
	}
	owner, err := store.IsOwner(ctx, pool)
	if err != nil {
		return nil, err
	}
	if owner {
		return pool, e.Migrate(ctx, pool)
	}
	return pool, store.RequireVersion(ctx, pool)
}

// Migrate applies migrations and partition upkeep, printing what it did.
func (e *Env) Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(e.Stdout, "applied migration %d (%s)\n", m.Version, m.Source)
	}
	created, dropped, err := store.Upkeep(ctx, pool, e.now(), e.Config.Database.PartitionsAhead, e.Config.Database.RetentionDays)
	if err != nil {
		return err
	}
	rolledParts, rolled, err := store.UpkeepRollups(ctx, pool, e.now(), e.Config.Database.RollupRetentionDays)
	if err != nil {
		return err
	}
	cur, _, err := store.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "schema at version %d; partitions created %d, dropped %d; rollup partitions past retention dropped %d, rollup rows past retention deleted %d\n",
		cur, len(created), len(dropped), len(rolledParts), rolled)
	return nil
}
