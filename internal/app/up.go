package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/status"
)

// Up runs `tradestream up`: it creates the topics that are missing,
// migrates the database as the owner, then runs the metrics listener, the
// sink and the alerts engine (as the loader role), the status sampler
// (once a second, for the dashboard's health panel and /metrics) and the
// dashboard (as the reader; rules edited as the owner), and the generator
// until ctx ends, printing what it started and where, then the generator's
// rate line with the pipeline's lag and dead letters every report interval. Every section is
// validated before anything connects.
func (e *Env) Up(ctx context.Context) error {
	c := &e.Config
	if err := e.Validate(&c.Gen, e.SinkSection(), &c.Alerts, &c.Dashboard); err != nil {
		return err
	}
	if c.Gen.DryRun {
		return Invalid(fmt.Errorf("--dry-run is for `tradestream gen`, not `up`"))
	}
	cl, err := kafka.NewClient(ctx, c.Kafka, e.Log)
	if err != nil {
		return err
	}
	defer cl.Close()
	created, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(c.Topics))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "kafka      %s  (topics created: %d)\n", strings.Join(c.Kafka.Brokers, ","), len(created))
	ps := e.pools()
	defer ps.close()
	owner, err := ps.get(ctx, config.RoleOwner)
	if err != nil {
		return err
	}
	if err := e.Migrate(ctx, owner); err != nil {
		return err
	}
	loader, err := ps.get(ctx, config.RoleLoader)
	if err != nil {
		return err
	}
	reader, err := ps.get(ctx, config.RoleReader)
	if err != nil {
		return err
	}
	read, history, err := ps.reads(ctx, reader)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "postgres   %s\n", c.Database.URL)
	if c.Database.ReadURL != "" {
		fmt.Fprintf(e.Stdout, "           reads (history, row counts) from %s\n", c.Database.ReadURL)
	}
	if d := c.Database; d.LoaderURL != "" || d.ReaderURL != "" {
		fmt.Fprintf(e.Stdout, "           loader %s, reader %s\n", d.As(config.RoleLoader).URL, d.As(config.RoleReader).URL)
	}

	var services []Service
	reg := metrics.NewRegistry()
	msvc, maddr, err := e.metricsService(reg, map[string]func(context.Context) error{"kafka": cl.Ping, "postgres": loader.Ping})
	if err != nil {
		return err
	}
	if msvc != nil {
		services = append(services, *msvc)
		fmt.Fprintf(e.Stdout, "metrics    http://%s/metrics  (health: /healthz, /readyz)\n", maddr)
	}
	ssvc, _, err := e.sinkService(loader, reg)
	if err != nil {
		return err
	}
	services = append(services, ssvc)
	fmt.Fprintf(e.Stdout, "sink       group %s -> PostgreSQL\n", c.Sink.Group)
	asvc, err := e.alertsService(ctx, loader, reg)
	if err != nil {
		return err
	}
	obs, err := e.observe(ctx, reader, read, reg, dashboardInterval, dashboardWindow)
	if err != nil {
		return err
	}
	defer obs.close()
	// Stopping, the generator goes first and the sink last: in between,
	// the consumers take in what the generator (then the engine) sent
	// last, so that a clean stop leaves no lag behind.
	sinkGroup, alertsGroup := status.BriefGroup{Label: "sink", Name: c.Sink.Group}, status.BriefGroup{Label: "alerts", Name: c.Alerts.Group}
	asvc.Stopped = func() { e.drain(obs.sampler, drainWait, sinkGroup) }
	// The sampler stops after the engine, for the engine's drain.
	services = append(services, obs.service, asvc)
	fmt.Fprintf(e.Stdout, "alerts     group %s -> %s%s  (rules: tradestream alerts add|list|rm)\n", c.Alerts.Group, kafka.TopicNames(c.Topics.Prefix).Alerts, e.alertsFormatNote())
	dsvc, daddr, closeDash, err := e.dashboardService(ctx, history, owner, reg, obs.sampler)
	if err != nil {
		return err
	}
	defer closeDash()
	services = append(services, dsvc)
	fmt.Fprintf(e.Stdout, "dashboard  %s://%s/\n", e.Config.Dashboard.Scheme(), daddr)
	gsvc, closeGen, err := e.genService(ctx, reg, func() string {
		snap, ok := obs.sampler.Latest()
		if !ok {
			return ""
		}
		return status.Brief(snap, sinkGroup, alertsGroup)
	})
	if err != nil {
		return err
	}
	defer closeGen()
	gsvc.Stopped = func() { e.drain(obs.sampler, drainWait, sinkGroup, alertsGroup) }
	services = append(services, gsvc)
	fmt.Fprintf(e.Stdout, "gen        %s, %d users%s -> %s{users,prices,trades}\n", RateText(c.Gen.Pace()), c.Gen.Users, scenarioText(c.Gen), c.Topics.Prefix)
	fmt.Fprintln(e.Stdout, "running; press Ctrl-C to stop")
	return Run(ctx, e.Log, services)
}

// drainWait bounds how long a stopping `up` waits for its consumers.
const drainWait = 10 * time.Second

// drain waits until the groups have no lag in a sample taken after it was
// called (the sampler samples every second), for at most wait, and logs
// what it left when they did not get there. A group the sampler does not
// know (no commit yet) is not waited for.
func (e *Env) drain(s *status.Sampler, wait time.Duration, groups ...status.BriefGroup) {
	from := time.Now()
	for {
		snap, ok := s.Latest()
		fresh := ok && snap.At.After(from) && snap.KafkaError == ""
		var lagging []any
		if fresh {
			for _, bg := range groups {
				if g, ok := snap.Group(bg.Name); ok && g.Lag > 0 {
					lagging = append(lagging, bg.Label+"_lag", g.Lag)
				}
			}
			if len(lagging) == 0 {
				return
			}
		}
		if time.Since(from) >= wait {
			if !fresh {
				e.Log.Warn("stopping without knowing the consumers' lag: no status sample since the stop began", "waited", wait)
			} else {
				e.Log.Warn("stopping with records not consumed yet (they are consumed at the next start)", append([]any{"waited", wait}, lagging...)...)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
