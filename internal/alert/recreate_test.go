package alert

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestEngineFollowsARecreatedTopic deletes the prices and trades topics
// after the engine evaluated the scripted market, creates them again and
// plays the same script on them: the same records at the same offsets of
// new topics. Under the running engine, the brokers' refusal of the old
// topic ids tells; at a restart, the topics' ids recorded at the last
// assignment do, even with the new topics as long as the old. Either way the engine evaluates the new topics from
// their start and fires every alert of the second play, under ids of
// their own (the topics' new ids), beside the first play's, each once.
func TestEngineFollowsARecreatedTopic(t *testing.T) {
	for _, c := range []struct {
		name    string
		running bool
		played  bool // the second play produced before the engine restarts
		forget  bool // the topic ids recorded at assignment deleted (a database from before they were)
	}{
		{"under the running engine", true, false, false},
		{"at a restart", false, false, false},
		{"at a restart, no topic id recorded", false, false, true},
		{"at a restart, the new topics as long as the old", false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			group := w.prefix + "alerts-recreated"
			eng := w.engine(t, group, "one", 25)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			done := make(chan error, 1)
			runCtx, stop := context.WithCancel(ctx)
			go func() { done <- eng.Run(runCtx) }()
			first := slices.Clone(w.want)
			w.waitAlerts(t, ctx, done, first)
			if !c.running {
				stop()
				if err := <-done; err != nil {
					t.Fatalf("engine: %v", err)
				}
			}

			w.recreate(t, ctx)
			if c.forget {
				// Only the stored offsets past the new topics' (empty)
				// ends tell.
				if _, err := w.pool.Exec(ctx, `DELETE FROM consumed_partitions`); err != nil {
					t.Fatal(err)
				}
			}
			recreated := time.Now()
			if c.played {
				// The stored offsets are the new topics' ends: only the
				// topics' ids tell them apart.
				w.play(t, nil)
			}
			if !c.running {
				eng = w.engine(t, group, "one", 25)
				runCtx, stop = context.WithCancel(ctx)
				go func() { done <- eng.Run(runCtx) }()
			}
			if !c.running && !c.played {
				w.waitRewound(t, ctx, group)
				recreated = time.Now()
			}
			if !c.played {
				w.play(t, nil)
			}
			second := slices.Clone(w.want)
			if slices.Equal(first, second) {
				t.Fatal("the second play's alert ids are the first's")
			}
			all := slices.Sorted(slices.Values(append(slices.Clone(first), second...)))
			w.waitAlerts(t, ctx, done, all)
			took := time.Since(recreated)
			for !w.caughtUp(t, group) {
				if ctx.Err() != nil {
					t.Fatal("the stored offsets did not reach the new topics' ends")
				}
				time.Sleep(100 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("engine: %v", err)
			}
			if got := w.alertIDs(t, true); !slices.Equal(got, all) {
				t.Fatalf("after stopping: %d alerts in the topic, want %d (%d + %d), each once", len(got), len(all), len(first), len(second))
			}
			renewed, atAssign := testutil.ToFloat64(eng.metrics.recreated), testutil.ToFloat64(eng.metrics.recreatedAtAssign)
			pastEnd := testutil.ToFloat64(eng.metrics.pastEnd)
			switch {
			case c.running && renewed < 1:
				t.Errorf("topics_recreated_total: got %v, want at least 1", renewed)
			case c.forget && (pastEnd < 1 || atAssign != 0):
				t.Errorf("offsets_past_end_total %v, partitions_of_recreated_topics_total %v: want at least 1 and 0", pastEnd, atAssign)
			case !c.running && !c.forget && (atAssign < 1 || renewed != 0):
				t.Errorf("partitions_of_recreated_topics_total %v, topics_recreated_total %v: want at least 1 and 0", atAssign, renewed)
			}
			t.Logf("topics recreated %s: the %d alerts of the second play fired %v after it started, beside the first play's %d (partitions of recreated topics at assignment %v, topics renewed %v)",
				c.name, len(second), took.Round(10*time.Millisecond), len(first), atAssign, renewed)
		})
	}
}

// recreate deletes the world's prices and trades topics and creates them
// again, empty, and notes their new ids.
func (w *world) recreate(t *testing.T, ctx context.Context) {
	t.Helper()
	old := w.ids
	kafkatest.Recreate(ctx, t, w.brokers, w.tc, w.topics.Prices, w.topics.Trades)
	w.ids = topicIDs(t, w.brokers, w.topics)
	if w.ids["prices"] == old["prices"] || w.ids["trades"] == old["trades"] {
		t.Fatal("the recreated topics have their old ids")
	}
}

// waitAlerts waits until the committed alerts topic holds want.
func (w *world) waitAlerts(t *testing.T, ctx context.Context, done chan error, want []string) {
	t.Helper()
	for {
		got := w.alertIDs(t, true)
		if slices.Equal(got, want) {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the engine stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("the alerts topic holds %d alerts, want %d:\n got  %v\n want %v", len(got), len(want), got, want)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitRewound waits until every stored offset of group is 0.
func (w *world) waitRewound(t *testing.T, ctx context.Context, group string) {
	t.Helper()
	for {
		var n int
		if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM alert_offsets WHERE group_id = $1 AND next_offset > 0`, group).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%d stored offsets of the group are not rewound to 0", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
