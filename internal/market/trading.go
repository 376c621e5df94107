package market

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Trading model. Each round every user trades with a probability set by
// their experience, scaled by Config.TradeActivity and the time of day.
// A trader mostly picks a symbol from their preferred sectors, sizes the
// order from their risk tolerance and buying power, and executes inside
// the symbol's current quote. Cash accounts never go below zero and never
// sell what they do not hold; margin accounts may borrow down to minus
// their credit line and sell short up to their short limit.
const (
	preferredShare = 0.8     // chance of picking from preferred sectors
	sellShare      = 0.45    // chance a holder sells rather than buys
	lowCashSell    = 0.8     // ... when nearly out of cash
	shortShare     = 0.06    // chance a high-risk margin trader sells short
	coverShare     = 0.5     // chance a buy covers an open short
	limitShare     = 0.3     // share of limit orders (trade/2)
	atTouchShare   = 0.75    // market orders filled at the far touch
	creditRatio    = 1.0     // margin credit line as a multiple of opening balance
	shortRatio     = 0.5     // short limit as a multiple of opening balance
	maxTradeQty    = 1 << 20 // largest order in shares
)

// tradeProb is the per-round trade probability by experience level.
var tradeProb = [4]float64{0.002, 0.005, 0.01, 0.03}

// targetFraction is the [min, max) share of buying power one order uses,
// by risk tolerance.
var targetFraction = [3][2]float64{{0.02, 0.06}, {0.04, 0.12}, {0.08, 0.25}}

// sectorPreference weighs a user's first, second and third sector.
var sectorPreference = [3]float64{0.6, 0.3, 0.1}

// traits are the parts of a profile that drive trading.
type traits struct {
	exp, risk uint8
	margin    bool
	sectors   []int16
}

type position struct {
	sym int32
	qty int64 // negative: short
}

// account is a user's live trading state.
type account struct {
	traits
	opening, balance event.Decimal
	credit           event.Decimal // how far below zero balance may go
	shortLimit       event.Decimal // cap on short market value
	pos              []position
}

func newAccount(u *event.User, tr traits) account {
	a := account{traits: tr, opening: u.Account.Balance, balance: u.Account.Balance}
	if tr.margin {
		a.credit = event.FromFloat(u.Account.Balance.Float64() * creditRatio)
		a.shortLimit = event.FromFloat(u.Account.Balance.Float64() * shortRatio)
	}
	return a
}

func (a *account) position(sym int) int64 {
	for _, p := range a.pos {
		if int(p.sym) == sym {
			return p.qty
		}
	}
	return 0
}

func (a *account) addPosition(sym int, qty int64) {
	for i := range a.pos {
		if int(a.pos[i].sym) == sym {
			a.pos[i].qty += qty
			if a.pos[i].qty == 0 {
				last := len(a.pos) - 1
				a.pos[i] = a.pos[last]
				a.pos = a.pos[:last]
			}
			return
		}
	}
	a.pos = append(a.pos, position{sym: int32(sym), qty: qty})
}

// trading draws the trades of each round.
type trading struct {
	rng       *rand.Rand
	feeRate   event.Decimal
	minFee    event.Decimal
	activity  float64
	v1        bool       // trade/1: no order type
	groups    [4][]int32 // user indices by experience level
	bySector  [][]int32  // symbol indices by sector
	nSymbols  int
	queue     []int32 // this round's traders, in execution order
	nextID    int64
	scratchIx []int
}

// selectTraders fills the queue with this round's traders. Geometric
// skipping visits only the users who trade, so a round costs O(trades).
func (tb *trading) selectTraders(rg regime) {
	tb.queue = tb.queue[:0]
	r := tb.rng
	for e, group := range tb.groups {
		p := min(0.9, tradeProb[e]*tb.activity*rg.trading)
		if p <= 0 || len(group) == 0 {
			continue
		}
		logQ := math.Log1p(-p)
		for i := geometricSkip(r, logQ, len(group)); i < len(group); i += 1 + geometricSkip(r, logQ, len(group)) {
			tb.queue = append(tb.queue, group[i])
		}
	}
	r.Shuffle(len(tb.queue), func(i, j int) { tb.queue[i], tb.queue[j] = tb.queue[j], tb.queue[i] })
}

func (tb *trading) fee(notional event.Decimal) event.Decimal {
	return max(tb.minFee, notional.Mul(tb.feeRate))
}

// pickSymbol chooses a symbol, mostly from the user's preferred sectors.
func (tb *trading) pickSymbol(tr *traits) int {
	r := tb.rng
	if n := len(tr.sectors); n > 0 && r.Float64() < preferredShare {
		k := pickWeighted(r, sectorPreference[:n])
		members := tb.bySector[tr.sectors[k]]
		return int(members[r.IntN(len(members))])
	}
	return r.IntN(tb.nSymbols)
}

// execution draws an execution price inside [bid, ask] and, for limit
// orders, a limit price the execution honours.
func (tb *trading) execution(q *event.Price, buy, limit bool) (price, limitPrice event.Decimal) {
	r := tb.rng
	spread := int((q.Ask - q.Bid) / tick)
	inside := func() event.Decimal { return q.Bid + event.Decimal(r.IntN(spread+1))*tick }
	switch {
	case limit && buy: // often a resting bid that got hit
		price = q.Bid
		if r.Float64() >= 0.5 {
			price = inside()
		}
		limitPrice = price + event.Decimal(r.IntN(4))*tick
	case limit: // often a resting offer that got lifted
		price = q.Ask
		if r.Float64() >= 0.5 {
			price = inside()
		}
		limitPrice = max(tick, price-event.Decimal(r.IntN(4))*tick)
	case buy:
		price = q.Ask
		if r.Float64() >= atTouchShare {
			price = inside()
		}
	default:
		price = q.Bid
		if r.Float64() >= atTouchShare {
			price = inside()
		}
	}
	return price, limitPrice
}

// roundLot rounds larger orders to round lots most of the time.
func (tb *trading) roundLot(q int64) int64 {
	if tb.rng.Float64() < 0.6 {
		switch {
		case q >= 1000:
			return q / 100 * 100
		case q >= 100:
			return q / 10 * 10
		}
	}
	return q
}

// maxBuy returns the largest quantity up to want whose cost (notional plus
// fee) fits in room.
func (tb *trading) maxBuy(price event.Decimal, want int64, room event.Decimal) int64 {
	cost := func(q int64) event.Decimal {
		n := price.MulQty(q)
		return n + tb.fee(n)
	}
	q := min(want, maxTradeQty)
	if q < 1 || cost(q) <= room {
		return q
	}
	est := (room - tb.minFee).Float64() / (price.Float64() * (1 + tb.feeRate.Float64()))
	q = min(q, int64(max(0, est)))
	for q > 0 && cost(q) > room {
		q--
	}
	return q
}

// trade tries to draw one trade for account a (user id) against the
// quotes, writing it to out. It returns false when the user cannot trade
// anything sensible this time (no cash, nothing to sell).
func (tb *trading) trade(id int64, a *account, quotes []symbolState, ts time.Time, out *event.Trade) bool {
	r := tb.rng
	longs := 0
	for _, p := range a.pos {
		if p.qty > 0 {
			longs++
		}
	}
	sellP := 0.0
	if longs > 0 {
		sellP = sellShare
		if a.balance < a.opening/20 {
			sellP = lowCashSell
		}
	}
	limit := r.Float64() < limitShare
	frac := targetFraction[a.risk]
	target := frac[0] + r.Float64()*(frac[1]-frac[0])

	x := r.Float64()
	switch {
	case x < sellP:
		return tb.sellLong(id, a, quotes, limit, ts, out)
	case a.margin && a.risk == 2 && x < sellP+shortShare:
		if tb.sellShort(id, a, quotes, target, limit, ts, out) {
			return true
		}
	}
	if tb.buy(id, a, quotes, target, limit, ts, out) {
		return true
	}
	return longs > 0 && tb.sellLong(id, a, quotes, limit, ts, out)
}

func (tb *trading) buy(id int64, a *account, quotes []symbolState, target float64, limit bool, ts time.Time, out *event.Trade) bool {
	r := tb.rng
	sym := -1
	if a.margin && r.Float64() < coverShare {
		for _, p := range a.pos {
			if p.qty < 0 {
				sym = int(p.sym)
				break
			}
		}
	}
	if sym < 0 {
		sym = tb.pickSymbol(&a.traits)
	}
	if quotes[sym].halted {
		return false
	}
	q := &quotes[sym].quote
	price, lim := tb.execution(q, true, limit)
	room := a.balance + a.credit
	if room <= tb.minFee {
		return false
	}
	want := int64(room.Float64() * target / price.Float64())
	if short := a.position(sym); short < 0 && r.Float64() < 0.7 {
		want = -short // cover the whole short
	}
	qty := tb.maxBuy(price, max(1, tb.roundLot(want)), room)
	if qty < 1 {
		return false
	}
	tb.fill(id, a, sym, q.Symbol, event.SideBuy, qty, price, lim, limit, ts, out)
	return true
}

func (tb *trading) sellLong(id int64, a *account, quotes []symbolState, limit bool, ts time.Time, out *event.Trade) bool {
	r := tb.rng
	idx := tb.scratchIx[:0]
	for i, p := range a.pos {
		if p.qty > 0 {
			idx = append(idx, i)
		}
	}
	tb.scratchIx = idx
	if len(idx) == 0 {
		return false
	}
	p := a.pos[idx[r.IntN(len(idx))]]
	sym, held := int(p.sym), p.qty
	if quotes[sym].halted {
		return false
	}
	qty := held
	if r.Float64() >= 0.3 {
		qty = max(1, min(held, tb.roundLot(int64(float64(held)*(0.2+0.6*r.Float64())))))
	}
	q := &quotes[sym].quote
	price, lim := tb.execution(q, false, limit)
	after := func(qty int64) event.Decimal {
		n := price.MulQty(qty)
		return a.balance + n - tb.fee(n)
	}
	if after(qty) < -a.credit {
		qty = held // a bigger sale may cover the minimum fee
		if after(qty) < -a.credit {
			return false
		}
	}
	tb.fill(id, a, sym, q.Symbol, event.SideSell, qty, price, lim, limit, ts, out)
	return true
}

func (tb *trading) sellShort(id int64, a *account, quotes []symbolState, target float64, limit bool, ts time.Time, out *event.Trade) bool {
	sym := tb.pickSymbol(&a.traits)
	if a.position(sym) > 0 || quotes[sym].halted {
		return false
	}
	var exposure event.Decimal
	for _, p := range a.pos {
		if p.qty < 0 {
			exposure += quotes[p.sym].quote.Ask.MulQty(-p.qty)
		}
	}
	q := &quotes[sym].quote
	price, lim := tb.execution(q, false, limit)
	room := a.shortLimit - exposure
	if room <= 0 {
		return false
	}
	qty := min(int64(room.Float64()*target*4/price.Float64()), int64(room/price), maxTradeQty)
	qty = tb.roundLot(qty)
	if qty < 1 {
		return false
	}
	n := price.MulQty(qty)
	if a.balance+n-tb.fee(n) < -a.credit {
		return false
	}
	tb.fill(id, a, sym, q.Symbol, event.SideSell, qty, price, lim, limit, ts, out)
	return true
}

// fill settles a trade on the account and writes the event.
func (tb *trading) fill(id int64, a *account, sym int, symbol string, side event.Side, qty int64, price, lim event.Decimal, limit bool, ts time.Time, out *event.Trade) {
	notional := price.MulQty(qty)
	fee := tb.fee(notional)
	if side == event.SideBuy {
		a.balance -= notional + fee
		a.addPosition(sym, qty)
	} else {
		a.balance += notional - fee
		a.addPosition(sym, -qty)
	}
	tb.nextID++
	*out = event.Trade{
		ID: tb.nextID, UserID: id, AccountID: id, Symbol: symbol, Side: side, Quantity: qty,
		Price: price, Fee: fee, Time: ts, BalanceAfter: a.balance, OrderType: event.OrderMarket,
	}
	if limit {
		out.OrderType, out.LimitPrice = event.OrderLimit, lim
	}
	if tb.v1 {
		out.OrderType, out.LimitPrice = "", 0
	}
}
