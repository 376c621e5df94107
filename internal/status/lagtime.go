package status

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// position is one record's place.
type position struct {
	topic     string
	partition int32
	offset    int64
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
	if len(need) == 0 {
		return
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

// timestamps reads the records at the wanted positions and returns their
// timestamps. A partition can be read from one offset per client, so
// positions on one partition are read in rounds. Positions that cannot be
// read within a few seconds (deleted by retention, a slow broker) are
// left out.
func (s *Sampler) timestamps(ctx context.Context, want map[position]bool) map[position]time.Time {
	out := map[position]time.Time{}
	pending := make(map[position]bool, len(want))
	for p := range want {
		pending[p] = true
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
		s.readRound(ctx, round, inRound, out)
	}
	return out
}

func (s *Sampler) readRound(ctx context.Context, from map[string]map[int32]kgo.Offset, want map[position]bool, out map[position]time.Time) {
	opts := append(append([]kgo.Opt(nil), s.opts.ClientOpts...),
		kgo.ConsumePartitions(from),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.FetchMaxPartitionBytes(256<<10),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		s.opts.Log.Debug("lag seconds client", "err", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	left := len(want)
	for left > 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
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
}
