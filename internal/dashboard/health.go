package dashboard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/status"
)

// HealthSource gives the newest snapshot of the pipeline; a
// *status.Sampler, run by its owner, is one. The dashboard reads it and
// never queries Kafka or PostgreSQL for health itself, so its panel shows
// the figures of `tradestream status` and /metrics.
type HealthSource interface {
	Latest() (status.Snapshot, bool)
}

// HealthSample is one second's view of the pipeline's health: the status
// snapshot's figures for the dashboard's topics, the sink group and the
// tables, rates derived from successive snapshots, and the dashboard's own
// latency and push counters.
type HealthSample struct {
	// Time is when the sample was taken, Unix milliseconds.
	Time int64 `json:"t"`
	// Topics covers the topics the sink consumes (users, prices, trades)
	// and those it produces to or reads from (alerts, deadletter).
	Topics []TopicHealth `json:"topics"`
	// Received is produced_at to the dashboard reading the record;
	// Pushed is produced_at to a frame holding it written to a client.
	Received Percentiles `json:"received"`
	Pushed   Percentiles `json:"pushed"`
	// DeadLetters counts records in the deadletter topic and rows in the
	// dead_letters table (-1: unknown).
	DeadLetters DeadLetters `json:"dead_letters"`
	// Plan is the sink group's lag to plan with, from the status snapshot.
	Plan LagPlan `json:"plan"`
	// Rows is rows written per second per table, from PostgreSQL's insert
	// and update counters in the status snapshot.
	Rows []TableRate `json:"rows"`
	// Clients is the number of live clients; FramesSkipped and
	// ClientsDropped count the live push's back-pressure so far.
	Clients        int   `json:"clients"`
	FramesSkipped  int64 `json:"frames_skipped"`
	ClientsDropped int64 `json:"clients_dropped"`
	// Cluster is the Kafka cluster's state, as status shows it.
	Cluster ClusterHealth `json:"cluster"`
	// Problems lists what could not be measured this time, in words.
	Problems []string `json:"problems,omitempty"`
}

// ClusterHealth is the Kafka cluster as status sees it: the brokers that
// answer, those down (a crashed or hung one the metadata still lists, or
// one holding replicas of the topics that the metadata has dropped), the
// panel's topics' partitions with fewer in-sync replicas than replicas
// and without a leader, and the sink group's verdict.
type ClusterHealth struct {
	Brokers         int      `json:"brokers"`
	Down            []string `json:"down,omitempty"` // "2 127.0.0.1:12092"
	UnderReplicated int      `json:"under_replicated"`
	Offline         int      `json:"offline"`
	// SinkVerdict is the sink group's worst partition verdict (OK, WARN,
	// STALL, STOP, REWIND); empty while the group is not known.
	SinkVerdict string `json:"sink_verdict,omitempty"`
	// Unknown says the topics and groups could not be read this time.
	Unknown bool `json:"unknown,omitempty"`
}

// TopicHealth is one topic's throughput and the sink's position on it.
type TopicHealth struct {
	Topic string `json:"topic"` // short name: "prices"
	// End is the sum of the partitions' end offsets.
	End int64 `json:"end"`
	// ProduceRate is records appended per second (end offsets' growth).
	ProduceRate float64 `json:"produce_rate"`
	// Consumed reports whether the sink group has a position on the topic;
	// ConsumeRate, Lag and LagSeconds are meaningful only then.
	Consumed    bool    `json:"consumed"`
	ConsumeRate float64 `json:"consume_rate"`
	Lag         int64   `json:"lag"`
	// LagSeconds is how long ago the oldest record not yet consumed was
	// appended (the worst partition): the status snapshot's lag seconds,
	// from the timestamp of the record at the committed offset.
	// LagSecondsAtLeast is kept for the page and is never set.
	LagSeconds        float64           `json:"lag_seconds"`
	LagSecondsAtLeast bool              `json:"lag_seconds_at_least,omitempty"`
	Partitions        []PartitionHealth `json:"partitions"`
}

// PartitionHealth is one partition's end offset, the sink's position and
// the lag between them.
type PartitionHealth struct {
	Partition int32 `json:"p"`
	End       int64 `json:"end"`
	Committed int64 `json:"committed"` // -1: none; as status.PartitionState.Committed
	Lag       int64 `json:"lag"`
}

// LagPlan is where the sink group's lag is heading, as status shows it:
// the trend over the sampling window, the consume rate, the estimated
// time to catch up (0: caught up or keeping up, -1: not shrinking), and the
// partitions whose committed offset is falling out of retention.
type LagPlan struct {
	Trend          status.Trend `json:"trend,omitempty"`
	ConsumeRate    float64      `json:"consume_rate"`
	CatchUpSeconds float64      `json:"catch_up_seconds"`
	KeepingUp      bool         `json:"keeping_up,omitempty"`
	Warnings       []string     `json:"warnings,omitempty"`
}

// DeadLetters counts the records that could never be loaded.
type DeadLetters struct {
	Topic int64   `json:"topic"`
	Table int64   `json:"table"`
	Rate  float64 `json:"rate"` // per second, from the topic
}

// TableRate is rows written per second to one table.
type TableRate struct {
	Table string  `json:"table"`
	Rate  float64 `json:"rate"`
	Total int64   `json:"total"` // rows written since PostgreSQL's statistics were reset
}

const (
	healthKeep   = 600 // samples kept for the page's charts: 10 minutes
	healthPeriod = time.Second
)

// healthTables are the tables whose write rates the panel shows.
var healthTables = []string{"price_ticks", "trades", "users", "accounts", "dead_letters"}

// healthSampler turns the status snapshots into the panel's samples once a
// second and keeps their history. Run owns its only goroutine; Latest and
// History are safe for concurrent use.
type healthSampler struct {
	src     HealthSource // nil: no health figures
	topics  kafka.Topics
	group   string
	metrics *serverMetrics
	clients func() int
	now     func() time.Time

	// owned by run
	prevSnap *status.Snapshot // the snapshot rates were last derived from
	base     *status.Snapshot // the one before it
	rates    derived

	mu      sync.Mutex
	history []*HealthSample
}

// derived are the rates between two successive snapshots.
type derived struct {
	produce, consume map[string]float64 // by short topic name
	rows             map[string]float64 // by table
}

// Latest returns the newest sample, or nil before the first.
func (h *healthSampler) Latest() *HealthSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.history) == 0 {
		return nil
	}
	return h.history[len(h.history)-1]
}

// History returns the samples of the last ten minutes, oldest first.
func (h *healthSampler) History() []*HealthSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*HealthSample(nil), h.history...)
}

func (h *healthSampler) run(ctx context.Context) error {
	t := time.NewTicker(healthPeriod)
	defer t.Stop()
	for {
		h.sampleOnce()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *healthSampler) sampleOnce() {
	s := h.sample()
	h.mu.Lock()
	h.history = append(h.history, s)
	if len(h.history) > healthKeep {
		h.history = append(h.history[:0:0], h.history[len(h.history)-healthKeep:]...)
	}
	h.mu.Unlock()
}

func (h *healthSampler) sample() *HealthSample {
	now := h.now()
	s := &HealthSample{Time: now.UnixMilli(), DeadLetters: DeadLetters{Topic: -1, Table: -1}}
	s.Received = h.metrics.received.percentiles(true)
	s.Pushed = h.metrics.pushed.percentiles(true)
	s.Clients = h.clients()
	s.FramesSkipped = h.metrics.skippedCount.Load()
	s.ClientsDropped = h.metrics.droppedCount.Load()
	if h.src == nil {
		s.Problems = []string{"pipeline health: no status sampler"}
		return s
	}
	snap, ok := h.src.Latest()
	if !ok {
		s.Problems = []string{"pipeline health: no sample yet"}
		return s
	}
	if h.prevSnap == nil || !snap.At.Equal(h.prevSnap.At) {
		h.base, h.prevSnap = h.prevSnap, &snap
		h.rates = h.derive(h.base, &snap)
	}
	s.Problems = append(s.Problems, snap.Problems...)
	group, known := snap.Group(h.group)
	s.Cluster = h.cluster(&snap)
	if known {
		s.Cluster.SinkVerdict = string(group.Verdict)
	}
	s.Plan = LagPlan{Trend: group.Trend, ConsumeRate: group.ConsumeRate, CatchUpSeconds: group.CatchUpSeconds, KeepingUp: group.KeepingUp, Warnings: group.Warnings}
	for _, t := range h.named() {
		s.Topics = append(s.Topics, h.topicHealth(&snap, group, t.name, t.topic))
	}
	s.DeadLetters.Topic = snap.DeadLetters.Topic
	if _, ok := snap.Topic(h.topics.DeadLetter); ok {
		s.DeadLetters.Rate = h.rates.produce["deadletter"]
	}
	if _, ok := snap.Table("dead_letters"); ok {
		s.DeadLetters.Table = snap.DeadLetters.StoredTotal()
	}
	for _, name := range healthTables {
		tr := TableRate{Table: name, Rate: h.rates.rows[name]}
		if t, ok := snap.Table(name); ok {
			tr.Total = t.Inserted + t.Updated
		}
		s.Rows = append(s.Rows, tr)
	}
	return s
}

// cluster is the snapshot's brokers and the panel's topics' partitions.
func (h *healthSampler) cluster(snap *status.Snapshot) ClusterHealth {
	c := ClusterHealth{Unknown: snap.KafkaError != ""}
	for _, b := range snap.Brokers {
		if b.Down {
			c.Down = append(c.Down, fmt.Sprintf("%d %s:%d", b.ID, b.Host, b.Port))
		} else {
			c.Brokers++
		}
	}
	for _, t := range h.named() {
		if st, ok := snap.Topic(t.topic); ok {
			c.UnderReplicated += st.UnderReplicated
			c.Offline += st.Offline
		}
	}
	return c
}

type namedTopic struct{ name, topic string }

// named lists the panel's topics, short name and full name.
func (h *healthSampler) named() []namedTopic {
	return []namedTopic{
		{"users", h.topics.Users}, {"prices", h.topics.Prices}, {"trades", h.topics.Trades},
		{"alerts", h.topics.Alerts}, {"deadletter", h.topics.DeadLetter},
	}
}

// sinkTopic reports whether the sink's position on the topic is shown.
func sinkTopic(name string) bool { return name == "users" || name == "prices" || name == "trades" }

// topicHealth is one topic's end offsets and, for the sink's topics, the
// sink group's position and lag from the snapshot.
func (h *healthSampler) topicHealth(snap *status.Snapshot, group status.Group, name, topic string) TopicHealth {
	th := TopicHealth{Topic: name, ProduceRate: h.rates.produce[name], ConsumeRate: h.rates.consume[name]}
	t, _ := snap.Topic(topic)
	th.End = t.End
	for _, o := range t.Offsets {
		ph := PartitionHealth{Partition: o.Partition, End: o.End, Committed: -1}
		if sinkTopic(name) {
			ph.Lag = o.End // no position: everything is still to load
			if p, ok := committedOn(group, topic, o.Partition); ok {
				th.Consumed = true
				ph.Committed, ph.Lag = p.Committed, max(p.Lag, 0)
				th.LagSeconds = max(th.LagSeconds, p.LagSeconds)
			}
		}
		th.Lag += ph.Lag
		th.Partitions = append(th.Partitions, ph)
	}
	if !th.Consumed {
		th.ConsumeRate = 0
	}
	return th
}

// committedOn returns the group's partition of topic, if it has a commit.
func committedOn(g status.Group, topic string, partition int32) (status.PartitionState, bool) {
	for _, p := range g.Partitions {
		if p.Topic == topic && p.Partition == partition && p.Committed >= 0 {
			return p, true
		}
	}
	return status.PartitionState{}, false
}

// derive computes the rates between snapshots prev and cur: records
// appended and consumed (the sink group's commits) per second per topic,
// rows written per second per table.
func (h *healthSampler) derive(prev, cur *status.Snapshot) derived {
	d := derived{produce: map[string]float64{}, consume: map[string]float64{}, rows: map[string]float64{}}
	if prev == nil {
		return d
	}
	dt := cur.At.Sub(prev.At).Seconds()
	if dt <= 0 {
		return d
	}
	rate := func(now, before int64) float64 { return max(0, float64(now-before)/dt) }
	pg, _ := prev.Group(h.group)
	cg, _ := cur.Group(h.group)
	for _, t := range h.named() {
		pt, ok1 := prev.Topic(t.topic)
		ct, ok2 := cur.Topic(t.topic)
		if ok1 && ok2 && pt.End > 0 {
			d.produce[t.name] = rate(ct.End, pt.End)
		}
		if pc, ok := committedSum(pg, t.topic); ok && pc > 0 && sinkTopic(t.name) {
			if cc, ok := committedSum(cg, t.topic); ok {
				d.consume[t.name] = rate(cc, pc)
			}
		}
	}
	for _, name := range healthTables {
		pt, ok1 := prev.Table(name)
		ct, ok2 := cur.Table(name)
		if ok1 && ok2 {
			d.rows[name] = rate(ct.Inserted+ct.Updated, pt.Inserted+pt.Updated)
		}
	}
	return d
}

// committedSum sums the group's committed offsets on topic.
func committedSum(g status.Group, topic string) (int64, bool) {
	var sum int64
	found := false
	for _, p := range g.Partitions {
		if p.Topic == topic && p.Committed >= 0 {
			sum += p.Committed
			found = true
		}
	}
	return sum, found
}
