package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
)

// Span is the offsets [Start, End) of one partition.
type Span struct{ Start, End int64 }

// Len is the number of offsets in s.
func (s Span) Len() int64 { return max(0, s.End-s.Start) }

// Spans returns, per topic, the span of each partition (indexed by
// partition number) that a read-committed reader finds now: from the log
// start, or with from set the first offset whose timestamp is at or after
// from, up to the last stable offset. Every topic must exist.
func Spans(ctx context.Context, adm *kadm.Client, from time.Time, topics ...string) (map[string][]Span, error) {
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil && !from.IsZero() {
		starts, err = adm.ListOffsetsAfterMilli(ctx, from.UnixMilli(), topics...)
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := map[string][]Span{}
	var errs []error
	for _, topic := range topics {
		parts, ok := ends[topic]
		if !ok || parts[-1].Err != nil {
			errs = append(errs, fmt.Errorf("topic %s does not exist", topic))
			continue
		}
		spans := make([]Span, len(parts))
		for p, o := range parts {
			if p < 0 || int(p) >= len(spans) {
				errs = append(errs, fmt.Errorf("topic %s: unexpected partition %d", topic, p))
				continue
			}
			st, ok := starts.Lookup(topic, p)
			switch {
			case o.Err != nil:
				errs = append(errs, fmt.Errorf("topic %s partition %d: end offset: %w", topic, p, o.Err))
			case !ok || st.Err != nil:
				errs = append(errs, fmt.Errorf("topic %s partition %d: no start offset", topic, p))
			default:
				spans[p] = Span{Start: min(st.Offset, o.Offset), End: o.Offset}
			}
		}
		out[topic] = spans
	}
	return out, errors.Join(errs...)
}

// ReadSpans reads the records of spans read-committed (what a
// transaction aborted is skipped) and calls fn with each, in offset order
// within a partition, until every partition has reached the end of its
// span; records past it are not passed on. fn must not keep the record.
//
// A partition whose last offsets hold no record (removed by compaction)
// would never reach its end: once no record has arrived for idle while a
// broker still answers, the partitions left are taken as read, and their
// number is returned. An error from fn or a fetch ends the read.
func ReadSpans(ctx context.Context, cfg config.Kafka, log *slog.Logger, spans map[string][]Span, idle time.Duration,
	fn func(*kgo.Record) error) (short int, err error) {
	from := map[string]map[int32]kgo.Offset{}
	left := map[string]map[int32]int64{} // the last offset to wait for
	for topic, ps := range spans {
		for p, s := range ps {
			if s.Len() == 0 {
				continue
			}
			if from[topic] == nil {
				from[topic], left[topic] = map[int32]kgo.Offset{}, map[int32]int64{}
			}
			from[topic][int32(p)] = kgo.NewOffset().At(s.Start)
			left[topic][int32(p)] = s.End - 1
		}
	}
	if len(from) == 0 {
		return 0, nil
	}
	cl, err := NewClient(ctx, cfg, log, kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(4<<20))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	remaining := func() int {
		n := 0
		for _, ps := range left {
			n += len(ps)
		}
		return n
	}
	for remaining() > 0 {
		pctx, cancel := context.WithTimeout(ctx, idle)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = fmt.Errorf("fetch %s partition %d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return 0, ferr
		}
		if fetches.NumRecords() == 0 {
			if err := cl.Ping(ctx); err != nil {
				continue // the brokers are away: not the end of the data
			}
			short = remaining()
			log.Info("partitions end before their end offset (compacted?); taken as read", "partitions", short)
			return short, nil
		}
		var fnErr error
		fetches.EachRecord(func(r *kgo.Record) {
			last, ok := left[r.Topic][r.Partition]
			if !ok || fnErr != nil {
				return
			}
			if r.Offset >= last {
				delete(left[r.Topic], r.Partition)
				if len(left[r.Topic]) == 0 {
					delete(left, r.Topic)
				}
			}
			if r.Offset > last || r.Attrs.IsControl() {
				return
			}
			fnErr = fn(r)
		})
		if fnErr != nil {
			return 0, fnErr
		}
	}
	return 0, nil
}

// Grown is a topic whose partitions AddPartitions increased.
type Grown struct {
	Topic    string
	From, To int
}

// AddPartitions grows each of topics to n partitions through the admin
// API. Every topic must exist and have fewer than n partitions: partitions
// can be added, never removed, so a topic at n or more is an error, and
// then no topic is changed. It returns once every broker sees the new
// partitions with a leader.
func AddPartitions(ctx context.Context, cl *kgo.Client, n int, topics ...string) ([]Grown, error) {
	adm := kadm.NewClient(cl)
	infos, err := Describe(ctx, adm, "", topics...)
	if err != nil {
		return nil, err
	}
	var grown []Grown
	var errs []error
	for _, topic := range topics {
		i := slices.IndexFunc(infos, func(t TopicInfo) bool { return t.Name == topic })
		switch {
		case i < 0:
			errs = append(errs, fmt.Errorf("topic %s does not exist", topic))
		case len(infos[i].Partitions) >= n:
			errs = append(errs, fmt.Errorf("topic %s has %d partitions already: --topic-partitions must be larger (partitions can be added, never removed)",
				topic, len(infos[i].Partitions)))
		default:
			grown = append(grown, Grown{Topic: topic, From: len(infos[i].Partitions), To: n})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	resp, err := adm.UpdatePartitions(ctx, n, topics...)
	if err != nil {
		return nil, fmt.Errorf("add partitions: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			errs = append(errs, topicError("add partitions to "+r.Topic, r.Err, r.ErrMessage, "ALTER", r.Topic))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return grown, waitVisible(ctx, cl, topics, n)
}

// PastEnd returns, of the stored offsets at (next offsets, by topic and
// partition), those past their partition's end (its high watermark), each
// with that end: offsets that count records of another log than the
// brokers hold. The topic was deleted and created again, the cluster
// replaced with its consumers' database kept, or the log truncated (an
// unclean leader election). Offsets of 0 are not asked about; partitions
// whose end the brokers do not give now are left out.
func PastEnd(ctx context.Context, cl *kgo.Client, at map[string]map[int32]int64) (map[string]map[int32]int64, error) {
	var topics []string
	for topic, parts := range at {
		for _, next := range parts {
			if next > 0 {
				topics = append(topics, topic)
				break
			}
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	past := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		next, ok := at[o.Topic][o.Partition]
		if !ok || o.Err != nil || next <= o.Offset {
			return
		}
		if past[o.Topic] == nil {
			past[o.Topic] = map[int32]int64{}
		}
		past[o.Topic][o.Partition] = o.Offset
	})
	return past, nil
}
