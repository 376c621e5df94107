//go:build faults

package sink

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestFaultPostgresFailover loads a stream into the primary while it
// streams asynchronously to the stack's replica, stalls the primary's WAL
// sender while the sink commits more, stops the primary as a crash
// would (immediate mode) and promotes the replica (scripts/stack
// pg-promote). The sink runs on through it all, the same process: its
// database URL names both servers with target_session_attrs=read-write,
// so each new connection goes to whichever is writable. Each batch's
// rows and offsets commit together, so the promoted server's stored
// offsets are behind what the sink committed on the old primary; its
// next commit is fenced off and it re-reads from them, loading again
// from Kafka whatever the old primary had not shipped: every record of
// the prices and trades topics must end up exactly once as a row or a
// dead letter on the promoted server, and verify --require-caught-up
// passes there. The old primary is then started again as THE primary on
// 5432 and the replica made anew, so the tests after this one find the
// usual stack.
func TestFaultPostgresFailover(t *testing.T) {
	if os.Getenv(pgtest.EnvReplica) == "" {
		kafkatest.Missing(t, pgtest.EnvReplica, "a PostgreSQL streaming replica (scripts/stack up --pg-replica)")
	}
	e := newTestEnv(t, 3)
	promotedDB := pgtest.Replica(t, e.db) // the same schema on the replica, once it is there
	recs, exp := feedRecords(t, feed.Config{Seed: 10, Users: 500, Events: 100_000, MalformedEvery: 250, V1Share: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	produced := make(chan error, 1)
	go func() { produced <- e.produceFeed(ctx, recs, 10_000) }() // about 10 s of traffic

	// Both servers, the writable one wanted: the sink follows the failover.
	primaryDB := e.db
	e.db = pgtest.FailoverURL(t, primaryDB, promotedDB)
	p := e.startSink(t, "sink-follows")
	e.db = primaryDB
	deadline := time.Now().Add(2 * time.Minute)
	for e.count(t, "SELECT count(*) FROM trades") < int64(exp.Trades/4) {
		select {
		case <-p.done:
			t.Fatalf("the sink stopped before loading a quarter of the trades: %v", p.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the sink did not load a quarter of the trades on the primary within 2m")
		}
	}
	var state, sync string
	if err := e.pool.QueryRow(ctx, `SELECT state, sync_state FROM pg_stat_replication
		WHERE application_name = 'tradestream_replica'`).Scan(&state, &sync); err != nil || state != "streaming" || sync != "async" {
		t.Fatalf("the replica before the stop: state %q, sync_state %q (%v); want it streaming, asynchronously", state, sync, err)
	}
	restore := pgtest.RestoreStack(t)
	t.Cleanup(restore) // whatever happens next
	// The primary's WAL sender is stopped (SIGSTOP) until the sink has
	// committed a batch or two more, so that the old primary has commits
	// it never shipped when it crashes: the immediate stop's SIGQUIT waits
	// on it, and it is killed once that signal is pending, so it never
	// runs again.
	committed := func() (n int64) {
		for _, parts := range e.stored(t) {
			for _, next := range parts {
				n += next
			}
		}
		return n
	}
	stalled, crash := pgtest.StallWALSender(ctx, t, e.pool, committed, 2000)
	crash()
	stopped := time.Now()
	pgtest.Stack(t, "pg-promote")
	t.Logf("primary stopped (immediate); replica promoted and writable after %v", time.Since(stopped).Round(time.Millisecond))

	promoted, err := store.Open(ctx, promotedDB)
	if err != nil {
		t.Fatalf("open the promoted server: %v", err)
	}
	defer promoted.Close()
	oldPool := e.pool
	e.pool, e.db = promoted, promotedDB
	shipped := e.stored(t) // the offsets the promoted server got with its rows
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	ends := e.endOffsets(ctx, t)
	deadline = time.Now().Add(3 * time.Minute)
	for !e.storedUpTo(t, ends) {
		select {
		case <-p.done:
			t.Fatalf("the sink stopped after the failover instead of following it: %v", p.err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink did not catch up on the promoted server within 3m of the failover: stored %v, end offsets %v", e.stored(t), ends)
		}
	}
	t.Logf("failover: %v from the stop to the same sink caught up on the promoted server", time.Since(stopped).Round(time.Millisecond))
	p.signal(sigterm)
	if err := p.wait(time.Minute); err != nil {
		t.Fatalf("the sink, stopped after the failover: %v", err)
	}

	c1 := countFailover(ctx, t, e, recs)
	t.Logf("counts (prices and trades): acknowledged %d, in Kafka %d, rows %d, dead letters %d, duplicates %d, lost %d",
		c1.acknowledged, c1.inKafka, c1.rows, c1.deadLetters, c1.duplicates, c1.lost)
	checkFeedLoaded(t, e, exp)
	e.verify(t, 0)

	// The old primary, back: how far its stored offsets were ahead of what
	// it had shipped is what the sink loaded again.
	restore()
	e.pool = oldPool
	if err := pgtest.WaitPing(ctx, oldPool); err != nil {
		t.Fatalf("the old primary after its restart: %v", err)
	}
	reloaded := int64(0)
	for topic, parts := range e.stored(t) {
		for part, next := range parts {
			reloaded += max(0, next-shipped[topic][part])
		}
	}
	fenced := p.logContains("batch fenced off")
	t.Logf("re-loaded from Kafka because the old primary had not shipped them: %d records; the sink re-read from the promoted server's offsets %d times",
		reloaded, fenced)
	if stalled && reloaded == 0 {
		t.Errorf("the old primary committed offsets its stalled replica never received, yet nothing was loaded again")
	}
	if reloaded > 0 && fenced == 0 {
		t.Errorf("%d records were loaded again, yet the sink never said it re-read from the promoted server's offsets", reloaded)
	}
}

// TestFaultPostgresFailoverIdle is the failover of a sink that has
// nothing more to load: the whole feed but its last fifth is loaded on
// both servers, the primary's WAL sender is stalled, the last fifth is
// produced and loaded on the primary only, and then, with nothing more
// produced, the primary crashes and the replica is promoted. No batch
// follows to be fenced off, so the sink must find by itself that the
// promoted server's stored offsets are behind its positions, and load the
// last fifth again there: every record once as a row or a dead letter on
// the promoted server, verify OK, and the sink said it followed the
// moved offsets without a fenced batch.
func TestFaultPostgresFailoverIdle(t *testing.T) {
	if os.Getenv(pgtest.EnvReplica) == "" {
		kafkatest.Missing(t, pgtest.EnvReplica, "a PostgreSQL streaming replica (scripts/stack up --pg-replica)")
	}
	e := newTestEnv(t, 3)
	promotedDB := pgtest.Replica(t, e.db)
	recs, exp := feedRecords(t, feed.Config{Seed: 12, Users: 200, Events: 20_000, MalformedEvery: 250, V1Share: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	last := len(recs) * 4 / 5
	if err := e.produceFeed(ctx, recs[:last], 0); err != nil {
		t.Fatalf("produce: %v", err)
	}
	replica, err := store.Open(ctx, promotedDB) // a hot standby: it answers reads
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	storedOn := func(pool *pgxpool.Pool) map[string]map[int32]int64 {
		s, err := store.StoredOffsets(ctx, pool, e.group, e.dataTopics())
		if err != nil {
			t.Fatalf("stored offsets: %v", err)
		}
		return s
	}
	caughtUp := func(pool *pgxpool.Pool, ends map[string]map[int32]int64, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !upTo(storedOn(pool), ends) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stored %v, want the end offsets %v within 2m", what, storedOn(pool), ends)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	primaryDB := e.db
	e.db = pgtest.FailoverURL(t, primaryDB, promotedDB)
	p := e.startSink(t, "sink-idle")
	e.db = primaryDB
	first := e.endOffsets(ctx, t)
	caughtUp(e.pool, first, "the sink on the primary")
	caughtUp(replica, first, "the replica")

	restore := pgtest.RestoreStack(t)
	t.Cleanup(restore) // whatever happens next
	stalled, crash := pgtest.StallWALSender(ctx, t, e.pool, nil, 0)
	if err := e.produceFeed(ctx, recs[last:], 0); err != nil {
		t.Fatalf("produce the last fifth: %v", err)
	}
	ends := e.endOffsets(ctx, t)
	caughtUp(e.pool, ends, "the sink on the primary, the last fifth")
	crash()
	stopped := time.Now()
	pgtest.Stack(t, "pg-promote")

	promoted, err := store.Open(ctx, promotedDB)
	if err != nil {
		t.Fatalf("open the promoted server: %v", err)
	}
	defer promoted.Close()
	oldPool := e.pool
	e.pool, e.db = promoted, promotedDB
	shipped := e.stored(t)
	behind := int64(0)
	for topic, parts := range ends {
		for part, end := range parts {
			if next, ok := shipped[topic][part]; ok {
				behind += end - next
			} else {
				behind += end
			}
		}
	}
	t.Logf("primary stopped (immediate) and replica promoted; the promoted server is %d records behind the sink", behind)
	if stalled && behind == 0 {
		t.Fatalf("the promoted server has every offset the sink stored on the primary: the WAL sender was not stalled in time")
	}
	caughtUp(promoted, ends, "the same sink on the promoted server")
	t.Logf("failover with nothing more to load: %v from the stop to the same sink caught up on the promoted server", time.Since(stopped).Round(time.Millisecond))
	p.signal(sigterm)
	if err := p.wait(time.Minute); err != nil {
		t.Fatalf("the sink, stopped after the failover: %v", err)
	}

	c := countFailover(ctx, t, e, recs)
	t.Logf("counts (prices and trades): acknowledged %d, in Kafka %d, rows %d, dead letters %d, duplicates %d, lost %d",
		c.acknowledged, c.inKafka, c.rows, c.deadLetters, c.duplicates, c.lost)
	checkFeedLoaded(t, e, exp)
	e.verify(t, 0)
	if n := p.logContains("the stored offsets moved under the sink"); behind > 0 && n == 0 {
		t.Errorf("the sink loaded %d records again without saying it followed the moved stored offsets", behind)
	}
	if n := p.logContains("batch fenced off"); n != 0 {
		t.Errorf("%d batches fenced off, with nothing produced after the crash; want the stored offsets followed without one", n)
	}
	restore()
	e.pool = oldPool
}

// failoverCounts are the end-to-end figures of the prices and trades
// topics.
type failoverCounts struct {
	acknowledged, inKafka, rows, deadLetters, duplicates, lost int64
}

// countFailover counts the prices and trades records end to end on e's
// (promoted) database and checks them: Kafka's end offsets equal the
// acknowledged records and the rows plus dead letters, no identity
// (topic, partition, offset) held twice, none missing.
func countFailover(ctx context.Context, t *testing.T, e *testEnv, recs []feed.Record) failoverCounts {
	t.Helper()
	var c failoverCounts
	for _, r := range recs {
		if r.Topic == feed.Prices || r.Topic == feed.Trades {
			c.acknowledged++
		}
	}
	ends := e.endOffsets(ctx, t)
	for _, topic := range []string{e.names.Prices, e.names.Trades} {
		for _, end := range ends[topic] {
			c.inKafka += end
		}
	}
	var distinct int64
	for _, q := range []struct {
		table, topic string
	}{{"price_ticks", e.names.Prices}, {"trades", e.names.Trades}} {
		rows := e.count(t, "SELECT count(*) FROM "+q.table)
		dead := e.count(t, "SELECT count(*) FROM dead_letters WHERE topic = $1", q.topic)
		held := e.count(t, fmt.Sprintf(`SELECT count(DISTINCT (p, o)) FROM (
			SELECT kafka_partition AS p, kafka_offset AS o FROM %s
			UNION ALL
			SELECT kafka_partition, kafka_offset FROM dead_letters WHERE topic = $1) x`, q.table), q.topic)
		c.rows, c.deadLetters, distinct = c.rows+rows, c.deadLetters+dead, distinct+held
	}
	c.duplicates = c.rows + c.deadLetters - distinct
	c.lost = c.inKafka - distinct
	if c.inKafka != c.acknowledged || c.rows+c.deadLetters != c.inKafka || c.duplicates != 0 || c.lost != 0 {
		t.Errorf("prices and trades: acknowledged %d, in Kafka %d, rows %d + dead letters %d, duplicates %d, lost %d; "+
			"want Kafka = acknowledged = rows + dead letters, none duplicated or lost",
			c.acknowledged, c.inKafka, c.rows, c.deadLetters, c.duplicates, c.lost)
	}
	return c
}
