package gen

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultStallAfter is how long a partition may hold records without an
// acknowledgement before Watch calls it stalled.
const DefaultStallAfter = 5 * time.Second

// Watch follows the producer's records per partition, as franz-go hooks
// (pass it to kgo.WithHooks when making the producer): how many each
// partition holds unacknowledged, and when it was last acknowledged. A
// partition that holds records and has had no acknowledgement for
// StallAfter is stalled: its leader is gone, or (acks=all) fewer replicas
// than min.insync.replicas are in sync, and the producer retries while its
// bounded buffer fills. It is safe for concurrent use.
type Watch struct {
	// StallAfter is the time without an acknowledgement that makes a
	// partition holding records stalled (DefaultStallAfter when zero).
	StallAfter time.Duration

	now   func() time.Time
	parts sync.Map // partitionKey -> *partitionWatch
}

type partitionKey struct {
	topic     string
	partition int32
}

type partitionWatch struct {
	pending atomic.Int64
	// since is when pending last became non-zero; acked the last
	// acknowledgement (Unix nanoseconds, 0: none).
	since, acked atomic.Int64
}

// NewWatch returns a Watch on the clock now (nil: time.Now).
func NewWatch(now func() time.Time) *Watch {
	if now == nil {
		now = time.Now
	}
	return &Watch{now: now}
}

var (
	_ kgo.HookProduceRecordPartitioned = (*Watch)(nil)
	_ kgo.HookProduceRecordUnbuffered  = (*Watch)(nil)
)

func (w *Watch) part(topic string, partition int32) *partitionWatch {
	k := partitionKey{topic, partition}
	if v, ok := w.parts.Load(k); ok {
		return v.(*partitionWatch)
	}
	v, _ := w.parts.LoadOrStore(k, &partitionWatch{})
	return v.(*partitionWatch)
}

// OnProduceRecordPartitioned implements kgo.HookProduceRecordPartitioned:
// the record is queued for its partition.
func (w *Watch) OnProduceRecordPartitioned(r *kgo.Record, _ int32) {
	p := w.part(r.Topic, r.Partition)
	if p.pending.Add(1) == 1 {
		p.since.Store(w.now().UnixNano())
	}
}

// OnProduceRecordUnbuffered implements kgo.HookProduceRecordUnbuffered:
// the record is acknowledged (err nil) or given up on.
func (w *Watch) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	v, ok := w.parts.Load(partitionKey{r.Topic, r.Partition})
	if !ok {
		return // failed before it was partitioned
	}
	p := v.(*partitionWatch)
	if err == nil {
		p.acked.Store(w.now().UnixNano())
	}
	p.pending.Add(-1)
}

// Stall is the producer's stalled partitions at one moment.
type Stall struct {
	// Partitions are the stalled partitions as topic/partition, sorted.
	Partitions []string
	// Since is the earliest moment from which one of them has had no
	// acknowledgement while holding records; Pending what they hold.
	Since   time.Time
	Pending int64
}

// Stalled reports whether any partition is stalled.
func (s Stall) Stalled() bool { return len(s.Partitions) > 0 }

// String describes the stall for the rate line and the log.
func (s Stall) String() string {
	if !s.Stalled() {
		return "no stalled partitions"
	}
	return fmt.Sprintf("%d partitions without acknowledgement since %s: %s (%d records waiting)",
		len(s.Partitions), s.Since.UTC().Format(time.TimeOnly), strings.Join(s.Partitions, ","), s.Pending)
}

// Stall returns the partitions stalled now.
func (w *Watch) Stall() Stall {
	after := w.StallAfter
	if after <= 0 {
		after = DefaultStallAfter
	}
	now := w.now().UnixNano()
	var s Stall
	var since int64
	w.parts.Range(func(k, v any) bool {
		p := v.(*partitionWatch)
		n := p.pending.Load()
		if n <= 0 {
			return true
		}
		from := max(p.since.Load(), p.acked.Load())
		if now-from < after.Nanoseconds() {
			return true
		}
		key := k.(partitionKey)
		s.Partitions = append(s.Partitions, fmt.Sprintf("%s/%d", key.topic, key.partition))
		s.Pending += n
		if since == 0 || from < since {
			since = from
		}
		return true
	})
	sort.Strings(s.Partitions)
	if since != 0 {
		s.Since = time.Unix(0, since)
	}
	return s
}
