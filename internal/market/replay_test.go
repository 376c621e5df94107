package market

import (
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// sliceFeed replays ticks from memory.
type sliceFeed struct {
	ticks []Tick
	pos   int
}

func (f *sliceFeed) Next() (Tick, bool) {
	if f.pos >= len(f.ticks) {
		return Tick{}, false
	}
	f.pos++
	return f.ticks[f.pos-1], true
}

// recordedTicks returns n price ticks of a plain market as a recording.
func recordedTicks(t *testing.T, n int) []Tick {
	t.Helper()
	cfg := smallConfig(99)
	cfg.Kinds = KindPrice
	s := newSim(t, cfg)
	var out []Tick
	for range n {
		p := s.Next().Price
		out = append(out, Tick{Symbol: p.Symbol, Time: p.Time, Bid: p.Bid, Ask: p.Ask, Last: p.Last, Volume: p.Volume})
	}
	return out
}

// TestReplay replays recorded ticks: every tick comes out as recorded,
// in order, and the users trade inside the replayed quotes within their
// cash (collect checks every trade against the latest tick).
func TestReplay(t *testing.T) {
	ticks := recordedTicks(t, 40_000)
	cfg := smallConfig(5)
	cfg.Start = ticks[0].Time
	s, err := NewReplay(cfg, &sliceFeed{ticks: ticks})
	if err != nil {
		t.Fatal(err)
	}
	r := collectFrom(t, s, 10_000_000)
	for _, f := range r.failures {
		t.Error(f)
	}
	if s.Err() != nil {
		t.Errorf("Err() = %v", s.Err())
	}
	if r.nPrices != len(ticks) {
		t.Errorf("%d ticks replayed, want %d", r.nPrices, len(ticks))
	}
	if r.nTrades < 1000 {
		t.Errorf("%d trades, want users trading on the replayed quotes", r.nTrades)
	}
	t.Logf("%d ticks, %d trades", r.nPrices, r.nTrades)

	// The ticks come out as recorded, in order.
	s2, _ := NewReplay(cfg, &sliceFeed{ticks: ticks})
	i := 0
	for ev := s2.NextOf(KindPrice); ev.Kind != 0; ev = s2.NextOf(KindPrice) {
		p, want := ev.Price, ticks[i]
		if p.Symbol != want.Symbol || !p.Time.Equal(want.Time) || p.Bid != want.Bid || p.Ask != want.Ask || p.Last != want.Last || p.Volume != want.Volume {
			t.Fatalf("tick %d: got %s %s %s/%s %s %d, want %+v", i, p.Symbol, p.Time, p.Bid, p.Ask, p.Last, p.Volume, want)
		}
		i++
	}
	if i != len(ticks) {
		t.Errorf("prices only: %d ticks, want %d", i, len(ticks))
	}
}

func TestReplayErrors(t *testing.T) {
	d := event.MustParseDecimal
	at := testStart
	tick := func(sym string, dt time.Duration) Tick {
		return Tick{Symbol: sym, Time: at.Add(dt), Bid: d("10.00"), Ask: d("10.02"), Last: d("10.01"), Volume: 5}
	}
	for _, tc := range []struct {
		name  string
		ticks []Tick
		want  string
	}{
		{"unknown symbol", []Tick{tick("AAPL", 0), tick("ZZZZ", time.Second)}, `symbol "ZZZZ" is not in the universe`},
		{"out of order", []Tick{tick("AAPL", 5*time.Second), tick("MSFT", 5*time.Second), tick("AAPL", time.Second)}, "before the previous tick"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(1)
			cfg.Start = at
			s, err := NewReplay(cfg, &sliceFeed{ticks: tc.ticks})
			if err != nil {
				t.Fatal(err)
			}
			for ev := s.Next(); ev.Kind != 0; ev = s.Next() {
			}
			if s.Err() == nil || !strings.Contains(s.Err().Error(), tc.want) {
				t.Errorf("Err() = %v, want one containing %q", s.Err(), tc.want)
			}
		})
	}
}
