package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
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
	// ClientOpts are the connection options (kafka.Options) of the one
	// client, made at the first need and kept until Close, that reads the
	// timestamp of the record at each lagging committed offset, for lag in
	// seconds; nil leaves it at zero. A timestamp is read once per
	// committed offset and remembered while the group stays there, so a
	// sample costs one small fetch per partition whose commit moved.
	ClientOpts []kgo.Opt
	// Read, when set, is the pool of the read URL (a replica): the
	// tables, row counts and dead letters are read through it, and its
	// replication lag is shown. Stored offsets and pg_stat_replication
	// are always read through the sampler's pool (the primary).
	Read *pgxpool.Pool
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
	trends  map[string][]trendPoint // per group, the last Window samples
	samples int
	latest  *Snapshot

	stamps lagStamps // lag seconds' record reader, with its own lock
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
	return &Sampler{cl: cl, adm: kadm.NewClient(cl), pool: pool, opts: opts, windows: map[windowKey]*partitionWindow{},
		trends: map[string][]trendPoint{}}
}

// Close closes the client that reads record timestamps for lag seconds,
// if one was made. The sampler must not be used afterwards.
func (s *Sampler) Close() { s.stamps.close() }

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
// sample is reported in the snapshot's Problems, not as an error. Run does
// not close the sampler.
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
	if err := s.brokers(ctx, &snap); err != nil {
		problem("kafka brokers", err)
	}
	var stored storedPositions
	if s.pool != nil {
		var err error
		if stored, err = s.storedOffsets(ctx); err != nil {
			problem("postgresql offsets", err)
		}
	}
	k, err := s.kafka(ctx, stored)
	if err != nil {
		problem("kafka topics and groups", err)
		snap.KafkaError = err.Error()
	}
	snap.Brokers = withDownBrokers(snap.Brokers, k.replicaBrokers)
	problems = append(problems, k.problems...)
	snap.Topics = k.topics
	snap.DeadLetters.Topic = k.deadLetters
	snap.Samples = s.judge(k.groups, err == nil, now)
	s.lagSeconds(ctx, k.groups, now)
	for i := range k.groups {
		k.groups[i].total()
	}
	s.plan(k.groups, k.retention, now, err == nil)
	snap.Groups = k.groups

	if s.pool != nil {
		tables, stored, err := s.tables(ctx)
		if err != nil {
			problem("postgresql", err)
		}
		snap.Tables, snap.DeadLetters.Stored = tables, stored
		if snap.Replication = s.replication(ctx); snap.Replication != nil && snap.Replication.Error != "" {
			problem("postgresql replication", errors.New(snap.Replication.Error))
		}
	}
	snap.Problems = problems

	s.mu.Lock()
	s.latest = &snap
	s.mu.Unlock()
	return snap
}

// brokerProbeTimeout bounds the request that asks each listed broker
// whether it answers.
const brokerProbeTimeout = 3 * time.Second

// brokers fills in the cluster id, controller and brokers: those the
// metadata lists, each asked for its API versions, so that one that is
// listed (not yet fenced after a crash, or hung) but does not answer is
// down.
func (s *Sampler) brokers(ctx context.Context, snap *Snapshot) error {
	meta, err := s.adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	snap.ClusterID, snap.Controller = meta.Cluster, meta.Controller
	pctx, cancel := context.WithTimeout(ctx, brokerProbeTimeout)
	defer cancel()
	if id, err := kafka.ActiveController(pctx, s.cl); err == nil {
		snap.Controller = id // KRaft's active controller; ZooKeeper-era brokers refuse the request
	}
	answers, probeErr := s.adm.ApiVersions(pctx)
	for _, b := range meta.Brokers {
		br := Broker{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: deref(b.Rack)}
		if a, ok := answers[b.NodeID]; probeErr == nil && ok && a.Err != nil {
			br.Down, br.Error = true, a.Err.Error()
		}
		snap.Brokers = append(snap.Brokers, br)
	}
	sort.Slice(snap.Brokers, func(i, j int) bool { return snap.Brokers[i].ID < snap.Brokers[j].ID })
	return nil
}

// withDownBrokers adds to live the brokers that replicas name but the
// metadata does not list, as down.
func withDownBrokers(live []Broker, replicas map[int32]bool) []Broker {
	known := map[int32]bool{}
	for _, b := range live {
		known[b.ID] = true
	}
	for id := range replicas {
		if !known[id] {
			live = append(live, Broker{ID: id, Down: true})
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	return live
}

// judge records each partition's commit in its window and gives its
// verdict; complete says the groups are all there are, so windows of
// groups that are gone can be forgotten (memory stays bounded). It
// returns how many samples the windows hold.
func (s *Sampler) judge(groups []Group, complete bool, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	for _, g := range groups {
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
	if complete {
		seen := map[string]bool{}
		for _, g := range groups {
			seen[g.Name] = true
		}
		for key := range s.windows {
			if !seen[key.group] {
				delete(s.windows, key)
			}
		}
	}
	return min(s.samples, s.opts.Window)
}

// total sets the group's lag, lag seconds and verdict from its
// partitions'.
func (g *Group) total() {
	g.Verdict, g.Lag, g.LagSeconds = OK, 0, 0
	for _, p := range g.Partitions {
		g.Verdict = Worse(g.Verdict, p.Verdict)
		if p.Lag > 0 {
			g.Lag += p.Lag
		}
		g.LagSeconds = max(g.LagSeconds, p.LagSeconds)
	}
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
