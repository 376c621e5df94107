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

// TestLiveViewFollowsARecreatedTopic runs the live reader on real topics,
// deletes the prices topic under it and creates it again: ticks produced
// to the new topic reach the quotes (without the renewal, franz-go goes
// on asking for the old topic's id and the quote stays where it was).
func TestLiveViewFollowsARecreatedTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	names := kafka.TopicNames(tc.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	live, err := kafka.NewClient(ctx, kafkatest.Config(brokers), slog.New(slog.DiscardHandler), LiveOptions(names)...)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	r := &reader{cl: live, topics: names, market: newMarket(), metrics: newServerMetrics(nil),
		log: slog.New(slog.DiscardHandler), now: time.Now, dec: format.NewDecoder(nil, nil)}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.run(runCtx) }()
	defer func() { stop(); <-done }()

	prod := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	seq := int64(0)
	// tickUntil produces a NVDA tick at last every 200 ms until the
	// quote shows it.
	tickUntil := func(last event.Decimal, what string) time.Duration {
		start := time.Now()
		for {
			seq++
			p := event.Price{Symbol: "NVDA", Sector: "Technology", Seq: seq, Time: time.Now().UTC(),
				Bid: last - 100, Ask: last + 100, Last: last, Volume: 10}
			rec := &kgo.Record{Topic: names.Prices, Key: p.AppendKey(nil), Value: p.AppendJSON(nil),
				Headers: []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(event.SchemaPriceV1)}}}
			if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil && ctx.Err() == nil {
				t.Logf("produce: %v", err) // the topic may be between deletion and creation
			}
			if q := r.market.Quotes(); len(q) == 1 && q[0].Last == int64(last) {
				return time.Since(start)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: the quote did not reach %d (quotes %+v)", what, last, r.market.Quotes())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	tickUntil(1_500_000, "before the topic was recreated")

	kafkatest.Recreate(ctx, t, brokers, tc, names.Prices)
	// A producer that knew the old topic is refused too (franz-go keeps
	// a topic's id): produce through a new one.
	prod = kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	took := tickUntil(1_600_000, "after the topic was recreated")
	if n := testutil.ToFloat64(r.metrics.recreated); n != 1 {
		t.Errorf("topics_recreated_total: got %v, want 1", n)
	}
	t.Logf("the live view read the recreated prices topic %v after it was created again", took.Round(10*time.Millisecond))
}
