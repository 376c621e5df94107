package dashboard

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestLiveViewReadsEveryFormat hands the live reader one tick and one
// alert in each format, with schemas from the real registry: each tick
// moves the quote, each alert joins the alerts panel, and none is counted
// as undecodable.
func TestLiveViewReadsEveryFormat(t *testing.T) {
	reg, err := format.NewRegistry(format.RegistryConfig{URL: kafkatest.Registry(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subject := "dash-live-" + time.Now().Format("150405.000000")
	r := &reader{topics: kafka.TopicNames("x."), market: newMarket(), metrics: newServerMetrics(nil),
		log: slog.New(slog.DiscardHandler), now: time.Now, dec: format.NewDecoder(reg, nil)}
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	for i, f := range []format.Format{format.JSON, format.Avro, format.Protobuf, format.JSONSchema} {
		last := event.Decimal(1_500_000 + 10_000*i)
		p := event.Price{Symbol: "NVDA", Sector: "Technology", Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Second),
			Bid: last - 100, Ask: last + 100, Last: last, Volume: 10}
		a := event.Alert{ID: "r1-prices-0-" + f.String(), RuleID: 1, Kind: "price_above", Symbol: "NVDA", Message: "NVDA above 150.0000",
			Value: last, Time: p.Time}
		v, av := p.AppendJSON(nil), a.AppendJSON(nil)
		if f != format.JSON {
			enc, err := format.NewEncoder(ctx, reg, f, []format.Registration{{Version: event.SchemaPriceV1, Subject: subject + "-" + f.String()},
				{Version: event.SchemaAlertV1, Subject: subject + "-alerts-" + f.String()}})
			if err != nil {
				t.Fatal(err)
			}
			if v, err = enc.Append(nil, event.SchemaPriceV1, &p); err != nil {
				t.Fatal(err)
			}
			if av, err = enc.Append(nil, event.SchemaAlertV1, &a); err != nil {
				t.Fatal(err)
			}
		}
		arec := &kgo.Record{Topic: "x.alerts", Value: av}
		if f == format.JSON {
			arec.Headers = []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(event.SchemaAlertV1)}}
		}
		r.handle(ctx, arec, time.Now())
		if as := r.market.Alerts(10); len(as) != i+1 || as[i].ID != a.ID || as[i].Value != int64(last) {
			t.Fatalf("%s: alerts %+v, want %d, the last %s of value %d", f, as, i+1, a.ID, last)
		}
		rec := &kgo.Record{Topic: "x.prices", Value: v}
		if f == format.JSON {
			rec.Headers = []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(event.SchemaPriceV1)}}
		}
		r.handle(ctx, rec, time.Now())
		q := r.market.Quotes()
		if len(q) != 1 || q[0].Last != int64(last) {
			t.Fatalf("%s: quotes %+v, want NVDA at %d", f, q, last)
		}
	}
	if n := testutil.ToFloat64(r.metrics.undecodable); n != 0 {
		t.Fatalf("%v records undecodable", n)
	}
}
