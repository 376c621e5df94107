package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The sink overlaps its two halves: while one batch loads into
// PostgreSQL (on a goroutine of its own), the consuming goroutine fetches
// and decodes the next one. At most two batches are in memory: the one
// loading and the one filling. The next batch starts where the loading one
// ends; if the loading one does not commit (fenced off), the next one is
// dropped with it and both are re-read from the stored offsets, so the
// database never holds a batch whose predecessor is missing.

// loadJob is a batch being loaded by the loading goroutine.
type loadJob struct {
	b     *batch
	start time.Time
	// next is the position each of b's partitions moves to when b commits:
	// where the batch filled meanwhile starts.
	next map[topicPartition]int64
	done chan struct{}
	err  error // set before done is closed
}

// finished reports whether the job is done (a nil job is).
func (j *loadJob) finished() bool {
	if j == nil {
		return true
	}
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// startLoad loads b on a goroutine of its own.
func (s *Sink) startLoad(ctx context.Context, b *batch) *loadJob {
	j := &loadJob{b: b, start: s.opts.Now(), next: make(map[topicPartition]int64, len(b.ranges)), done: make(chan struct{})}
	for tp, r := range b.ranges {
		j.next[tp] = r.to
	}
	s.loading.Store(j)
	go func() {
		defer close(j.done)
		j.err = s.flush(ctx, b)
	}()
	return j
}

// position is where the batch being filled starts on tp: after the
// loading batch, or at the stored position.
func (s *Sink) position(j *loadJob) func(topicPartition) int64 {
	if j == nil {
		return s.pos.get
	}
	return func(tp topicPartition) int64 {
		if next, ok := j.next[tp]; ok {
			return next
		}
		return s.pos.get(tp)
	}
}

// handOver runs before partitions are revoked: it waits for the batch in
// flight, so that what it loaded is stored before another instance reads
// the stored offsets, and tells the consuming goroutine that the batch it
// fills may hold records of revoked partitions.
func (s *Sink) handOver(ctx context.Context) {
	s.revoked.Add(1)
	if j := s.loading.Load(); j != nil {
		select {
		case <-j.done:
		case <-ctx.Done():
		}
	}
}

// finish waits for j and records its outcome. A fenced-off j drops next
// (it starts where j ends) and points both at the stored offsets; finish
// then returns a nil batch. Any other failure is returned.
func (s *Sink) finish(ctx context.Context, j *loadJob, next *batch) (*batch, error) {
	<-j.done
	s.loading.CompareAndSwap(j, nil)
	switch {
	case j.err == nil:
		s.committed(ctx, j.b, j.start)
		return next, nil
	case errors.Is(j.err, errFenced):
		return nil, s.reread(ctx, j.b, next)
	default:
		return next, j.err
	}
}

// reread drops the batches and points their partitions at the stored
// offsets.
func (s *Sink) reread(ctx context.Context, batches ...*batch) error {
	all := newBatch()
	for _, b := range batches {
		if b == nil {
			continue
		}
		for tp, r := range b.ranges {
			all.ranges[tp] = r
		}
	}
	if len(all.ranges) == 0 {
		return nil
	}
	return s.resync(ctx, all)
}

// consume is Run's loop: fill a batch while the previous one loads, then
// hand it to the loading goroutine, until ctx ends (the batch in hand is
// then loaded, if it can be) or, with target, until caught up.
func (s *Sink) consume(ctx context.Context, target map[topicPartition]span) error {
	var j *loadJob
	for {
		revoked := s.revoked.Load()
		b, refused := s.fill(ctx, s.position(j), j)
		if j != nil {
			var err error
			if b, err = s.finish(ctx, j, b); err != nil {
				if ctx.Err() != nil {
					return nil // stopped while retrying: the batch loads next time
				}
				return fmt.Errorf("sink: %w", err)
			}
			j = nil
			if target != nil && s.caughtUp(ctx, target) {
				s.reportCaughtUp()
				return nil
			}
		}
		if refused != nil {
			return fmt.Errorf("sink: %w", refused)
		}
		b = s.followStored(ctx, b)
		if b != nil && !b.empty() && s.revoked.Load() != revoked {
			// Partitions moved while b was filled: it may hold records of
			// partitions this instance no longer owns.
			if err := s.reread(ctx, b); err != nil {
				return fmt.Errorf("sink: %w", err)
			}
			b = nil
		}
		if ctx.Err() != nil {
			if b != nil && !b.empty() {
				j = s.startLoad(ctx, b)
				if _, err := s.finish(ctx, j, nil); err != nil && ctx.Err() == nil {
					return fmt.Errorf("sink: %w", err)
				}
			}
			return nil
		}
		if b != nil && !b.empty() {
			j = s.startLoad(ctx, b)
		}
		s.cl.AllowRebalance()
		s.renewRecreated(ctx)
		if j == nil && target != nil && s.caughtUp(ctx, target) {
			s.reportCaughtUp()
			return nil
		}
	}
}

// followStored, every StoredCheck and while no batch loads (consume calls
// it between one batch's end and the next one's start), compares the
// stored offsets with the positions. When some moved, b (filled from the
// old positions) is dropped, and its partitions and the moved ones are
// re-read from the stored offsets; it returns the batch to load next.
func (s *Sink) followStored(ctx context.Context, b *batch) *batch {
	now := s.opts.Now()
	if now.Sub(s.checked) < s.opts.StoredCheck {
		return b
	}
	s.checked = now
	stored, moves := s.checkStored(ctx)
	if len(moves) == 0 && stored != nil {
		if topics := s.rewindPastEnd(ctx, s.pos.snapshot()); len(topics) > 0 {
			// A log replaced under the running sink: its partitions are
			// now stored at 0, away from their positions, and a topic
			// deleted and created again is consumed anew at once.
			for _, topic := range topics {
				s.recreated.Suspect(topic)
			}
			stored, moves = s.checkStored(ctx)
		}
	}
	if len(moves) == 0 {
		return b
	}
	s.metrics.storedMoved.Inc()
	s.log.Warn("the stored offsets moved under the sink (a failover or a restore?); re-reading from them",
		"partitions", len(moves))
	if b == nil {
		b = newBatch()
	}
	s.reposition(b, stored, moves)
	return nil
}

// reportCaughtUp logs the end of a run that caught up: the records loaded
// and the time since the first of them arrived.
func (s *Sink) reportCaughtUp() {
	var secs float64
	if !s.first.IsZero() {
		secs = s.opts.Now().Sub(s.first).Seconds()
	}
	s.log.Info("caught up with the end offsets seen at start", "records", s.loaded,
		"seconds_since_first_record", secs)
}

// renewRecreated purges from the client, and adds back, the topics
// deleted and created again under the running sink (see
// kafka.Recreated). The stored
// offsets of the topic's partitions move to 0 first, so that the group's
// new assignment loads the new topic from its start, however far it has
// grown meanwhile; events already stored become dead letters
// "duplicate", as in rewindPastEnd.
func (s *Sink) renewRecreated(ctx context.Context) {
	if !s.recreated.Pending() {
		return
	}
	mctx, cancel := context.WithTimeout(ctx, s.opts.RetryMax+10*time.Second)
	defer cancel()
	renew := s.recreated.Check(mctx, s.cl)
	if len(renew) == 0 {
		return
	}
	s.metrics.recreated.Add(float64(len(renew)))
	s.log.Warn("the brokers list a topic the sink consumes under a new id: the topic was deleted and created again; loading the new topic from its start (events already stored become dead letters \"duplicate\")",
		"topics", renew)
	from := map[topicPartition]int64{}
	for tp, next := range s.pos.snapshot() {
		if next > 0 && slices.Contains(renew, tp.topic) {
			from[tp] = next
		}
	}
	if _, err := s.rewind(mctx, from); err != nil {
		s.log.Warn("cannot move the stored offsets of a recreated topic back to its start", "error", err)
	}
	s.cl.PurgeTopicsFromClient(renew...)
	s.cl.AddConsumeTopics(renew...)
}
