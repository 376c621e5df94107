package sink

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

// deadLetterRecord builds the deadletter topic's copy of d: the original
// key and value, and headers saying why and where from. Besides the dead
// letter headers it carries the contract's schema (the original record's,
// empty when it had none), produced_at (now, when the sink sends it) and
// run_id (the original record's, when it had one).
//
// The copy must fit the producer's limit (limit bytes) although it carries
// more headers than the original, which may have been of the largest size
// the producer takes: when it would not, the copy goes without the
// original value (and then key), which the dead_letters table keeps, and
// its error header says so. The schema header is cut to maxSchemaText.
func deadLetterRecord(topic string, d deadLetter, now time.Time, limit int) *kgo.Record {
	src := d.src
	orig := event.ReadHeaders(src.Headers)
	key, value, errText := src.Key, src.Value, d.err
	budget := limit - recordOverhead - len(errText) - len(orig.ProducedAt) - len(orig.RunID) - 2*maxSchemaText
	if len(key)+len(value) > budget {
		errText += fmt.Sprintf("; the value (%d bytes) is left out of this copy, see the dead_letters table", len(value))
		value = nil
		if len(key) > budget {
			errText += fmt.Sprintf("; so is the key (%d bytes)", len(key))
			key = nil
		}
	}
	h := event.Headers{
		Schema:           boundedBytes(orig.Schema, maxSchemaText),
		ProducedAt:       event.AppendTime(nil, now),
		RunID:            orig.RunID,
		Reason:           []byte(d.reason),
		Error:            []byte(errText),
		SourceTopic:      []byte(src.Topic),
		SourcePartition:  strconv.AppendInt(nil, int64(src.Partition), 10),
		SourceOffset:     strconv.AppendInt(nil, src.Offset, 10),
		SourceProducedAt: orig.ProducedAt,
	}
	if h.Schema == nil {
		h.Schema = []byte{}
	}
	return &kgo.Record{Topic: topic, Key: key, Value: value, Headers: h.Records()}
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
		recs[i] = deadLetterRecord(s.opts.Topics.DeadLetter, d, now, s.kcfg.BatchBytes)
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce dead letters: %w", err)
	}
	b.dlqSent = len(b.dead)
	return nil
}

// maxErrorText bounds a dead letter's error text (table and topic): the
// text can quote the record (a schema header of any size), and the copy
// on the deadletter topic must stay under the producer's batch limit.
const maxErrorText = 1024

// maxSchemaText bounds the schema a dead letter records (table and
// topic); a record may carry a schema header of any size.
const maxSchemaText = 256

// recordOverhead is room, within the producer's batch limit, for the
// batch and record framing and the fixed dead-letter headers (names,
// reason, source coordinates, produced_at).
const recordOverhead = 1024

// newDeadLetter files rec as a dead letter with reason and err, its
// error text cut to maxErrorText.
func newDeadLetter(rec *kgo.Record, reason string, err error) deadLetter {
	return deadLetter{src: rec, reason: reason, err: boundedText(err.Error(), maxErrorText)}
}

// boundedText cuts s to at most n bytes at a rune boundary, marking the
// cut with an ellipsis.
func boundedText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// boundedBytes is boundedText for a header value; nil stays nil.
func boundedBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return []byte(boundedText(string(b), n))
}
