package cli

import (
	"github.com/spf13/cobra"
)

func (r *root) upCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole pipeline in one process",
		Long: `Run the whole pipeline in one process: create the topics that are missing,
migrate the database, then run the services until interrupted (Ctrl-C stops
them in reverse order of start, the generator first; the alerts engine and
the sink first take in what it sent last, for up to 10 s each). It prints
what it started and where, then every --report-interval (30s) the
generator's rate with the sink's and the engine's lag and the dead letters.

The generator and sink flags are the same as for gen and sink; the alerts
engine's and the dashboard's are prefixed (--alerts-group, --alerts-batch-size,
--dashboard-addr, ...), their variables the same (TRADESTREAM_ALERTS_*,
TRADESTREAM_DASHBOARD_*).`,
		Example: "  tradestream up\n  tradestream up --rate 2000 --users 5000\n  tradestream up --alerts-batch-size 500 --dashboard-addr 127.0.0.1:9000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.env().Up(cmd.Context())
		},
	}
	r.cfg.Dashboard.BindPrefixed(cmd.Flags())
	r.cfg.Alerts.BindPrefixed(cmd.Flags())
	r.cfg.Sink.Bind(cmd.Flags())
	r.cfg.Gen.Bind(cmd.Flags())
	_ = cmd.Flags().MarkHidden("dry-run")
	_ = cmd.Flags().MarkHidden("until-caught-up")
	return cmd
}
