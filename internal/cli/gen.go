package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
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
  tradestream gen all --seed 42 --count 10 --dry-run`,
	}
	group(cmd)
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
				return r.gen(cmd.Context(), target)
			},
		})
	}
	return cmd
}

func (r *root) gen(ctx context.Context, target string) error {
	if err := r.validate(&r.cfg.Gen); err != nil {
		return err
	}
	kinds, _ := gen.Kinds(target)
	sim, seed, err := gen.NewSimOf(r.cfg.Gen, r.io.Now(), kinds)
	if err != nil {
		return usageError{err}
	}
	topics := kafka.TopicNames(r.cfg.Topics.Prefix)
	g := r.cfg.Gen
	opts := gen.Options{
		Rate: g.Rate, Count: g.Count, Duration: g.Duration, RunID: gen.NewRunID(),
		Report: r.io.Stderr, Terminal: r.io.IsTerminal && !g.DryRun, ReportInterval: g.ReportInterval,
		Now: r.io.Now,
	}
	if g.DryRun {
		opts.DryRun = r.io.Stdout
		_, err := gen.Run(ctx, opts, gen.NewMarketSource(sim, kinds, topics))
		return err
	}

	cl, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log, kafka.ProducerOptions(r.cfg.Kafka)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := requireTopics(ctx, kadm.NewClient(cl), topicsFor(kinds, topics)); err != nil {
		return err
	}
	reg := r.registry()
	opts.Client = cl
	opts.Metrics = gen.NewMetrics(reg)
	stopMetrics, err := r.serveMetrics(ctx, reg, 9465, map[string]func(context.Context) error{"kafka": cl.Ping})
	if err != nil {
		return err
	}
	defer stopMetrics()

	fmt.Fprintf(r.io.Stderr, "gen %s: seed %d, run %s, %d users, to %s at %s\n", target, seed, opts.RunID,
		g.Users, strings.Join(r.cfg.Kafka.Brokers, ","), rateText(g.Rate))
	sum, err := gen.Run(ctx, opts, gen.NewMarketSource(sim, kinds, topics))
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d events were not delivered", sum.Failed)
	}
	return nil
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "full speed"
	}
	return fmt.Sprintf("%g events/s", rate)
}

func topicsFor(kinds market.Kind, t kafka.Topics) []string {
	var names []string
	if kinds&market.KindUser != 0 {
		names = append(names, t.Users)
	}
	if kinds&market.KindPrice != 0 {
		names = append(names, t.Prices)
	}
	if kinds&market.KindTrade != 0 {
		names = append(names, t.Trades)
	}
	return names
}

// requireTopics fails with a clear message when a topic is missing, rather
// than letting the producer retry against a topic that will never appear.
func requireTopics(ctx context.Context, adm *kadm.Client, names []string) error {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var missing []string
	for _, n := range names {
		if d, ok := details[n]; !ok || d.Err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("topic %s does not exist; create it with `tradestream topics create` (with the same --topic-prefix)", strings.Join(missing, ", "))
	}
	return nil
}
