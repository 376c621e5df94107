package dashboard

import (
	"fmt"
	"time"
)

// Interval is a candle width the dashboard aggregates live and serves from
// history.
type Interval struct {
	// Name is how the API spells it: "1s", "1m" or "5m".
	Name string
	// Width is the bucket width.
	Width time.Duration
	// Keep is how many candles per symbol the live ring holds.
	Keep int
}

// Intervals are the candle widths the dashboard knows, narrowest first.
var Intervals = []Interval{
	{Name: "1s", Width: time.Second, Keep: 900},
	{Name: "1m", Width: time.Minute, Keep: 720},
	{Name: "5m", Width: 5 * time.Minute, Keep: 576},
}

// ParseInterval returns the Interval named s.
func ParseInterval(s string) (Interval, error) {
	for _, iv := range Intervals {
		if iv.Name == s {
			return iv, nil
		}
	}
	return Interval{}, fmt.Errorf("unknown interval %q: want 1s, 1m or 5m", s)
}

// Candle is one OHLCV bar. Prices are in the wire's fixed scale 4 (see
// event.Decimal); Time is the bucket start in Unix seconds.
type Candle struct {
	Time   int64 `json:"time"`
	Open   int64 `json:"open"`
	High   int64 `json:"high"`
	Low    int64 `json:"low"`
	Close  int64 `json:"close"`
	Volume int64 `json:"volume"`
}

// ring is a fixed-capacity sequence of candles in time order, the newest
// last. It is not safe for concurrent use; its owner locks.
type ring struct {
	buf   []Candle
	start int // index of the oldest candle
	n     int
}

func newRing(capacity int) *ring { return &ring{buf: make([]Candle, capacity)} }

func (r *ring) at(i int) *Candle { return &r.buf[(r.start+i)%len(r.buf)] }

func (r *ring) last() *Candle {
	if r.n == 0 {
		return nil
	}
	return r.at(r.n - 1)
}

// add folds one tick (price, volume at bucket b) into the ring. A tick
// older than the newest candle updates that older candle if it is still
// held, and is dropped otherwise; a newer one opens a candle, evicting the
// oldest when the ring is full.
func (r *ring) add(bucket, price, volume int64) {
	if l := r.last(); l != nil && bucket <= l.Time {
		for i := r.n - 1; i >= 0; i-- {
			c := r.at(i)
			if c.Time == bucket {
				c.fold(price, volume)
				return
			}
			if c.Time < bucket {
				return // a gap in the past: not worth reordering the ring for
			}
		}
		return
	}
	c := Candle{Time: bucket, Open: price, High: price, Low: price, Close: price, Volume: volume}
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = c
		r.n++
		return
	}
	r.buf[r.start] = c
	r.start = (r.start + 1) % len(r.buf)
}

func (c *Candle) fold(price, volume int64) {
	c.High = max(c.High, price)
	c.Low = min(c.Low, price)
	c.Close = price
	c.Volume += volume
}

// tail appends the newest n candles, oldest first, to dst.
func (r *ring) tail(dst []Candle, n int) []Candle {
	n = min(n, r.n)
	for i := r.n - n; i < r.n; i++ {
		dst = append(dst, *r.at(i))
	}
	return dst
}

// series holds one symbol's candles for every interval.
type series struct {
	rings []*ring // parallel to Intervals
}

func newSeries() *series {
	s := &series{rings: make([]*ring, len(Intervals))}
	for i, iv := range Intervals {
		s.rings[i] = newRing(iv.Keep)
	}
	return s
}

// add folds a tick at t into every interval's ring.
func (s *series) add(t time.Time, price, volume int64) {
	ns := t.UnixNano()
	for i, iv := range Intervals {
		w := int64(iv.Width)
		b := ns - ns%w
		if ns < 0 && ns%w != 0 {
			b -= w
		}
		s.rings[i].add(b/int64(time.Second), price, volume)
	}
}
