package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
)

// LiveOptions are the franz-go options of the dashboard's live reader: the
// prices, trades and alerts topics from their latest offsets, with no
// consumer group (several dashboards never steal partitions from each
// other, and none commits anything), and fetch buffers kept small so memory
// stays bounded. Callers add the connection options (kafka.Options).
func LiveOptions(topics kafka.Topics) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumeTopics(topics.Prices, topics.Trades, topics.Alerts),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxBytes(8 << 20),
		kgo.FetchMaxPartitionBytes(2 << 20),
		kgo.MaxConcurrentFetches(3),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
}

// reader feeds the live market view from a consumer client.
type reader struct {
	cl      *kgo.Client
	topics  kafka.Topics
	market  *market
	metrics *serverMetrics
	log     *slog.Logger
	now     func() time.Time
	dec     *format.Decoder
}

// run polls until ctx ends. It owns no goroutine of its own; the client is
// closed by its owner after run returns.
//
// A topic deleted and created again under the reader is purged from the
// client and added back (see kafka.Recreated), so the live view goes on
// with the new topic from its end.
func (r *reader) run(ctx context.Context) error {
	recreated := kafka.NewRecreated()
	for {
		fs := r.cl.PollRecords(ctx, 4096)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return ctx.Err()
		}
		fresh := recreated.Note(fs)
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, kerr.UnknownTopicID) && !slices.Contains(fresh, t) {
				return // logged when first refused
			}
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("live fetch", "topic", t, "partition", p, "err", err)
			}
		})
		now := r.now()
		fs.EachRecord(func(rec *kgo.Record) { r.handle(ctx, rec, now) })
		if renew := r.renewRecreated(ctx, recreated); len(renew) > 0 {
			r.cl.PurgeTopicsFromClient(renew...)
			r.cl.AddConsumeTopics(renew...)
		}
	}
}

// renewRecreated returns the topics deleted and created again under the
// reader, and counts and logs them.
func (r *reader) renewRecreated(ctx context.Context, rec *kafka.Recreated) []string {
	if !rec.Pending() {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	renew := rec.Check(lctx, r.cl)
	if len(renew) > 0 {
		r.metrics.recreated.Add(float64(len(renew)))
		r.log.Warn("the brokers list a topic the live view reads under a new id: the topic was deleted and created again; reading the new topic from its end",
			"topics", renew)
	}
	return renew
}

func (r *reader) handle(ctx context.Context, rec *kgo.Record, now time.Time) {
	h := event.ReadHeaders(rec.Headers)
	var produced int64
	if t, ok := event.ParseTime(h.ProducedAt); ok {
		produced = t.UnixNano()
		r.metrics.observeReceived(now.Sub(t))
	}
	r.metrics.records.WithLabelValues(topicLabel(r.topics, rec.Topic)).Inc()
	_, v, err := r.dec.Decode(ctx, h.Schema, rec.Value)
	if err != nil {
		// The sink dead-letters what cannot be decoded; the live view
		// only skips it.
		r.metrics.undecodable.Inc()
		r.log.Debug("live record skipped", "topic", rec.Topic, "partition", rec.Partition,
			"offset", rec.Offset, "err", fmt.Errorf("decode: %w", err))
		return
	}
	switch v := v.(type) {
	case *event.Price:
		r.market.addPrice(v, produced)
	case *event.Trade:
		r.market.addTrade(v, produced)
	case *event.Alert:
		r.market.addAlert(v, produced)
	}
}

// topicLabel maps a topic to its bounded metric label.
func topicLabel(t kafka.Topics, topic string) string {
	switch topic {
	case t.Prices:
		return "prices"
	case t.Trades:
		return "trades"
	case t.Alerts:
		return "alerts"
	}
	return "other"
}
