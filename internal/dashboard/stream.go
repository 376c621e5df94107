package dashboard

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"time"
)

// handleStream serves the live event stream (Server-Sent Events) for one
// symbol and candle interval. Each event's data is one JSON frame: the
// shared part (t, ticker deltas, new alerts, the newest health sample) and
// "sym" for the subscription (quote, newest candles, new trades). Every
// stream's end is counted by its cause (see StreamEnd).
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	ivIdx, ok := intervalParam(w, r)
	if !ok {
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
	st := &stream{s: s, w: w, rc: rc, r: r}
	if err := st.write([]byte("retry: 2000\n\n")); err != nil {
		s.metrics.streamsEnded.WithLabelValues(string(st.cause(err))).Inc()
		return
	}
	c, leave := s.hub.join(subKey{symbol: sym, interval: ivIdx})
	defer leave()
	st.c = c
	defer st.cutOnDrop()()
	s.metrics.streamsEnded.WithLabelValues(string(st.run())).Inc()
}

// errDropped is a write refused because the hub had dropped the client.
var errDropped = errors.New("client dropped by the hub")

// cutOnDrop ends a write in progress at once when the hub drops the
// client (a client that stopped reading is blocked in a write), rather
// than after the write timeout; the returned function stops the watch and
// must be called before the handler returns.
func (st *stream) cutOnDrop() func() {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-st.c.gone:
			_ = st.rc.SetWriteDeadline(time.Now())
		case <-quit:
		}
	}()
	return func() { close(quit); <-done }
}

// intervalParam reads the interval query parameter (default 1m) as an
// index into Intervals, answering 400 when it is none of them.
func intervalParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	name := r.URL.Query().Get("interval")
	if name == "" {
		name = "1m"
	}
	for i, iv := range Intervals {
		if iv.Name == name {
			return i, true
		}
	}
	writeError(w, http.StatusBadRequest, "interval: want 1s, 1m or 5m")
	return 0, false
}

// stream is one live stream being served.
type stream struct {
	s  *Server
	w  http.ResponseWriter
	rc *http.ResponseController
	r  *http.Request
	c  *liveClient
}

// run writes the client's frames, and pings, until the stream ends, and
// returns why it ended.
func (st *stream) run() StreamEnd {
	s := st.s
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	rnd := rand.New(rand.NewPCG(uint64(s.opts.Now().UnixNano()), 7))
	for {
		select {
		case <-st.r.Context().Done():
			if s.hub.stopped() {
				return EndServerStop
			}
			return EndClientGone
		case <-st.c.gone:
			return EndQueueOverflow
		case <-ping.C:
			if err := st.write([]byte(": ping\n\n")); err != nil {
				return st.cause(err)
			}
		case f := <-st.c.ch:
			if err := st.write(f.data); err != nil {
				return st.cause(err)
			}
			s.metrics.frames.Inc()
			if n := len(f.produced); n > 0 {
				// One record per frame, picked at random, samples the
				// produced-to-pushed latency of every record without
				// timing each one.
				s.metrics.observePushed(s.opts.Now().Sub(time.Unix(0, f.produced[rnd.IntN(n)])))
			}
		}
	}
}

// write writes and flushes b within the hub's write timeout. The deadline
// is on the connection, so it is the real clock's. It is set before gone
// is checked: a drop after the check comes after the deadline was set, so
// cutOnDrop's deadline overrides it.
func (st *stream) write(b []byte) error {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.s.hub.opts.WriteTimeout))
	if st.c != nil && isClosed(st.c.gone) {
		return errDropped
	}
	if _, err := st.w.Write(b); err != nil {
		return err
	}
	return st.rc.Flush()
}

// cause classifies a failed write: the hub had dropped the client already
// (it stopped reading and missed too many frames), the write timed out,
// the server is stopping, or the client went away.
func (st *stream) cause(err error) StreamEnd {
	switch {
	case st.c != nil && isClosed(st.c.gone):
		return EndQueueOverflow
	case errors.Is(err, os.ErrDeadlineExceeded):
		return EndWriteDeadline
	case st.s.hub.stopped():
		return EndServerStop
	default:
		return EndClientGone
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
