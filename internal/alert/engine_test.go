package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// childEnv carries a childSpec to a copy of this test binary that runs an
// engine and kills itself with SIGKILL at a chosen point.
const childEnv = "TRADESTREAM_ALERT_ENGINE_CHILD"

type childSpec struct {
	Brokers     []string
	DatabaseURL string
	Prefix      string
	Group       string
	Instance    string
	BatchSize   int
	// CrashStage and CrashAt: SIGKILL at the CrashAt-th call of the hook
	// at CrashStage for a batch that fired alerts. Empty: run until killed.
	CrashStage string
	CrashAt    int
	// Slow pauses this long after each checkpoint, so that a kill from
	// the parent lands mid-run, often between checkpoint and produce.
	Slow time.Duration
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func runChild(raw string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbc := config.Default().Database
	dbc.URL = config.ConnString(spec.DatabaseURL)
	pool, err := store.Open(ctx, dbc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer pool.Close()
	eng, err := New(kafkatest.Config(spec.Brokers), pool, Options{
		Topics: kafka.TopicNames(spec.Prefix), Group: spec.Group, Instance: spec.Instance,
		BatchSize: spec.BatchSize, FromStart: true, SessionTimeout: 6 * time.Second,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	n := 0
	eng.hook = func(stage string, alerts int) error {
		if stage == "checkpointed" && spec.Slow > 0 {
			time.Sleep(spec.Slow)
		}
		if stage == spec.CrashStage && alerts > 0 {
			if n++; n == spec.CrashAt {
				fmt.Fprintf(os.Stderr, "child: SIGKILL at %s of alert batch %d\n", stage, n)
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
		return nil
	}
	if err := eng.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child engine:", err)
		return 1
	}
	return 0
}

// scriptedAlertsPerRule is what the script must fire per rule of the world
// (AAPL above 101, AAPL below 99, MSFT above 301.5, trades over 500,000),
// as scriptedAlerts counts it.
var scriptedAlertsPerRule = [4]int{9, 8, 9, 19}

// scriptedAlerts counts the alerts of the script per rule of the world
// from its price path and trade quantities, in plain float64 and without
// the engine: a price rule fires each time its condition turns true (the
// path starts at the base price, where none holds), the big-trade rule on
// every trade whose notional exceeds the threshold. No price of the path
// comes within 0.008 of a level, so float64 and the events' decimals agree.
func scriptedAlerts() [4]int {
	var n [4]int
	levels := []struct {
		rule   int
		symbol string
		level  float64
		above  bool
	}{{0, "AAPL", 101, true}, {1, "AAPL", 99, false}, {2, "MSFT", 301.5, true}}
	for _, l := range levels {
		held := false
		for i := range scriptedTicks {
			p := scriptedPrice(scriptedBase[l.symbol], i)
			holds := p < l.level
			if l.above {
				holds = p > l.level
			}
			if holds && !held {
				n[l.rule]++
			}
			held = holds
		}
	}
	for i := range scriptedTrades {
		if float64(scriptedQuantity(i))*scriptedTradePrice > scriptedBigNotional {
			n[3]++
		}
	}
	return n
}

// TestEngineFiresExactlyTheScriptedAlerts runs the engine over the
// scripted world and checks the committed alerts topic against the
// alerts counted without the engine, per rule, and against the expected
// alert ids; a restart over a quiet tick adds nothing.
func TestEngineFiresExactlyTheScriptedAlerts(t *testing.T) {
	if got := scriptedAlerts(); got != scriptedAlertsPerRule {
		t.Fatalf("the script fires %v alerts per rule, the test expects %v: update one or the other", got, scriptedAlertsPerRule)
	}
	w := newWorld(t)
	eng := w.engine(t, "alerts-scripted", "one", 25)
	w.runUntilCaughtUp(t, eng, "alerts-scripted")
	got := w.alertIDs(t, true)
	for i, r := range w.rules {
		prefix := fmt.Sprintf("r%d-", r.ID)
		n := 0
		for _, id := range got {
			if strings.HasPrefix(id, prefix) {
				n++
			}
		}
		if n != scriptedAlertsPerRule[i] {
			t.Errorf("rule %d (%s %s %s): got %d alerts, want %d", r.ID, r.Kind, r.Symbol, r.Threshold, n, scriptedAlertsPerRule[i])
		}
	}
	if !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
	}
	if n := w.outboxLen(t); n != 0 {
		t.Errorf("got %d alerts left in the outbox, want 0", n)
	}
	// Running again from the stored position, over one more tick that
	// crosses nothing, adds nothing.
	w.produceQuietTick(t)
	again := w.engine(t, "alerts-scripted", "one", 25)
	w.runUntilCaughtUp(t, again, "alerts-scripted")
	if got := w.alertIDs(t, false); !slices.Equal(got, w.want) {
		t.Errorf("after a restart the topic holds %d alert records, want the same %d", len(got), len(w.want))
	}
	t.Logf("%d scripted alerts fired exactly once each (%d price crossings and big trades)", len(got), len(w.want))
}

// TestEngineFiresTheScriptedAlertsInEveryFormat runs the engine over the
// scripted world written in JSON, Avro, Protobuf and JSON Schema in turn
// on the same topics: it fires exactly the alerts of the all-JSON script.
func TestEngineFiresTheScriptedAlertsInEveryFormat(t *testing.T) {
	w := newMixedWorld(t)
	eng := w.engine(t, "alerts-mixed", "one", 25)
	w.runUntilCaughtUp(t, eng, "alerts-mixed")
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
	}
	if n := testutil.ToFloat64(eng.metrics.skipped.WithLabelValues(string(event.ReasonUnknownSchema))); n != 0 {
		t.Fatalf("%v records skipped as of an unknown schema", n)
	}
	t.Logf("%d alerts fired exactly once each from records in four formats", len(w.want))
}

// TestEngineWritesAlertsInEveryRegistryFormat has the engine write its
// alerts in Avro, Protobuf and JSON Schema, with three commits whose
// acknowledgement is lost: each retry scans the committed topic for the
// alerts already there, which it reads back through the registry, so the
// topic holds every scripted alert exactly once, each in the format asked.
func TestEngineWritesAlertsInEveryRegistryFormat(t *testing.T) {
	for _, f := range []format.Format{format.Avro, format.Protobuf, format.JSONSchema} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.writeAlertsAs(t, f)
			eng := w.engine(t, "alerts-"+f.String(), "r", 9)
			commits := 0
			eng.hook = func(stage string, alerts int) error {
				if stage == "txn-committed" && commits < 3 {
					commits++
					return errors.New("injected: commit acknowledgement lost")
				}
				return nil
			}
			w.runUntilCaughtUp(t, eng, "alerts-"+f.String())
			if commits != 3 {
				t.Fatalf("injected %d lost commit acknowledgements, want 3", commits)
			}
			if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
				t.Fatalf("got %d alerts, want %d exactly once:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
			}
			if n := w.outboxLen(t); n != 0 {
				t.Errorf("got %d alerts left in the outbox, want 0", n)
			}
		})
	}
}

// TestEngineKill9 kills an engine process with SIGKILL in the middle of a
// checkpoint, restarts it, and checks that the committed alerts topic holds
// every scripted alert exactly once.
func TestEngineKill9(t *testing.T) {
	tests := []struct {
		name  string
		stage string // where the child kills itself; "" the parent kills it mid-run
		at    int
		slow  time.Duration
	}{
		{"after the PostgreSQL checkpoint, before producing", "checkpointed", 3, 0},
		{"after the Kafka transaction, before clearing the outbox", "produced", 4, 0},
		{"at a moment the parent picks", "", 0, 100 * time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			group := fmt.Sprintf("alerts-kill-%d", i)
			spec, _ := json.Marshal(childSpec{
				Brokers: w.brokers, DatabaseURL: w.db.URL.Reveal(), Prefix: w.prefix,
				Group: group, Instance: "k9", BatchSize: 7, CrashStage: tt.stage, CrashAt: tt.at,
				Slow: tt.slow,
			})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tt.stage == "" {
				// Let it get through a third of the records, then kill it
				// wherever it is.
				deadline := time.Now().Add(60 * time.Second)
				for w.progress(t, group) < w.records()/3 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child ended with %v, want killed by SIGKILL; its log:\n%s", err, stderr.String())
			}
			before := w.alertIDs(t, true)
			outbox := w.outboxLen(t)
			t.Logf("killed: %d alerts committed in the topic, %d in the outbox", len(before), outbox)
			if len(before) == len(w.want) && outbox == 0 {
				t.Errorf("the child had finished before the kill; the test proves nothing")
			}
			if tt.stage != "" && outbox == 0 {
				t.Errorf("got an empty outbox at the kill, want the batch's alerts there")
			}

			eng := w.engine(t, group, "k9", 7)
			w.runUntilCaughtUp(t, eng, group)
			got := w.alertIDs(t, true)
			if !slices.Equal(got, w.want) {
				t.Fatalf("after kill -9 and restart got %d alerts, want %d exactly once:\n got  %v\n want %v",
					len(got), len(w.want), got, w.want)
			}
			if n := w.outboxLen(t); n != 0 {
				t.Errorf("got %d alerts left in the outbox, want 0", n)
			}
			all := w.alertIDs(t, false)
			t.Logf("after restart: %d alerts committed exactly once; %d records including aborted ones", len(got), len(all))
		})
	}
}

// TestEngineAfterLostCheckpoints runs the engine over the scripted world,
// keeps a copy of its PostgreSQL checkpoint (offsets, rule states,
// outbox) as it stood after its third batch with alerts, and puts that
// copy back once the engine has caught up: what a failover to a replica
// that never received the later checkpoints, or a restore of a backup
// taken then, leaves behind, with their alerts already in the topic. The
// restarted engine evaluates every record after the copy again and fires
// those alerts again; the committed topic must still hold each scripted
// alert exactly once.
func TestEngineAfterLostCheckpoints(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const group = "alerts-lost-checkpoints"
	tables := []string{"alert_offsets", "alert_state", "alert_outbox"}
	eng := w.engine(t, group, "lc", 7)
	batches := 0
	eng.hook = func(stage string, alerts int) error {
		if stage != "checkpointed" || alerts == 0 {
			return nil
		}
		if batches++; batches == 3 {
			for _, table := range tables {
				if _, err := w.pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE saved_%s AS SELECT * FROM %s WHERE group_id = $1`, table, table), group); err != nil {
					return err
				}
			}
		}
		return nil
	}
	w.runUntilCaughtUp(t, eng, group)
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("before the loss got %d alerts, want %d exactly once", len(got), len(w.want))
	}
	for _, table := range tables {
		if _, err := w.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE group_id = $1`, table), group); err != nil {
			t.Fatal(err)
		}
		if _, err := w.pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT * FROM saved_%s`, table, table)); err != nil {
			t.Fatal(err)
		}
	}
	// The alerts the restarted engine fires again: from records at or
	// past the restored offsets.
	restored := map[partitionKey]int64{}
	rows, err := w.pool.Query(ctx, `SELECT topic, kafka_partition, next_offset FROM alert_offsets WHERE group_id = $1`, group)
	if err != nil {
		t.Fatal(err)
	}
	var k partitionKey
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&k.topic, &k.partition, &off}, func() error { restored[k] = off; return nil }); err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, id := range w.want {
		if src, ok := alertSource(id); !ok {
			t.Fatalf("alert id %q does not parse", id)
		} else if src.Offset >= restored[partitionKey{src.Topic, src.Partition}] {
			again++
		}
	}
	if again == 0 {
		t.Fatal("no alert comes from past the restored checkpoint: the test proves nothing")
	}

	eng = w.engine(t, group, "lc", 7)
	w.runUntilCaughtUp(t, eng, group)
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("after the lost checkpoints got %d alerts, want %d exactly once (%d of them fired again): %s",
			len(got), len(w.want), again, strings.Join(got, ","))
	}
	if n := w.outboxLen(t); n != 0 {
		t.Errorf("got %d alerts left in the outbox, want 0", n)
	}
	t.Logf("checkpoints lost after batch 3: %d of %d alerts evaluated again and found in the topic, each committed once", again, len(w.want))
}

// TestEngineFollowsLostCheckpoints loses checkpoints under an engine that
// keeps running, as a failover to a replica that never received them does
// (or a restore of a backup): after its sixth batch with alerts, the
// checkpoint of its third (offsets, rule states, outbox) is put back. Its
// next checkpoint must be fenced off (the stored offsets are not where it
// stored them), and it must resume from the restored checkpoint in the
// same Run: the committed topic then holds each scripted alert exactly
// once, and the stored rule states are those of an engine that never
// lost anything (a reference group run afterwards over the same records).
// Without the fence the engine would overwrite the restored offsets with
// its own and leave the restored states beside them.
func TestEngineFollowsLostCheckpoints(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const group, reference = "alerts-follows-loss", "alerts-follows-loss-ref"
	tables := []string{"alert_offsets", "alert_state", "alert_outbox"}
	eng := w.engine(t, group, "fl", 7)
	batches, fenced := 0, 0
	eng.hook = func(stage string, alerts int) error {
		switch {
		case stage == "fenced":
			fenced++
		case stage == "checkpointed" && alerts > 0:
			switch batches++; batches {
			case 3:
				for _, table := range tables {
					if _, err := w.pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE saved_%s AS SELECT * FROM %s WHERE group_id = $1`, table, table), group); err != nil {
						return err
					}
				}
			case 6:
				for _, table := range tables {
					if _, err := w.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE group_id = $1`, table), group); err != nil {
						return err
					}
					if _, err := w.pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT * FROM saved_%s`, table, table)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	w.runUntilCaughtUp(t, eng, group)
	if batches < 6 {
		t.Fatalf("only %d batches with alerts: the checkpoints were never lost, the test proves nothing", batches)
	}
	if fenced == 0 {
		t.Fatal("the engine's checkpoints were never fenced off after the restored checkpoint")
	}
	w.matchesReference(t, group, reference)
	t.Logf("checkpoints of batches 4-6 lost under the running engine: fenced %d time(s), resumed in the same run, %d alerts once", fenced, len(w.want))
}

// TestEngineRetriesProduceExactlyOnce fails produce attempts, some before
// anything is sent and some after the transaction committed (as if its
// acknowledgement were lost), and checks that the retries leave each
// alert exactly once in the committed topic.
func TestEngineRetriesProduceExactlyOnce(t *testing.T) {
	w := newWorld(t)
	eng := w.engine(t, "alerts-retry", "r", 9)
	var begins, commits int
	eng.hook = func(stage string, alerts int) error {
		switch {
		case stage == "txn-begin" && begins < 3:
			begins++
			return errors.New("injected: broker unavailable")
		case stage == "txn-committed" && commits < 3:
			commits++
			return errors.New("injected: commit acknowledgement lost")
		}
		return nil
	}
	w.runUntilCaughtUp(t, eng, "alerts-retry")
	if begins != 3 || commits != 3 {
		t.Fatalf("injected %d begin and %d commit failures, want 3 each", begins, commits)
	}
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d exactly once:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
	}
	if n := w.outboxLen(t); n != 0 {
		t.Errorf("got %d alerts left in the outbox, want 0", n)
	}
}

// TestEngineRenewsProducerAfterAbortedTransaction: a produce refused with
// INVALID_PRODUCER_EPOCH (the coordinator aborted the transaction, as it
// does when a broker outage outlives the transaction timeout) makes the
// engine replace its producer and go on, rather than stop; the alerts are
// still produced exactly once.
func TestEngineRenewsProducerAfterAbortedTransaction(t *testing.T) {
	w := newWorld(t)
	eng := w.engine(t, "alerts-renew", "r", 9)
	var aborted int
	var before *kgo.Client
	eng.hook = func(stage string, alerts int) error {
		if stage == "txn-begin" && aborted < 2 {
			aborted++
			before = eng.prod
			return fmt.Errorf("injected: %w", kerr.InvalidProducerEpoch)
		}
		if stage == "txn-begin" && before != nil && eng.prod == before {
			t.Error("the producer was not replaced after the aborted transaction")
		}
		return nil
	}
	w.runUntilCaughtUp(t, eng, "alerts-renew")
	if aborted != 2 {
		t.Fatalf("injected %d aborted transactions, want 2", aborted)
	}
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d exactly once:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
	}
}

// TestTwoEnginesUnderOneInstanceName runs a second engine of the group
// under the first one's instance name (two engines on one host, both with
// the default) while the first is about to produce: the second's producer
// takes over the transactional id, the first stops with an error naming
// --instance instead of fencing it back, and the second, given the first's
// partitions, commits every alert of the script exactly once: all of them,
// as the first committed none.
func TestTwoEnginesUnderOneInstanceName(t *testing.T) {
	w := newWorld(t)
	const group, instance = "alerts-twins", "twin"
	first := w.engine(t, group, instance, 9)
	second := w.engine(t, group, instance, 9)
	adm := kafkatest.Admin(t, w.brokers)
	txnID := group + "/" + instance
	producer := func() (int64, int16) {
		t.Helper()
		d, err := adm.DescribeTransactions(context.Background(), txnID)
		if err == nil {
			err = d[txnID].Err
		}
		if err != nil {
			t.Errorf("describe transactional id %s: %v", txnID, err)
			return -1, -1
		}
		return d[txnID].ProducerID, d[txnID].ProducerEpoch
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secondDone := make(chan error, 1)
	started := false
	first.hook = func(stage string, alerts int) error {
		if stage != "txn-begin" || started {
			return nil
		}
		started = true
		id, epoch := producer()
		go func() { secondDone <- second.Run(ctx) }()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if nid, nepoch := producer(); nid != id || nepoch != epoch {
				return nil // the second engine's producer holds the id now
			}
			if time.Now().After(deadline) {
				t.Error("the second engine's producer did not take over the transactional id within 30s")
				return nil
			}
		}
	}
	err := first.Run(ctx)
	if !started {
		t.Fatalf("the first engine stopped before producing: %v", err)
	}
	if !errors.Is(err, kerr.ProducerFenced) || !strings.Contains(err.Error(), "--instance") || !strings.Contains(err.Error(), txnID) {
		t.Fatalf("first engine: got %v, want PRODUCER_FENCED explained by the shared instance name and --instance", err)
	}
	for deadline := time.Now().Add(90 * time.Second); !w.caughtUp(t, group); time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-secondDone:
			t.Fatalf("the second engine stopped before catching up: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the second engine did not catch up within 90s")
		}
	}
	cancel()
	if err := <-secondDone; err != nil {
		t.Fatalf("second engine: %v", err)
	}
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d exactly once:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
	}
	if n := w.outboxLen(t); n != 0 {
		t.Errorf("got %d alerts left in the outbox, want 0", n)
	}
	if a, b := testutil.ToFloat64(first.metrics.produced), testutil.ToFloat64(second.metrics.produced); a != 0 || int(b) != len(w.want) {
		t.Errorf("alerts committed: first engine %v, second %v; want 0 and %d", a, b, len(w.want))
	}
}

// TestEngineWaitsOutAProducerIDFailure: an InitProducerID that fails on a
// broker going away (as when a node dies right after the engine connected)
// is tried again, at start and when the producer is replaced, and the
// engine goes on to produce every alert exactly once; missing rights for
// the transactional id still stop it (TestSecureDenied in internal/cli).
func TestEngineWaitsOutAProducerIDFailure(t *testing.T) {
	w := newWorld(t)
	eng := w.engine(t, "alerts-pid", "r", 9)
	var calls, failed, aborted int
	eng.hook = func(stage string, alerts int) error {
		switch {
		case stage == "producer-id":
			// Calls 1 and 2 fail at start, 3 succeeds; 4 and 5 fail
			// when the aborted transaction's producer is replaced.
			if calls++; calls != 3 && calls <= 5 {
				failed++
				return errors.New("injected: unable to dial: connection refused")
			}
		case stage == "txn-begin" && aborted < 1:
			aborted++
			return fmt.Errorf("injected: %w", kerr.InvalidProducerEpoch)
		}
		return nil
	}
	w.runUntilCaughtUp(t, eng, "alerts-pid")
	if failed != 4 || aborted != 1 || calls != 6 {
		t.Fatalf("injected %d producer id failures in %d attempts and %d aborted transactions, want 4 in 6 and 1", failed, calls, aborted)
	}
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d exactly once:\n got  %v\n want %v", len(got), len(w.want), got, w.want)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	ctx := context.Background()
	st := NewStore(pool)
	added, err := st.Add(ctx, Rule{Kind: KindPctMove, Symbol: "nvda", Threshold: event.MustParseDecimal("2.5"),
		Window: 5 * time.Minute, Cooldown: time.Minute, Note: "  intraday  "})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID <= 0 || added.Symbol != "NVDA" || added.Note != "intraday" || !added.Enabled || added.CreatedAt.IsZero() {
		t.Errorf("got %+v, want an enabled NVDA rule with an id", added)
	}
	if _, err := st.Add(ctx, Rule{Kind: KindPriceAbove, Threshold: event.Unit}); !errors.Is(err, ErrInvalidRule) {
		t.Errorf("got %v, want ErrInvalidRule for a level without symbol", err)
	}
	got, err := st.Get(ctx, added.ID)
	if err != nil || got != added {
		t.Errorf("got %+v (%v), want %+v", got, err, added)
	}
	if err := st.SetEnabled(ctx, added.ID, false); err != nil {
		t.Fatal(err)
	}
	list, err := st.List(ctx)
	if err != nil || len(list) != 1 || list[0].Enabled {
		t.Errorf("got %+v (%v), want one disabled rule", list, err)
	}
	if err := st.Remove(ctx, added.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(ctx, added.ID); !errors.Is(err, ErrRuleNotFound) {
		t.Errorf("got %v, want ErrRuleNotFound", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO alerts (alert_id, rule_id, kind, symbol, message, value, ts, kafka_partition, kafka_offset)
		VALUES ('r1-prices-0-1', 1, 'price_above', 'AAPL', 'm', 101.5, now(), 0, 1)`); err != nil {
		t.Fatal(err)
	}
	recent, err := st.Recent(ctx, 10)
	if err != nil || len(recent) != 1 || recent[0].Value != event.MustParseDecimal("101.5") {
		t.Errorf("got %+v (%v), want the stored alert", recent, err)
	}
}
