package gen

import (
	"log/slog"
	"slices"
	"strings"
	"time"
)

// monitorInterval is how often the producer's buffer and stalls are
// looked at.
const monitorInterval = time.Second

// monitor follows a Kafka run's producer: its buffer into the metrics and,
// with a Watch, its stalled partitions into the log, a warning when a stall
// starts or its partitions change and a line when it ends.
type monitor struct {
	opts    Options
	log     *slog.Logger
	last    Stall
	started time.Time // when the current stall was first seen
}

// startMonitor runs the monitor until the returned function is called;
// that function waits for the goroutine to end. Without a producer it
// does nothing.
func startMonitor(opts Options) func() {
	if opts.Client == nil || (opts.Metrics == nil && opts.Watch == nil) {
		return func() {}
	}
	m := &monitor{opts: opts, log: opts.Log}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(monitorInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				m.check()
				return
			case <-t.C:
				m.check()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

func (m *monitor) check() {
	cl := m.opts.Client
	records, bytes := cl.BufferedProduceRecords(), cl.BufferedProduceBytes()
	var s Stall
	if m.opts.Watch != nil {
		s = m.opts.Watch.Stall()
	}
	m.opts.Metrics.observe(records, bytes, len(s.Partitions))
	switch {
	case s.Stalled() && !slices.Equal(s.Partitions, m.last.Partitions):
		if !m.last.Stalled() {
			m.started = s.Since
		}
		m.log.Warn("produce stalled: partitions without acknowledgement (leader gone, or fewer in-sync replicas than min.insync.replicas for acks=all); the producer retries, its buffer blocks when full",
			"partitions", strings.Join(s.Partitions, ","), "count", len(s.Partitions), "since", s.Since.UTC().Format(time.RFC3339Nano),
			"waiting", s.Pending, "buffered_records", records, "buffered_bytes", bytes)
	case !s.Stalled() && m.last.Stalled():
		m.log.Info("produce resumed: every partition acknowledges again",
			"stalled_for", m.opts.Now().Sub(m.started).Round(time.Millisecond), "buffered_records", records)
	}
	m.last = s
}
