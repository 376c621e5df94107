package sink

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/store"
)

// assignment returns the sink group's partitions per member, by the
// member's client id, as the broker holds them; nil unless the group is
// Stable.
func (e *testEnv) assignment(ctx context.Context, t *testing.T) map[string]map[string][]int32 {
	t.Helper()
	groups, err := kafkatest.Admin(t, e.kcfg.Brokers).DescribeGroups(ctx, e.group)
	if err != nil {
		t.Fatalf("describe group %s: %v", e.group, err)
	}
	g := groups[e.group]
	if g.Err != nil || g.State != "Stable" {
		return nil
	}
	out := map[string]map[string][]int32{}
	for _, m := range g.Members {
		parts := map[string][]int32{}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range c.Topics {
				parts[tp.Topic] = append(parts[tp.Topic], tp.Partitions...)
				slices.Sort(parts[tp.Topic])
			}
		}
		out[m.ClientID] = parts
	}
	return out
}

// awaitAssignment waits until the group is Stable with every partition of
// the data topics assigned and ok holds of the assignment, and returns it.
func (e *testEnv) awaitAssignment(ctx context.Context, t *testing.T, ok func(map[string]map[string][]int32) bool) map[string]map[string][]int32 {
	t.Helper()
	all := map[string][]int32{}
	for topic, parts := range e.endOffsets(ctx, t) {
		all[topic] = slices.Sorted(maps.Keys(parts))
	}
	var m map[string]map[string][]int32
	for {
		m = e.assignment(ctx, t)
		union := map[string][]int32{}
		for _, parts := range m {
			for topic, ps := range parts {
				union[topic] = append(union[topic], ps...)
			}
		}
		if m != nil && covers(union, all) && ok(m) {
			return m
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s never reached the expected assignment; last seen %v", e.group, m)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// covers reports whether have holds every partition of want.
func covers(have, want map[string][]int32) bool {
	for topic, parts := range want {
		for _, p := range parts {
			if !slices.Contains(have[topic], p) {
				return false
			}
		}
	}
	return true
}

// awaitGone waits until p has no session left in PostgreSQL, so nothing it
// sent can still commit.
func (e *testEnv) awaitGone(ctx context.Context, t *testing.T, p *proc) {
	t.Helper()
	for e.count(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", p.app) > 0 {
		if ctx.Err() != nil {
			t.Fatalf("%s's database sessions never ended", p.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dataTopics lists the topics the sink loads.
func (e *testEnv) dataTopics() []string {
	return []string{e.names.Users, e.names.Prices, e.names.Trades, e.names.Alerts}
}

// stored returns the sink group's stored offsets.
func (e *testEnv) stored(t *testing.T) map[string]map[int32]int64 {
	t.Helper()
	s, err := store.StoredOffsets(context.Background(), e.pool, e.group, e.dataTopics())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// endOffsets lists the end offset of every partition of the data topics.
func (e *testEnv) endOffsets(ctx context.Context, t *testing.T) map[string]map[int32]int64 {
	t.Helper()
	ends, err := kafkatest.Admin(t, e.kcfg.Brokers).ListEndOffsets(ctx, e.dataTopics()...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	out := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out
}

// storedUpTo reports whether the group has stored every partition up to
// its offset in ends (an empty partition needs nothing stored).
func (e *testEnv) storedUpTo(t *testing.T, ends map[string]map[int32]int64) bool {
	t.Helper()
	return upTo(e.stored(t), ends)
}

// upTo reports whether stored reaches ends on every partition that has
// records.
func upTo(stored, ends map[string]map[int32]int64) bool {
	for topic, parts := range ends {
		for p, end := range parts {
			if end > 0 && stored[topic][p] < end {
				return false
			}
		}
	}
	return true
}

// storedSome reports whether every partition of parts in the given topics
// has a stored offset above 0.
func (e *testEnv) storedSome(t *testing.T, parts map[string][]int32, topics ...string) bool {
	t.Helper()
	stored := e.stored(t)
	for _, topic := range topics {
		for _, p := range parts[topic] {
			if stored[topic][p] == 0 {
				return false
			}
		}
	}
	return true
}

// pick returns the offsets of the given partitions.
func pick(offsets map[string]map[int32]int64, parts map[string][]int32) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for topic, ps := range parts {
		out[topic] = map[int32]int64{}
		for _, p := range ps {
			out[topic][p] = offsets[topic][p]
		}
	}
	return out
}
