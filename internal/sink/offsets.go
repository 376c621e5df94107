package sink

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradestream/tradestream/internal/clock"
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
	stored, err := s.storedOffsets(ctx)
	if err != nil {
		return nil, err
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

// resync re-reads the stored offsets of the partitions in b, after b was
// fenced off, and points consumption at them.
func (s *Sink) resync(ctx context.Context, b *batch) error {
	stored, err := s.storedOffsets(ctx)
	if err != nil {
		return err
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	for tp := range b.ranges {
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
	s.cl.SetOffsets(set) // skips the partitions this instance no longer owns
	return nil
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
