package sink

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/verify"
)

// TestSinkReconcilesInjectedFaults runs the generator with every kind of
// fault injected, loads the run with the sink, and reconciles the
// manifest with what the sink stored: a row per valid event (late and
// reordered ones included), every duplicate absorbed (profiles by the
// upsert, ticks and trades as dead letters with reason duplicate instead
// of second rows), the dead letters by reason exactly as expected, and
// verify clean: no duplicate rows, every account's balance chain whole,
// the right balances despite the late and reordered trades.
func TestSinkReconcilesInjectedFaults(t *testing.T) {
	e := newTestEnv(t, 3)
	cfg := config.Default().Gen
	cfg.Seed, cfg.Users = 31, 300
	sim, seed, err := gen.NewSim(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "manifest.json")
	rates := config.Inject{Duplicates: 0.01, Late: 0.01, LateDelay: 2 * time.Second, Reorder: 0.01,
		Malformed: 0.004, Oversized: 0.001, UnknownSchema: 0.002}
	opts := gen.Options{
		Client: e.producer, Count: 20000, RunID: "inject",
		Inject: &gen.Injection{Rates: rates, Seed: seed, ManifestPath: path},
	}
	if _, err := gen.Run(context.Background(), opts, gen.NewMarketSource(sim, market.KindAll, e.names)); err != nil {
		t.Fatal(err)
	}
	m, err := gen.ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"duplicate", "late", "reorder", "malformed_json", "missing_field", "out_of_range", "invalid_field", "oversized", "unknown_schema"} {
		if m.Injected[k] == 0 {
			t.Fatalf("the run injected no %s fault: %+v", k, m.Injected)
		}
	}
	e.runSink(t, e.options(), prometheus.NewRegistry(), 2*time.Minute)

	dups := func(topic string) int64 { return m.ByTopic[topic][gen.FaultDuplicate] }
	checks := []struct {
		what      string
		got, want int64
	}{
		{"users rows (duplicates absorbed)", e.count(t, `SELECT count(*) FROM users`), m.EventsByTopic[e.names.Users]},
		{"distinct ticks", e.count(t, `SELECT count(DISTINCT (symbol, seq)) FROM price_ticks`), m.EventsByTopic[e.names.Prices]},
		{"distinct trades", e.count(t, `SELECT count(DISTINCT trade_id) FROM trades`), m.EventsByTopic[e.names.Trades]},
		{"tick rows (duplicates absorbed)", e.count(t, `SELECT count(*) FROM price_ticks`), m.EventsByTopic[e.names.Prices]},
		{"trade rows (duplicates absorbed)", e.count(t, `SELECT count(*) FROM trades`), m.EventsByTopic[e.names.Trades]},
		{"duplicate dead letters", e.count(t, `SELECT count(*) FROM dead_letters WHERE reason = 'duplicate'`), dups(e.names.Prices) + dups(e.names.Trades)},
	}
	var dead int64
	for reason, n := range m.DeadLetters {
		dead += n
		checks = append(checks, struct {
			what      string
			got, want int64
		}{"dead letters " + reason, e.count(t, `SELECT count(*) FROM dead_letters WHERE reason = $1`, reason), n})
	}
	checks = append(checks, struct {
		what      string
		got, want int64
	}{"dead letters", e.count(t, `SELECT count(*) FROM dead_letters`), dead})
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d (manifest %s)", c.what, c.got, c.want, m.Rates)
		}
	}

	// verify finds nothing wrong: one row or one dead letter per offset.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	expected := &verify.Expected{RunID: m.RunID, Events: m.EventsByTopic, DeadLetters: m.DeadLetters}
	rep, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{
		Group: e.group, Topics: e.names, RequireCaughtUp: true, Expected: expected,
	})
	if err != nil {
		t.Fatal(err)
	}
	if mc := rep.Manifest; mc == nil || mc.Ticks.Got != m.EventsByTopic[e.names.Prices] || mc.Trades.Got != m.EventsByTopic[e.names.Trades] ||
		mc.DeadLetters[gen.FaultDuplicate].Got != dups(e.names.Prices)+dups(e.names.Trades) {
		t.Errorf("verify --manifest: got %+v, want the manifest's events and dead letters", mc)
	}
	// A manifest that says otherwise is a mismatch, named.
	wrong := *expected
	wrong.DeadLetters = map[string]int64{gen.FaultUnknownSchema: m.DeadLetters[gen.FaultUnknownSchema] + 1}
	bad, err := verify.Run(ctx, e.kcfg, slog.New(slog.DiscardHandler), e.pool, verify.Options{
		Group: e.group, Topics: e.names, RequireCaughtUp: true, Expected: &wrong,
	})
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	for _, p := range bad.Problems {
		named = named || strings.Contains(p, "dead letters unknown_schema, its manifest lists")
	}
	if !named || bad.OK() {
		t.Errorf("verify with a manifest one unknown_schema over: got problems %q, want that mismatch named", bad.Problems)
	}
	if rep.DuplicateTicks != 0 || rep.DuplicateTrades != 0 {
		t.Errorf("verify: %d duplicate ticks and %d duplicate trades stored, want none", rep.DuplicateTicks, rep.DuplicateTrades)
	}
	if b := rep.Balances; b.ChainBreaks != 0 || b.Mismatched != 0 || b.MissingAccounts != 0 {
		t.Errorf("verify: %d chain breaks, %d mismatched and %d missing accounts, want none", b.ChainBreaks, b.Mismatched, b.MissingAccounts)
	}
	for _, p := range rep.Problems {
		t.Errorf("verify: %s", p)
	}
	t.Logf("manifest: %d events, %d records; injected %v; %d tick and %d trade copies absorbed as dead letters",
		m.Events, m.Records, m.Injected, dups(e.names.Prices), dups(e.names.Trades))
}
