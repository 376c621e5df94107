package cli

import (
	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/gen"
)

// genMarketCommands are the gen subcommands of market scenarios and replay.
func (r *root) genMarketCommands() []*cobra.Command {
	scenarios := &cobra.Command{
		Use:   "scenarios",
		Short: "List the built-in market scenarios of --scenario and what each does",
		Long: `List the built-in market scenarios. Run one with --scenario NAME, or write
your own as YAML (see internal/market/scenarios for the format) and pass
--scenario FILE. Event times are offsets from the simulated start; with
TRADESTREAM_GEN_SCENARIO=none (or --scenario none) no scenario runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return gen.WriteScenarios(cmd.OutOrStdout())
		},
	}
	var keepTime bool
	replay := &cobra.Command{
		Use:   "replay FILE",
		Short: "Stream recorded ticks from a CSV or JSON lines file, with the users trading on them",
		Long: `Replay recorded prices: each line of FILE (CSV with a header, or JSON lines)
holds symbol, time (RFC 3339), bid, ask, last, volume and optionally sector.
The ticks go to the prices topic as recorded, re-timestamped so that the first
starts now (or as recorded with --keep-time), paced by their own time at
--speed (1: real time, 60: an hour a minute, max: no waiting). The
generator's --users trade on top of the replayed quotes, inside their bid/ask
and within their cash, into the users and trades topics. A malformed line
stops the replay before anything is sent, naming the line.`,
		Example: `  tradestream gen replay deploy/samples/ticks.csv --speed 60
  tradestream gen replay deploy/samples/ticks.csv --speed max --keep-time --dry-run --seed 1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.env().RunReplay(cmd.Context(), args[0], keepTime)
		},
	}
	replay.Flags().BoolVar(&keepTime, "keep-time", false, "keep the recorded times instead of starting the replay now")
	return []*cobra.Command{scenarios, replay}
}
