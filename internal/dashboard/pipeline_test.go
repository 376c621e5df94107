package dashboard

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	simmarket "github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/status"
)

// pipeline is a small real pipeline for one test: its own topics and
// schema, the generator producing at a modest rate, the sink loading
// PostgreSQL, and the dashboard served on a loopback port.
type pipeline struct {
	brokers []string
	topics  kafka.Topics
	group   string
	pool    *pgxpool.Pool
	server  *Server
	url     string
}

type pipelineOptions struct {
	rate  float64 // generator events per second
	users int
	token config.Secret
	rules RuleStore
	hub   HubOptions
}

func startPipeline(t testing.TB, o pipelineOptions) *pipeline {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	pool, _ := pgtest.Migrated(t)
	p := &pipeline{brokers: brokers, topics: kafka.TopicNames(tc.Prefix), group: tc.Prefix + "sink", pool: pool}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Generator.
	gcfg := config.Default().Gen
	gcfg.Users = o.users
	gcfg.TickInterval = 200 * time.Millisecond
	// Start at New York's open, whatever the time of day: outside regular
	// hours users trade at a twentieth of their rate, and a symbol's tape
	// could stay empty for the whole test.
	gcfg.Start = gen.SeededStart.Format(time.RFC3339)
	sim, _, err := gen.NewSim(gcfg, time.Now())
	if err != nil {
		t.Fatalf("simulated market: %v", err)
	}
	kcfg := kafkatest.Config(brokers)
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := gen.Run(ctx, gen.Options{Client: producer, Rate: o.rate, RunID: "dashtest"},
			gen.NewMarketSource(sim, simmarket.KindAll, p.topics))
		if err != nil && ctx.Err() == nil {
			t.Errorf("generator: %v", err)
		}
	}()

	// The real sink, in its own group.
	snk, err := sink.New(kcfg, pool, slog.New(slog.DiscardHandler), nil, sink.Options{Group: p.group, Topics: p.topics})
	if err != nil {
		t.Fatalf("sink: %v", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := snk.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("sink: %v", err)
		}
	}()

	// The status sampler the health panel reads, run as its owner would.
	health := status.NewSampler(kafkatest.Client(t, brokers), pool, status.Options{
		Prefix: tc.Prefix, Groups: []string{p.group}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer health.Close()
		_ = health.Run(ctx, time.Second, nil)
	}()

	// Dashboard.
	live := kafkatest.Client(t, brokers, LiveOptions(p.topics)...)
	p.server = New(live, pool, Options{
		Topics: p.topics, SinkGroup: p.group, Token: o.token, Rules: o.rules, Hub: o.hub, Health: health,
		Log: slog.New(slog.DiscardHandler),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p.url = "http://" + ln.Addr().String()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.server.Run(ctx, ln); err != nil {
			t.Errorf("dashboard: %v", err)
		}
	}()
	// Registered last, so run first: the services stop before their
	// clients are closed (a generator producing into a closed client
	// would report it).
	t.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
}

// storedSymbols returns symbols with at least min stored ticks.
func (p *pipeline) storedSymbols(ctx context.Context, min int) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT symbol FROM price_ticks GROUP BY symbol HAVING count(*) >= $1 ORDER BY symbol`, min)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
