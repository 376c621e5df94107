package dashboard

import (
	"slices"
	"sync"
	"time"
)

// latencyWindow keeps the most recent latency samples in a fixed ring and
// answers percentiles over them. It is safe for concurrent use.
type latencyWindow struct {
	mu    sync.Mutex
	buf   []time.Duration
	next  int
	n     int
	total int64
}

func newLatencyWindow(capacity int) *latencyWindow {
	return &latencyWindow{buf: make([]time.Duration, capacity)}
}

func (w *latencyWindow) observe(d time.Duration) {
	w.mu.Lock()
	w.buf[w.next] = d
	w.next = (w.next + 1) % len(w.buf)
	w.n = min(w.n+1, len(w.buf))
	w.total++
	w.mu.Unlock()
}

// Percentiles are latency percentiles over a window of samples, in
// milliseconds.
type Percentiles struct {
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Samples int     `json:"samples"`
	// Total counts every sample ever observed, not only the window's.
	Total int64 `json:"total"`
}

// percentiles returns the window's percentiles, and resets the window when
// reset is set (so the next call covers only newer samples).
func (w *latencyWindow) percentiles(reset bool) Percentiles {
	w.mu.Lock()
	s := slices.Clone(w.buf[:w.n])
	total := w.total
	if reset {
		w.n, w.next = 0, 0
	}
	w.mu.Unlock()
	p := PercentilesOf(s)
	p.Total = total
	return p
}

// PercentilesOf returns the percentiles of samples, sorting them in place;
// Total is the number of samples.
func PercentilesOf(s []time.Duration) Percentiles {
	p := Percentiles{Samples: len(s), Total: int64(len(s))}
	if len(s) == 0 {
		return p
	}
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	p.P50, p.P90, p.P99, p.Max = at(0.50), at(0.90), at(0.99), ms(s[len(s)-1])
	return p
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
