package dashboard

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the dashboard's Prometheus collectors plus the latency
// windows the health panel reads.
type serverMetrics struct {
	records        *prometheus.CounterVec
	undecodable    prometheus.Counter
	latency        *prometheus.HistogramVec
	clients        prometheus.Gauge
	frames         prometheus.Counter
	framesSkipped  prometheus.Counter
	clientsDropped prometheus.Counter

	skippedCount atomic.Int64
	droppedCount atomic.Int64

	received *latencyWindow // produced_at -> read by the dashboard
	pushed   *latencyWindow // produced_at -> written to a client
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	m := &serverMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tradestream_dashboard_records_total",
			Help: "Records the dashboard's live reader has read, by topic.",
		}, []string{"topic"}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_dashboard_undecodable_records_total",
			Help: "Live records skipped because they did not decode.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tradestream_dashboard_e2e_latency_seconds",
			Help:    "Time from a record's produced_at header to when the dashboard read it (stage=received) or wrote a frame holding it to a client (stage=pushed).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .15, .25, .5, 1, 2.5, 5, 10},
		}, []string{"stage"}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tradestream_dashboard_clients",
			Help: "Live clients connected to the event stream.",
		}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_dashboard_frames_total",
			Help: "Frames written to live clients.",
		}),
		framesSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_dashboard_frames_skipped_total",
			Help: "Frames not sent to a client because its queue was full.",
		}),
		clientsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_dashboard_clients_dropped_total",
			Help: "Live clients disconnected for being too slow.",
		}),
		received: newLatencyWindow(16384),
		pushed:   newLatencyWindow(16384),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.undecodable, m.latency, m.clients, m.frames, m.framesSkipped, m.clientsDropped)
	}
	return m
}

func (m *serverMetrics) observeReceived(d time.Duration) {
	m.latency.WithLabelValues("received").Observe(d.Seconds())
	m.received.observe(d)
}

func (m *serverMetrics) observePushed(d time.Duration) {
	m.latency.WithLabelValues("pushed").Observe(d.Seconds())
	m.pushed.observe(d)
}
