package event

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record header names: the wire contract of the record headers. Every
// record carries the first three; dead letters carry the Source and dead
// letter ones besides.
const (
	// HeaderSchema holds the schema version of the value, e.g. "trade/2".
	HeaderSchema = "schema"
	// HeaderProducedAt holds the RFC3339Nano UTC time the producer handed
	// the record to Kafka; consumers derive end-to-end latency from it.
	HeaderProducedAt = "produced_at"
	// HeaderRunID identifies the generator run that produced the record.
	HeaderRunID = "run_id"

	// HeaderReason is a dead letter's reason, e.g. "malformed_json".
	HeaderReason = "reason"
	// HeaderError is a dead letter's error text.
	HeaderError = "error"
	// HeaderSourceTopic, HeaderSourcePartition and HeaderSourceOffset say
	// where a dead letter's original record is.
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	// HeaderSourceProducedAt is a dead letter's original produced_at.
	HeaderSourceProducedAt = "source_produced_at"

	// HeaderInjected marks a record the generator's --inject sent on
	// purpose as a fault; its value names the fault: duplicate, late,
	// reorder, malformed_json, missing_field, out_of_range, invalid_field,
	// oversized or unknown_schema. Consumers may ignore it; tests
	// reconcile with it.
	HeaderInjected = "injected"
)

// Headers holds a record's headers by name, their values as raw bytes. A
// nil field is an absent header. It is the one place that maps header
// names to values: adding a header is a constant above, a field here and
// a line each in Append and ReadHeaders.
type Headers struct {
	Schema     []byte
	ProducedAt []byte
	RunID      []byte

	// Dead-letter headers.
	Reason           []byte
	Error            []byte
	SourceTopic      []byte
	SourcePartition  []byte
	SourceOffset     []byte
	SourceProducedAt []byte
}

// Append appends h's present (non-nil) headers to dst, in the order of
// the fields, and returns the extended slice. It allocates only when dst
// has no room.
func (h Headers) Append(dst []kgo.RecordHeader) []kgo.RecordHeader {
	dst = appendHeader(dst, HeaderSchema, h.Schema)
	dst = appendHeader(dst, HeaderProducedAt, h.ProducedAt)
	dst = appendHeader(dst, HeaderRunID, h.RunID)
	dst = appendHeader(dst, HeaderReason, h.Reason)
	dst = appendHeader(dst, HeaderError, h.Error)
	dst = appendHeader(dst, HeaderSourceTopic, h.SourceTopic)
	dst = appendHeader(dst, HeaderSourcePartition, h.SourcePartition)
	dst = appendHeader(dst, HeaderSourceOffset, h.SourceOffset)
	dst = appendHeader(dst, HeaderSourceProducedAt, h.SourceProducedAt)
	return dst
}

// Records returns h's present headers as a new slice, allocated once.
func (h Headers) Records() []kgo.RecordHeader {
	var buf [9]kgo.RecordHeader
	return slices.Clone(h.Append(buf[:0]))
}

func appendHeader(dst []kgo.RecordHeader, key string, v []byte) []kgo.RecordHeader {
	if v == nil {
		return dst
	}
	return append(dst, kgo.RecordHeader{Key: key, Value: v})
}

// ReadHeaders returns the known headers of hs; others are ignored. The
// values alias hs. When a key repeats, the last one wins (as Kafka's
// Headers.lastHeader does), so every consumer agrees on a record's schema.
func ReadHeaders(hs []kgo.RecordHeader) Headers {
	var h Headers
	for i := range hs {
		v := hs[i].Value
		if v == nil {
			v = []byte{}
		}
		switch hs[i].Key {
		case HeaderSchema:
			h.Schema = v
		case HeaderProducedAt:
			h.ProducedAt = v
		case HeaderRunID:
			h.RunID = v
		case HeaderReason:
			h.Reason = v
		case HeaderError:
			h.Error = v
		case HeaderSourceTopic:
			h.SourceTopic = v
		case HeaderSourcePartition:
			h.SourcePartition = v
		case HeaderSourceOffset:
			h.SourceOffset = v
		case HeaderSourceProducedAt:
			h.SourceProducedAt = v
		}
	}
	return h
}

// AppendTime appends t in the format of the time headers (produced_at,
// source_produced_at): RFC3339Nano in UTC.
func AppendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, time.RFC3339Nano)
}

// ParseTime parses a time header's value; ok is false when it is absent
// or not a time.
func ParseTime(v []byte) (t time.Time, ok bool) {
	if len(v) == 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	return t, err == nil
}
