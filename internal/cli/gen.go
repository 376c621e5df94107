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
events evenly (0: as fast as possible; default 200, and a --dry-run without
--rate is unpaced); --count and --duration stop the run; Ctrl-C stops it
after flushing what was already accepted. On a terminal a --count run shows
a progress bar, otherwise a rate line is printed every --report-interval.
The same --seed and settings give the same stream.

Traffic shapes: --rate takes a shape of the rate over time,
  5000                       constant, events per second
  ramp:1000..20000/5m        1000/s rising linearly to 20000/s over 5m, then 20000/s
  steps:1000,5000,10000/1m   each level for 1m, the last one held
  burst:2000,20000/10s/50s   every 50s: 10s at 20000/s, then 2000/s
  daily:20000/10m            the intraday U-shape compressed into 10m, repeating:
                             2x the mean at the open and close, 0.5x at midday
--rate-bytes takes the same shapes in value bytes per second (5MB, 512KiB,
ramp:1MB..10MB/5m) instead of events. A run with --duration sends exactly
the integral of the shape over the duration.

Deliberate faults: --inject KIND=RATE,... sends, per event with that
probability: duplicates (the record twice), late (held back up to a bounded
delay of event time, late=0.01:30s; default 5s), reorder (sent after the next record of its key),
malformed (a broken copy, cycling through malformed_json, missing_field,
out_of_range and invalid_field), oversized (a copy padded past 256 KiB) and
unknown_schema (a copy under an unknown schema version). Each injected
record carries the header "injected" naming its fault; at the end a JSON
manifest counts them by kind and topic with the dead letters a strict
consumer should produce (--inject-manifest, default
tradestream-inject-RUNID.json). The same --seed injects the same faults.

Formats: --format json (default) writes tradestream's JSON with a schema
header; avro, protobuf and jsonschema write the same events in the Confluent
wire format (magic byte, schema id, payload), registering the embedded schemas
under <topic>-value in the schema registry (--schema-registry-url) at start.

gen users --count N with N above --users grows the population to N users.`,
		Example: `  tradestream gen all --rate 5000
  tradestream gen all --rate ramp:1000..20000/5m --duration 10m
  tradestream gen all --rate burst:2000,20000/10s/50s
  tradestream gen prices --rate-bytes 5MB
  tradestream gen trades --count 1000000 --rate 0 --kafka-compression lz4
  tradestream gen all --seed 42 --count 10 --dry-run
  tradestream gen all --scenario flash-crash
  tradestream gen all --seed 7 --speed max --duration 1m
  tradestream gen all --seed 7 --count 100000 --inject duplicates=0.01,late=0.005:30s,reorder=0.01,malformed=0.002,oversized=0.001,unknown_schema=0.001
  tradestream gen all --format avro --schema-registry-url http://127.0.0.1:8081/apis/ccompat/v7`,
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
