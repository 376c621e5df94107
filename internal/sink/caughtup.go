package sink

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/store"
)

// span is the part of a partition a caught-up check waits for: what the
// partition held when the sink started.
type span struct{ start, end int64 }

// endOffsets returns the start and end offset of every partition of the
// data topics, as the brokers see them now.
func (s *Sink) endOffsets(ctx context.Context) (map[topicPartition]span, error) {
	adm := kadm.NewClient(s.cl)
	starts, err := adm.ListStartOffsets(ctx, s.dataTopics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, s.dataTopics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := map[topicPartition]span{}
	ends.Each(func(o kadm.ListedOffset) {
		sp := span{start: o.Offset, end: o.Offset}
		if st, ok := starts.Lookup(o.Topic, o.Partition); ok && st.Err == nil {
			sp.start = st.Offset
		}
		out[topicPartition{o.Topic, o.Partition}] = sp
	})
	return out, nil
}

// caughtUp reports whether the group's stored offsets have reached the
// target end offset of every partition, whichever instance loaded them. An
// error (the database away) counts as not yet.
func (s *Sink) caughtUp(ctx context.Context, target map[topicPartition]span) bool {
	stored, err := store.StoredOffsets(ctx, s.pool, s.opts.Group, s.dataTopics)
	if err != nil {
		return false
	}
	for tp, sp := range target {
		if sp.end <= sp.start {
			continue // nothing to consume
		}
		next, ok := stored[tp.topic][tp.partition]
		if !ok || next < sp.end {
			return false
		}
	}
	return true
}
