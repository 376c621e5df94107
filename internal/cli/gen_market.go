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
	return []*cobra.Command{scenarios}
}
