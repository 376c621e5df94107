package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/verify"
)

func (r *root) verifyCommand() *cobra.Command {
	var asJSON, caughtUp bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Reconcile Kafka with PostgreSQL: missing, duplicate and inconsistent data",
		Long: `Reconcile what Kafka holds with what the sink of --group stored. For prices
and trades, every offset from the start of each partition up to the sink's
stored offset must be exactly one row or one dead letter; for the compacted
users topic, each user's row must hold its key's latest valid record. Account
balances must match their newest trade or profile, and consecutive trades of
an account must chain (balance_after = previous + cash flow).

It prints a table per partition (missing, duplicate, ahead of the stored
offset, pending) and exits 1 on any mismatch. Offsets not loaded yet are lag,
not a mismatch, unless --require-caught-up is given.`,
		Example: "  tradestream verify\n  tradestream sink --until-caught-up && tradestream verify --require-caught-up --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := r.env().OpenPoolAs(ctx, config.RoleReader, &r.cfg.Sink)
			if err != nil {
				return err
			}
			defer pool.Close()
			rep, err := verify.Run(ctx, r.cfg.Kafka, r.log, pool, verify.Options{
				Group: r.cfg.Sink.Group, Topics: kafka.TopicNames(r.cfg.Topics.Prefix),
				RetentionDays: r.cfg.Database.RetentionDays, RequireCaughtUp: caughtUp, Now: r.io.Now,
			})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(r.io.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.Print(r.io.Stdout)
			}
			if !rep.OK() {
				return fmt.Errorf("verify: %d problems", len(rep.Problems))
			}
			return nil
		},
	}
	r.cfg.Sink.Bind(cmd.Flags())
	for _, f := range []string{"batch-size", "batch-timeout", "until-caught-up", "session-timeout"} {
		_ = cmd.Flags().MarkHidden(f) // only --group matters here
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&caughtUp, "require-caught-up", false, "count offsets the sink has not loaded yet as a mismatch")
	return cmd
}
