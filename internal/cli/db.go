package cli

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/store"
)

func (r *root) dbCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Database schema: migrations and partition upkeep",
	}
	group(cmd)
	cmd.AddCommand(
		&cobra.Command{
			Use:   "migrate",
			Short: "Apply pending schema migrations and create the coming days' partitions",
			Long: `Apply every schema migration embedded in this binary that the database has
not seen yet, then create the daily partitions of price_ticks and trades from
yesterday through --database-partitions-ahead days from now, and drop those
older than --database-retention-days (when positive).`,
			Example: "  tradestream db migrate --database-url postgres://tradestream:secret@127.0.0.1:5432/tradestream",
			Args:    cobra.NoArgs,
			RunE:    r.dbMigrate,
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the database's schema version and the newest this binary knows",
			Args:  cobra.NoArgs,
			RunE:  r.dbVersion,
		},
	)
	return cmd
}

// pool validates the configuration and opens the database.
func (r *root) pool(ctx context.Context, sections ...interface{ Validate() error }) (*pgxpool.Pool, error) {
	return r.env().OpenPool(ctx, sections...)
}

func (r *root) dbMigrate(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	return r.migrate(ctx, pool)
}

// migrate applies migrations and partition upkeep, printing what it did.
func (r *root) migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return r.env().Migrate(ctx, pool)
}

func (r *root) dbVersion(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	cur, latest, err := store.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.io.Stdout, "database schema version %d; this binary knows up to %d\n", cur, latest)
	return nil
}
