package dashboard

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// HubOptions tune the live push.
type HubOptions struct {
	// FrameInterval is the coalescing period: each client gets at most one
	// frame per interval. Default 100 ms (10 frames per second).
	FrameInterval time.Duration
	// QueueFrames is each client's queue length; a frame that does not fit
	// is skipped for that client. Default 4.
	QueueFrames int
	// MaxSkipped is how many frames in a row a client may miss before it is
	// disconnected as stalled. Default 50 (5 s at 10 frames per second).
	MaxSkipped int
	// WriteTimeout bounds one frame's write: a client that stops reading
	// is cut off after it rather than holding a goroutine forever.
	// Default 5 s.
	WriteTimeout time.Duration
	// Now is the clock frames are stamped with; nil takes the Server's
	// Options.Now.
	Now func() time.Time
}

func (o *HubOptions) setDefaults() {
	if o.FrameInterval <= 0 {
		o.FrameInterval = 100 * time.Millisecond
	}
	if o.QueueFrames <= 0 {
		o.QueueFrames = 4
	}
	if o.MaxSkipped <= 0 {
		o.MaxSkipped = 50
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// frame is one coalesced update, encoded once and shared by every client
// on the same subscription.
type frame struct {
	data []byte
	// produced holds produced_at samples (Unix nanoseconds) of the records
	// the frame reflects; read-only once built.
	produced []int64
}

// subKey is what a client subscribes to: a symbol and a candle interval.
type subKey struct {
	symbol   string
	interval int // index into Intervals
}

type keyState struct {
	refs     int
	version  uint64 // symbol version last sent
	tradeSeq uint64 // symbol trade count last sent
	primed   bool
}

// liveClient is one connected event stream. Frames arrive on ch; gone is
// closed when the hub drops the client for being too slow.
type liveClient struct {
	key     subKey
	ch      chan *frame
	gone    chan struct{}
	skipped int // frames missed in a row; guarded by Hub.mu
}

// Hub fans the live market view out to clients, coalesced to one frame per
// FrameInterval, through bounded per-client queues. It is safe for
// concurrent use. Run owns the hub's only goroutine.
type Hub struct {
	opts    HubOptions
	market  *market
	health  func() *HealthSample
	metrics *serverMetrics

	// stopping is the done channel of Run's context, once Run has
	// started: closed, it says a stream ended because the server stopped.
	stopping atomic.Pointer[<-chan struct{}]

	mu         sync.Mutex
	clients    map[*liveClient]struct{}
	keys       map[subKey]*keyState
	ticks      uint64
	quoteVer   map[string]uint64
	alertSeq   uint64
	lastHealth *HealthSample
}

func newHub(opts HubOptions, m *market, health func() *HealthSample, metrics *serverMetrics) *Hub {
	opts.setDefaults()
	return &Hub{
		opts: opts, market: m, health: health, metrics: metrics,
		clients: map[*liveClient]struct{}{}, keys: map[subKey]*keyState{}, quoteVer: map[string]uint64{},
	}
}

// join registers a client for key; leave must be called when it goes.
func (h *Hub) join(key subKey) (c *liveClient, leave func()) {
	c = &liveClient{key: key, ch: make(chan *frame, h.opts.QueueFrames), gone: make(chan struct{})}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	ks := h.keys[key]
	if ks == nil {
		ks = &keyState{}
		h.keys[key] = ks
	}
	ks.refs++
	h.metrics.clients.Set(float64(len(h.clients)))
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		h.removeLocked(c)
		h.mu.Unlock()
	}
}

func (h *Hub) removeLocked(c *liveClient) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	if ks := h.keys[c.key]; ks != nil {
		if ks.refs--; ks.refs <= 0 {
			delete(h.keys, c.key)
		}
	}
	h.metrics.clients.Set(float64(len(h.clients)))
}

// Clients returns how many clients are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Run builds and fans out frames every FrameInterval until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	h.stopsWith(ctx)
	t := time.NewTicker(h.opts.FrameInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.tick()
		}
	}
}

// stopsWith makes ctx's end the hub's stop, as stopped reports it. The
// server calls it before it serves a request, so that a stream ending
// with the server is counted as such even before Run's goroutine started.
func (h *Hub) stopsWith(ctx context.Context) {
	done := ctx.Done()
	h.stopping.Store(&done)
}

// stopped reports whether Run's context has ended. The server's request
// contexts derive from it, so when a stream's request context ends
// because the server stops, stopped already reports true.
func (h *Hub) stopped() bool {
	done := h.stopping.Load()
	if done == nil {
		return false
	}
	select {
	case <-*done:
		return true
	default:
		return false
	}
}

// framePart is the shared part of every frame.
type framePart struct {
	Time int64 `json:"t"`
	// ProducedAt is the produced_at (Unix microseconds) of one record the
	// frame reflects, picked at random, so a client can measure the
	// produced-to-received latency itself.
	ProducedAt int64 `json:"pt,omitempty"`
	// NewestProducedAt is the newest produced_at (Unix microseconds) the
	// frame reflects: how fresh the pushed view is.
	NewestProducedAt int64         `json:"pn,omitempty"`
	Ticker           []Quote       `json:"ticker,omitempty"`
	Alerts           []AlertView   `json:"alerts,omitempty"`
	Health           *HealthSample `json:"health,omitempty"`
}

// symbolPart is the per-subscription part of a frame.
type symbolPart struct {
	Symbol   string      `json:"symbol"`
	Interval string      `json:"interval"`
	Quote    *Quote      `json:"quote,omitempty"`
	Candles  []Candle    `json:"candles,omitempty"`
	Trades   []TapeTrade `json:"trades,omitempty"`
}

func (h *Hub) tick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ticks++
	m := h.market
	m.mu.Lock()
	produced, newest := m.takeProduced()
	if len(h.clients) == 0 {
		h.alertSeq = m.alertSeq
		m.mu.Unlock()
		return
	}
	shared := framePart{Time: h.opts.Now().UnixMilli()}
	if len(produced) > 0 {
		// One record of the window, uniformly at random: it samples the
		// latency of every record, coalescing wait included.
		shared.ProducedAt = produced[m.rnd.IntN(len(produced))] / 1e3
		shared.NewestProducedAt = newest / 1e3
	}
	full := h.ticks%20 == 1 // a whole ticker every 2 s, deltas between
	for sym, st := range m.symbols {
		if full || h.quoteVer[sym] != st.version {
			shared.Ticker = append(shared.Ticker, st.quote)
			h.quoteVer[sym] = st.version
		}
	}
	shared.Alerts = m.recentAlerts(h.alertSeq, 50)
	h.alertSeq = m.alertSeq
	parts := make(map[subKey]*symbolPart, len(h.keys))
	for key, ks := range h.keys {
		st := m.symbols[key.symbol]
		if st == nil || (ks.primed && st.version == ks.version) {
			continue
		}
		q := st.quote
		p := &symbolPart{Symbol: key.symbol, Interval: Intervals[key.interval].Name, Quote: &q}
		p.Candles = st.series.rings[key.interval].tail(nil, 2)
		if ks.primed {
			p.Trades = st.recentTrades(ks.tradeSeq, 50)
		}
		ks.version, ks.tradeSeq, ks.primed = st.version, st.tradeSeq, true
		parts[key] = p
	}
	m.mu.Unlock()

	if hs := h.health(); hs != nil && hs != h.lastHealth {
		shared.Health, h.lastHealth = hs, hs
	}
	if len(shared.Ticker) == 0 && len(shared.Alerts) == 0 && shared.Health == nil && len(parts) == 0 {
		return
	}
	head, err := json.Marshal(shared)
	if err != nil {
		return // plain structs: cannot fail
	}
	head = head[:len(head)-1] // reopen the object for the symbol part
	frames := make(map[subKey]*frame, len(h.keys))
	build := func(key subKey) *frame {
		if f, ok := frames[key]; ok {
			return f
		}
		buf := make([]byte, 0, len(head)+512)
		buf = append(buf, "data: "...)
		buf = append(buf, head...)
		if p := parts[key]; p != nil {
			b, _ := json.Marshal(p)
			buf = append(buf, `,"sym":`...)
			buf = append(buf, b...)
		}
		buf = append(buf, "}\n\n"...)
		f := &frame{data: buf, produced: produced}
		frames[key] = f
		return f
	}
	h.fanOut(build)
}

// fanOut queues each client's frame, skipping a client whose queue is full
// and dropping one that has missed MaxSkipped frames in a row. h.mu must
// be held.
func (h *Hub) fanOut(build func(subKey) *frame) {
	for c := range h.clients {
		select {
		case c.ch <- build(c.key):
			c.skipped = 0
		default:
			c.skipped++
			h.metrics.framesSkipped.Inc()
			h.metrics.skippedCount.Add(1)
			if c.skipped >= h.opts.MaxSkipped {
				h.removeLocked(c)
				close(c.gone)
				h.metrics.clientsDropped.Inc()
				h.metrics.droppedCount.Add(1)
			}
		}
	}
}
