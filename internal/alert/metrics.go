package alert

import (
	"github.com/prometheus/client_golang/prometheus"
)

// engineMetrics are the engine's own series, tradestream_alerts_*.
type engineMetrics struct {
	records   *prometheus.CounterVec   // consumed records by topic
	bytes     *prometheus.CounterVec   // consumed value bytes by topic
	skipped   *prometheus.CounterVec   // records not evaluated, by reason
	fired     *prometheus.CounterVec   // alerts decided, by kind
	produced  prometheus.Counter       // alert records committed to the alerts topic
	resent    prometheus.Counter       // outbox alerts produced again after a restart
	rules     *prometheus.GaugeVec     // enabled rules by kind
	batch     prometheus.Histogram     // records per batch
	commit    prometheus.Histogram     // PostgreSQL checkpoint duration
	txn       prometheus.Histogram     // Kafka transaction duration
	e2e       *prometheus.HistogramVec // produced_at of the source record to alert committed, by kind
	moved     prometheus.Counter       // rule states inherited from another partition
	renewed   prometheus.Counter       // producers replaced after the coordinator aborted their transaction
	fenced    prometheus.Counter       // checkpoints refused: the stored offsets had moved
	followed  prometheus.Counter       // stored offsets found moved between checkpoints
	pastEnd   prometheus.Counter       // stored offsets found past their partition's end, rewound
	recreated prometheus.Counter       // topics found deleted and created again under the engine
	// partitions assigned of a topic with another id than last time
	recreatedAtAssign prometheus.Counter
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_alerts_consumed_records_total",
			Help: "Records the alerts engine evaluated, by topic.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_alerts_consumed_bytes_total",
			Help: "Value bytes of the records the alerts engine evaluated, by topic.",
		}, []string{"topic"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_alerts_skipped_records_total",
			Help: "Records the alerts engine could not decode and skipped (the sink dead-letters them), by reason.",
		}, []string{"reason"}),
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_alerts_fired_total",
			Help: "Alerts the engine decided, by rule kind.",
		}, []string{"kind"}),
		produced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_produced_records_total",
			Help: "Alert records committed to the alerts topic.",
		}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_recovered_total",
			Help: "Alerts found in the outbox after a restart and produced then.",
		}),
		rules: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tradestream_alerts_rules",
			Help: "Enabled alert rules, by kind.",
		}, []string{"kind"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tradestream_alerts_batch_records",
			Help:    "Records per evaluated batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tradestream_alerts_checkpoint_duration_seconds",
			Help:    "Time to commit a batch's offsets, rule state and outbox to PostgreSQL.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		txn: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tradestream_alerts_produce_duration_seconds",
			Help:    "Time to produce a batch's alerts in one Kafka transaction and commit it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		moved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_states_moved_total",
			Help: "Rule states a symbol took along to another partition of the prices topic (after the topic grew).",
		}),
		renewed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_producer_renewals_total",
			Help: "Alerts producers replaced by a new one of the same transactional id after the coordinator aborted their transaction or bumped their epoch (a commit completed while its reply was lost).",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_checkpoints_fenced_total",
			Help: "Checkpoints refused because the stored offsets were not where the engine stored them (the database lost checkpoints, or another instance moved them); the engine then resumed from the stored checkpoint.",
		}),
		followed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_stored_offsets_moved_total",
			Help: "Times the engine found the stored offsets moved under it between checkpoints (a failover or a restore) and resumed from them.",
		}),
		pastEnd: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_offsets_past_end_total",
			Help: "Partitions whose stored offset was past the partition's end when assigned (a recreated topic, a replaced cluster, a truncated log), evaluated again from their start.",
		}),
		recreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_topics_recreated_total",
			Help: "Times the engine found a topic it consumes deleted and created again (the brokers list it under another id than the one fetched) and joined the group again to consume the new one.",
		}),
		recreatedAtAssign: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_alerts_partitions_of_recreated_topics_total",
			Help: "Partitions assigned whose topic had another id than when the group was last assigned them (deleted and created again), evaluated again from their start.",
		}),
		e2e: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tradestream_alerts_e2e_latency_seconds",
			Help:    "From produced_at of the record that fired an alert to the alert committed in the alerts topic.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.bytes, m.skipped, m.fired, m.produced, m.resent, m.rules, m.batch, m.commit, m.txn, m.e2e, m.moved, m.renewed, m.fenced, m.followed, m.pastEnd, m.recreated, m.recreatedAtAssign)
	}
	for _, k := range Kinds {
		m.fired.WithLabelValues(string(k))
		m.rules.WithLabelValues(string(k))
	}
	return m
}
