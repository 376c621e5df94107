package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/dashboard"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
)

func TestRuleStore(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	d := NewRuleStore(alert.NewStore(pool))
	added, err := d.AddRule(ctx, dashboard.RuleSpec{Kind: "pct_move", Symbol: "NVDA", Threshold: event.MustParseDecimal("2.5"),
		Window: "5m", Cooldown: "1h", Note: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID <= 0 || added.Window != "5m" || added.Cooldown != "1h" || !added.Enabled {
		t.Errorf("got %+v, want the rule with window 5m and cooldown 1h", added)
	}
	for _, bad := range []dashboard.RuleSpec{
		{Kind: "price_above", Threshold: event.Unit},                     // no symbol
		{Kind: "pct_move", Symbol: "NVDA", Threshold: event.Unit},        // no window
		{Kind: "pct_move", Symbol: "NVDA", Threshold: 1, Window: "soon"}, // bad window
		{Kind: "moon", Symbol: "NVDA", Threshold: 1},
	} {
		if _, err := d.AddRule(ctx, bad); !errors.Is(err, dashboard.ErrInvalidRule) {
			t.Errorf("AddRule(%+v): got %v, want dashboard.ErrInvalidRule", bad, err)
		}
	}
	rules, err := d.Rules(ctx)
	if err != nil || len(rules) != 1 || rules[0].ID != added.ID {
		t.Errorf("got %+v (%v), want the one rule", rules, err)
	}
	if err := d.RemoveRule(ctx, added.ID+100); !errors.Is(err, dashboard.ErrRuleNotFound) {
		t.Errorf("got %v, want dashboard.ErrRuleNotFound", err)
	}
	if err := d.RemoveRule(ctx, added.ID); err != nil {
		t.Error(err)
	}
	ts := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO alerts (alert_id, rule_id, kind, symbol, message, value, ts, kafka_partition, kafka_offset)
		VALUES ('r1-prices-0-7', 1, 'price_above', 'AAPL', 'AAPL crossed above 200.0000', 200.5, $1, 0, 7)`, ts); err != nil {
		t.Fatal(err)
	}
	views, err := d.RecentAlerts(ctx, 5)
	if err != nil || len(views) != 1 || views[0].Value != 2005000 || views[0].Time != ts.UnixMilli() {
		t.Errorf("got %+v (%v), want the stored alert", views, err)
	}
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "", 30 * time.Second: "30s", 5 * time.Minute: "5m", 10 * time.Minute: "10m", time.Hour: "1h",
		90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 20 * time.Hour: "20h",
	} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v): got %q, want %q", d, got, want)
		}
	}
}
