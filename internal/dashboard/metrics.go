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
	recreated      prometheus.Counter
	latency        *prometheus.HistogramVec
	clients        prometheus.Gauge
	frames         prometheus.Counter
	framesSkipped  prometheus.Counter
	clientsDropped prometheus.Counter
	streamsEnded   *prometheus.CounterVec

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
		recreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tradestream_dashboard_topics_recreated_total",
			Help: "Topics the live view found deleted and created again (the brokers list them under another id than the one fetched) and went on reading from the new topic's end.",
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
		streamsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: StreamsEndedMetric,
			Help: "Live streams ended, by cause: client_gone (the client closed it), write_deadline (a frame's write timed out), queue_overflow (dropped for missing too many frames), server_stop.",
		}, []string{"cause"}),
		received: newLatencyWindow(16384),
		pushed:   newLatencyWindow(16384),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.undecodable, m.recreated, m.latency, m.clients, m.frames, m.framesSkipped, m.clientsDropped, m.streamsEnded)
	}
	for _, c := range StreamEndCauses {
		m.streamsEnded.WithLabelValues(string(c)) // every cause shows, at 0 until it happens
	}
	return m
}

// StreamEnd is why a live stream ended: the cause label of
// tradestream_dashboard_streams_ended_total.
type StreamEnd string

// The causes of a stream's end.
const (
	// EndClientGone: the client closed the connection.
	EndClientGone StreamEnd = "client_gone"
	// EndWriteDeadline: writing a frame took longer than
	// HubOptions.WriteTimeout (the client stopped reading).
	EndWriteDeadline StreamEnd = "write_deadline"
	// EndQueueOverflow: the hub dropped the client after it missed
	// HubOptions.MaxSkipped frames in a row.
	EndQueueOverflow StreamEnd = "queue_overflow"
	// EndServerStop: the dashboard stopped.
	EndServerStop StreamEnd = "server_stop"
)

// StreamEndCauses lists every StreamEnd.
var StreamEndCauses = []StreamEnd{EndClientGone, EndWriteDeadline, EndQueueOverflow, EndServerStop}

// StreamsEndedMetric is the name of the counter of ended streams.
const StreamsEndedMetric = "tradestream_dashboard_streams_ended_total"

func (m *serverMetrics) observeReceived(d time.Duration) {
	m.latency.WithLabelValues("received").Observe(d.Seconds())
	m.received.observe(d)
}

func (m *serverMetrics) observePushed(d time.Duration) {
	m.latency.WithLabelValues("pushed").Observe(d.Seconds())
	m.pushed.observe(d)
}
