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
		Short: "Database schema: migrations, partition upkeep, roles, and rebuilding from the topics",
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
			Use:   "roles",
			Short: "Create the loader and reader roles and grant them exactly their rights",
			Long: `Create (or update) the database roles the services connect as, and grant
them their rights on the schema, revoking any other they hold there. Run it as
the owner (--database-url: a role with CREATEROLE that owns the schema) after
` + "`db migrate`" + `, and again after every upgrade; it is idempotent.

The role names and passwords are those of --database-loader-url and
--database-reader-url (TRADESTREAM_DATABASE_LOADER_URL, _READER_URL), so the
services' configuration is the one place they are kept; no password is
printed. To rotate a password, change it in the URL and run this again.

  loader  (sink, alerts engine): COPY and insert into price_ticks and trades;
          upserts of users, accounts and the rollups (never DELETE; of trades
          it reads only the columns a position's replay needs); dead letters, alerts, sink and
          alert offsets, the engine's state and outbox; reads alert_rules and
          only the key columns of users; creates a missing day partition
          through create_day_partition. No DDL, no other schema.
  reader  (dash, status, verify, analytics): SELECT on every table and view
          of the schema, read-only sessions; nothing else.`,
			Example: "  tradestream db roles --database-loader-url postgres://tradestream_loader:secret1@127.0.0.1/tradestream \\\n" +
				"    --database-reader-url postgres://tradestream_reader:secret2@127.0.0.1/tradestream",
			Args: cobra.NoArgs,
			RunE: r.dbRoles,
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the database's schema version and the newest this binary knows",
			Args:  cobra.NoArgs,
			RunE:  r.dbVersion,
		},
		r.dbRebuildCommand(),
		r.dbRollupsCommand(),
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

func (r *root) dbRoles(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	d := r.cfg.Database
	if d.LoaderURL == "" || d.ReaderURL == "" {
		return usageError{fmt.Errorf("db roles: set --database-loader-url and --database-reader-url; the roles' names and passwords are taken from them")}
	}
	loader, err := store.LoginOf(d.LoaderURL)
	if err != nil {
		return usageError{fmt.Errorf("db roles: loader: %w", err)}
	}
	reader, err := store.LoginOf(d.ReaderURL)
	if err != nil {
		return usageError{fmt.Errorf("db roles: reader: %w", err)}
	}
	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.RequireVersion(ctx, pool); err != nil {
		return err
	}
	done, err := store.EnsureRoles(ctx, pool, loader, reader)
	if err != nil {
		return err
	}
	for i, what := range []string{"loader", "reader"} {
		verb := "updated"
		if done[i].Created {
			verb = "created"
		}
		fmt.Fprintf(r.io.Stdout, "role %s (%s): %s, password set, rights granted\n", done[i].Name, what, verb)
	}
	return nil
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
