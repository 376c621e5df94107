package sink

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestNewestUserVersionWinsAcrossPartitions: once partitions are added, a
// user's versions span two partitions, and the sink may load the newer one
// first (another instance, a rebuild, another batch). The row must end at
// the newest version by updated_at, whatever the order of arrival, both
// across batches and within one.
func TestNewestUserVersionWinsAcrossPartitions(t *testing.T) {
	e := newTestEnv(t, 2)
	manual := kafkatest.Client(t, kafkatest.Brokers(t), append(kafka.ProducerOptions(e.kcfg),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	version := func(id int64, name string, at time.Time, balance event.Decimal, partition int32) *kgo.Record {
		u := event.User{ID: id, Name: name, Email: "u@example.com", Country: "DE", SignupAt: t0.AddDate(-1, 0, 0),
			Experience: event.ExperienceAdvanced, RiskTolerance: event.RiskHigh, Sectors: []string{"Technology"},
			Account: event.Account{ID: id, Type: event.AccountCash, Currency: "EUR", Balance: balance}, UpdatedAt: at}
		r := record(e.names.Users, event.SchemaUserV1, u.Key(), u.AppendJSON(nil))
		r.Partition = partition
		return r
	}
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		if err := manual.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Across batches: the newer version is loaded, then the older one.
	produce(version(7, "new", t0.Add(time.Minute), 2*event.Unit, 1))
	e.runSink(t, e.options(), nil, time.Minute)
	produce(version(7, "old", t0, 1*event.Unit, 0))
	// Within one batch: each user has a newer and an older version in
	// different partitions, in both arrangements, so whichever partition
	// the batch takes first one of them arrives newest-first.
	produce(version(8, "new", t0.Add(time.Minute), 2*event.Unit, 0), version(8, "old", t0, 1*event.Unit, 1),
		version(9, "old", t0, 1*event.Unit, 0), version(9, "new", t0.Add(time.Minute), 2*event.Unit, 1))
	e.runSink(t, e.options(), nil, time.Minute)

	for _, id := range []int64{7, 8, 9} {
		var name string
		var balance string
		if err := e.pool.QueryRow(t.Context(), `SELECT u.name, a.balance::text FROM users u JOIN accounts a USING (user_id) WHERE user_id = $1`, id).
			Scan(&name, &balance); err != nil {
			t.Fatal(err)
		}
		if name != "new" || balance != "2.0000" {
			t.Errorf("user %d: got %q with balance %s, want the newest version \"new\" with 2.0000", id, name, balance)
		}
	}
	e.verify(t, 0)
}
