package cli

import (
	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/app"
)

func (r *root) dbRebuildCommand() *cobra.Command {
	var o app.RebuildOptions
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Load the retained topics into an empty database, then verify it",
		Long: `Rebuild PostgreSQL from Kafka: migrate the database, then load every record
the topics still hold, from the earliest offsets, with the sink (the same code
and settings as ` + "`tradestream sink`" + `, in the group of --group, which has no
stored offsets in an empty database) until it has caught up with the end
offsets seen at start. It prints progress, the rows per table, the dead
letters by reason and the time taken, then runs verify and exits 1 when
verify finds a problem. Afterwards ` + "`tradestream sink`" + ` with the same --group
continues from where the rebuild stopped.

It refuses a database whose loaded tables (users, accounts, price_ticks, the rollups,
trades, alerts, dead_letters, sink_offsets) hold rows, and a group with
members (stop the sinks first). --force empties those tables instead (as the
owner of the schema).

What it cannot recover: records past the topics' retention (and the older
versions compaction removed from the users topic), and what lives only in
PostgreSQL: alert rules and the alerts engine's state.`,
		Example: "  tradestream db rebuild --database-url postgres://tradestream:secret@127.0.0.1/fresh\n  tradestream db rebuild --force",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := r.env().Rebuild(cmd.Context(), o)
			return err
		},
	}
	r.cfg.Sink.Bind(cmd.Flags())
	for _, f := range []string{"until-caught-up"} {
		_ = cmd.Flags().MarkHidden(f) // a rebuild always runs until caught up
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "delete the rows of the loaded tables and the stored offsets first")
	return cmd
}
