package dashboard

import (
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/tradestream/tradestream/internal/event"
)

// Bounds on the live state, so memory never grows with the stream.
const (
	maxSymbols     = 512  // symbols tracked live; further ones are ignored
	tapeKeep       = 100  // recent trades kept per symbol
	alertsKeep     = 200  // recent alerts kept
	producedSample = 2048 // produced_at samples kept per frame interval
)

// Quote is a symbol's latest price as the page shows it. Prices are in
// the wire's fixed scale 4.
type Quote struct {
	Symbol string `json:"symbol"`
	Sector string `json:"sector"`
	Last   int64  `json:"last"`
	Bid    int64  `json:"bid"`
	Ask    int64  `json:"ask"`
	// Open is the first price the dashboard saw for the symbol, the
	// reference of Change.
	Open int64 `json:"open"`
	// Time is the tick's event time, Unix milliseconds.
	Time int64 `json:"ts"`
}

// TapeTrade is one trade as the time-and-sales tape shows it.
type TapeTrade struct {
	ID        int64  `json:"id"`
	Time      int64  `json:"ts"` // Unix milliseconds
	Symbol    string `json:"symbol"`
	Side      string `json:"side"`
	Quantity  int64  `json:"qty"`
	Price     int64  `json:"price"`
	UserID    int64  `json:"user_id"`
	OrderType string `json:"order_type,omitempty"`
}

// AlertView is a fired alert as the page shows it.
type AlertView struct {
	ID      string `json:"id"`
	RuleID  int64  `json:"rule_id"`
	Kind    string `json:"kind"`
	Symbol  string `json:"symbol"`
	Message string `json:"message"`
	Value   int64  `json:"value"`
	Time    int64  `json:"ts"` // Unix milliseconds
}

type symbolState struct {
	quote    Quote
	version  uint64 // bumped on every price tick
	series   *series
	tape     []TapeTrade // ring of tapeKeep
	tradeSeq uint64      // trades ever seen for the symbol
}

// market is the dashboard's live view of the stream: latest quotes,
// candles, recent trades and alerts per symbol. The Kafka reader writes it,
// the hub reads it; both go through mu.
type market struct {
	mu       sync.Mutex
	symbols  map[string]*symbolState
	version  uint64 // bumped on every change
	alerts   []AlertView
	alertSeq uint64
	// produced holds produced_at samples (Unix nanoseconds) of the records
	// read since the hub last took them, reservoir-sampled to a bound.
	produced []int64
	newest   int64 // newest produced_at since the hub last took them
	seen     int
	rnd      *rand.Rand
}

func newMarket() *market {
	return &market{symbols: map[string]*symbolState{}, rnd: rand.New(rand.NewPCG(1, 2))}
}

// samplePending records one record's produced_at for the next frame.
// Caller holds mu.
func (m *market) samplePending(producedAt int64) {
	if producedAt == 0 {
		return
	}
	m.seen++
	m.newest = max(m.newest, producedAt)
	if len(m.produced) < producedSample {
		m.produced = append(m.produced, producedAt)
		return
	}
	if j := m.rnd.IntN(m.seen); j < producedSample {
		m.produced[j] = producedAt
	}
}

func (m *market) addPrice(p *event.Price, producedAt int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.symbols[p.Symbol]
	if st == nil {
		if len(m.symbols) >= maxSymbols {
			return
		}
		st = &symbolState{series: newSeries(), quote: Quote{Symbol: p.Symbol, Open: int64(p.Last)}}
		m.symbols[p.Symbol] = st
	}
	st.quote.Sector = p.Sector
	st.quote.Last, st.quote.Bid, st.quote.Ask = int64(p.Last), int64(p.Bid), int64(p.Ask)
	st.quote.Time = p.Time.UnixMilli()
	st.series.add(p.Time, int64(p.Last), p.Volume)
	st.version++
	m.version++
	m.samplePending(producedAt)
}

func (m *market) addTrade(t *event.Trade, producedAt int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.symbols[t.Symbol]
	if st == nil {
		m.samplePending(producedAt)
		return // trades are shown for symbols that have quotes
	}
	tt := TapeTrade{
		ID: t.ID, Time: t.Time.UnixMilli(), Symbol: t.Symbol, Side: string(t.Side),
		Quantity: t.Quantity, Price: int64(t.Price), UserID: t.UserID, OrderType: string(t.OrderType),
	}
	if len(st.tape) < tapeKeep {
		st.tape = append(st.tape, tt)
	} else {
		st.tape[st.tradeSeq%tapeKeep] = tt
	}
	st.tradeSeq++
	st.version++
	m.version++
	m.samplePending(producedAt)
}

func (m *market) addAlert(a *event.Alert, producedAt int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := AlertView{ID: a.ID, RuleID: a.RuleID, Kind: a.Kind, Symbol: a.Symbol, Message: a.Message,
		Value: int64(a.Value), Time: a.Time.UnixMilli()}
	if len(m.alerts) < alertsKeep {
		m.alerts = append(m.alerts, v)
	} else {
		m.alerts[m.alertSeq%alertsKeep] = v
	}
	m.alertSeq++
	m.version++
	m.samplePending(producedAt)
}

// recentTrades returns up to n of the symbol's trades after seq, oldest
// first. Caller holds mu.
func (st *symbolState) recentTrades(after uint64, n int) []TapeTrade {
	avail := st.tradeSeq - after
	if after > st.tradeSeq {
		avail = 0
	}
	k := int(min(avail, uint64(len(st.tape)), uint64(n)))
	out := make([]TapeTrade, 0, k)
	for i := st.tradeSeq - uint64(k); i < st.tradeSeq; i++ {
		out = append(out, st.tape[i%tapeKeep])
	}
	return out
}

// recentAlerts returns up to n alerts after seq, oldest first. Caller
// holds mu.
func (m *market) recentAlerts(after uint64, n int) []AlertView {
	avail := m.alertSeq - after
	if after > m.alertSeq {
		avail = 0
	}
	k := int(min(avail, uint64(len(m.alerts)), uint64(n)))
	out := make([]AlertView, 0, k)
	for i := m.alertSeq - uint64(k); i < m.alertSeq; i++ {
		out = append(out, m.alerts[i%alertsKeep])
	}
	return out
}

// Quotes returns the latest quote of every symbol seen live, by symbol.
func (m *market) Quotes() []Quote {
	m.mu.Lock()
	out := make([]Quote, 0, len(m.symbols))
	for _, st := range m.symbols {
		out = append(out, st.quote)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

// Has reports whether symbol has been seen live.
func (m *market) Has(symbol string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.symbols[symbol] != nil
}

// Candles returns up to n of the symbol's newest live candles for iv.
func (m *market) Candles(symbol string, iv Interval, n int) []Candle {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.symbols[symbol]
	if st == nil {
		return nil
	}
	for i, x := range Intervals {
		if x.Name == iv.Name {
			return st.series.rings[i].tail(nil, n)
		}
	}
	return nil
}

// Alerts returns up to n of the most recent alerts read live, newest last.
func (m *market) Alerts(n int) []AlertView {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recentAlerts(0, n)
}

// takeProduced hands over the produced_at samples gathered since the last
// call. Caller holds mu.
func (m *market) takeProduced() (samples []int64, newest int64) {
	p, n := m.produced, m.newest
	m.produced, m.seen, m.newest = nil, 0, 0
	return p, n
}
