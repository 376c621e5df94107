package sink

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestDatedRecordsNeverAbortABatch sends prices and trades dated on days
// without a partition, before the retention window and far in the future,
// plus an alert and a user tombstone, in one batch.
func TestDatedRecordsNeverAbortABatch(t *testing.T) {
	e := newTestEnv(t, 1)
	now := time.Now().UTC()
	price := func(seq int64, ts time.Time) *kgo.Record {
		p := event.Price{Symbol: "MSFT", Sector: "Technology", Seq: seq, Time: ts,
			Bid: 4_000_000, Ask: 4_000_100, Last: 4_000_050, Volume: 10}
		return record(e.names.Prices, event.SchemaPriceV1, p.Key(), p.AppendJSON(nil))
	}
	tr := event.Trade{ID: 1, UserID: 7, AccountID: 7, Symbol: "MSFT", Side: event.SideSell, Quantity: 2,
		Price: 4_000_000, Fee: event.Unit, Time: now.AddDate(0, 0, -2), BalanceAfter: 8_000_000 - event.Unit}
	al := event.Alert{ID: "r1-prices-0-1", RuleID: 1, Kind: "price_above", Symbol: "MSFT", Message: "MSFT above 400",
		Value: 4_000_050, Time: now}
	u := event.User{ID: 7, Name: "Gone", Email: "gone@example.com", Country: "FR", SignupAt: now.AddDate(-1, 0, 0),
		Experience: event.ExperienceAdvanced, RiskTolerance: event.RiskHigh, Sectors: []string{"Technology"},
		Account: event.Account{ID: 7, Type: event.AccountMargin, Currency: "EUR", Balance: 1000 * event.Unit}, UpdatedAt: now.AddDate(0, 0, -3)}
	e.produce(t,
		price(1, now),
		price(2, now.AddDate(0, 0, -10)), // before the 3-day retention
		price(3, now.AddDate(0, 0, 20)),  // no partition yet
		price(4, now.AddDate(0, 0, 400)), // beyond MaxAhead
		record(e.names.Trades, event.SchemaTradeV1, tr.Key(), tr.AppendJSONVersion(nil, event.SchemaTradeV1)),
		record(e.names.Alerts, event.SchemaAlertV1, al.Key(), al.AppendJSON(nil)),
		record(e.names.Alerts, event.SchemaAlertV1, al.Key(), al.AppendJSON(nil)), // produced twice, stored once
		record(e.names.Users, event.SchemaUserV1, u.Key(), u.AppendJSON(nil)),
		&kgo.Record{Topic: e.names.Users, Key: []byte(strconv.Itoa(int(u.ID)))}, // tombstone
	)
	opts := e.options()
	opts.RetentionDays = 3
	e.runSink(t, opts, nil, time.Minute)

	tests := []struct {
		name string
		sql  string
		want int64
	}{
		{"ticks loaded", "SELECT count(*) FROM price_ticks", 2},
		{"trade on a day without a partition loaded", "SELECT count(*) FROM trades", 1},
		{"alert stored once", "SELECT count(*) FROM alerts", 1},
		{"tombstoned user gone", "SELECT count(*) FROM users", 0},
		{"its account kept", "SELECT count(*) FROM accounts WHERE account_id = 7", 1},
		{"outside retention", "SELECT count(*) FROM dead_letters WHERE reason = 'outside_retention'", 1},
		{"too far ahead", "SELECT count(*) FROM dead_letters WHERE reason = 'future_time'", 1},
	}
	for _, tt := range tests {
		if got := e.count(t, tt.sql); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
	parts, err := store.Partitions(context.Background(), e.pool)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range parts {
		have[p.Name] = true
	}
	for _, want := range []string{
		store.PartitionName("price_ticks", now.AddDate(0, 0, 20)),
		store.PartitionName("trades", now.AddDate(0, 0, -2)),
	} {
		if !have[want] {
			t.Errorf("partition %s was not created", want)
		}
	}
	if have[store.PartitionName("price_ticks", now.AddDate(0, 0, -10))] {
		t.Error("a partition was created for a day before the retention window")
	}

	// The dead letters are on the deadletter topic too, with their origin.
	cl := e.consumer(t, e.names.DeadLetter)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < 2 && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	if len(got) != 2 {
		t.Fatalf("got %d records on the deadletter topic, want 2", len(got))
	}
	for _, r := range got {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if h[event.HeaderSourceTopic] != e.names.Prices || h[event.HeaderSourcePartition] != "0" || h[event.HeaderSchema] != event.SchemaPriceV1 ||
			(h[event.HeaderReason] != ReasonOutsideRetention && h[event.HeaderReason] != ReasonFutureTime) || h[event.HeaderError] == "" ||
			(h[event.HeaderSourceOffset] != "1" && h[event.HeaderSourceOffset] != "3") {
			t.Errorf("dead letter headers %v do not say why and where from", h)
		}
	}
	e.verify(t, 3)
}

// TestTransactionalAlertsTopic loads an alerts topic written in Kafka
// transactions, as the alerts engine writes it: committed alerts are
// stored, aborted ones are not, and the sink's position passes the
// transaction markers, so --until-caught-up ends.
func TestTransactionalAlertsTopic(t *testing.T) {
	e := newTestEnv(t, 1)
	txn := kafkatest.Client(t, e.kcfg.Brokers, append(kafka.ProducerOptions(e.kcfg),
		kgo.TransactionalID(e.topics.Prefix+"alerts-txn"))...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	send := func(id string, commit bool) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		a := event.Alert{ID: id, RuleID: 1, Kind: "price_above", Symbol: "MSFT", Message: id, Value: event.Unit, Time: time.Now().UTC()}
		if err := txn.ProduceSync(ctx, record(e.names.Alerts, event.SchemaAlertV1, a.Key(), a.AppendJSON(nil))).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	send("a1", true)
	send("a2", false)
	send("a3", true)
	e.runSink(t, e.options(), nil, time.Minute)
	var ids []string
	rows, err := e.pool.Query(ctx, "SELECT alert_id FROM alerts ORDER BY alert_id")
	if err != nil {
		t.Fatal(err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "a1,a3" {
		t.Errorf("got alerts %v, want the committed a1 and a3", ids)
	}
	// Three records and three markers: the stored position is the end.
	if got := e.count(t, "SELECT next_offset FROM sink_offsets WHERE topic = $1", e.names.Alerts); got != 6 {
		t.Errorf("got stored offset %d, want 6 (past the last marker)", got)
	}
	e.verify(t, 0)
}
