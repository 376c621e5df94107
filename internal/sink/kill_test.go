package sink

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
)

// killTest produces a seeded feed of events (with malformed records mixed
// in) at perSecond while `tradestream sink` subprocesses load it and are
// killed with SIGKILL at random moments, kills times; then a last sink
// runs with --until-caught-up. The tables must then hold exactly the valid
// events and the dead letters exactly the malformed records.
func killTest(t *testing.T, events, perSecond, kills int) {
	e := newTestEnv(t, 3)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	recs, exp := feedRecords(t, feed.Config{Seed: seed, Users: 1000, Events: events, MalformedEvery: 250, V1Share: 0.3})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	produced := make(chan error, 1)
	go func() { produced <- e.produceFeed(ctx, recs, perSecond) }()

	for i := range kills {
		p := e.startSink(t, "sink-"+string(rune('a'+i)))
		deadline := time.Now().Add(time.Minute)
		for p.logContains("partitions assigned") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("sink %d never got partitions", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		before := e.count(t, "SELECT count(*) FROM price_ticks") + e.count(t, "SELECT count(*) FROM trades")
		p.kill()
		t.Logf("kill %d: SIGKILL with %d rows loaded", i+1, before)
	}
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	start := time.Now()
	last := e.startSink(t, "sink-final", "--until-caught-up")
	if err := last.wait(5 * time.Minute); err != nil {
		t.Fatalf("final sink --until-caught-up: %v", err)
	}
	t.Logf("final run caught up in %v", time.Since(start).Round(time.Millisecond))
	checkFeedLoaded(t, e, exp)
	e.verify(t, 0)
}

func TestKilledSinkLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses for half a minute")
	}
	killTest(t, 60_000, 3_000, 4)
}

// TestSecondInstanceTakesOverFromKilledOne runs two sinks in one group
// while records arrive, kills one, and checks the other takes over its
// partitions and loads everything.
func TestSecondInstanceTakesOverFromKilledOne(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses")
	}
	e := newTestEnv(t, 6)
	recs, exp := feedRecords(t, feed.Config{Seed: 11, Users: 500, Events: 40_000, MalformedEvery: 333, V1Share: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	produced := make(chan error, 1)
	go func() { produced <- e.produceFeed(ctx, recs, 4_000) }()

	waitFor := func(p *proc, what string, n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for p.logContains(what) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s never logged %q %d times", p.name, what, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a := e.startSink(t, "sink-a")
	waitFor(a, "partitions assigned", 1)
	b := e.startSink(t, "sink-b")
	// b's join splits the partitions: a gives some up, b gets them.
	waitFor(b, "partitions assigned", 1)
	waitFor(a, "partitions revoked", 1)
	deadline := time.Now().Add(time.Minute)
	time.Sleep(time.Second)
	assignedBefore := a.logContains("partitions assigned")
	b.kill()
	t.Log("sink-b killed")
	for a.logContains("partitions assigned") == assignedBefore {
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatal("sink-a never took over sink-b's partitions")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Log("sink-a took over")
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	// a loads the rest; a second process with --until-caught-up in the
	// same group tells when everything is in.
	c := e.startSink(t, "sink-c", "--until-caught-up")
	if err := c.wait(3 * time.Minute); err != nil {
		t.Fatalf("sink-c --until-caught-up: %v", err)
	}
	a.signal(sigterm)
	if err := a.wait(time.Minute); err != nil {
		t.Errorf("sink-a after SIGTERM: %v", err)
	}
	checkFeedLoaded(t, e, exp)
	e.verify(t, 0)
}
