package cli

import "github.com/spf13/cobra"

// benchCommand is the parent of the benchmarks behind BENCHMARKS.md; each
// subcommand lives in its own bench_*.go file.
func (r *root) benchCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "bench",
		Short: "Benchmarks against their yardsticks, measured in the same run",
		Long: `Benchmarks behind BENCHMARKS.md. Each one measures tradestream against a
yardstick on the same services in the same run and reports both rates and
their ratio; --json prints one JSON object for scripts.`,
	})
	cmd.AddCommand(
		r.benchProduceCommand(),
		r.benchSinkCommand(),
		r.benchDashCommand(),
		r.benchAnalyticsCommand(),
	)
	return cmd
}
