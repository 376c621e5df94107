package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/status"
	"github.com/tradestream/tradestream/internal/store"
)

func execSQL(t *testing.T, pool *pgxpool.Pool, sql ...string) {
	t.Helper()
	for _, q := range sql {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func table(snap status.Snapshot, name string) (status.Table, bool) {
	for _, tb := range snap.Tables {
		if tb.Name == name {
			return tb, true
		}
	}
	return status.Table{}, false
}

// TestReadURLRowCounts gives the sampler a read pool on another schema
// whose tables hold other rows: the row counts and dead letters shown are
// the read pool's, the table list (and write counters) the primary's.
func TestReadURLRowCounts(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	primary, _ := pgtest.Pool(t)
	read, _ := pgtest.Pool(t)
	execSQL(t, primary, `CREATE TABLE marks (x int)`, `CREATE TABLE dead_letters (reason text)`, `INSERT INTO marks VALUES (1)`)
	execSQL(t, read, `CREATE TABLE marks (x int)`, `CREATE TABLE dead_letters (reason text)`,
		`INSERT INTO marks SELECT generate_series(1, 5)`, `INSERT INTO dead_letters VALUES ('bad_json'), ('bad_json')`)
	sampler := status.NewSampler(kafkatest.Client(t, brokers), primary, status.Options{
		Prefix: tc.Prefix, ExactRows: true, Read: read,
	})
	defer sampler.Close()
	snap := sampler.Sample(context.Background())
	marks, ok := table(snap, "marks")
	if !ok || marks.Rows != 5 {
		t.Errorf("marks: got %+v (listed %v), want the read pool's 5 rows", marks, ok)
	}
	if got := snap.DeadLetters.Stored["bad_json"]; got != 2 {
		t.Errorf("stored dead letters: got %v, want the read pool's 2", snap.DeadLetters.Stored)
	}
	if snap.Replication == nil || snap.Replication.Read == nil || snap.Replication.Read.Standby {
		t.Errorf("replication: got %+v, want the read server shown as a primary", snap.Replication)
	}
}

// TestReplicaLag reads through the stack's streaming replica: row counts
// arrive there, and status shows the standby in the primary's
// pg_stat_replication and the read server as a standby, with its lag.
func TestReplicaLag(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	primary, cfg := pgtest.Pool(t)
	execSQL(t, primary, `CREATE TABLE marks (x int)`, `INSERT INTO marks SELECT generate_series(1, 3)`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	read, err := store.Open(ctx, pgtest.Replica(t, cfg))
	if err != nil {
		t.Fatalf("open the replica: %v", err)
	}
	defer read.Close()
	sampler := status.NewSampler(kafkatest.Client(t, brokers), primary, status.Options{
		Prefix: tc.Prefix, ExactRows: true, Read: read,
	})
	defer sampler.Close()
	var snap status.Snapshot
	for {
		snap = sampler.Sample(ctx)
		if m, ok := table(snap, "marks"); ok && m.Rows == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the replica never showed marks' 3 rows: %+v, problems %v", snap.Tables, snap.Problems)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := snap.Replication
	if r == nil || r.Error != "" || r.Read == nil || !r.Read.Standby || r.Read.LagBytes < 0 {
		t.Fatalf("replication: got %+v, want the read server as a standby, no error", r)
	}
	var found *status.Standby
	for i := range r.Standbys {
		if r.Standbys[i].Name == "tradestream_replica" {
			found = &r.Standbys[i]
		}
	}
	if found == nil || found.State != "streaming" || found.LagBytes < 0 {
		t.Errorf("standbys: got %+v, want tradestream_replica streaming with its byte lag visible", r.Standbys)
	}
	t.Logf("replica lag: read server %d bytes, %.3fs; standbys %+v", r.Read.LagBytes, r.Read.LagSeconds, r.Standbys)
	var out bytes.Buffer
	if err := status.Render(&out, snap); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POSTGRESQL REPLICATION", "tradestream_replica", "read url: a standby"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, out.String())
		}
	}
	js, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"replication":{"standbys":[`) || !strings.Contains(string(js), `"standby":true`) {
		t.Errorf("status --json lacks the replication: %s", js)
	}
}

// TestReplicationErrorIsShown: a read server that cannot be read shows as
// an error in the replication section and the problems, never as none.
func TestReplicationErrorIsShown(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	primary, cfg := pgtest.Pool(t)
	read, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	read.Close() // every query now fails
	sampler := status.NewSampler(kafkatest.Client(t, brokers), primary, status.Options{Prefix: tc.Prefix, Read: read})
	defer sampler.Close()
	snap := sampler.Sample(context.Background())
	if snap.Replication == nil || !strings.Contains(snap.Replication.Error, "read url") {
		t.Fatalf("replication: got %+v, want an error naming the read url", snap.Replication)
	}
	var out bytes.Buffer
	if err := status.Render(&out, snap); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "(could not be read: ") || strings.Contains(s, "streams to no standby") {
		t.Errorf("status text: got\n%s\nwant the replication error, not emptiness", s)
	}
	if !strings.Contains(strings.Join(snap.Problems, "\n"), "postgresql replication") {
		t.Errorf("problems: got %q, want the replication error", snap.Problems)
	}
}
