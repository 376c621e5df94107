//go:build faults

package alert

import (
	"context"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/config"
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
	r := newFailoverRig(t)
	const group, reference = "alerts-failover", "alerts-failover-ref"
	eng := r.w.engineOn(t, r.both, group, "fo", 7)
	// The fenced checkpoint is what finds the failover here.
	eng.opts.StoredCheck = time.Hour
	r.run(eng, 3, 6)

	r.wait() // third checkpoint with alerts, on both servers
	stalled, crash := r.stall()
	r.resume <- struct{}{}
	r.wait() // sixth: checkpoints 4 to 6 are on the primary only
	ahead, shipped := r.failover(crash, group)
	r.resume <- struct{}{}

	caughtUp := r.caughtUp(group)
	r.finish()
	if stalled && ahead <= shipped {
		t.Errorf("the stalled replica got every checkpoint (%d source records of %d): nothing was lost, the test proves nothing", shipped, ahead)
	}
	if fenced := r.fenced.Load(); ahead > shipped && fenced == 0 {
		t.Errorf("the promoted server lost checkpoints (%d source records behind), yet the engine was never fenced off", ahead-shipped)
	}
	r.w.matchesReference(t, group, reference) // on the promoted server
	t.Logf("failover: %d source records evaluated again, fenced off %d time(s), caught up %v after the crash in the same run; %d alerts, each once",
		ahead-shipped, r.fenced.Load(), caughtUp.Round(time.Millisecond), len(r.w.want))
}

// TestFaultAlertsFollowFailoverIdle is TestFaultAlertsFollowFailover with
// no record after the failover: the engine evaluates the whole script on
// the primary alone (its WAL sender stalled after the third checkpoint
// with alerts), sits idle, and the primary crashes. No checkpoint can be
// fenced off, so only the engine's periodic comparison of the stored
// offsets can notice that the promoted server holds older ones: it must
// resume from them, evaluate those records again (their alerts already in
// the topic) and leave the promoted server caught up, with the rule
// states of a group that lost nothing.
func TestFaultAlertsFollowFailoverIdle(t *testing.T) {
	r := newFailoverRig(t)
	const group, reference = "alerts-failover-idle", "alerts-failover-idle-ref"
	eng := r.w.engineOn(t, r.both, group, "foi", 7)
	eng.opts.StoredCheck = time.Second
	r.run(eng, 3)

	r.wait() // third checkpoint with alerts, on both servers
	stalled, crash := r.stall()
	r.resume <- struct{}{}
	r.caughtUp(group)                    // the whole script, on the primary only
	time.Sleep(2 * eng.opts.StoredCheck) // idle, comparing with the primary: nothing moved
	idleMoves := r.moved.Load()
	ahead, shipped := r.failover(crash, group)

	caughtUp := r.caughtUp(group)
	r.finish()
	if idleMoves != 0 {
		t.Errorf("the engine found the stored offsets moved %d time(s) before the failover: false alarms", idleMoves)
	}
	if stalled && ahead <= shipped {
		t.Errorf("the stalled replica got every checkpoint (%d source records of %d): nothing was lost, the test proves nothing", shipped, ahead)
	}
	moved, fenced := r.moved.Load(), r.fenced.Load()
	if ahead > shipped && moved == 0 {
		t.Errorf("the promoted server lost checkpoints (%d source records behind), yet the engine never noticed", ahead-shipped)
	}
	r.w.matchesReference(t, group, reference) // on the promoted server
	t.Logf("idle failover: %d source records behind on the promoted server, evaluated again; found moved %d time(s), fenced off %d time(s); caught up %v after the crash in the same run; %d alerts, each once",
		ahead-shipped, moved, fenced, caughtUp.Round(time.Millisecond), len(r.w.want))
}

// failoverRig is a world whose engine runs on a URL naming the stack's
// primary and replica, with the steps of a failover test.
type failoverRig struct {
	t          *testing.T
	w          *world
	ctx        context.Context
	promotedDB config.Database
	both       *pgxpool.Pool
	at         chan int
	resume     chan struct{}
	done       chan error
	stop       context.CancelFunc
	crashed    time.Time
	// fenced and moved count the engine's checkpoints fenced off and its
	// finding the stored offsets moved.
	fenced, moved atomic.Int32
}

func newFailoverRig(t *testing.T) *failoverRig {
	if os.Getenv(pgtest.EnvReplica) == "" {
		kafkatest.Missing(t, pgtest.EnvReplica, "a PostgreSQL streaming replica (scripts/stack up --pg-replica)")
	}
	r := &failoverRig{t: t, w: newWorld(t), at: make(chan int), resume: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	r.ctx = ctx
	r.promotedDB = pgtest.Replica(t, r.w.db) // the rules are on the replica too
	both, err := store.Open(ctx, pgtest.FailoverURL(t, r.w.db, r.promotedDB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(both.Close)
	r.both = both
	return r
}

// run starts eng, counting its fenced checkpoints and moved offsets and
// pausing it after each of the given checkpoints with alerts (1 is the
// first) until resume; it is stopped when the test ends or by finish.
func (r *failoverRig) run(eng *Engine, pauseAt ...int) {
	batches := 0 // the engine's goroutine's
	eng.hook = func(stage string, alerts int) error {
		switch {
		case stage == "fenced":
			r.fenced.Add(1)
		case stage == "moved":
			r.moved.Add(1)
		case stage == "checkpointed" && alerts > 0:
			if batches++; slices.Contains(pauseAt, batches) {
				r.at <- batches
				<-r.resume
			}
		}
		return nil
	}
	runCtx, stop := context.WithCancel(r.ctx)
	r.t.Cleanup(stop)
	r.stop = stop
	go func() { r.done <- eng.Run(runCtx) }()
}

// wait waits for the engine's hook to pause.
func (r *failoverRig) wait() {
	r.t.Helper()
	select {
	case <-r.at:
	case err := <-r.done:
		r.t.Fatalf("the engine stopped early: %v", err)
	case <-r.ctx.Done():
		r.t.Fatal("the engine did not reach its checkpoint")
	}
}

// stall stalls the primary's WAL sender (the stack is put back when the
// test ends) and returns what pgtest.StallWALSender does.
func (r *failoverRig) stall() (bool, func()) {
	restore := pgtest.RestoreStack(r.t)
	r.t.Cleanup(restore) // whatever happens next
	return pgtest.StallWALSender(r.ctx, r.t, r.w.pool, nil, 0)
}

// failover crashes the primary, promotes the replica and points the world
// at it; it returns the source records group had checkpointed on the
// primary and those the promoted server holds.
func (r *failoverRig) failover(crash func(), group string) (ahead, shipped int64) {
	t := r.t
	ahead = r.w.progress(t, group)
	crash()
	r.crashed = time.Now()
	pgtest.Stack(t, "pg-promote")
	promoted, err := store.Open(r.ctx, r.promotedDB)
	if err != nil {
		t.Fatalf("open the promoted server: %v", err)
	}
	t.Cleanup(promoted.Close)
	r.w.pool = promoted
	shipped = r.w.progress(t, group)
	t.Logf("primary stopped (immediate) with checkpoints of %d source records, the promoted server holding %d; writable after %v",
		ahead, shipped, time.Since(r.crashed).Round(time.Millisecond))
	return ahead, shipped
}

// caughtUp waits until the engine's stored offsets (on the world's
// current server) reach the script's end, and returns how long after the
// crash that was (zero before one).
func (r *failoverRig) caughtUp(group string) time.Duration {
	t := r.t
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !r.w.caughtUp(t, group) {
		select {
		case err := <-r.done:
			t.Fatalf("the engine stopped instead of catching up: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine did not catch up within 2m")
		}
	}
	if r.crashed.IsZero() {
		return 0
	}
	return time.Since(r.crashed)
}

// finish stops the engine and checks that Run returned nil.
func (r *failoverRig) finish() {
	r.t.Helper()
	r.stop()
	if err := <-r.done; err != nil {
		r.t.Fatalf("engine: %v", err)
	}
}
