//go:build faults

package alert

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestFaultAlertsFollowFailover runs the engine on a database URL naming
// the primary and the stack's asynchronous replica (the writable one
// wanted), stalls the primary's WAL sender after the engine's third
// checkpoint with alerts, lets it commit three more on the primary only,
// crashes the primary (immediate stop) and promotes the replica. The same
// engine, the same Run, must follow: its next checkpoint is fenced off by
// the promoted server's older offsets, it resumes from them, evaluates
// those records again and finds their alerts already in the topic. The
// committed alerts topic must hold each scripted alert exactly once, the
// outbox must be empty and the rule states on the promoted server must be
// those of a group that lost nothing. The stack is put back afterwards
// (the old primary on 5432, a new replica).
func TestFaultAlertsFollowFailover(t *testing.T) {
	if os.Getenv(pgtest.EnvReplica) == "" {
		kafkatest.Missing(t, pgtest.EnvReplica, "a PostgreSQL streaming replica (scripts/stack up --pg-replica)")
	}
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	promotedDB := pgtest.Replica(t, w.db) // the rules are on the replica too
	both, err := store.Open(ctx, pgtest.FailoverURL(t, w.db, promotedDB))
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	const group, reference = "alerts-failover", "alerts-failover-ref"
	eng := w.engineOn(t, both, group, "fo", 7)
	at, resume := make(chan int), make(chan struct{})
	batches, fenced := 0, 0 // the engine's goroutine's until Run returns
	eng.hook = func(stage string, alerts int) error {
		switch {
		case stage == "fenced":
			fenced++
		case stage == "checkpointed" && alerts > 0:
			if batches++; batches == 3 || batches == 6 {
				at <- batches
				<-resume
			}
		}
		return nil
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	wait := func() {
		t.Helper()
		select {
		case <-at:
		case err := <-done:
			t.Fatalf("the engine stopped early: %v", err)
		case <-ctx.Done():
			t.Fatal("the engine did not reach its checkpoint")
		}
	}

	wait() // third checkpoint with alerts, on both servers
	restore := pgtest.RestoreStack(t)
	t.Cleanup(restore) // whatever happens next
	stalled, crash := pgtest.StallWALSender(ctx, t, w.pool, nil, 0)
	resume <- struct{}{}
	wait() // sixth: checkpoints 4 to 6 are on the primary only
	ahead := w.progress(t, group)
	crash()
	crashed := time.Now()
	pgtest.Stack(t, "pg-promote")
	promoted, err := store.Open(ctx, promotedDB)
	if err != nil {
		t.Fatalf("open the promoted server: %v", err)
	}
	defer promoted.Close()
	w.pool = promoted
	shipped := w.progress(t, group)
	t.Logf("primary stopped (immediate) with checkpoints of %d source records, the promoted server holding %d; writable after %v",
		ahead, shipped, time.Since(crashed).Round(time.Millisecond))
	resume <- struct{}{}

	deadline := time.Now().Add(2 * time.Minute)
	for !w.caughtUp(t, group) {
		select {
		case err := <-done:
			t.Fatalf("the engine stopped after the failover instead of following it: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine did not catch up on the promoted server within 2m of the failover")
		}
	}
	caughtUp := time.Since(crashed)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("engine: %v", err)
	}
	if stalled && ahead <= shipped {
		t.Errorf("the stalled replica got every checkpoint (%d source records of %d): nothing was lost, the test proves nothing", shipped, ahead)
	}
	if ahead > shipped && fenced == 0 {
		t.Errorf("the promoted server lost checkpoints (%d source records behind), yet the engine was never fenced off", ahead-shipped)
	}
	w.matchesReference(t, group, reference) // on the promoted server
	t.Logf("failover: %d source records evaluated again, fenced off %d time(s), caught up %v after the crash in the same run; %d alerts, each once",
		ahead-shipped, fenced, caughtUp.Round(time.Millisecond), len(w.want))
}
