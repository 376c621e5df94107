package status

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// kafkaView is what one round of admin requests gives.
type kafkaView struct {
	topics      []Topic
	groups      []Group
	deadLetters int64
	problems    []string
	// retention is each needed topic's time retention (see topicRetention).
	retention map[string]retention
	// replicaBrokers are the brokers our topics' replicas are on.
	replicaBrokers map[int32]bool
}

// groupsRead is the coordinator's answers about the groups shown.
type groupsRead struct {
	// problem says which brokers could not list their groups: those
	// groups are missing from names.
	problem   string
	names     []string
	described kadm.DescribedGroups
	fetched   kadm.FetchOffsetsResponses
}

// kafka reads topics, groups, committed and end offsets; stored holds the
// positions PostgreSQL keeps for groups (see storedOffsets), merged into
// their Kafka commits.
func (s *Sampler) kafka(ctx context.Context, stored storedPositions) (kafkaView, error) {
	var v kafkaView
	details, err := s.adm.ListTopics(ctx)
	if err != nil {
		return v, fmt.Errorf("list topics: %w", err)
	}
	ours := ourTopics(details, s.opts.Prefix)
	v.replicaBrokers = map[int32]bool{}
	for _, name := range ours {
		for _, p := range details[name].Partitions {
			for _, r := range p.Replicas {
				v.replicaBrokers[r] = true
			}
		}
	}
	gr, err := s.readGroups(ctx)
	if err != nil {
		return v, err
	}
	if gr.problem != "" {
		v.problems = append(v.problems, gr.problem)
	}
	needed := neededTopics(ours, gr, stored, details)
	starts, ends, err := s.listOffsets(ctx, needed)
	if err != nil {
		return v, err
	}
	if v.retention, err = s.topicRetention(ctx, needed); err != nil {
		v.problems = append(v.problems, fmt.Sprintf("topic retention: %v", err))
	}
	for _, name := range ours {
		t := topicView(details[name], starts, ends)
		v.topics = append(v.topics, t)
		if strings.HasSuffix(name, "deadletter") {
			v.deadLetters += t.Records
		}
	}
	for _, name := range gr.names {
		g, keep, problem := s.groupView(name, gr, stored[name], starts, ends)
		if problem != "" {
			v.problems = append(v.problems, problem)
		}
		if keep {
			v.groups = append(v.groups, g)
		}
	}
	return v, nil
}

// ourTopics returns the names of the non-internal topics under prefix, in
// order.
func ourTopics(details kadm.TopicDetails, prefix string) []string {
	var ours []string
	for _, d := range details.Sorted() {
		if !d.IsInternal && strings.HasPrefix(d.Topic, prefix) {
			ours = append(ours, d.Topic)
		}
	}
	return ours
}

// readGroups describes the groups shown (Options.Groups, or every group
// the cluster lists) and fetches their committed offsets.
func (s *Sampler) readGroups(ctx context.Context) (groupsRead, error) {
	gr := groupsRead{names: append([]string(nil), s.opts.Groups...)}
	if len(gr.names) == 0 {
		listed, err := s.adm.ListGroups(ctx)
		if err != nil && !isShardErr(err) {
			return gr, fmt.Errorf("list groups: %w", err)
		}
		if err != nil {
			// A broker that is down cannot list the groups it
			// coordinates; the others' are still shown.
			gr.problem = fmt.Sprintf("list groups (the groups of a broker that did not answer are missing): %v", err)
		}
		gr.names = listed.Groups()
	}
	sort.Strings(gr.names)
	if len(gr.names) == 0 {
		return gr, nil
	}
	var err error
	gr.described, err = s.adm.DescribeGroups(ctx, gr.names...)
	if err != nil && !isShardErr(err) {
		return gr, fmt.Errorf("describe groups: %w", err)
	}
	gr.fetched = s.adm.FetchManyOffsets(ctx, gr.names...)
	return gr, nil
}

// neededTopics lists the existing topics whose offsets a sample needs: ours
// and every topic a shown group commits to, is assigned or has stored.
func neededTopics(ours []string, gr groupsRead, stored storedPositions, details kadm.TopicDetails) []string {
	need := map[string]bool{}
	for _, t := range ours {
		need[t] = true
	}
	for _, g := range gr.names {
		if r, ok := gr.fetched[g]; ok && r.Err == nil {
			for t := range r.Fetched {
				need[t] = true
			}
		}
		if d, ok := gr.described[g]; ok {
			for t := range d.AssignedPartitions() {
				need[t] = true
			}
		}
		for tp := range stored[g] {
			need[tp.topic] = true
		}
	}
	var list []string
	for t := range need {
		if _, ok := details[t]; ok {
			list = append(list, t)
		}
	}
	sort.Strings(list)
	return list
}

// listOffsets reads the start and end offsets of topics.
func (s *Sampler) listOffsets(ctx context.Context, topics []string) (starts, ends kadm.ListedOffsets, err error) {
	if len(topics) == 0 {
		return nil, nil, nil
	}
	if starts, err = s.adm.ListStartOffsets(ctx, topics...); err != nil && !isShardErr(err) {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	if ends, err = s.adm.ListEndOffsets(ctx, topics...); err != nil && !isShardErr(err) {
		return nil, nil, fmt.Errorf("list end offsets: %w", err)
	}
	return starts, ends, nil
}

// topicView is one topic's shape, replication health and offsets.
func topicView(d kadm.TopicDetail, starts, ends kadm.ListedOffsets) Topic {
	t := Topic{Name: d.Topic, Partitions: len(d.Partitions)}
	for _, p := range d.Partitions.Sorted() {
		t.ReplicationFactor = max(t.ReplicationFactor, len(p.Replicas))
		if len(p.ISR) < len(p.Replicas) {
			t.UnderReplicated++
		}
		if p.Leader < 0 {
			t.Offline++
		}
		st, ok1 := starts.Lookup(d.Topic, p.Partition)
		en, ok2 := ends.Lookup(d.Topic, p.Partition)
		if ok1 && ok2 && st.Err == nil && en.Err == nil {
			t.Records += en.Offset - st.Offset
			t.End += en.Offset
			t.Offsets = append(t.Offsets, PartitionOffsets{Partition: p.Partition, Start: st.Offset, End: en.Offset})
		}
	}
	return t
}

// groupView builds one group's partitions, with its Kafka commits, the
// positions PostgreSQL stores for it and the end offsets. keep is false
// for groups that are not consumer groups or touch none of our topics;
// problem says why a group could not be read.
func (s *Sampler) groupView(name string, gr groupsRead, stored map[topicPartition]int64, starts, ends kadm.ListedOffsets) (g Group, keep bool, problem string) {
	d, ok := gr.described[name]
	switch {
	case !ok:
		return g, false, fmt.Sprintf("group %s: not described", name)
	case d.Err != nil:
		return g, false, fmt.Sprintf("group %s: %v", name, d.Err)
	case d.ProtocolType != "" && d.ProtocolType != "consumer":
		return g, false, ""
	}
	g = Group{Name: name, State: d.State, Members: len(d.Members)}
	owner := memberOf(d)
	parts := map[topicPartition]*PartitionState{}
	add := func(tp topicPartition) *PartitionState {
		ps := parts[tp]
		if ps == nil {
			ps = &PartitionState{Topic: tp.topic, Partition: tp.partition, Committed: -1, End: -1, Lag: -1, Start: -1, Member: owner[tp]}
			parts[tp] = ps
		}
		return ps
	}
	if r, ok := gr.fetched[name]; ok && r.Err == nil {
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				add(topicPartition{o.Topic, o.Partition}).Committed = o.At
			}
		})
	} else if ok && r.Err != nil {
		problem = fmt.Sprintf("group %s offsets: %v", name, r.Err)
	}
	for tp, off := range stored {
		// The offsets a service keeps in PostgreSQL commit with its rows;
		// it commits them to Kafka afterwards, so Kafka may be behind.
		if ps := add(tp); off > ps.Committed {
			ps.Committed, ps.Stored = off, true
		}
	}
	for tp := range owner {
		add(tp)
	}
	// Keep the groups that touch our topics (all of them when named).
	keep = len(s.opts.Groups) > 0
	for tp, ps := range parts {
		keep = keep || strings.HasPrefix(tp.topic, s.opts.Prefix)
		if st, ok := starts.Lookup(tp.topic, tp.partition); ok && st.Err == nil {
			ps.Start = st.Offset
		}
		if en, ok := ends.Lookup(tp.topic, tp.partition); ok && en.Err == nil {
			ps.End = en.Offset
			if ps.Committed >= 0 {
				ps.Lag = ps.End - ps.Committed
			}
		}
		g.Partitions = append(g.Partitions, *ps)
	}
	sort.Slice(g.Partitions, func(i, j int) bool {
		a, b := g.Partitions[i], g.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return g, keep, problem
}

// memberOf maps each assigned partition of a group to its member, as
// client id @ host.
func memberOf(d kadm.DescribedGroup) map[topicPartition]string {
	owner := map[topicPartition]string{}
	for _, m := range d.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range a.Topics {
			for _, p := range t.Partitions {
				owner[topicPartition{t.Topic, p}] = m.ClientID + "@" + strings.TrimPrefix(m.ClientHost, "/")
			}
		}
	}
	return owner
}
