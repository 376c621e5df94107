package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure a Sampler.
type Options struct {
	// Prefix selects the topics shown (those whose name starts with it)
	// and, when Groups is empty, the groups (those consuming any of them).
	Prefix string
	// Groups lists the groups to show; empty shows every group that
	// commits to or is assigned a topic under Prefix.
	Groups []string
	// Window is how many commits per partition the verdicts look back
	// over (Burrow's "intervals"; default 10).
	Window int
	// ClientOpts are the connection options (kafka.Options) of the
	// short-lived clients that read the timestamp of the record at each
	// lagging committed offset, for lag in seconds; nil leaves it at zero.
	ClientOpts []kgo.Opt
	// ExactRows counts table rows with count(*) instead of PostgreSQL's
	// statistics (slower on large tables).
	ExactRows bool
	// Log receives the sampler's logs; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Sampler takes Snapshots and keeps, between them, each group
// partition's sliding window of commits, from which it gives verdicts.
// `tradestream status --watch` samples it on a timer; the dashboard can
// run it in the background and read Latest. It is safe for concurrent use.
type Sampler struct {
	cl   *kgo.Client
	adm  *kadm.Client
	pool *pgxpool.Pool
	opts Options

	mu      sync.Mutex
	windows map[windowKey]*partitionWindow
	samples int
	latest  *Snapshot
}

type windowKey struct {
	group, topic string
	partition    int32
}

// NewSampler returns a sampler reading Kafka through cl and, when pool is
// not nil, PostgreSQL through pool. It closes neither.
func NewSampler(cl *kgo.Client, pool *pgxpool.Pool, opts Options) *Sampler {
	if opts.Window <= 0 {
		opts.Window = 10
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sampler{cl: cl, adm: kadm.NewClient(cl), pool: pool, opts: opts, windows: map[windowKey]*partitionWindow{}}
}

// Latest returns the last snapshot taken, if any.
func (s *Sampler) Latest() (Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest == nil {
		return Snapshot{}, false
	}
	return *s.latest, true
}

// Run samples every interval until ctx ends, handing each snapshot to fn
// (which may be nil) from Run's goroutine, and returns nil then. A failed
// sample is reported in the snapshot's Problems, not as an error.
func (s *Sampler) Run(ctx context.Context, interval time.Duration, fn func(Snapshot)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		snap := s.Sample(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fn != nil {
			fn(snap)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample takes one snapshot: brokers, topics, groups with lag and
// verdicts, tables and dead letters. Parts that cannot be read are listed
// in Problems; the rest is still filled in.
func (s *Sampler) Sample(ctx context.Context) Snapshot {
	now := s.opts.Now()
	snap := Snapshot{At: now.UTC(), Controller: -1}
	var problems []string
	problem := func(what string, err error) {
		problems = append(problems, fmt.Sprintf("%s: %v", what, err))
	}

	meta, err := s.adm.BrokerMetadata(ctx)
	if err != nil {
		problem("kafka brokers", err)
	} else {
		snap.ClusterID, snap.Controller = meta.Cluster, meta.Controller
		for _, b := range meta.Brokers {
			snap.Brokers = append(snap.Brokers, Broker{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: deref(b.Rack)})
		}
		sort.Slice(snap.Brokers, func(i, j int) bool { return snap.Brokers[i].ID < snap.Brokers[j].ID })
	}

	k, err := s.kafka(ctx)
	if err != nil {
		problem("kafka topics and groups", err)
	}
	problems = append(problems, k.problems...)
	snap.Topics = k.topics
	snap.DeadLetters.Topic = k.deadLetters

	s.mu.Lock()
	s.samples++
	for _, g := range k.groups {
		members := g.Members > 0
		for i := range g.Partitions {
			p := &g.Partitions[i]
			if p.Committed < 0 {
				p.Verdict = OK
				continue
			}
			key := windowKey{g.Name, p.Topic, p.Partition}
			w := s.windows[key]
			if w == nil {
				w = newPartitionWindow(s.opts.Window)
				s.windows[key] = w
			}
			w.observe(p.Committed, p.End, members, now)
			p.Verdict = w.verdict(p.Lag, now)
		}
	}
	if err == nil {
		// Forget groups that are gone, so memory stays bounded.
		seen := map[string]bool{}
		for _, g := range k.groups {
			seen[g.Name] = true
		}
		for key := range s.windows {
			if !seen[key.group] {
				delete(s.windows, key)
			}
		}
	}
	snap.Samples = min(s.samples, s.opts.Window)
	s.mu.Unlock()

	s.lagSeconds(ctx, k.groups, now)
	for i := range k.groups {
		g := &k.groups[i]
		g.Verdict = OK
		for _, p := range g.Partitions {
			g.Verdict = Worse(g.Verdict, p.Verdict)
			if p.Lag > 0 {
				g.Lag += p.Lag
			}
			g.LagSeconds = max(g.LagSeconds, p.LagSeconds)
		}
	}
	snap.Groups = k.groups

	if s.pool != nil {
		tables, stored, err := s.tables(ctx)
		if err != nil {
			problem("postgresql", err)
		}
		snap.Tables, snap.DeadLetters.Stored = tables, stored
	}
	snap.Problems = problems

	s.mu.Lock()
	s.latest = &snap
	s.mu.Unlock()
	return snap
}

// kafkaView is what one round of admin requests gives.
type kafkaView struct {
	topics      []Topic
	groups      []Group
	deadLetters int64
	problems    []string
}

// kafka reads topics, groups, committed and end offsets.
func (s *Sampler) kafka(ctx context.Context) (kafkaView, error) {
	var v kafkaView
	details, err := s.adm.ListTopics(ctx)
	if err != nil {
		return v, fmt.Errorf("list topics: %w", err)
	}
	var ours []string
	for _, d := range details.Sorted() {
		if d.IsInternal || !strings.HasPrefix(d.Topic, s.opts.Prefix) {
			continue
		}
		ours = append(ours, d.Topic)
	}

	groups := s.opts.Groups
	if len(groups) == 0 {
		listed, err := s.adm.ListGroups(ctx)
		if err != nil {
			return v, fmt.Errorf("list groups: %w", err)
		}
		groups = listed.Groups()
	}
	sort.Strings(groups)
	var described kadm.DescribedGroups
	var fetched kadm.FetchOffsetsResponses
	if len(groups) > 0 {
		described, err = s.adm.DescribeGroups(ctx, groups...)
		if err != nil && !isShardErr(err) {
			return v, fmt.Errorf("describe groups: %w", err)
		}
		fetched = s.adm.FetchManyOffsets(ctx, groups...)
	}

	// List offsets of our topics and of every topic a shown group uses.
	need := map[string]bool{}
	for _, t := range ours {
		need[t] = true
	}
	for _, g := range groups {
		if r, ok := fetched[g]; ok && r.Err == nil {
			for t := range r.Fetched {
				need[t] = true
			}
		}
		if d, ok := described[g]; ok {
			for t := range d.AssignedPartitions() {
				need[t] = true
			}
		}
	}
	var list []string
	for t := range need {
		if _, ok := details[t]; ok {
			list = append(list, t)
		}
	}
	var starts, ends kadm.ListedOffsets
	if len(list) > 0 {
		if starts, err = s.adm.ListStartOffsets(ctx, list...); err != nil && !isShardErr(err) {
			return v, fmt.Errorf("list start offsets: %w", err)
		}
		if ends, err = s.adm.ListEndOffsets(ctx, list...); err != nil && !isShardErr(err) {
			return v, fmt.Errorf("list end offsets: %w", err)
		}
	}

	for _, name := range ours {
		d := details[name]
		t := Topic{Name: name, Partitions: len(d.Partitions)}
		for _, p := range d.Partitions {
			t.ReplicationFactor = max(t.ReplicationFactor, len(p.Replicas))
			if len(p.ISR) < len(p.Replicas) {
				t.UnderReplicated++
			}
			if p.Leader < 0 {
				t.Offline++
			}
			st, ok1 := starts.Lookup(name, p.Partition)
			en, ok2 := ends.Lookup(name, p.Partition)
			if ok1 && ok2 && st.Err == nil && en.Err == nil {
				t.Records += en.Offset - st.Offset
			}
		}
		v.topics = append(v.topics, t)
		if strings.HasSuffix(name, "deadletter") {
			v.deadLetters += t.Records
		}
	}

	for _, name := range groups {
		d, ok := described[name]
		if !ok {
			v.problems = append(v.problems, fmt.Sprintf("group %s: not described", name))
			continue
		}
		if d.Err != nil {
			v.problems = append(v.problems, fmt.Sprintf("group %s: %v", name, d.Err))
			continue
		}
		if d.ProtocolType != "" && d.ProtocolType != "consumer" {
			continue
		}
		g := Group{Name: name, State: d.State, Members: len(d.Members)}
		owner := map[string]map[int32]string{}
		for _, m := range d.Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok {
				continue
			}
			for _, t := range a.Topics {
				if owner[t.Topic] == nil {
					owner[t.Topic] = map[int32]string{}
				}
				for _, p := range t.Partitions {
					owner[t.Topic][p] = m.ClientID + "@" + strings.TrimPrefix(m.ClientHost, "/")
				}
			}
		}
		parts := map[string]map[int32]*PartitionState{}
		add := func(topic string, p int32) *PartitionState {
			if parts[topic] == nil {
				parts[topic] = map[int32]*PartitionState{}
			}
			ps := parts[topic][p]
			if ps == nil {
				ps = &PartitionState{Topic: topic, Partition: p, Committed: -1, End: -1, Lag: -1, Member: owner[topic][p]}
				parts[topic][p] = ps
			}
			return ps
		}
		if r, ok := fetched[name]; ok && r.Err == nil {
			r.Fetched.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At >= 0 {
					add(o.Topic, o.Partition).Committed = o.At
				}
			})
		} else if ok && r.Err != nil {
			v.problems = append(v.problems, fmt.Sprintf("group %s offsets: %v", name, r.Err))
		}
		for t, ps := range owner {
			for p := range ps {
				add(t, p)
			}
		}
		// Keep the groups that touch our topics (all of them when named).
		mine := len(s.opts.Groups) > 0
		for t := range parts {
			if strings.HasPrefix(t, s.opts.Prefix) {
				mine = true
			}
		}
		if !mine {
			continue
		}
		for t, ps := range parts {
			for p, st := range ps {
				if en, ok := ends.Lookup(t, p); ok && en.Err == nil {
					st.End = en.Offset
					if st.Committed >= 0 {
						st.Lag = st.End - st.Committed
					}
				}
				g.Partitions = append(g.Partitions, *st)
			}
		}
		sort.Slice(g.Partitions, func(i, j int) bool {
			a, b := g.Partitions[i], g.Partitions[j]
			return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
		})
		v.groups = append(v.groups, g)
	}
	return v, nil
}

func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
