package sink

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sink's Prometheus collectors. Labels are bounded: short
// topic names, table names, dead-letter reasons and error classes.
type metrics struct {
	consumed          *prometheus.CounterVec   // topic
	skipped           prometheus.Counter       // redelivered records below the stored position
	rows              *prometheus.CounterVec   // table
	deadLetters       *prometheus.CounterVec   // reason
	batchRecords      prometheus.Histogram     // records per committed batch
	copySeconds       *prometheus.HistogramVec // table
	commitSeconds     prometheus.Histogram     // COMMIT round trip
	rollupSeconds     prometheus.Histogram     // the rollup upserts of one batch
	rollupReplays     prometheus.Counter       // positions replayed for a late trade
	batchSeconds      prometheus.Histogram     // whole batch: partitions, dead letters, transaction
	latency           prometheus.Histogram     // produced_at -> committed
	retries           *prometheus.CounterVec   // class
	fenced            prometheus.Counter
	storedMoved       prometheus.Counter
	pastEnd           prometheus.Counter
	recreated         prometheus.Counter
	recreatedAtAssign prometheus.Counter
	partitionsCreated prometheus.Counter
	partitionsDropped prometheus.Counter
	paused            prometheus.Gauge
}

// latencyBuckets resolve the end-to-end latency finely around the
// sub-second range a live sink works in.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
	0.6, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120}

// LatencyMetric is the end-to-end latency histogram's name.
const LatencyMetric = "tradestream_sink_end_to_end_latency_seconds"

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "tradestream", "sink"
	m := &metrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "records_consumed_total",
			Help: "Records consumed from Kafka and committed (loaded or dead-lettered), by topic.",
		}, []string{"topic"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "records_skipped_total",
			Help: "Redelivered records skipped because PostgreSQL already holds them.",
		}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rows_written_total",
			Help: "Rows committed to PostgreSQL, by table (users and accounts count upserted records).",
		}, []string{"table"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Records dead-lettered, by reason.",
		}, []string{"reason"}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "batch_records",
			Help:    "Records per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		copySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "copy_duration_seconds",
			Help:    "Duration of one COPY, by target table.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"table"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "commit_duration_seconds",
			Help:    "Duration of the COMMIT of one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		rollupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "rollup_duration_seconds",
			Help:    "Duration of the rollup upserts of one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		rollupReplays: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rollup_position_replays_total",
			Help: "Positions recomputed from their stored trades because a trade older than their last arrived.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "batch_duration_seconds",
			Help:    "Duration of loading one batch, from the first attempt to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "end_to_end_latency_seconds",
			Help:    "Time from a record's produced_at header to the commit of its row.",
			Buckets: latencyBuckets,
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "retries_total",
			Help: "Batch load attempts that failed and were retried, by error class.",
		}, []string{"class"}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "fenced_batches_total",
			Help: "Batches dropped because another instance had moved their stored offsets.",
		}),
		storedMoved: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stored_offsets_moved_total",
			Help: "Times the sink found, with no batch fenced off, the stored offsets of its partitions moved (a failover, a restore) and re-read from them.",
		}),
		pastEnd: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "offsets_past_end_total",
			Help: "Partitions whose stored offset was past the partition's end when assigned (the topic recreated, the cluster replaced, its log truncated), loaded again from their start.",
		}),
		recreated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "topics_recreated_total",
			Help: "Times the sink found a topic it consumes deleted and created again (the brokers list it under another id than the one fetched) and loaded the new topic from its start.",
		}),
		recreatedAtAssign: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "partitions_of_recreated_topics_total",
			Help: "Partitions assigned whose topic had another id than when the group was last assigned them (deleted and created again), loaded again from their start.",
		}),
		partitionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "partitions_created_total",
			Help: "Daily partitions created by the sink.",
		}),
		partitionsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "partitions_dropped_total",
			Help: "Daily partitions dropped by the retention upkeep.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "paused",
			Help: "1 while consumption is paused waiting for PostgreSQL, else 0.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.consumed, m.skipped, m.rows, m.deadLetters, m.batchRecords, m.copySeconds,
			m.commitSeconds, m.batchSeconds, m.latency, m.retries, m.fenced, m.storedMoved, m.pastEnd, m.recreated, m.recreatedAtAssign, m.partitionsCreated,
			m.partitionsDropped, m.paused, m.rollupSeconds, m.rollupReplays)
	}
	return m
}
