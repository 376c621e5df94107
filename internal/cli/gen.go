package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/metrics"
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

	reg := r.registry()
	cl, err := r.producer(ctx, reg, kinds)
	if err != nil {
		return err
	}
	defer cl.Close()
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

// producer connects the generator's producer, with its client metrics in
// reg, and checks that the topics for kinds exist.
func (r *root) producer(ctx context.Context, reg prometheus.Registerer, kinds market.Kind) (*kgo.Client, error) {
	cl, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log, append(kafka.ProducerOptions(r.cfg.Kafka), metrics.KafkaHooks(reg, "gen"))...)
	if err != nil {
		return nil, err
	}
	if err := requireTopics(ctx, kadm.NewClient(cl), topicsFor(kinds, kafka.TopicNames(r.cfg.Topics.Prefix))); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// genService is the generator of `up`: all kinds, at the configured rate,
// reporting to standard error.
func (r *root) genService(ctx context.Context, reg prometheus.Registerer) (*app.Service, func(), error) {
	if err := invalid(r.cfg.Gen.Validate()); err != nil {
		return nil, nil, err
	}
	if r.cfg.Gen.DryRun {
		return nil, nil, usageError{fmt.Errorf("--dry-run is for `tradestream gen`, not `up`")}
	}
	sim, _, err := gen.NewSim(r.cfg.Gen, r.io.Now())
	if err != nil {
		return nil, nil, usageError{err}
	}
	cl, err := r.producer(ctx, reg, market.KindAll)
	if err != nil {
		return nil, nil, err
	}
	g := r.cfg.Gen
	opts := gen.Options{
		Client: cl, Rate: g.Rate, Count: g.Count, Duration: g.Duration, RunID: gen.NewRunID(),
		Report: r.io.Stderr, ReportInterval: g.ReportInterval, Now: r.io.Now, Metrics: gen.NewMetrics(reg),
	}
	src := gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames(r.cfg.Topics.Prefix))
	run := func(ctx context.Context) error {
		sum, err := gen.Run(ctx, opts, src)
		if err == nil && sum.Failed > 0 {
			err = fmt.Errorf("%d events were not delivered", sum.Failed)
		}
		return err
	}
	return &app.Service{Name: "gen", Run: run}, cl.Close, nil
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
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("topic %s does not exist; create it with `tradestream topics create` (with the same --topic-prefix)", missing[0])
	default:
		return fmt.Errorf("topics %s do not exist; create them with `tradestream topics create` (with the same --topic-prefix)", strings.Join(missing, ", "))
	}
}
