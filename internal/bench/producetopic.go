package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
)

// Written is what one run of `bench produce` added to the benchmark's
// topic, read from the topic's end offsets before and after the run: the
// broker's count, not the tool's.
type Written struct {
	Topic string `json:"topic"`
	// Partitions is the topic's partition count.
	Partitions int `json:"partitions"`
	// Records is how many records the run added to the topic.
	Records int64 `json:"records"`
	// PartitionsWritten is how many partitions received records.
	PartitionsWritten int `json:"partitions_written"`
}

// produceTopic is the single topic both sides of `bench produce` write to:
// the trades topic's specification (replication, retention,
// min.insync.replicas) under the name "<prefix>produce".
func produceTopic(tc config.Topics) kafka.TopicSpec {
	trades := kafka.TopicNames(tc.Prefix).Trades
	specs := kafka.Specs(tc)
	spec := specs[slices.IndexFunc(specs, func(s kafka.TopicSpec) bool { return s.Name == trades })]
	spec.Name = tc.Prefix + "produce"
	return spec
}

// oneTopic maps every kind of the generator's records to topic: the
// benchmark's only change to the generator, which otherwise encodes and
// produces exactly as `tradestream gen` does.
func oneTopic(topic string) kafka.Topics {
	return kafka.Topics{Users: topic, Prices: topic, Trades: topic}
}

// endOffsets returns the end offset of each partition of topic, indexed
// by partition.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) ([]int64, error) {
	spans, err := kafka.Spans(ctx, adm, time.Time{}, topic)
	if err != nil {
		return nil, err
	}
	ends := make([]int64, len(spans[topic]))
	for p, s := range spans[topic] {
		ends[p] = s.End
	}
	return ends, nil
}

// measureWrites runs fn and returns what it added to topic, which must be
// want records.
func measureWrites(ctx context.Context, adm *kadm.Client, topic, side string, want int64, fn func() error) (Written, error) {
	before, err := endOffsets(ctx, adm, topic)
	if err != nil {
		return Written{}, err
	}
	if err := fn(); err != nil {
		return Written{}, err
	}
	after, err := endOffsets(ctx, adm, topic)
	if err != nil {
		return Written{}, err
	}
	w := Written{Topic: topic, Partitions: len(after)}
	for p, end := range after {
		n := end
		if p < len(before) {
			n -= before[p]
		}
		w.Records += n
		if n > 0 {
			w.PartitionsWritten++
		}
	}
	if w.Records != want {
		return w, fmt.Errorf("%s added %d records to %s; want %d", side, w.Records, topic, want)
	}
	return w, nil
}
