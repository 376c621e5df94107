package gen

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the generator's Prometheus collectors. Labels are bounded:
// topic only.
type Metrics struct {
	events *prometheus.CounterVec
	bytes  *prometheus.CounterVec
	failed *prometheus.CounterVec
	target prometheus.Gauge
	// bufferedRecords, bufferedBytes and stalled follow the producer's
	// buffer and Watch (see Run).
	bufferedRecords, bufferedBytes, stalled prometheus.Gauge
	byTopic                                 sync.Map // topic -> *topicMetrics
}

type topicMetrics struct {
	events, bytes, failed prometheus.Counter
}

// NewMetrics registers the generator's collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_gen_events_total", Help: "Events delivered to Kafka (acknowledged), by topic.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_gen_bytes_total", Help: "Value bytes delivered to Kafka, by topic.",
		}, []string{"topic"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_gen_failed_total", Help: "Events the producer gave up on, by topic.",
		}, []string{"topic"}),
		target: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tradestream_gen_target_rate_events_per_second", Help: "The generator's target rate (0: unlimited).",
		}),
		bufferedRecords: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tradestream_gen_buffered_records", Help: "Records in the producer's buffer, not yet acknowledged (bounded by max_buffered_records).",
		}),
		bufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tradestream_gen_buffered_bytes", Help: "Bytes of the records in the producer's buffer.",
		}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tradestream_gen_stalled_partitions", Help: "Partitions holding records without an acknowledgement for the stall time (leader gone, or fewer in-sync replicas than min.insync.replicas).",
		}),
	}
	reg.MustRegister(m.events, m.bytes, m.failed, m.target, m.bufferedRecords, m.bufferedBytes, m.stalled)
	return m
}

func (m *Metrics) topic(t string) *topicMetrics {
	if v, ok := m.byTopic.Load(t); ok {
		return v.(*topicMetrics)
	}
	tm := &topicMetrics{
		events: m.events.WithLabelValues(t), bytes: m.bytes.WithLabelValues(t), failed: m.failed.WithLabelValues(t),
	}
	v, _ := m.byTopic.LoadOrStore(t, tm)
	return v.(*topicMetrics)
}

func (m *Metrics) delivered(topic string, n int) {
	if m == nil {
		return
	}
	tm := m.topic(topic)
	tm.events.Inc()
	tm.bytes.Add(float64(n))
}

func (m *Metrics) fail(topic string) {
	if m != nil {
		m.topic(topic).failed.Inc()
	}
}

// observe sets the buffer and stall gauges.
func (m *Metrics) observe(records, bytes int64, stalled int) {
	if m == nil {
		return
	}
	m.bufferedRecords.Set(float64(records))
	m.bufferedBytes.Set(float64(bytes))
	m.stalled.Set(float64(stalled))
}
