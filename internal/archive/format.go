package archive

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Format and Version identify the file format in the header line.
const (
	Format  = "tradestream-topics"
	Version = 1
)

// MaxLine is the longest line a Reader accepts, in bytes: room for a
// record of 16 MiB (Kafka's limit is 1 MiB unless raised) in base64.
const MaxLine = 24 << 20

// Header is the first line of a file.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// CreatedAt is when the export started.
	CreatedAt time.Time `json:"created_at"`
	// Prefix is the topic prefix of the exported topics; Topic names are
	// relative to it.
	Prefix string `json:"prefix"`
	// From and To, when set, bound the records' timestamps: From <= t < To.
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	// Topics lists the exported topics.
	Topics []Topic `json:"topics"`
}

// Topic is one exported topic.
type Topic struct {
	// Name is the topic's name without the prefix.
	Name string `json:"name"`
	// Partitions holds the range exported of each partition, indexed by
	// partition number.
	Partitions []Range `json:"partitions"`
}

// Range is the offsets [Start, End) of a partition an export read.
type Range struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Topic returns the named topic of h, or false.
func (h *Header) Topic(name string) (Topic, bool) {
	for _, t := range h.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

func (h *Header) check() error {
	if h.Format != Format {
		return fmt.Errorf("not a tradestream topics export (format %q, want %q)", h.Format, Format)
	}
	if h.Version != Version {
		return fmt.Errorf("format version %d; this binary reads version %d", h.Version, Version)
	}
	seen := map[string]bool{}
	for _, t := range h.Topics {
		switch {
		case t.Name == "":
			return errors.New("header: a topic without a name")
		case seen[t.Name]:
			return fmt.Errorf("header: topic %q listed twice", t.Name)
		case len(t.Partitions) == 0:
			return fmt.Errorf("header: topic %q has no partitions", t.Name)
		}
		seen[t.Name] = true
		for p, r := range t.Partitions {
			if r.Start < 0 || r.End < r.Start {
				return fmt.Errorf("header: topic %q partition %d: bad range [%d, %d)", t.Name, p, r.Start, r.End)
			}
		}
	}
	return nil
}

// line is one record line, or the trailer when End is set.
type line struct {
	Topic     string        `json:"topic,omitempty"`
	Partition int32         `json:"partition"`
	Offset    int64         `json:"offset"`
	Timestamp int64         `json:"timestamp"`
	Key       []byte        `json:"key"`
	Value     []byte        `json:"value"`
	Headers   []headerField `json:"headers,omitempty"`
	End       *trailer      `json:"end,omitempty"`
}

type headerField struct {
	Key   string `json:"key,omitempty"`
	Key64 []byte `json:"key64,omitempty"`
	Value []byte `json:"value"`
}

type trailer struct {
	Records int64 `json:"records"`
}

// fromRecord fills l from r, whose topic is written as topic.
func (l *line) fromRecord(topic string, r *kgo.Record) {
	*l = line{
		Topic: topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
		Key: r.Key, Value: r.Value, Headers: l.Headers[:0],
	}
	for _, h := range r.Headers {
		f := headerField{Key: h.Key, Value: h.Value}
		if !utf8.ValidString(h.Key) {
			f = headerField{Key64: []byte(h.Key), Value: h.Value}
		}
		l.Headers = append(l.Headers, f)
	}
}

// record returns l as a record.
func (l *line) record() *kgo.Record {
	r := &kgo.Record{
		Topic: l.Topic, Partition: l.Partition, Offset: l.Offset,
		Timestamp: time.UnixMilli(l.Timestamp), Key: l.Key, Value: l.Value,
	}
	if len(l.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(l.Headers))
		for i, h := range l.Headers {
			k := h.Key
			if h.Key64 != nil {
				k = string(h.Key64)
			}
			r.Headers[i] = kgo.RecordHeader{Key: k, Value: h.Value}
		}
	}
	return r
}

// check validates a record line against the header.
func (l *line) check(h *Header) error {
	t, ok := h.Topic(l.Topic)
	switch {
	case l.Topic == "":
		return errors.New("record without a topic")
	case !ok:
		return fmt.Errorf("topic %q is not in the header", l.Topic)
	case l.Partition < 0 || int(l.Partition) >= len(t.Partitions):
		return fmt.Errorf("topic %q has no partition %d (the header lists %d)", l.Topic, l.Partition, len(t.Partitions))
	case l.Offset < 0:
		return fmt.Errorf("negative offset %d", l.Offset)
	}
	for i, f := range l.Headers {
		if f.Key != "" && f.Key64 != nil {
			return fmt.Errorf("header %d has both key and key64", i)
		}
	}
	return nil
}
