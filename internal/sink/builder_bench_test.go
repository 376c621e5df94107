package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

// BenchmarkBuilderAdd measures the sink's decode stage per record: header
// reads, decode and filing into a batch.
func BenchmarkBuilderAdd(b *testing.B) {
	stamp := []byte(time.Date(2026, 3, 10, 12, 0, 0, 123456789, time.UTC).Format(time.RFC3339Nano))
	recs := make([]*kgo.Record, 1000)
	for i := range recs {
		v := fmt.Sprintf(`{"symbol":"AAPL","sector":"Technology","seq":%d,"ts":"2026-03-10T12:00:00Z","bid":"187.2400","ask":"187.2600","last":"187.2500","volume":1200}`, i)
		recs[i] = &kgo.Record{Topic: "p", Offset: int64(i), Value: []byte(v), Headers: []kgo.RecordHeader{
			{Key: event.HeaderSchema, Value: []byte(event.SchemaPriceV1)},
			{Key: event.HeaderProducedAt, Value: stamp},
			{Key: event.HeaderRunID, Value: []byte("bench")},
		}}
	}
	bl := builder{topics: map[string]string{"p": topicPrices}}
	pos := func(topicPartition) int64 { return -1 }
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		bat := newBatch()
		bl.addPartition(context.Background(), bat, "p", 0, recs, pos, now)
		if len(bat.ticks) != len(recs) {
			b.Fatalf("got %d ticks, want %d", len(bat.ticks), len(recs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}
