package sink

import (
	"context"
	"fmt"
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

// TestSecondInstanceTakesOverFromKilledOne runs two sinks, a and b, in one
// group while records arrive, and SIGKILLs b. Which partitions b held is
// read from the group's assignment at the broker (each process's client id
// is its name); what b had loaded is the stored offsets once b's database
// sessions are gone. From then on a is the group's only member, so every
// row and dead letter of b's partitions at or past those offsets was loaded
// by a (b is killed once it has loaded part of each of its price and trade
// partitions, while records still arrive). The test waits, with no other
// instance joining, until a has stored every partition up to its end, and
// checks that each offset of b's partitions from there on is held exactly
// once.
func TestSecondInstanceTakesOverFromKilledOne(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses")
	}
	e := newTestEnv(t, 6)
	recs, exp := feedRecords(t, feed.Config{Seed: 11, Users: 500, Events: 60_000, MalformedEvery: 333, V1Share: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	produced := make(chan error, 1)
	go func() { produced <- e.produceFeed(ctx, recs, 4_000) }()

	a := e.startSink(t, "sink-a")
	b := e.startSink(t, "sink-b")
	owned := e.awaitAssignment(ctx, t, func(m map[string]map[string][]int32) bool {
		return len(m) == 2 && len(m[a.name]) > 0 && len(m[b.name]) > 0
	})
	ofB := owned[b.name]
	t.Logf("before the kill: sink-a holds %v, sink-b holds %v", owned[a.name], ofB)
	// b alone loads its partitions: once each of its price and trade
	// partitions has a stored offset, b has loaded part of each.
	for !e.storedSome(t, ofB, e.names.Prices, e.names.Trades) {
		if ctx.Err() != nil {
			t.Fatalf("sink-b never stored offsets of all its price and trade partitions: %v", pick(e.stored(t), ofB))
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.kill()
	e.awaitGone(ctx, t, b)
	atKill := e.stored(t)
	t.Logf("sink-b killed; its partitions' stored offsets then: %v", pick(atKill, ofB))

	owned = e.awaitAssignment(ctx, t, func(m map[string]map[string][]int32) bool {
		return len(m) == 1 && covers(m[a.name], ofB)
	})
	t.Logf("sink-a took over: it holds %v", owned[a.name])
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	ends := e.endOffsets(ctx, t)
	caughtUp, stop := context.WithTimeout(ctx, 2*time.Minute)
	defer stop()
	for !e.storedUpTo(t, ends) {
		if caughtUp.Err() != nil {
			t.Fatalf("sink-a did not load every partition to its end: stored %v, ends %v", e.stored(t), ends)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := e.assignment(ctx, t); len(m) != 1 || m[a.name] == nil {
		t.Fatalf("got group members %v at the check, want sink-a alone", m)
	}

	tables := map[string]string{e.names.Prices: "price_ticks", e.names.Trades: "trades"}
	afterKill := int64(0)
	for topic, parts := range ofB {
		table, ok := tables[topic]
		if !ok {
			continue // users and alerts: loaded before the kill, or empty
		}
		for _, p := range parts {
			from, end := atKill[topic][p], ends[topic][p]
			held := e.count(t, fmt.Sprintf(`SELECT count(DISTINCT o) FROM (
				SELECT kafka_offset AS o FROM %s WHERE kafka_partition = $1 AND kafka_offset >= $2
				UNION ALL
				SELECT kafka_offset FROM dead_letters WHERE topic = $3 AND kafka_partition = $1 AND kafka_offset >= $2) x`, table),
				p, from, topic)
			all := e.count(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM %s WHERE kafka_partition = $1 AND kafka_offset >= $2)
				+ (SELECT count(*) FROM dead_letters WHERE topic = $3 AND kafka_partition = $1 AND kafka_offset >= $2)`, table),
				p, from, topic)
			if end == from {
				t.Errorf("%s/%d: no record arrived after the kill (stored and end %d): nothing to take over", topic, p, end)
			}
			if held != end-from || all != held {
				t.Errorf("%s/%d: sink-a loaded offsets %d..%d as %d offsets in %d rows and dead letters, want %d once each",
					topic, p, from, end, held, all, end-from)
			}
			afterKill += end - from
		}
	}
	t.Logf("sink-a loaded %d records of sink-b's price and trade partitions after the kill", afterKill)

	a.signal(sigterm)
	if err := a.wait(time.Minute); err != nil {
		t.Errorf("sink-a after SIGTERM: %v", err)
	}
	checkFeedLoaded(t, e, exp)
	e.verify(t, 0)
}
