package dashboard

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// streamWriteTimeout bounds one frame's write: a browser that stops
// reading is cut off after it rather than holding a goroutine forever.
const streamWriteTimeout = 5 * time.Second

// handleStream serves the live event stream (Server-Sent Events) for one
// symbol and candle interval. Each event's data is one JSON frame: the
// shared part (t, ticker deltas, new alerts, the newest health sample) and
// "sym" for the subscription (quote, newest candles, new trades).
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	ivName := r.URL.Query().Get("interval")
	if ivName == "" {
		ivName = "1m"
	}
	ivIdx := -1
	for i, iv := range Intervals {
		if iv.Name == ivName {
			ivIdx = i
		}
	}
	if ivIdx < 0 {
		writeError(w, http.StatusBadRequest, "interval: want 1s, 1m or 5m")
		return
	}
	sym, ok := s.symbolParam(w, r)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	c, leave := s.hub.join(subKey{symbol: sym, interval: ivIdx})
	defer leave()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.gone:
			return
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case f := <-c.ch:
			if !write(f.data) {
				return
			}
			s.metrics.frames.Inc()
			if n := len(f.produced); n > 0 {
				// One record per frame, picked at random, samples the
				// produced-to-pushed latency of every record without
				// timing each one.
				s.metrics.observePushed(time.Since(time.Unix(0, f.produced[rnd.IntN(n)])))
			}
		}
	}
}
