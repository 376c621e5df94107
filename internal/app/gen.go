package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/metrics"
)

// RunGen runs `tradestream gen TARGET` (users, prices, trades or all):
// the generator with its metrics listener, or with DryRun the records on
// Stdout and no connection at all.
func (e *Env) RunGen(ctx context.Context, target string) error {
	if err := e.Validate(&e.Config.Gen); err != nil {
		return err
	}
	if strings.EqualFold(strings.TrimSpace(e.Config.Gen.Scenario), "help") {
		return gen.WriteScenarios(e.Stdout)
	}
	kinds, _ := gen.Kinds(target)
	if grown := GrowUsers(&e.Config.Gen, target); grown != "" {
		fmt.Fprintln(e.Stderr, grown)
	}
	sim, seed, err := gen.NewSimOf(e.Config.Gen, e.now(), kinds)
	if err != nil {
		return Invalid(err)
	}
	timing := gen.FollowClock(sim, e.Config.Gen, e.now)
	topics := kafka.TopicNames(e.Config.Topics.Prefix)
	g := e.Config.Gen
	opts := gen.Options{
		Shape: g.Pace(), Count: g.Count, Duration: g.Duration, RunID: gen.NewRunID(),
		Report: e.Stderr, Terminal: e.Terminal && !g.DryRun, ReportInterval: g.ReportEvery(config.GenReportEvery),
		Now: e.Now, Inject: injection(g, seed),
	}
	enc, err := e.genFormat(ctx, kinds)
	if err != nil {
		return err
	}
	if g.DryRun {
		opts.DryRun = e.Stdout
		_, err := gen.Run(ctx, opts, gen.NewMarketSource(sim, kinds, topics))
		return err
	}
	reg := metrics.NewRegistry()
	if err := e.connectGen(ctx, reg, kinds, &opts); err != nil {
		return err
	}
	cl := opts.Client
	defer cl.Close()
	fmt.Fprintf(e.Stderr, "gen %s: seed %d, run %s, %d users, to %s at %s, event time from %s (speed %s)%s%s\n", target, seed, opts.RunID,
		g.Users, strings.Join(e.Config.Kafka.Brokers, ","), RateText(g.Pace()), timing, g.Speed, scenarioText(g), formatText(enc))
	return e.runStandalone(ctx, standalone{
		main: generatorService(opts, gen.NewMarketSource(sim, kinds, topics).Encode(enc)), reg: reg,
		checks: map[string]func(context.Context) error{"kafka": cl.Ping},
	})
}

// generatorService runs the generator, failing when events were not
// delivered.
func generatorService(opts gen.Options, src gen.Source) Service {
	run := func(ctx context.Context) error {
		sum, err := gen.Run(ctx, opts, src)
		if err == nil && sum.Failed > 0 {
			err = fmt.Errorf("%d events were not delivered", sum.Failed)
		}
		return err
	}
	return Service{Name: "gen", Run: run}
}

// genService is the generator of `up`: all kinds, at the configured rate,
// reporting to Stderr; cleanup closes its producer once it has stopped.
func (e *Env) genService(ctx context.Context, reg prometheus.Registerer, extra func() string) (Service, func(), error) {
	if err := Invalid(e.Config.Gen.Validate()); err != nil {
		return Service{}, nil, err
	}
	if e.Config.Gen.DryRun {
		return Service{}, nil, Invalid(fmt.Errorf("--dry-run is for `tradestream gen`, not `up`"))
	}
	sim, seed, err := gen.NewSim(e.Config.Gen, e.now())
	if err != nil {
		return Service{}, nil, Invalid(err)
	}
	gen.FollowClock(sim, e.Config.Gen, e.now)
	g := e.Config.Gen
	opts := gen.Options{
		Shape: g.Pace(), Count: g.Count, Duration: g.Duration, RunID: gen.NewRunID(),
		Report: e.Stderr, ReportInterval: g.ReportEvery(config.UpReportEvery), Extra: extra, Now: e.Now, Inject: injection(g, seed),
	}
	enc, err := e.genFormat(ctx, market.KindAll)
	if err != nil {
		return Service{}, nil, err
	}
	if err := e.connectGen(ctx, reg, market.KindAll, &opts); err != nil {
		return Service{}, nil, err
	}
	src := gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames(e.Config.Topics.Prefix)).Encode(enc)
	return generatorService(opts, src), opts.Client.Close, nil
}

// connectGen connects the generator's producer for kinds and sets it in
// opts with the generator's metrics in reg, the Watch that finds stalled
// partitions and the log. The caller closes opts.Client.
func (e *Env) connectGen(ctx context.Context, reg prometheus.Registerer, kinds market.Kind, opts *gen.Options) error {
	watch := gen.NewWatch(e.Now)
	cl, err := e.producer(ctx, reg, kinds, watch)
	if err != nil {
		return err
	}
	opts.Client, opts.Metrics, opts.Watch, opts.Log = cl, gen.NewMetrics(reg), watch, e.Log
	return nil
}

// producer connects the generator's producer, with its client metrics in
// reg and watch as its hook for stalled partitions, and checks that the
// topics for kinds exist.
func (e *Env) producer(ctx context.Context, reg prometheus.Registerer, kinds market.Kind, watch *gen.Watch) (*kgo.Client, error) {
	cl, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log, append(kafka.ProducerOptions(e.Config.Kafka), metrics.KafkaHooks(reg, "gen"), kgo.WithHooks(watch))...)
	if err != nil {
		return nil, err
	}
	if err := requireTopics(ctx, kadm.NewClient(cl), topicsFor(kinds, kafka.TopicNames(e.Config.Topics.Prefix))); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// formatText names a registry format and its schema ids for the start-up
// line; nothing for JSON.
func formatText(enc *format.Encoder) string {
	if enc == nil {
		return ""
	}
	return fmt.Sprintf(", format %s (schema ids %s)", enc.Format(), enc.IDs())
}

// scenarioText names the scenario for the start-up line, if any.
func scenarioText(g config.Gen) string {
	if g.ScenarioOff() {
		return ""
	}
	return ", scenario " + g.Scenario
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
