package rollup

import (
	"errors"
	"math"
	"math/bits"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// ErrOverflow means an amount of a position left the range of an
// event.Decimal (about ±9.2e14 currency units).
var ErrOverflow = errors.New("position amount out of range")

// Fill is one trade as a position sees it.
type Fill struct {
	Buy      bool
	Quantity int64
	Price    event.Decimal
	Fee      event.Decimal
	// Time (to the microsecond, as stored), ID and Run order the fills of
	// a position: (Time, ID, Run), Run compared bytewise.
	Time time.Time
	ID   int64
	Run  string
}

// After reports whether f comes after the fill (t, id, run).
func (f *Fill) After(t time.Time, id int64, run string) bool {
	if c := f.Time.Compare(t); c != 0 {
		return c > 0
	}
	if f.ID != id {
		return f.ID > id
	}
	return f.Run > run
}

// Position is one account's position in one symbol by average cost (see
// Apply). All amounts are exact, of scale 4.
type Position struct {
	Quantity     int64 // signed: negative is short
	Cost         event.Decimal
	Realised     event.Decimal
	Fees         event.Decimal
	Bought       int64
	Sold         int64
	BuyNotional  event.Decimal
	SellNotional event.Decimal
	Trades       int64
	// The last fill applied.
	LastTime time.Time
	LastID   int64
	LastRun  string
}

// Apply takes one fill into p by average cost. A fill that adds to the
// position (or opens one) adds price * quantity to the signed cost basis.
// One that reduces it closes c = min(|fill|, |quantity|) shares: the cost
// it removes is Cost * c / |Quantity|, rounded to scale 4 half away from
// zero (exactly Cost when it closes everything), and Realised grows by
// the closing proceeds less that cost (-price * signed c - removed). What
// is left of the fill after a full close opens a position the other way
// at the fill's price. Fees add to Fees and never to Realised. Fills
// must come in (Time, ID, Run) order; Apply does not check it.
func (p *Position) Apply(f Fill) error {
	d := f.Quantity
	if !f.Buy {
		d = -d
	}
	notional, ok := f.Price.MulQtyChecked(f.Quantity)
	if !ok {
		return ErrOverflow
	}
	var err error
	add := func(a *event.Decimal, b event.Decimal) {
		s, ok := addChecked(*a, b)
		if !ok {
			err = ErrOverflow
		}
		*a = s
	}
	if f.Buy {
		p.Bought += f.Quantity
		add(&p.BuyNotional, notional)
	} else {
		p.Sold += f.Quantity
		add(&p.SellNotional, notional)
	}
	add(&p.Fees, f.Fee)
	p.Trades++
	p.LastTime, p.LastID, p.LastRun = f.Time, f.ID, f.Run

	if p.Quantity != 0 && (p.Quantity > 0) != (d > 0) {
		c := min(abs(d), abs(p.Quantity))
		var removed event.Decimal
		if c == abs(p.Quantity) {
			removed = p.Cost
		} else {
			removed = mulDivRound(p.Cost, c, abs(p.Quantity))
		}
		closing, ok := f.Price.MulQtyChecked(c)
		if !ok {
			return ErrOverflow
		}
		// A sell closing a long brings price*c in; a buy closing a short
		// pays price*c.
		if d > 0 {
			closing = -closing
		}
		add(&p.Realised, closing-removed)
		p.Cost -= removed
		if d > 0 {
			p.Quantity += c
			d -= c
		} else {
			p.Quantity -= c
			d += c
		}
	}
	if d != 0 {
		open, ok := f.Price.MulQtyChecked(d)
		if !ok {
			return ErrOverflow
		}
		add(&p.Cost, open)
		p.Quantity += d
	}
	return err
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func addChecked(a, b event.Decimal) (event.Decimal, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return s, false
	}
	return s, true
}

// mulDivRound is v * n / d rounded half away from zero, for 0 < n < d
// (so the result's magnitude is below |v| and fits), in 128 bits.
func mulDivRound(v event.Decimal, n, d int64) event.Decimal {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
		if v == math.MinInt64 {
			u = 1 << 63
		}
	}
	hi, lo := bits.Mul64(u, uint64(n))
	q, r := bits.Div64(hi, lo, uint64(d))
	if r >= uint64(d)-r { // 2r >= d without overflow
		q++
	}
	if neg {
		return -event.Decimal(q)
	}
	return event.Decimal(q)
}
