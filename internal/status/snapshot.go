package status

import "time"

// Snapshot is one look at the whole pipeline: what `tradestream status`
// prints and `--json` emits.
type Snapshot struct {
	// At is when the sample was taken.
	At time.Time `json:"at"`
	// ClusterID and Controller describe the Kafka cluster: Controller is
	// the active KRaft controller (the metadata quorum's leader), or the
	// controller the metadata names when the quorum cannot be asked.
	ClusterID  string `json:"cluster_id,omitempty"`
	Controller int32  `json:"controller"`
	// Brokers are the live brokers, and those down that hold replicas of
	// the topics shown, by node id.
	Brokers []Broker `json:"brokers"`
	// Topics are the topics under the prefix, by name.
	Topics []Topic `json:"topics"`
	// Groups are the consumer groups, by name.
	Groups []Group `json:"groups"`
	// Tables are PostgreSQL's tables, when a database is configured.
	Tables []Table `json:"tables,omitempty"`
	// Replication is PostgreSQL's streaming replication, when a read URL
	// is configured or the primary streams to a standby.
	Replication *Replication `json:"replication,omitempty"`
	// DeadLetters sums the dead letters in Kafka and PostgreSQL.
	DeadLetters DeadLetters `json:"dead_letters"`
	// Problems lists the parts that could not be read, as sentences.
	Problems []string `json:"problems,omitempty"`
	// KafkaError, when set, is why topics and groups could not be read
	// this time: they are then unknown, not empty.
	KafkaError string `json:"kafka_error,omitempty"`
	// Samples is how many samples the window holds (the verdicts' basis).
	Samples int `json:"samples"`
}

// Broker is one broker: a live one, or (Down) one that the cluster's
// metadata lists but that does not answer (Error says how it failed: a
// crashed broker before it is fenced, a hung one), or that holds replicas
// of our topics but is not in the metadata (dead and fenced).
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
	Down bool   `json:"down,omitempty"`
	// Error is why a listed broker is down: its failed request.
	Error string `json:"error,omitempty"`
}

// Topic is one topic's shape and size.
type Topic struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	// UnderReplicated counts partitions whose in-sync replicas are fewer
	// than their replicas; Offline those without a leader.
	UnderReplicated int `json:"under_replicated"`
	Offline         int `json:"offline"`
	// Records is the sum over partitions of end minus start offset.
	Records int64 `json:"records"`
	// End is the sum of the partitions' end offsets: how many records were
	// ever appended, whose growth between snapshots is the produce rate.
	End int64 `json:"end"`
	// Offsets are the partitions' start and end offsets, by partition.
	Offsets []PartitionOffsets `json:"offsets,omitempty"`
}

// PartitionOffsets is one partition's log start and end offsets.
type PartitionOffsets struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
}

// Group is one consumer group with its lag and verdict.
type Group struct {
	Name string `json:"name"`
	// State is the coordinator's group state (Stable, Empty, ...).
	State   string `json:"state"`
	Members int    `json:"members"`
	// Lag is the sum of the partitions' lag; LagSeconds the largest
	// partition lag in seconds.
	Lag        int64   `json:"lag"`
	LagSeconds float64 `json:"lag_seconds"`
	// Verdict is the worst partition verdict.
	Verdict Verdict `json:"verdict"`
	// Trend is where the group's lag is heading over the sampling
	// window: growing, shrinking or flat ("" until two samples).
	Trend Trend `json:"trend,omitempty"`
	// ConsumeRate and ProduceRate are records per second over the window:
	// the growth of the committed offsets and of the end offsets of the
	// group's partitions.
	ConsumeRate float64 `json:"consume_rate"`
	ProduceRate float64 `json:"produce_rate"`
	// CatchUpSeconds estimates when the lag reaches zero at the current
	// consume rate net of the produce rate (the lag's shrink rate): 0 with
	// no lag or while keeping up, -1 when the lag is not shrinking (never,
	// at these rates) or the window is too short to tell.
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	// KeepingUp is set when the group consumes and its lag is only records
	// in flight: at most KeepUpSeconds of its consumption, and no lagging
	// partition's oldest unconsumed record known to be older.
	KeepingUp bool `json:"keeping_up,omitempty"`
	// Warnings are the partitions whose committed offset has fallen, or
	// is about to fall, out of the topic's retention, in words.
	Warnings   []string         `json:"warnings,omitempty"`
	Partitions []PartitionState `json:"partitions"`
}

// Trend is the direction of a group's lag.
type Trend string

// The lag trends.
const (
	Growing   Trend = "growing"
	Shrinking Trend = "shrinking"
	Flat      Trend = "flat"
)

// Retention risks of a partition's committed offset.
const (
	// RetentionAtRisk: the record at the committed offset is older than
	// RetentionWarnFraction of the topic's retention: it will soon be
	// deleted unread.
	RetentionAtRisk = "at_risk"
	// RetentionLost: the committed offset is below the log start offset:
	// records were deleted before the group read them.
	RetentionLost = "lost"
)

// RetentionWarnFraction is how much of a topic's retention the oldest
// unconsumed record may use up before its partition is at risk.
const RetentionWarnFraction = 0.8

// PartitionState is one partition a group consumes.
type PartitionState struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the group's committed offset, -1 when it has none:
	// the larger of the offset committed to Kafka and the one the service
	// stored in PostgreSQL with its rows (sink_offsets, alert_offsets),
	// which it commits to Kafka only afterwards.
	Committed int64 `json:"committed"`
	// Stored says Committed is PostgreSQL's, ahead of Kafka's.
	Stored bool `json:"stored,omitempty"`
	// Start is the log start offset (-1: unknown): records below it are
	// deleted.
	Start int64 `json:"start"`
	// End is the log end offset (high watermark).
	End int64 `json:"end"`
	// Lag is End - Committed, -1 when there is no commit.
	Lag int64 `json:"lag"`
	// LagSeconds is how long ago the record at the committed offset was
	// written (its timestamp to now), 0 without lag.
	LagSeconds float64 `json:"lag_seconds"`
	// RetentionLeftSeconds is how long until the record at the committed
	// offset reaches the topic's time retention (its age against
	// retention.ms); -1 when there is no lag or no time retention.
	RetentionLeftSeconds float64 `json:"retention_left_seconds"`
	// Retention is RetentionAtRisk, RetentionLost or "".
	Retention string `json:"retention,omitempty"`
	// Member is the consumer (client id and host) it is assigned to.
	Member  string  `json:"member,omitempty"`
	Verdict Verdict `json:"verdict"`
}

// Table is one PostgreSQL table (partitions summed into their parent).
type Table struct {
	Name string `json:"name"`
	// Rows is the row count: exact, or PostgreSQL's live-tuple estimate
	// when Estimated.
	Rows      int64 `json:"rows"`
	Estimated bool  `json:"estimated,omitempty"`
	// Bytes is the total size on disk, indexes and partitions included.
	Bytes      int64 `json:"bytes"`
	Partitions int   `json:"partitions,omitempty"`
	// Inserted and Updated are PostgreSQL's counters of rows inserted and
	// updated (n_tup_ins, n_tup_upd) since its statistics were reset, the
	// partitions' summed; their growth is the rows written per second.
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	// PartitionSizes are the partitions' sizes, by name.
	PartitionSizes []PartitionSize `json:"partition_sizes,omitempty"`
}

// PartitionSize is one table partition's total size on disk.
type PartitionSize struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

// DeadLetters counts records that could not be loaded.
type DeadLetters struct {
	// Topic is the records in the deadletter topic.
	Topic int64 `json:"topic"`
	// Stored is the rows of the dead_letters table, by reason.
	Stored map[string]int64 `json:"stored,omitempty"`
}

// StoredTotal is the number of dead_letters rows, every reason summed.
func (d DeadLetters) StoredTotal() int64 {
	var n int64
	for _, c := range d.Stored {
		n += c
	}
	return n
}

// Topic returns the named topic of the snapshot.
func (s *Snapshot) Topic(name string) (Topic, bool) {
	for _, t := range s.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// Table returns the named table of the snapshot.
func (s *Snapshot) Table(name string) (Table, bool) {
	for _, t := range s.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Group returns the named group of the snapshot.
func (s *Snapshot) Group(name string) (Group, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}
