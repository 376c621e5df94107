package status

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// position is one record's place.
type position struct {
	topic     string
	partition int32
	offset    int64
}

// lagStamps reads the timestamps of records at committed offsets through
// one long-lived client, and remembers them: while a group's commit stays
// on an offset, its timestamp is not read again.
type lagStamps struct {
	mu    sync.Mutex
	cl    *kgo.Client
	known map[position]time.Time
}

func (l *lagStamps) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cl != nil {
		l.cl.Close()
		l.cl = nil
	}
}

// lagSeconds fills in LagSeconds of every lagging partition: the age of
// the record at the committed offset (the oldest record the group has not
// consumed), from its timestamp to now.
func (s *Sampler) lagSeconds(ctx context.Context, groups []Group, now time.Time) {
	if s.opts.ClientOpts == nil {
		return
	}
	need := map[position]bool{}
	for _, g := range groups {
		for _, p := range g.Partitions {
			if p.Committed >= 0 && p.Lag > 0 {
				need[position{p.Topic, p.Partition, p.Committed}] = true
			}
		}
	}
	stamps := s.timestamps(ctx, need)
	for gi := range groups {
		for pi := range groups[gi].Partitions {
			p := &groups[gi].Partitions[pi]
			if ts, ok := stamps[position{p.Topic, p.Partition, p.Committed}]; ok && p.Lag > 0 {
				p.LagSeconds = max(now.Sub(ts).Seconds(), 0)
			}
		}
	}
}

// timestamps returns the timestamps of the records at the wanted
// positions, from memory or read. A partition can be read from one offset
// at a time, so positions on one partition are read in rounds. Positions
// that cannot be read within a few seconds (deleted by retention, a slow
// broker) are left out, and tried again next time.
func (s *Sampler) timestamps(ctx context.Context, want map[position]bool) map[position]time.Time {
	l := &s.stamps
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[position]time.Time{}
	pending := map[position]bool{}
	for p := range want {
		if ts, ok := l.known[p]; ok {
			out[p] = ts
		} else {
			pending[p] = true
		}
	}
	for len(pending) > 0 && ctx.Err() == nil {
		round := map[string]map[int32]kgo.Offset{}
		inRound := map[position]bool{}
		for p := range pending {
			if round[p.topic] == nil {
				round[p.topic] = map[int32]kgo.Offset{}
			}
			if _, taken := round[p.topic][p.partition]; taken {
				continue
			}
			round[p.topic][p.partition] = kgo.NewOffset().At(p.offset)
			inRound[p] = true
		}
		for p := range inRound {
			delete(pending, p)
		}
		if err := s.readRound(ctx, round, inRound, out); err != nil {
			s.opts.Log.Debug("lag seconds", "err", err)
			break
		}
	}
	l.known = out // only what is still wanted: bounded by the partitions
	return out
}

// readRound reads, from each partition of from, the first record at or
// after its offset. The caller holds s.stamps.mu.
func (s *Sampler) readRound(ctx context.Context, from map[string]map[int32]kgo.Offset, want map[position]bool, out map[position]time.Time) error {
	l := &s.stamps
	if l.cl == nil {
		opts := append(append([]kgo.Opt(nil), s.opts.ClientOpts...),
			kgo.FetchMaxWait(200*time.Millisecond),
			kgo.FetchMaxPartitionBytes(256<<10),
		)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("record reader: %w", err)
		}
		l.cl = cl
	}
	remove := map[string][]int32{}
	for t, ps := range from {
		for p := range ps {
			remove[t] = append(remove[t], p)
		}
	}
	l.cl.AddConsumePartitions(from)
	// Removing drops what was fetched but not polled, so the next round
	// starts clean.
	defer l.cl.RemoveConsumePartitions(remove)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	left := len(want)
	for left > 0 && ctx.Err() == nil {
		fs := l.cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			// The first record at or after the committed offset: the
			// committed one, or the next if it was a transaction marker.
			for p := range want {
				if p.topic == r.Topic && p.partition == r.Partition && r.Offset >= p.offset {
					if _, done := out[p]; !done {
						out[p] = r.Timestamp
						left--
					}
				}
			}
		})
	}
	return nil
}
