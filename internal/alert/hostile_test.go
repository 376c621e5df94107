package alert

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// hostileSkipReasons is the reason the engine counts a hostile record as
// skipped with (it decodes by the schema header alone).
var hostileSkipReasons = map[string]event.Reason{
	kafkatest.HostileRandomBytes:    event.ReasonMalformedJSON,
	kafkatest.HostileJSONArray:      event.ReasonMalformedJSON,
	kafkatest.HostileJSONWrongShape: event.ReasonInvalidField,
	kafkatest.HostileLargeValue:     event.ReasonInvalidField,
	kafkatest.HostileNULInvalidUTF8: event.ReasonMalformedJSON,
	kafkatest.HostileBinaryHeaders:  event.ReasonUnknownSchema,
	kafkatest.HostileUnknownVersion: event.ReasonUnknownSchema,
	kafkatest.HostileRepeatedSchema: event.ReasonUnknownSchema,
	kafkatest.HostileHugeSchema:     event.ReasonUnknownSchema,
	kafkatest.HostileLargest:        event.ReasonMalformedJSON,
}

// TestEngineSkipsRecordsNoSchemaDescribes puts hostile records after the
// scripted market on the prices and trades topics, then one more big
// trade: the engine counts each hostile record as skipped with its
// reason, fires exactly the script's alerts and the big trade's, and
// checkpoints past everything.
func TestEngineSkipsRecordsNoSchemaDescribes(t *testing.T) {
	w := newWorld(t)
	prod := kafkatest.Client(t, w.brokers, kafka.ProducerOptions(kafkatest.Config(w.brokers))...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := map[event.Reason]float64{}
	tr := event.Trade{ID: 9999, UserID: 1, AccountID: 1, Symbol: "AAPL", Side: event.SideBuy, Quantity: 10_000,
		Price: event.MustParseDecimal("125.5"), Fee: event.Unit, Time: t0.Add(time.Hour),
		BalanceAfter: event.FromInt(1_000_000), OrderType: event.OrderMarket}
	p := event.Price{Symbol: "AAPL", Sector: "Technology", Seq: 5000, Time: t0.Add(time.Hour),
		Bid: event.FromInt(100) - 100, Ask: event.FromInt(100) + 100, Last: event.FromInt(100), Volume: 100}
	for _, c := range []struct{ topic, schema string }{{w.topics.Prices, event.SchemaPriceV1}, {w.topics.Trades, event.SchemaTradeV2}} {
		valid := p.AppendJSON(nil)
		if c.topic == w.topics.Trades {
			valid = tr.AppendJSON(nil)
		}
		hs := kafkatest.HostileRecords(c.topic, c.schema, valid)
		for _, h := range hs {
			if h.Name == kafkatest.HostileLargest {
				kafkatest.ProduceLargest(t, prod, hs, kafkatest.Config(w.brokers).BatchBytes)
			} else if err := prod.ProduceSync(ctx, h.Record).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", h.Name, err)
			}
			want[hostileSkipReasons[h.Name]]++
			w.ends[c.topic][h.Record.Partition] = max(w.ends[c.topic][h.Record.Partition], h.Record.Offset+1)
		}
	}
	rec := &kgo.Record{Topic: w.topics.Trades, Key: tr.AppendKey(nil), Value: tr.AppendJSON(nil),
		Headers: []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(event.SchemaTradeV2)}}}
	if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	w.ends[rec.Topic][rec.Partition] = rec.Offset + 1
	w.want = append(w.want, AlertID(w.rules[3].ID, w.src("trades", rec)))
	slices.Sort(w.want)

	reg := prometheus.NewRegistry()
	eng, err := New(kafkatest.Config(w.brokers), w.pool, Options{
		Topics: w.topics, Group: w.prefix + "hostile", BatchSize: 50, FromStart: true,
		SessionTimeout: 6 * time.Second, RulesRefresh: 500 * time.Millisecond, Log: testLogger(t), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.runUntilCaughtUp(t, eng, w.prefix+"hostile")
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Errorf("committed alerts: got %d, want %d (the script's and the big trade after the hostile records)", len(got), len(w.want))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[event.Reason]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "tradestream_alerts_skipped_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				got[event.Reason(l.GetValue())] += m.GetCounter().GetValue()
			}
		}
	}
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("skipped %s: got %v, want %v", reason, got[reason], n)
		}
	}
}
