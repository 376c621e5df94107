package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/store"
)

// Limits of the history API.
const (
	maxCandles     = 1500 // candles one request may cover
	defaultCandles = 300
	maxTrades      = 500
)

// movers windows the API accepts.
var moverWindows = map[string]time.Duration{
	"1m": time.Minute, "5m": 5 * time.Minute, "15m": 15 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour,
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// serverError answers a request whose work failed: 503 with Retry-After
// when the database is unavailable (down, restarting, or between a
// primary's loss and a standby's promotion; each request connects again,
// so the next one may well be answered), 500 otherwise. The error itself
// goes to the log only.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if store.Unavailable(err) {
		s.log.Warn("dashboard request: the database is unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the database is unavailable; retry shortly (the dashboard's log says why)")
		return
	}
	s.log.Error("dashboard request", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; see the dashboard's log")
}

// intParam reads an optional integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: want an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// timeParam reads an optional time: RFC 3339 or Unix seconds.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<36 {
			return time.Time{}, fmt.Errorf("%s: Unix seconds out of range", name)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want RFC 3339 or Unix seconds", name)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%s: year out of range", name)
	}
	return t, nil
}

// errUnknownSymbol marks a well-formed symbol the dashboard has never seen.
var errUnknownSymbol = errors.New("unknown symbol")

// symbolParam reads and checks the symbol parameter: 400 when malformed,
// 404 when neither the live stream nor PostgreSQL knows it. It answers the
// error itself and returns ok=false then.
func (s *Server) symbolParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw := r.URL.Query().Get("symbol")
	if raw == "" {
		writeError(w, http.StatusBadRequest, "symbol: required")
		return "", false
	}
	sym, ok := event.NormalizeSymbol(raw)
	if !ok {
		writeError(w, http.StatusBadRequest, "symbol: want 1 to 10 letters, digits or dots, starting with a letter")
		return "", false
	}
	if err := s.knownSymbol(r, sym); err != nil {
		if errors.Is(err, errUnknownSymbol) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown symbol %q", sym))
		} else {
			s.serverError(w, r, err)
		}
		return "", false
	}
	return sym, true
}

func (s *Server) knownSymbol(r *http.Request, sym string) error {
	if s.market.Has(sym) {
		return nil
	}
	s.knownMu.Lock()
	ok := s.known[sym]
	s.knownMu.Unlock()
	if ok {
		return nil
	}
	exists, err := s.hist.SymbolExists(r.Context(), sym)
	if err != nil {
		return err
	}
	if !exists {
		return errUnknownSymbol
	}
	s.knownMu.Lock()
	if len(s.known) < maxSymbols*4 {
		s.known[sym] = true
	}
	s.knownMu.Unlock()
	return nil
}

func (s *Server) handleConfig(w http.ResponseWriter, _ *http.Request) {
	ivs := make([]string, len(Intervals))
	for i, iv := range Intervals {
		ivs[i] = iv.Name
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"writes_enabled": s.opts.Token.Reveal() != "",
		"alerts_engine":  s.opts.Rules != nil,
		"intervals":      ivs,
		"frame_ms":       s.hub.opts.FrameInterval.Milliseconds(),
		"sink_group":     s.opts.SinkGroup,
	})
}

func (s *Server) handleSymbols(w http.ResponseWriter, r *http.Request) {
	stored, err := s.hist.Symbols(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	byName := map[string]int{}
	out := make([]Quote, 0, len(stored))
	for _, st := range stored {
		byName[st.Symbol] = len(out)
		out = append(out, Quote{Symbol: st.Symbol, Sector: st.Sector, Last: st.Last, Time: st.Time})
	}
	for _, q := range s.market.Quotes() {
		if i, ok := byName[q.Symbol]; ok {
			out[i] = q
		} else if len(out) < maxSymbols {
			out = append(out, q)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"symbols": out})
}

func (s *Server) handleCandles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ivName := q.Get("interval")
	if ivName == "" {
		ivName = "1m"
	}
	iv, err := ParseInterval(ivName)
	if err != nil {
		writeError(w, http.StatusBadRequest, "interval: "+err.Error())
		return
	}
	from, err1 := timeParam(r, "from")
	to, err2 := timeParam(r, "to")
	n, err3 := intParam(r, "count", defaultCandles, 1, maxCandles)
	if err := errors.Join(err1, err2, err3); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !from.IsZero() && !to.IsZero() {
		if !to.After(from) {
			writeError(w, http.StatusBadRequest, "range: to must be after from")
			return
		}
		if n := to.Sub(from) / iv.Width; n > maxCandles {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("range: %d candles of %s asked, at most %d; narrow the range or widen the interval", n, iv.Name, maxCandles))
			return
		}
	}
	sym, ok := s.symbolParam(w, r)
	if !ok {
		return
	}
	if to.IsZero() {
		// Default: up to the symbol's newest tick, live or stored, so a
		// stream with a simulated clock in the past still shows.
		live := s.market.Candles(sym, iv, 1)
		if len(live) > 0 {
			to = time.Unix(live[0].Time, 0).Add(iv.Width)
		} else {
			latest, err := s.hist.LatestTick(r.Context(), sym)
			if err != nil {
				s.serverError(w, r, err)
				return
			}
			if latest.IsZero() {
				latest = s.opts.Now()
			}
			to = latest.Truncate(iv.Width).Add(iv.Width)
		}
	}
	if from.IsZero() {
		from = to.Add(-time.Duration(n) * iv.Width)
	}
	if !to.After(from) {
		writeError(w, http.StatusBadRequest, "range: to must be after from")
		return
	}
	if n := to.Sub(from) / iv.Width; n > maxCandles {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("range: %d candles of %s asked, at most %d", n, iv.Name, maxCandles))
		return
	}
	stored, err := s.hist.Candles(r.Context(), sym, iv, from, to)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	candles := mergeCandles(stored, s.market.Candles(sym, iv, iv.Keep), from.Unix(), to.Unix())
	writeJSON(w, http.StatusOK, map[string]any{
		"symbol": sym, "interval": iv.Name, "from": from.Unix(), "to": to.Unix(), "candles": nonNil(candles),
	})
}

// mergeCandles overlays live candles on stored ones within [from, to):
// where both have a bucket, the one with more volume (the more complete
// view) wins.
func mergeCandles(stored, live []Candle, from, to int64) []Candle {
	out := make([]Candle, 0, len(stored)+8)
	i, j := 0, 0
	for i < len(stored) || j < len(live) {
		switch {
		case j == len(live) || (i < len(stored) && stored[i].Time < live[j].Time):
			out = append(out, stored[i])
			i++
		case i == len(stored) || live[j].Time < stored[i].Time:
			if live[j].Time >= from && live[j].Time < to {
				out = append(out, live[j])
			}
			j++
		default:
			c := stored[i]
			if live[j].Volume > c.Volume {
				c = live[j]
			}
			out = append(out, c)
			i++
			j++
		}
	}
	return out
}

func (s *Server) handleTrades(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 60, 1, maxTrades)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sym, ok := s.symbolParam(w, r)
	if !ok {
		return
	}
	trades, err := s.hist.Trades(r.Context(), sym, limit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"symbol": sym, "trades": nonNil(trades)})
}

func (s *Server) handleMovers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("window")
	if name == "" {
		name = "5m"
	}
	window, ok := moverWindows[name]
	if !ok {
		writeError(w, http.StatusBadRequest, "window: want 1m, 5m, 15m, 1h or 1d")
		return
	}
	movers, err := s.hist.Movers(r.Context(), window)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"window": name, "movers": nonNil(movers)})
}

func (s *Server) handleBreakdown(w http.ResponseWriter, r *http.Request) {
	b, err := s.hist.Breakdown(r.Context(), s.opts.Now())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"history": nonNil(s.health.History()), "alerts": nonNil(s.market.Alerts(50))})
}
