package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/verify"
)

func (r *root) verifyCommand() *cobra.Command {
	var asJSON, caughtUp bool
	var manifest string
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
not a mismatch, unless --require-caught-up is given.

--manifest FILE reconciles a generator run made with --inject with the
manifest it wrote: the run's tick and trade rows (by run_id) must be one per
event, and its dead letters by reason exactly those the manifest lists.`,
		Example: "  tradestream verify\n  tradestream sink --until-caught-up && tradestream verify --require-caught-up --json\n" +
			"  tradestream verify --require-caught-up --manifest tradestream-inject-RUNID.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var expected *verify.Expected
			if manifest != "" {
				m, err := gen.ReadManifest(manifest)
				if err != nil {
					return usageError{fmt.Errorf("--manifest: %w", err)}
				}
				expected = &verify.Expected{RunID: m.RunID, Events: m.EventsByTopic, DeadLetters: m.DeadLetters}
			}
			pool, err := r.env().OpenPoolAs(ctx, config.RoleReader, &r.cfg.Sink)
			if err != nil {
				return err
			}
			defer pool.Close()
			dec, err := r.env().Decoder()
			if err != nil {
				return err
			}
			rep, err := verify.Run(ctx, r.cfg.Kafka, r.log, pool, verify.Options{
				Group: r.cfg.Sink.Group, Topics: kafka.TopicNames(r.cfg.Topics.Prefix),
				RetentionDays: r.cfg.Database.RetentionDays, RequireCaughtUp: caughtUp, Now: r.io.Now,
				Expected: expected, Decoder: dec,
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
	for _, f := range []string{"batch-size", "batch-bytes", "batch-timeout", "until-caught-up", "session-timeout"} {
		_ = cmd.Flags().MarkHidden(f) // only --group matters here
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&caughtUp, "require-caught-up", false, "count offsets the sink has not loaded yet as a mismatch")
	cmd.Flags().StringVar(&manifest, "manifest", "", "also reconcile a generator run with the --inject manifest it wrote")
	return cmd
}
