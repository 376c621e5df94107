package market

import (
	"errors"
	"fmt"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Tick is one recorded quote to replay.
type Tick struct {
	Symbol         string
	Time           time.Time
	Bid, Ask, Last event.Decimal
	Volume         int64
}

// Feed supplies recorded ticks in time order (equal times allowed); it is
// the plug-in point of replayed prices. The Sim reads it as it goes, so a
// feed may stream from anywhere; reading and parsing belong to the caller.
type Feed interface {
	// Next returns the next tick, or false at the end.
	Next() (Tick, bool)
}

// replay is the state of a Sim that replays a Feed in place of its price
// model.
type replay struct {
	feed    Feed
	pending Tick
	more    bool
	round   []event.Price // this round's ticks, in feed order
	end     time.Time     // the next round's time: trades happen before it
	ended   bool
}

// NewReplay builds a Sim whose prices are feed's ticks instead of the
// model's: users are drawn and trade by their profiles as usual, inside
// the replayed bid/ask and within their cash, and the stream ends with the
// feed. cfg.Universe must list every symbol of the feed (StartPrice and
// Volatility are not used for prices); cfg.Start should be the first
// tick's time (users are dated then). A round holds the ticks of one
// TickInterval from its first tick; its trades are spread between its last
// tick and the next round's first. A symbol trades once it has a tick. A
// tick out of time order or of an unknown symbol ends the stream with
// Err set. Scenarios do not apply to replayed prices.
func NewReplay(cfg Config, feed Feed) (*Sim, error) {
	if feed == nil {
		return nil, errors.New("market replay: no feed")
	}
	cfg.Scenario = nil
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	s.replay = &replay{feed: feed}
	s.replay.pending, s.replay.more = feed.Next()
	for i := range s.prices.symbols {
		s.prices.symbols[i].halted = true // until its first tick
	}
	return s, nil
}

// Err returns why a replay stopped early, or nil.
func (s *Sim) Err() error { return s.err }

// startReplayRound reads the next round's ticks; false at the end.
func (s *Sim) startReplayRound() bool {
	rp := s.replay
	if !rp.more || rp.ended {
		return false
	}
	rp.round = rp.round[:0]
	first := rp.pending.Time.UTC().Truncate(time.Microsecond)
	if first.Before(s.now) && s.round > 0 {
		s.fail(fmt.Errorf("replay: tick %s %s is before the previous tick at %s", rp.pending.Symbol, first.Format(time.RFC3339Nano), s.now.Format(time.RFC3339Nano)))
		return false
	}
	limit := first.Add(s.cfg.TickInterval)
	for rp.more && rp.pending.Time.Before(limit) {
		tk := rp.pending
		i, ok := s.symIndex[tk.Symbol]
		if !ok {
			s.fail(fmt.Errorf("replay: symbol %q is not in the universe", tk.Symbol))
			return false
		}
		t := tk.Time.UTC().Truncate(time.Microsecond)
		if n := len(rp.round); n > 0 && t.Before(rp.round[n-1].Time) {
			s.fail(fmt.Errorf("replay: tick %s %s is before the previous tick", tk.Symbol, t.Format(time.RFC3339Nano)))
			return false
		}
		q := s.prices.symbols[i].quote
		rp.round = append(rp.round, event.Price{
			Symbol: tk.Symbol, Sector: q.Sector, Time: t,
			Bid: tk.Bid, Ask: tk.Ask, Last: tk.Last, Volume: tk.Volume,
		})
		rp.pending, rp.more = rp.feed.Next()
	}
	rp.end = limit
	if rp.more {
		rp.end = rp.pending.Time.UTC().Truncate(time.Microsecond)
	}
	s.now = first
	s.round++
	if s.cfg.Kinds&KindTrade != 0 {
		s.trading.selectTraders(s.prices.shape.regime(s.clock.session(first)))
	}
	s.pricePos, s.tradePos = 0, 0
	return true
}

// nextReplayTick applies and returns the round's next tick, or false when
// the round has none left.
func (s *Sim) nextReplayTick() (*event.Price, bool) {
	rp := s.replay
	if s.pricePos >= len(rp.round) {
		return nil, false
	}
	p := &rp.round[s.pricePos]
	s.pricePos++
	sym := &s.prices.symbols[s.symIndex[p.Symbol]]
	p.Seq = sym.quote.Seq + 1
	sym.quote = *p
	sym.halted = false
	return &sym.quote, true
}

// replayTradeTime spreads the round's trades between its last tick and
// the next round.
func (s *Sim) replayTradeTime(k, n int) time.Time {
	rp := s.replay
	last := rp.round[len(rp.round)-1].Time
	return last.Add((rp.end.Sub(last) * time.Duration(k+1) / time.Duration(n+1)).Truncate(time.Microsecond))
}

func (s *Sim) fail(err error) {
	s.err = err
	s.replay.ended = true
}
