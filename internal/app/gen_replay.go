package app

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/metrics"
)

// RunReplay runs `tradestream gen replay FILE`: the recorded ticks of
// file, re-timestamped to start now unless keepTime, paced by their event
// time at --speed (max: no waiting), with the generator's users trading on
// top of them; or with --dry-run the records on Stdout.
func (e *Env) RunReplay(ctx context.Context, file string, keepTime bool) error {
	if err := e.Validate(&e.Config.Gen); err != nil {
		return err
	}
	g := e.Config.Gen
	speed, _ := g.SpeedFactor()
	f, err := os.Open(file)
	if err != nil {
		return Invalid(fmt.Errorf("replay: %w", err))
	}
	ticks, sectors, err := gen.ParseTicks(f)
	f.Close()
	if err != nil {
		return Invalid(fmt.Errorf("replay %s: %w", file, err))
	}
	if !keepTime {
		gen.ShiftTicks(ticks, e.now().Sub(ticks[0].Time))
	}
	sim, seed, err := gen.NewReplaySim(g, ticks, sectors)
	if err != nil {
		return Invalid(err)
	}
	topics := kafka.TopicNames(e.Config.Topics.Prefix)
	src := gen.NewPacedSource(ctx, sim, gen.NewMarketSource(sim, market.KindAll, topics), speed, e.now)
	opts := gen.Options{
		Count: g.Count, Duration: g.Duration, RunID: gen.NewRunID(),
		Report: e.Stderr, Terminal: e.Terminal && !g.DryRun, ReportInterval: g.ReportEvery(config.GenReportEvery), Now: e.Now,
	}
	if g.DryRun {
		opts.DryRun = e.Stdout
		if _, err := gen.Run(ctx, opts, src); err != nil {
			return err
		}
		return sim.Err()
	}
	reg := metrics.NewRegistry()
	if err := e.connectGen(ctx, reg, market.KindAll, &opts); err != nil {
		return err
	}
	cl := opts.Client
	defer cl.Close()
	fmt.Fprintf(e.Stderr, "gen replay %s: %d ticks of %d symbols from %s, seed %d, %d users, to %s at speed %s\n", file, len(ticks),
		len(gen.ReplayUniverse(ticks, sectors)), ticks[0].Time.Format("2006-01-02T15:04:05Z07:00"), seed, g.Users, strings.Join(e.Config.Kafka.Brokers, ","), g.Speed)
	err = e.runStandalone(ctx, standalone{
		main: generatorService(opts, src), reg: reg,
		checks: map[string]func(context.Context) error{"kafka": cl.Ping},
	})
	if err == nil {
		err = sim.Err()
	}
	return err
}
