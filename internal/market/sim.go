package market

import (
	"fmt"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Kind is a kind of event, usable as a bit set: NextOf(KindPrice|KindTrade).
type Kind uint8

// Event kinds.
const (
	KindUser Kind = 1 << iota
	KindPrice
	KindTrade

	// KindAll selects every kind.
	KindAll = KindUser | KindPrice | KindTrade
)

// String returns "user", "price", "trade" or a "|"-joined set.
func (k Kind) String() string {
	var parts []string
	for _, n := range []struct {
		k    Kind
		name string
	}{{KindUser, "user"}, {KindPrice, "price"}, {KindTrade, "trade"}} {
		if k&n.k != 0 {
			parts = append(parts, n.name)
		}
	}
	if k&^KindAll != 0 || len(parts) == 0 {
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
	return strings.Join(parts, "|")
}

// Event is one simulated event. Exactly the pointer matching Kind is set.
// The pointed-to value belongs to the Sim and is valid only until the next
// call to Next or NextOf; copy it to keep it. Schema is the value's wire
// schema (event.SchemaUserV1, ...). The zero Event (Kind 0) means no
// further event of the requested kinds can follow.
type Event struct {
	Kind   Kind
	Schema string
	User   *event.User
	Price  *event.Price
	Trade  *event.Trade
}

// Value returns the event's payload: its *event.User, *event.Price or
// *event.Trade.
func (e Event) Value() any {
	switch e.Kind {
	case KindUser:
		return e.User
	case KindPrice:
		return e.Price
	}
	return e.Trade
}

// Time returns the event's simulated timestamp.
func (e Event) Time() time.Time {
	switch e.Kind {
	case KindUser:
		return e.User.UpdatedAt
	case KindPrice:
		return e.Price.Time
	case KindTrade:
		return e.Trade.Time
	}
	return time.Time{}
}

// AppendJSON appends the event's wire encoding (in its Schema) to dst.
func (e Event) AppendJSON(dst []byte) []byte {
	switch e.Kind {
	case KindUser:
		return e.User.AppendJSON(dst)
	case KindPrice:
		return e.Price.AppendJSON(dst)
	case KindTrade:
		return e.Trade.AppendJSONVersion(dst, e.Schema)
	}
	return dst
}

// AppendKey appends the event's Kafka record key to dst.
func (e Event) AppendKey(dst []byte) []byte {
	switch e.Kind {
	case KindUser:
		return e.User.AppendKey(dst)
	case KindPrice:
		return e.Price.AppendKey(dst)
	case KindTrade:
		return e.Trade.AppendKey(dst)
	}
	return dst
}

// maxIdleRounds bounds how many rounds NextOf simulates without finding an
// event of the requested kinds before it gives up and returns the zero
// Event (only reachable if every user is unable to trade).
const maxIdleRounds = 1_000_000

// Sim is a deterministic synthetic market. It first emits every user once
// (profile and opening account), then runs rounds: each advances the
// simulated clock by TickInterval, emits a price tick for most symbols
// (a few are skipped at random, more so in quiet hours) and then the trades
// users place in that round. The stream never ends.
//
// A Sim is not safe for concurrent use.
type Sim struct {
	cfg      Config
	clock    exchangeClock
	users    []event.User
	accounts []account
	symIndex map[string]int
	prices   *prices
	trading  trading
	scenario *scenarioRun // nil without a scenario
	timeline timeline
	emitted  int64   // events returned by NextOf
	replay   *replay // nil unless the prices are replayed
	err      error

	now      time.Time
	round    int64
	userPos  int // next user to emit
	pricePos int // next symbol to consider this round
	tradePos int // next queued trader this round

	user  event.User
	price event.Price
	trade event.Trade
}

// New validates cfg (after filling in defaults) and builds a Sim, drawing
// every user profile up front.
func New(cfg Config) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("market config: %w", err)
	}
	cfg = cfg.withDefaults()
	// UTC, no monotonic reading, and microsecond precision like PostgreSQL's
	// timestamptz, so that stored events compare equal to produced ones.
	cfg.Start = cfg.Start.UTC().Truncate(time.Microsecond)
	cfg.Universe = append([]Instrument(nil), cfg.Universe...)

	s := &Sim{cfg: cfg, now: cfg.Start, symIndex: make(map[string]int, len(cfg.Universe))}

	// Sectors in order of first appearance.
	var sectors []string
	var sectorSize []int
	sectorIdx := map[string]int{}
	sectorOf := make([]int, len(cfg.Universe))
	bySector := [][]int32{}
	for i, in := range cfg.Universe {
		s.symIndex[in.Symbol] = i
		k, ok := sectorIdx[in.Sector]
		if !ok {
			k = len(sectors)
			sectorIdx[in.Sector] = k
			sectors = append(sectors, in.Sector)
			sectorSize = append(sectorSize, 0)
			bySector = append(bySector, nil)
		}
		sectorOf[i] = k
		sectorSize[k]++
		bySector[k] = append(bySector[k], int32(i))
	}

	s.prices = newPrices(newRand(cfg.Seed, streamPrices), cfg.Universe, sectorOf, len(sectors))
	if cfg.Scenario != nil {
		run, err := newScenarioRun(cfg.Scenario, cfg.Seed, cfg.Start, cfg.Universe, sectorOf, sectors)
		if err != nil {
			return nil, fmt.Errorf("market config: %w", err)
		}
		s.scenario = run
	}
	s.trading = trading{
		rng:      newRand(cfg.Seed, streamTrades),
		feeRate:  cfg.FeeRate,
		minFee:   cfg.MinFee,
		activity: cfg.TradeActivity,
		v1:       cfg.TradeSchema == event.SchemaTradeV1,
		bySector: bySector,
		nSymbols: len(cfg.Universe),
	}

	gen := newUserGen(newRand(cfg.Seed, streamUsers), cfg.Start, sectors, sectorSize)
	s.users = make([]event.User, cfg.Users)
	s.accounts = make([]account, cfg.Users)
	for i := range s.users {
		u, tr := gen.profile(int64(i + 1))
		s.users[i] = u
		s.accounts[i] = newAccount(&s.users[i], tr)
		s.trading.groups[tr.exp] = append(s.trading.groups[tr.exp], int32(i))
	}
	s.pricePos = len(cfg.Universe) // no round started yet
	return s, nil
}

// Next returns the next event of any kind in Config.Kinds.
func (s *Sim) Next() Event { return s.NextOf(KindAll) }

// NextOf returns the next event whose kind is in kinds (and in
// Config.Kinds). Events of other kinds are still simulated (state advances
// exactly as with Next) but not materialised, so the events returned are
// the same as Next would give, filtered. It returns the zero Event when no
// such event can follow: when kinds selects nothing, or only users and all
// have been returned.
func (s *Sim) NextOf(kinds Kind) Event {
	e := s.nextOf(kinds)
	if e.Kind != 0 {
		s.emitted++
	}
	return e
}

func (s *Sim) nextOf(kinds Kind) Event {
	kinds &= s.cfg.Kinds
	if kinds == 0 {
		return Event{}
	}
	idle := 0
	for {
		switch {
		case s.userPos < len(s.users):
			i := s.userPos
			s.userPos++
			if kinds&KindUser != 0 {
				s.user = s.users[i]
				return Event{Kind: KindUser, Schema: event.SchemaUserV1, User: &s.user}
			}
			continue
		case kinds == KindUser:
			return Event{}
		}
		if s.replay != nil {
			if p, ok := s.nextReplayTick(); ok {
				if kinds&KindPrice != 0 {
					s.price = *p
					return Event{Kind: KindPrice, Schema: event.SchemaPriceV1, Price: &s.price}
				}
				continue
			}
		} else if s.pricePos < len(s.prices.symbols) {
			sym := &s.prices.symbols[s.pricePos]
			s.pricePos++
			if sym.emit && kinds&KindPrice != 0 {
				s.price = sym.quote
				return Event{Kind: KindPrice, Schema: event.SchemaPriceV1, Price: &s.price}
			}
			continue
		}
		if s.tradePos < len(s.trading.queue) {
			k := s.tradePos
			s.tradePos++
			ui := s.trading.queue[k]
			n := len(s.trading.queue)
			ts := s.tradeTime(k, n)
			if s.replay != nil {
				ts = s.replayTradeTime(k, n)
			}
			if s.trading.trade(int64(ui)+1, &s.accounts[ui], s.prices.symbols, ts, &s.trade) && kinds&KindTrade != 0 {
				return Event{Kind: KindTrade, Schema: s.cfg.TradeSchema, Trade: &s.trade}
			}
			continue
		}
		if idle++; idle > maxIdleRounds {
			return Event{}
		}
		if s.replay != nil {
			if !s.startReplayRound() {
				return Event{}
			}
			continue
		}
		s.startRound()
	}
}

// startRound advances the clock one round, moves prices and picks the
// round's traders.
func (s *Sim) startRound() {
	next := s.nextRoundTime()
	gap := false
	if s.cfg.Session == SessionRegular {
		if open, _ := s.clock.session(next); !open {
			open := s.clock.nextOpen(next)
			s.timeline.shift += open.Sub(next)
			next = open
			gap = s.round > 0
		}
	}
	dt := s.cfg.TickInterval
	if s.timeline.follow != nil && !gap {
		dt = next.Sub(s.now)
	}
	s.now = next
	s.round++
	rg := s.prices.shape.regime(s.clock.session(next))
	if s.scenario != nil {
		s.scenario.apply(next)
		rg.trading *= s.scenario.trading
	}
	s.prices.step(next, dt.Seconds(), rg, gap, s.scenario)
	s.pricePos = 0
	if s.cfg.Kinds&KindTrade != 0 {
		s.trading.selectTraders(rg)
	}
	s.tradePos = 0
}

// Emitted returns the number of events NextOf (or Next) has returned.
func (s *Sim) Emitted() int64 { return s.emitted }

// Config returns the configuration in effect, with defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// TradeSchema returns the schema of the trades the Sim emits.
func (s *Sim) TradeSchema() string { return s.cfg.TradeSchema }

// Now returns the simulated time of the current round (Config.Start
// before the first round).
func (s *Sim) Now() time.Time { return s.now }

// Round returns the number of price rounds started so far.
func (s *Sim) Round() int64 { return s.round }

// Users returns every user profile as first emitted (opening balances).
// The slice is the Sim's own: do not modify it.
func (s *Sim) Users() []event.User { return s.users }

// Universe returns a copy of the instruments.
func (s *Sim) Universe() []Instrument { return append([]Instrument(nil), s.cfg.Universe...) }

// AccountState is a snapshot of a user's account.
type AccountState struct {
	UserID  int64
	Type    event.AccountType
	Opening event.Decimal // opening balance
	Balance event.Decimal // current balance
	// CreditLimit is how far below zero Balance may go (zero for cash
	// accounts); ShortLimit caps the market value of short positions.
	CreditLimit, ShortLimit event.Decimal
	// Positions maps symbol to shares held; negative is short.
	Positions map[string]int64
}

// Account returns a snapshot of user id's account.
func (s *Sim) Account(userID int64) (AccountState, bool) {
	a := s.account(userID)
	if a == nil {
		return AccountState{}, false
	}
	st := AccountState{
		UserID: userID, Type: event.AccountCash, Opening: a.opening, Balance: a.balance,
		CreditLimit: a.credit, ShortLimit: a.shortLimit, Positions: make(map[string]int64, len(a.pos)),
	}
	if a.margin {
		st.Type = event.AccountMargin
	}
	for _, p := range a.pos {
		st.Positions[s.cfg.Universe[p.sym].Symbol] = p.qty
	}
	return st, true
}

// Balance returns user id's current balance.
func (s *Sim) Balance(userID int64) (event.Decimal, bool) {
	if a := s.account(userID); a != nil {
		return a.balance, true
	}
	return 0, false
}

// Position returns the shares user id holds in symbol (negative: short).
func (s *Sim) Position(userID int64, symbol string) int64 {
	a := s.account(userID)
	i, ok := s.symIndex[symbol]
	if a == nil || !ok {
		return 0
	}
	return a.position(i)
}

// Quote returns the last tick emitted for symbol; trades execute inside it.
func (s *Sim) Quote(symbol string) (event.Price, bool) {
	i, ok := s.symIndex[symbol]
	if !ok || s.round == 0 {
		return event.Price{}, false
	}
	return s.prices.symbols[i].quote, true
}

func (s *Sim) account(userID int64) *account {
	if userID < 1 || userID > int64(len(s.accounts)) {
		return nil
	}
	return &s.accounts[userID-1]
}
