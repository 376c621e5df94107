package sink

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradestream/tradestream/internal/clock"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/store"
)

// positions holds, per assigned partition, the next offset stored in
// PostgreSQL (-1: none stored yet). The consuming goroutine reads and
// advances it; franz-go's offset-adjusting and revoke callbacks, which run
// on the client's goroutines, set and delete entries.
type positions struct {
	mu sync.Mutex
	m  map[topicPartition]int64
}

func (p *positions) get(tp topicPartition) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.m[tp]; ok {
		return v
	}
	return -1
}

func (p *positions) set(tp topicPartition, next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[topicPartition]int64{}
	}
	p.m[tp] = next
}

// advance sets tp's position if tp is still assigned (it has one).
func (p *positions) advance(tp topicPartition, next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[tp]; ok {
		p.m[tp] = next
	}
}

// snapshot is a copy of every assigned partition's position.
func (p *positions) snapshot() map[topicPartition]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[topicPartition]int64, len(p.m))
	for tp, v := range p.m {
		out[tp] = v
	}
	return out
}

func (p *positions) drop(parts map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic, ps := range parts {
		for _, part := range ps {
			delete(p.m, topicPartition{topic, part})
		}
	}
}

// storedOffsets is store.StoredOffsets retried with backoff until it succeeds or
// ctx ends: the database being briefly away must not fail an assignment.
func (s *Sink) storedOffsets(ctx context.Context) (map[string]map[int32]int64, error) {
	bo := backoff{min: s.opts.RetryMin, max: s.opts.RetryMax}
	for {
		stored, err := store.StoredOffsets(ctx, s.pool, s.opts.Group, s.dataTopics)
		if err == nil {
			return stored, nil
		}
		if classify(err) == classFatal {
			return nil, err
		}
		d := bo.next()
		s.log.Warn("cannot read stored offsets; retrying", "error", err, "retry_in", d)
		if err := clock.Sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("read stored offsets: %w", err)
		}
	}
}

// adjustOffsets is franz-go's AdjustFetchOffsetsFn: for every newly
// assigned partition it replaces the offset committed to Kafka with the one
// stored in PostgreSQL, which is authoritative (the Kafka commit is a
// best-effort copy for lag tools), or the start of the partition when
// PostgreSQL has none. It also sets the partitions' positions.
func (s *Sink) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	// The group can assign partitions before NewClient has returned (its
	// ping waits on a hung broker while another coordinates the group):
	// the checks below need the client.
	select {
	case <-s.clSet:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	stored, err := s.storedOffsets(ctx)
	if err != nil {
		return nil, err
	}
	assigned := map[topicPartition]int64{}
	for topic, parts := range offsets {
		for part := range parts {
			if next, ok := stored[topic][part]; ok {
				assigned[topicPartition{topic, part}] = next
			}
		}
	}
	recreated := s.rewindRecreated(ctx, offsets, assigned)
	if len(s.rewindPastEnd(ctx, assigned)) > 0 || recreated {
		if stored, err = s.storedOffsets(ctx); err != nil {
			return nil, err
		}
	}
	resume := map[string]map[int32]int64{} // for the log; -1: the start
	for topic, parts := range offsets {
		resume[topic] = map[int32]int64{}
		for part := range parts {
			tp := topicPartition{topic, part}
			next, ok := stored[topic][part]
			if ok {
				parts[part] = kgo.NewOffset().At(next).WithEpoch(-1)
			} else {
				next = -1
				parts[part] = kgo.NewOffset().AtStart()
			}
			s.pos.set(tp, next)
			resume[topic][part] = next
		}
	}
	s.log.Info("partitions assigned", "resume_from", resume)
	return offsets, nil
}

// rewindRecreated records the topic id of each newly assigned partition
// of offsets (see store.RecordTopicIDs) and moves to 0 the stored offset,
// in stored, of those whose topic had another id when the group was last
// assigned them: the topic was deleted and created again meanwhile, and
// the offset counts records of the old log however far the new one has
// grown. It reports whether it moved any (which it also drops from
// stored). A failure to read the ids or record them is logged, and the
// partitions resume as stored.
func (s *Sink) rewindRecreated(ctx context.Context, offsets map[string]map[int32]kgo.Offset, stored map[topicPartition]int64) bool {
	topics := slices.Collect(maps.Keys(offsets))
	lctx, cancel := context.WithTimeout(ctx, s.opts.RetryMax+10*time.Second)
	defer cancel()
	ids, err := kafka.TopicIDs(lctx, s.cl, topics...)
	if err != nil {
		s.log.Warn("cannot read the assigned topics' ids to check them against the ones last assigned", "error", err)
		return false
	}
	byPart := map[store.TopicPartition][16]byte{}
	for topic, parts := range offsets {
		if id, ok := ids[topic]; ok {
			for part := range parts {
				byPart[store.TopicPartition{Topic: topic, Partition: part}] = id
			}
		}
	}
	changed, err := store.RecordTopicIDs(lctx, s.pool, s.opts.Group, byPart)
	if err != nil {
		s.log.Warn("cannot record the assigned topics' ids", "error", err)
		return false
	}
	from := map[topicPartition]int64{}
	for _, c := range changed {
		tp := topicPartition{c.Topic, c.Partition}
		if next, ok := stored[tp]; ok && next > 0 {
			s.log.Warn("the partition's topic has another id than when the group last was assigned it: the topic was deleted and created again; loading the partition again from its start (events already stored become dead letters \"duplicate\")",
				"topic", c.Topic, "partition", c.Partition, "stored", next)
			from[tp] = next
			delete(stored, tp)
		}
	}
	n, err := s.rewind(lctx, from)
	if err != nil {
		s.log.Warn("cannot move the stored offsets of a recreated topic back to its start", "error", err)
		return false
	}
	s.metrics.recreatedAtAssign.Add(float64(n))
	return n > 0
}

// rewindPastEnd moves to 0 the stored offset of each partition of at
// (an assigned partition and the offset it is stored at) that is past the
// partition's end (its high watermark): the records it counted are not
// in this log. The topic was deleted and created again, the cluster
// replaced with the database kept, or the log truncated (an unclean
// leader election). Resuming there would skip, for good, every record
// the new log gets below the old offset (franz-go waits there, or
// resets to the start and the batches skip what is below the position),
// so the partition is loaded again from its start instead; the events
// already stored are recognised by their identity and kept as dead
// letters "duplicate", as any redelivered copy. It returns the topics of
// the partitions it moved. Partitions whose end cannot be read now are
// left as they are.
func (s *Sink) rewindPastEnd(ctx context.Context, at map[topicPartition]int64) []string {
	byTopic := map[string]map[int32]int64{}
	for tp, next := range at {
		if byTopic[tp.topic] == nil {
			byTopic[tp.topic] = map[int32]int64{}
		}
		byTopic[tp.topic][tp.partition] = next
	}
	lctx, cancel := context.WithTimeout(ctx, s.opts.RetryMax+10*time.Second)
	defer cancel()
	past, err := kafka.PastEnd(lctx, s.cl, byTopic)
	if err != nil {
		s.log.Warn("cannot read the partitions' end offsets to check the stored offsets against them", "error", err)
		return nil
	}
	var rewound []string
	from := map[topicPartition]int64{}
	for _, topic := range slices.Sorted(maps.Keys(past)) {
		rewound = append(rewound, topic)
		for _, part := range slices.Sorted(maps.Keys(past[topic])) {
			next := byTopic[topic][part]
			s.log.Warn("the stored offset is past the partition's end: the topic was recreated, the cluster replaced or the log truncated; loading the partition again from its start (events already stored become dead letters \"duplicate\")",
				"topic", topic, "partition", part, "stored", next, "end", past[topic][part])
			from[topicPartition{topic, part}] = next
		}
	}
	n, err := s.rewind(ctx, from)
	if err != nil {
		s.log.Warn("cannot move the stored offsets past the partitions' end back to their start", "error", err)
		return nil
	}
	s.metrics.pastEnd.Add(float64(n))
	if n == 0 {
		return nil
	}
	return rewound
}

// rewind moves the stored offset of each partition of from, if still
// stored at the offset given, to 0, and returns how many it moved.
func (s *Sink) rewind(ctx context.Context, from map[topicPartition]int64) (int, error) {
	if len(from) == 0 {
		return 0, nil
	}
	var ts []string
	var ps []int32
	var offs, to []int64
	for tp, next := range from {
		ts, ps = append(ts, tp.topic), append(ps, tp.partition)
		offs, to = append(offs, next), append(to, 0)
	}
	var n int
	err := s.pool.QueryRow(ctx, storeOffsets, s.opts.Group, ts, ps, offs, to).Scan(&n)
	return n, err
}

// resync re-reads the stored offsets after b was fenced off and points
// consumption at them: b's partitions, and every other assigned partition
// whose stored offset is no longer its position. A fence says the stored
// offsets moved under the sink (a failover to a standby that had not
// received the last commits, a restore, another instance), and that can
// have moved those of partitions with nothing in b too: a partition that
// gets no new records would otherwise keep a position the database no
// longer holds, and never load again what it lost. b may be empty.
func (s *Sink) resync(ctx context.Context, b *batch) error {
	stored, err := s.storedOffsets(ctx)
	if err != nil {
		return err
	}
	s.reposition(b, stored, moved(s.pos.snapshot(), stored))
	return nil
}

// moved lists the partitions of pos whose stored offset differs from
// their position (-1: none stored), with the stored offset (-1: none).
func moved(pos map[topicPartition]int64, stored map[string]map[int32]int64) map[topicPartition]int64 {
	out := map[topicPartition]int64{}
	for tp, at := range pos {
		next, ok := stored[tp.topic][tp.partition]
		if !ok {
			next = -1
		}
		if next != at {
			out[tp] = next
		}
	}
	return out
}

// reposition points b's partitions and the moved ones at their stored
// offsets (the start where none is stored) and logs where each resumes.
func (s *Sink) reposition(b *batch, stored map[string]map[int32]int64, moved map[topicPartition]int64) {
	set := map[string]map[int32]kgo.EpochOffset{}
	add := func(tp topicPartition) {
		next, ok := stored[tp.topic][tp.partition]
		if !ok {
			// Nothing stored: nothing of the partition is loaded, so it is
			// read again from its start (offset 0, or the log start once
			// retention has deleted that: the reset policy).
			s.pos.set(tp, -1)
			next = 0
		} else {
			s.pos.set(tp, next)
		}
		if set[tp.topic] == nil {
			set[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
	}
	for tp := range b.ranges {
		add(tp)
	}
	for tp := range moved {
		add(tp)
	}
	if len(set) == 0 {
		return
	}
	s.cl.SetOffsets(set) // skips the partitions this instance no longer owns
	s.log.Info("resuming from the stored offsets", "from", set)
}

// checkStored compares the stored offsets with the assigned partitions'
// positions while no batch is loading (nothing can move them then but
// another writer), and reports the partitions whose stored offset moved:
// a failover or a restore that lost the last commits of a partition that
// has had no records since would otherwise go unnoticed, as no commit of
// it is fenced off. A database that does not answer is checked next time.
func (s *Sink) checkStored(ctx context.Context) (stored map[string]map[int32]int64, moves map[topicPartition]int64) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RetryMax)
	defer cancel()
	stored, err := store.StoredOffsets(ctx, s.pool, s.opts.Group, s.dataTopics)
	if err != nil {
		s.log.Debug("cannot compare the stored offsets with the positions; next time", "error", err)
		return nil, nil
	}
	return stored, moved(s.pos.snapshot(), stored)
}

// commitToKafka copies a committed batch's offsets to the group's Kafka
// commits, asynchronously and on a best-effort basis, so that lag tools
// (kafka-consumer-groups, `tradestream status`) see progress.
func (s *Sink) commitToKafka(ctx context.Context, b *batch) {
	offs := make(map[string]map[int32]kgo.EpochOffset, 3)
	for tp, r := range b.ranges {
		if offs[tp.topic] == nil {
			offs[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offs[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: r.epoch, Offset: r.to}
	}
	s.cl.CommitOffsets(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil && ctx.Err() == nil {
			s.log.Debug("kafka offset commit failed (PostgreSQL holds the offsets)", "error", err)
		}
	})
}
