package sink

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
)

func mustCompile(t *testing.T, specs ...config.Transform) []Transform {
	t.Helper()
	ts, err := CompileTransforms(specs)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestReplayAfterAFix dead-letters trades above a notional, then replays
// them with the limit raised: those under the new limit load, the others
// are dead again with the new reason, and a second replay finds nothing.
func TestReplayAfterAFix(t *testing.T) {
	e := newTestEnv(t, 1)
	now := time.Now().UTC().Truncate(time.Second)
	var recs []*kgo.Record
	for i, qty := range []int64{5, 50, 500, 5000, 7} { // notional 100 × qty
		tr := testTrade(int64(i+1), 1, qty, "100.0000")
		tr.Time = now.Add(time.Duration(i) * time.Second)
		recs = append(recs, record(e.names.Trades, event.SchemaTradeV2, tr.Key(), tr.AppendJSON(nil)))
	}
	recs = append(recs, record(e.names.Trades, "trade/9", []byte("1"), []byte(`{"trade_id":99}`)))
	e.produce(t, recs...)
	opts := e.options()
	opts.Declared = mustCompile(t, config.Transform{Name: "limit", Topics: []string{"trades"}, Reject: "record.notional > 1000.0", Reason: "above_notional"})
	e.runSink(t, opts, nil, time.Minute)
	if got := e.count(t, "SELECT count(*) FROM dead_letters WHERE reason = 'above_notional'"); got != 3 {
		t.Fatalf("got %d dead letters above the notional, want 3", got)
	}
	ctx := context.Background()
	dls, total, err := ListDeadLetters(ctx, e.pool, DeadLetterFilter{Reasons: []string{"above_notional"}, Topics: []string{e.names.Trades}})
	if err != nil || total != 3 || len(dls) != 3 || dls[0].Offset != 3 {
		t.Fatalf("list: got %d of %d (%v), newest first %+v; want 3, the newest at offset 3", len(dls), total, err, dls)
	}

	// The fix: the limit goes up to 100,000.
	fixed := opts
	fixed.Declared = mustCompile(t, config.Transform{Name: "limit", Topics: []string{"trades"}, Reject: "record.notional > 100000.0", Reason: "above_new_limit"})
	fixed.Transforms = nil
	rp := NewReplayer(e.pool, testLogger(t), ReplayOptions{Sink: fixed, ChunkSize: 2})
	preview := rp.Preview(mustGet(t, e, dls[0].ID))
	if preview.Outcome != OutcomeDead || preview.Reason != "above_new_limit" {
		t.Errorf("preview of the 5000-share trade: got %+v, want dead again, above_new_limit", preview)
	}
	rep, err := rp.Replay(ctx, DeadLetterFilter{Reasons: []string{"above_notional"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Replayed != 3 || rep.Loaded != 2 || rep.Dead != 1 || rep.Reasons["above_new_limit"] != 1 || rep.Chunks != 2 {
		t.Errorf("replay: got %+v, want 3 replayed in 2 chunks: 2 loaded, 1 dead again (above_new_limit)", rep)
	}
	e.expectCounts(t, []countCheck{
		{"trades", "SELECT count(*) FROM trades", 4},
		{"loaded dead letters", "SELECT count(*) FROM dead_letters WHERE replay_outcome = 'loaded' AND kafka_offset IN (1, 2)", 2},
		{"dead again", "SELECT count(*) FROM dead_letters WHERE replay_outcome = 'dead' AND replay_reason = 'above_new_limit' AND kafka_offset = 3 AND replay_error <> ''", 1},
		{"unknown schema untouched", "SELECT count(*) FROM dead_letters WHERE reason = 'unknown_schema' AND replayed_at IS NULL", 1},
		{"loaded rows keep their offsets", "SELECT count(*) FROM trades WHERE kafka_offset IN (1, 2) AND kafka_partition = 0", 2},
		{"loaded rows keep their run", "SELECT count(*) FROM trades WHERE kafka_offset IN (1, 2) AND run_id = 'test'", 2},
	}...)
	again, err := rp.Replay(ctx, DeadLetterFilter{Reasons: []string{"above_notional"}})
	if err != nil || again.Replayed != 0 {
		t.Errorf("second replay: got %+v, %v; want nothing replayed", again, err)
	}
	for state, want := range map[string]int64{"pending": 1, "replayed": 3, OutcomeLoaded: 2, OutcomeDead: 1} {
		if _, n, err := ListDeadLetters(ctx, e.pool, DeadLetterFilter{State: state}); err != nil || n != want {
			t.Errorf("list --state %s: got %d (%v), want %d", state, n, err, want)
		}
	}
	d := mustGet(t, e, dls[0].ID)
	if d.ReplayOutcome != OutcomeDead || d.ReplayedAt == nil || string(d.Key) != "1" || len(d.Value) == 0 || d.RunID != "test" {
		t.Errorf("show: got %+v, want the dead-again mark with the raw key and value", d)
	}
}

// countCheck is one count(*) query and the count it must give.
type countCheck struct {
	name string
	sql  string
	want int64
}

// expectCounts runs each check's query and reports those that differ.
func (e *testEnv) expectCounts(t *testing.T, checks ...countCheck) {
	t.Helper()
	for _, c := range checks {
		if got := e.count(t, c.sql); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

func mustGet(t *testing.T, e *testEnv, id int64) StoredDeadLetter {
	t.Helper()
	d, err := GetDeadLetter(context.Background(), e.pool, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestKilledReplayReplaysEachOnce quarantines every trade of a feed as a
// dead letter, then replays them all with `tradestream deadletters
// replay` in small chunks, SIGKILLs it once part is done and runs it
// again: every dead letter is then replayed exactly once, the trades
// table holds each trade once, and verify passes.
func TestKilledReplayReplaysEachOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a subprocess")
	}
	e := newTestEnv(t, 3)
	recs, exp := feedRecords(t, feed.Config{Seed: 5, Users: 100, Events: 8_000})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := e.produceFeed(ctx, recs, 0); err != nil {
		t.Fatal(err)
	}
	opts := e.options()
	opts.Declared = mustCompile(t, config.Transform{Name: "quarantine", Topics: []string{"trades"}, Reject: "true", Reason: "quarantined"})
	e.runSink(t, opts, nil, 2*time.Minute)
	total := e.count(t, "SELECT count(*) FROM dead_letters WHERE reason = 'quarantined'")
	if total != int64(exp.Trades) || e.count(t, "SELECT count(*) FROM trades") != 0 {
		t.Fatalf("got %d quarantined dead letters, want every trade (%d) and no trade row", total, exp.Trades)
	}

	conf := filepath.Join(t.TempDir(), "fixed.yaml")
	if err := os.WriteFile(conf, []byte("sink:\n  transforms: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", conf, "deadletters", "replay", "--reason", "quarantined", "--chunk", "10"}
	first := e.start(t, "replay-1", args...)
	for e.count(t, "SELECT count(*) FROM dead_letters WHERE replayed_at IS NOT NULL") == 0 {
		select {
		case <-first.done:
			t.Fatalf("the replay ended before the kill: %v", first.err)
		case <-ctx.Done():
			t.Fatal("the replay never committed a chunk")
		case <-time.After(5 * time.Millisecond):
		}
	}
	first.kill()
	atKill := e.count(t, "SELECT count(*) FROM dead_letters WHERE replayed_at IS NOT NULL")
	if atKill >= total {
		t.Fatalf("the replay had replayed all %d dead letters when killed: nothing was left to resume", total)
	}
	rowsAtKill := e.count(t, "SELECT count(*) FROM trades")
	t.Logf("SIGKILL after %d of %d dead letters replayed (%d trade rows)", atKill, total, rowsAtKill)
	if rowsAtKill != atKill {
		t.Errorf("at the kill: got %d trade rows for %d replayed dead letters, want one each", rowsAtKill, atKill)
	}

	second := e.start(t, "replay-2", args...)
	if err := second.wait(2 * time.Minute); err != nil {
		t.Fatalf("second replay: %v", err)
	}
	if n := second.logContains("replayed dead letters"); n == 0 {
		t.Errorf("the second replay replayed nothing")
	}
	e.expectCounts(t, []countCheck{
		{"dead letters loaded", "SELECT count(*) FROM dead_letters WHERE replay_outcome = 'loaded'", total},
		{"dead letters not replayed", "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL", 0},
		{"trade rows", "SELECT count(*) FROM trades", int64(exp.Trades)},
		{"distinct trade offsets", "SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM trades", int64(exp.Trades)},
	}...)
	e.verify(t, 0)
}
