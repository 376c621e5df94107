package sink

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

// deadLetterRecord builds the deadletter topic's copy of d: the original
// key and value, and headers saying why and where from. Besides the dead
// letter headers it carries the contract's schema (the original record's,
// empty when it had none), produced_at (now, when the sink sends it) and
// run_id (the original record's, when it had one).
func deadLetterRecord(topic string, d deadLetter, now time.Time) *kgo.Record {
	src := d.src
	orig := event.ReadHeaders(src.Headers)
	h := event.Headers{
		Schema:           orig.Schema,
		ProducedAt:       event.AppendTime(nil, now),
		RunID:            orig.RunID,
		Reason:           []byte(d.reason),
		Error:            []byte(d.err),
		SourceTopic:      []byte(src.Topic),
		SourcePartition:  strconv.AppendInt(nil, int64(src.Partition), 10),
		SourceOffset:     strconv.AppendInt(nil, src.Offset, 10),
		SourceProducedAt: orig.ProducedAt,
	}
	if h.Schema == nil {
		h.Schema = []byte{}
	}
	return &kgo.Record{Topic: topic, Key: src.Key, Value: src.Value, Headers: h.Records()}
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
