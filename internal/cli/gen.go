package cli

import (
	"github.com/spf13/cobra"
)

func (r *root) genCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gen users|prices|trades|all",
		Short: "Generate synthetic users, prices and trades into Kafka",
		Long: `Generate a realistic synthetic market and stream it to Kafka: user profiles
with their accounts (users topic), price ticks with bid/ask (prices topic) and
the trades users place (trades topic). Prices have fat tails, volatility
clustering, sector co-movement and an intraday session shape; trades follow
each user's profile, execute inside the bid/ask and never overdraw a cash
account.

The producer is idempotent with acks=all and a bounded buffer. --rate paces
events evenly (0: as fast as possible); --count and --duration stop the run;
Ctrl-C stops it after flushing what was already accepted. On a terminal a
--count run shows a progress bar, otherwise a rate line is printed every
--report-interval. The same --seed and settings give the same stream.`,
		Example: `  tradestream gen all --rate 5000
  tradestream gen trades --count 1000000 --rate 0 --kafka-compression lz4
  tradestream gen all --seed 42 --count 10 --dry-run
  tradestream gen all --scenario flash-crash
  tradestream gen all --seed 7 --speed max --duration 1m`,
	}
	group(cmd)
	withMetricsPort(cmd, "9465")
	r.cfg.Gen.Bind(cmd.PersistentFlags())
	for _, target := range []string{"users", "prices", "trades", "all"} {
		short := map[string]string{
			"users":  "Generate user profiles and accounts (ends after --users users)",
			"prices": "Generate price ticks",
			"trades": "Generate trades (prices are simulated but not sent)",
			"all":    "Generate users, then prices and trades interleaved",
		}[target]
		cmd.AddCommand(&cobra.Command{
			Use:   target,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return r.env().RunGen(cmd.Context(), target)
			},
		})
	}
	cmd.AddCommand(r.genMarketCommands()...)
	return cmd
}
