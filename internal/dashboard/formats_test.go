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

// TestLiveViewReadsEveryFormat hands the live reader one tick in each
// format, with schemas from the real registry: each moves the quote, and
// none is counted as undecodable.
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
		v := p.AppendJSON(nil)
		if f != format.JSON {
			enc, err := format.NewEncoder(ctx, reg, f, []format.Registration{{Version: event.SchemaPriceV1, Subject: subject + "-" + f.String()}})
			if err != nil {
				t.Fatal(err)
			}
			if v, err = enc.Append(nil, event.SchemaPriceV1, &p); err != nil {
				t.Fatal(err)
			}
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
