//go:build faults

// Fault tests stop shared services or run for minutes: they are built
// with -tags faults and run on their own, one package at a time
// (scripts/test runs `go test -tags faults -p 1 -run TestFault ./...`
// after the main suite).

package sink

import (
	"context"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// TestFaultKill500k is the full-size kill test: half a million events
// with malformed records mixed in, the sink killed with SIGKILL at random
// moments six times.
func TestFaultKill500k(t *testing.T) {
	killTest(t, 500_000, 25_000, 6)
}

// TestFaultPostgresOutage stops PostgreSQL for 10 s while the sink loads
// a stream that keeps arriving: the sink must wait, resume, and end with
// exactly the valid events loaded and only the malformed records dead.
func TestFaultPostgresOutage(t *testing.T) {
	e := newTestEnv(t, 3)
	recs, exp := feedRecords(t, feed.Config{Seed: 5, Users: 800, Events: 120_000, MalformedEvery: 200, V1Share: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	produced := make(chan error, 1)
	go func() { produced <- e.produceFeed(ctx, recs, 5_000) }() // about 24 s of traffic

	p := e.startSink(t, "sink")
	deadline := time.Now().Add(time.Minute)
	for e.count(t, "SELECT count(*) FROM trades") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sink loaded nothing")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	pgtest.Stack(t, "pg-stop")
	stopped := time.Now()
	t.Cleanup(func() { pgtest.Stack(t, "pg-start") }) // whatever happens next
	time.Sleep(10 * time.Second)
	pgtest.Stack(t, "pg-start")
	t.Logf("PostgreSQL was down for %v", time.Since(stopped).Round(time.Millisecond))
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}

	c := e.startSink(t, "sink-check", "--until-caught-up")
	if err := c.wait(3 * time.Minute); err != nil {
		t.Fatalf("sink --until-caught-up: %v", err)
	}
	if p.logContains("consumption paused") == 0 || p.logContains("consumption resumed") == 0 {
		t.Error("the sink never logged pausing and resuming around the outage")
	}
	select {
	case <-p.done:
		t.Fatalf("the sink exited during the outage: %v", p.err)
	default:
	}
	p.signal(sigterm)
	if err := p.wait(time.Minute); err != nil {
		t.Errorf("sink after SIGTERM: %v", err)
	}
	checkFeedLoaded(t, e, exp)
	e.verify(t, 0)
}
