package sink

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

// Headers of a record on the deadletter topic, besides the contract's
// schema (the original record's), produced_at (when the sink sent it) and
// run_id (the original record's).
const (
	// HeaderReason is the dead-letter reason, e.g. "malformed_json".
	HeaderReason = "reason"
	// HeaderError is the error text.
	HeaderError = "error"
	// HeaderSourceTopic, HeaderSourcePartition and HeaderSourceOffset say
	// where the original record is.
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	// HeaderSourceProducedAt is the original record's produced_at.
	HeaderSourceProducedAt = "source_produced_at"
)

// deadLetterRecord builds the deadletter topic's copy of d: the original
// key and value, and headers saying why and where from.
func deadLetterRecord(topic string, d deadLetter, now time.Time) *kgo.Record {
	src := d.src
	h := []kgo.RecordHeader{
		{Key: HeaderReason, Value: []byte(d.reason)},
		{Key: HeaderError, Value: []byte(d.err)},
		{Key: HeaderSourceTopic, Value: []byte(src.Topic)},
		{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(src.Partition), 10)},
		{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, src.Offset, 10)},
		{Key: event.HeaderSchema, Value: header(src, event.HeaderSchema)},
		{Key: event.HeaderProducedAt, Value: now.UTC().AppendFormat(nil, time.RFC3339Nano)},
	}
	if v := header(src, event.HeaderProducedAt); v != nil {
		h = append(h, kgo.RecordHeader{Key: HeaderSourceProducedAt, Value: v})
	}
	if v := header(src, event.HeaderRunID); v != nil {
		h = append(h, kgo.RecordHeader{Key: event.HeaderRunID, Value: v})
	}
	return &kgo.Record{Topic: topic, Key: src.Key, Value: src.Value, Headers: h}
}

// sendDeadLetters produces the batch's dead letters that have not gone to
// the deadletter topic yet and waits until the brokers have them. It runs
// before the transaction that stores them, so a crash in between sends a
// dead letter twice (the topic is at-least-once, with the source
// coordinates in the headers to deduplicate on) but never loses one; the
// dead_letters table holds each exactly once.
func (s *Sink) sendDeadLetters(ctx context.Context, b *batch) error {
	pending := b.dead[b.dlqSent:]
	if len(pending) == 0 {
		return nil
	}
	now := s.opts.Now()
	recs := make([]*kgo.Record, len(pending))
	for i, d := range pending {
		recs[i] = deadLetterRecord(s.opts.Topics.DeadLetter, d, now)
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce dead letters: %w", err)
	}
	b.dlqSent = len(b.dead)
	return nil
}
