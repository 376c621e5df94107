package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/pgtest"
)

// TestAnalyticsBenchKeepsAndReusesItsSchema runs `bench analytics` tiny
// with --keep, then again with --reuse-schema on what it left: the second
// run loads nothing, reads the kept history and times every query.
func TestAnalyticsBenchKeepsAndReusesItsSchema(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	o := AnalyticsOptions{URL: url, Ticks: 3_000, Symbols: 5, Span: 2 * time.Hour, Accounts: 20, TradeEvery: 10, Runs: 1, Seed: 3, Keep: true}
	kept, err := Analytics(ctx, o)
	if kept != nil && kept.Schema != "" {
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), url)
			if err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{kept.Schema}.Sanitize()+" CASCADE")
				_ = c.Close(context.Background())
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if kept.Schema == "" || kept.Ticks != 3_000 || kept.LoadSeconds <= 0 {
		t.Fatalf("kept run: schema %q, %d ticks, load %.2f s; want a kept schema of 3,000 loaded ticks", kept.Schema, kept.Ticks, kept.LoadSeconds)
	}
	reused, err := Analytics(ctx, AnalyticsOptions{URL: url, Runs: 1, Seed: 4, ReuseSchema: kept.Schema})
	if err != nil {
		t.Fatal(err)
	}
	if reused.Schema != kept.Schema || reused.Ticks != kept.Ticks || reused.Trades != kept.Trades || reused.LoadSeconds != 0 ||
		len(reused.Queries) != len(kept.Queries) || reused.RollupMinutes != kept.RollupMinutes {
		t.Errorf("reused run: got schema %q, %d ticks, %d trades, %d minutes, load %.2f s, %d queries; want the kept history's, no load",
			reused.Schema, reused.Ticks, reused.Trades, reused.RollupMinutes, reused.LoadSeconds, len(reused.Queries))
	}
	if _, err := Analytics(ctx, AnalyticsOptions{URL: url, Runs: 1, ReuseSchema: "bench_analytics_no_such_schema"}); err == nil {
		t.Error("reusing a schema that does not exist: got no error")
	}
}
