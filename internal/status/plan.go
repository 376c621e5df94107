package status

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file is lag to plan with: per group, the lag's trend over the
// sampling window, the consume and produce rates, the estimated time to
// catch up, and a warning for every partition whose committed offset is
// falling out of its topic's retention.

// retention is a topic's time-based deletion: whether old segments are
// deleted at all (cleanup.policy has delete) and after how long
// (retention.ms; 0: never).
type retention struct {
	deletes bool
	after   time.Duration
}

// topicRetention reads the retention settings of topics.
func (s *Sampler) topicRetention(ctx context.Context, topics []string) (map[string]retention, error) {
	out := map[string]retention{}
	if len(topics) == 0 {
		return out, nil
	}
	rcs, err := s.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil && !isShardErr(err) {
		return out, err
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		r := retention{deletes: true}
		for _, c := range rc.Configs {
			v := c.MaybeValue()
			switch c.Key {
			case "cleanup.policy":
				r.deletes = strings.Contains(v, "delete")
			case "retention.ms":
				if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
					r.after = time.Duration(ms) * time.Millisecond
				}
			}
		}
		out[rc.Name] = r
	}
	return out, nil
}

// trendPoint is one sample of a group's totals.
type trendPoint struct {
	at             time.Time
	lag            int64
	committed, end int64 // sums over the partitions with a commit
	partitions     int
}

// plan fills in the groups' retention risks (needs lag seconds) and, from
// their history of samples, their trends, rates and catch-up estimates.
// It runs after total (needs each group's lag). The history is bounded by
// the window and forgotten for groups that are gone when complete.
func (s *Sampler) plan(groups []Group, ret map[string]retention, now time.Time, complete bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for gi := range groups {
		g := &groups[gi]
		seen[g.Name] = true
		pt := trendPoint{at: now, lag: g.Lag}
		for pi := range g.Partitions {
			p := &g.Partitions[pi]
			retentionRisk(p, ret[p.Topic], g)
			if p.Committed >= 0 && p.End >= 0 {
				pt.committed += p.Committed
				pt.end += p.End
				pt.partitions++
			}
		}
		h := s.trends[g.Name]
		if len(h) > 0 && h[len(h)-1].partitions != pt.partitions {
			h = nil // partitions came or went: the sums are not comparable
		}
		h = append(h, pt)
		if len(h) > s.opts.Window {
			h = h[len(h)-s.opts.Window:]
		}
		s.trends[g.Name] = h
		g.trend(h)
	}
	if complete {
		for name := range s.trends {
			if !seen[name] {
				delete(s.trends, name)
			}
		}
	}
}

// trend sets the group's trend, rates and catch-up estimate from its
// history, oldest first.
func (g *Group) trend(h []trendPoint) {
	g.CatchUpSeconds, g.KeepingUp = -1, false
	if g.Lag == 0 {
		g.CatchUpSeconds = 0
	}
	if len(h) < 2 {
		return
	}
	first, last := h[0], h[len(h)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return
	}
	g.ConsumeRate = max(float64(last.committed-first.committed)/dt, 0)
	g.ProduceRate = max(float64(last.end-first.end)/dt, 0)
	delta := last.lag - first.lag
	// Within 1% of the older lag (at least one record) is flat: noise.
	tolerance := max(first.lag/100, 1)
	switch {
	case delta > tolerance:
		g.Trend = Growing
	case delta < -tolerance:
		g.Trend = Shrinking
	default:
		g.Trend = Flat
	}
	if drain := -float64(delta) / dt; g.Lag > 0 && g.Trend == Shrinking && drain > 0 {
		g.CatchUpSeconds = float64(g.Lag) / drain
	}
	if g.Lag > 0 && g.ConsumeRate > 0 && g.inFlight() && (g.CatchUpSeconds < 0 || g.CatchUpSeconds > KeepUpSeconds) {
		// A live consumer always trails a live producer by the records in
		// flight (a batch being loaded, a poll's wait); that lag goes up
		// and down by noise, so "never at these rates", or a catch-up time
		// from a lag that shrank by a few records, would be wrong.
		g.KeepingUp = true
		g.CatchUpSeconds = 0
	}
}

// KeepUpSeconds bounds what counts as in flight for a consuming group: a
// lag it consumes in at most this long at its current rate, with no
// unconsumed record known to be older.
const KeepUpSeconds = 10

// inFlight reports whether the group's lag is only records in flight: at
// most KeepUpSeconds of its consumption, and no lagging partition's oldest
// unconsumed record known to be older than that (one partition stuck
// behind a flowing group is not keeping up). A record's age may be
// unknown (not read yet); the rate alone decides then.
func (g *Group) inFlight() bool {
	if float64(g.Lag) > g.ConsumeRate*KeepUpSeconds {
		return false
	}
	for _, p := range g.Partitions {
		if p.Lag > 0 && p.LagSeconds > KeepUpSeconds {
			return false
		}
	}
	return true
}

// retentionRisk judges one partition's committed offset against its log
// start offset and its topic's time retention, adding a warning to g.
func retentionRisk(p *PartitionState, r retention, g *Group) {
	p.RetentionLeftSeconds = -1
	if p.Committed < 0 {
		return
	}
	if p.End >= 0 && p.Committed > p.End {
		g.Warnings = append(g.Warnings, fmt.Sprintf("%s/%d: committed offset %d is past the partition's end %d: the topic was recreated, the cluster replaced or the log truncated (the sink loads such a partition again from its start when it is next assigned)",
			p.Topic, p.Partition, p.Committed, p.End))
		return
	}
	if p.Start >= 0 && p.Committed < p.Start {
		p.Retention = RetentionLost
		g.Warnings = append(g.Warnings, fmt.Sprintf("%s/%d: committed offset %d is below the log start offset %d: %d records were deleted before the group read them",
			p.Topic, p.Partition, p.Committed, p.Start, p.Start-p.Committed))
		return
	}
	if !r.deletes || r.after <= 0 || p.Lag <= 0 || p.LagSeconds <= 0 {
		return
	}
	limit := r.after.Seconds()
	p.RetentionLeftSeconds = max(limit-p.LagSeconds, 0)
	if p.LagSeconds >= RetentionWarnFraction*limit {
		p.Retention = RetentionAtRisk
		g.Warnings = append(g.Warnings, fmt.Sprintf("%s/%d: the oldest unconsumed record (offset %d) is %s old, %s from the topic's %s retention: it will be deleted unread",
			p.Topic, p.Partition, p.Committed, roundSeconds(p.LagSeconds), roundSeconds(p.RetentionLeftSeconds), r.after))
	}
}

func roundSeconds(s float64) time.Duration {
	return (time.Duration(s * float64(time.Second))).Round(time.Second)
}
