package cli

import (
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The bench subcommands inherit every global flag and bind whole config
// sections, but each honours only some of them. Each keeps the list of
// the flags it honours next to it, and honourOnly hides the others from
// its help, so that what --help offers works (TestBenchHelpOffersOnlyHonouredFlags).

// benchGlobalFlags are the global flags every benchmark honours: the
// configuration file, logging, the Kafka connection and producer, and the
// replication and retention of the topics it creates.
var benchGlobalFlags = slices.Concat([]string{"config", "log-format", "log-level"}, benchKafkaFlags,
	[]string{"topic-replication-factor", "topic-retention"})

// benchKafkaFlags are the Kafka connection and producer flags.
var benchKafkaFlags = []string{
	"kafka-batch-bytes", "kafka-brokers", "kafka-client-id", "kafka-compression", "kafka-connect-timeout",
	"kafka-dial-timeout", "kafka-linger", "kafka-max-buffered", "kafka-sasl-mechanism", "kafka-sasl-password",
	"kafka-sasl-user", "kafka-tls", "kafka-tls-ca", "kafka-tls-cert", "kafka-tls-insecure", "kafka-tls-key",
}

// benchRegistryFlags are the schema registry's flags, for the benchmarks
// that write or read its formats.
var benchRegistryFlags = []string{"schema-registry-url", "schema-registry-user", "schema-registry-password",
	"schema-registry-tls-ca", "schema-registry-tls-insecure"}

// benchSimFlags are the generator flags that shape the simulated market,
// which every benchmark running the generator honours.
var benchSimFlags = []string{"seed", "start", "symbols", "tick-interval", "trade-schema", "users"}

// honoured joins flag lists.
func honoured(lists ...[]string) []string { return slices.Concat(append(lists, []string{"help"})...) }

// honourOnly hides from cmd's help every flag, its own or inherited, not
// in keep. Inherited flags belong to the root, so they are hidden only
// when cmd's help is shown (a process shows one help and exits).
func honourOnly(cmd *cobra.Command, keep []string) {
	hide := func(f *pflag.Flag) {
		if !slices.Contains(keep, f.Name) {
			f.Hidden = true
		}
	}
	cmd.Flags().VisitAll(hide)
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		c.InheritedFlags().VisitAll(hide)
		c.Parent().HelpFunc()(c, args)
	})
}
