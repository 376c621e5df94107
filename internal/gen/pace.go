package gen

import (
	"context"
	"time"

	"github.com/tradestream/tradestream/internal/clock"
	"github.com/tradestream/tradestream/internal/rate"
)

// pacer spaces units (events, or value bytes with a byte shape) at a
// target rate that follows a shape over time. It schedules unit n at
// start + shape.Due(n), the exact inverse of the shape's integral, so the
// count sent by any time is the shape's integral up to it whatever the
// sleep granularity; it sleeps only when at least a millisecond ahead, so
// the cost per event is one clock read and the shape's closed-form maths,
// with no allocation.
type pacer struct {
	shape rate.Shape // unpaced unless shape.Paced()
	start time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newPacer(shape rate.Shape, now func() time.Time) *pacer {
	return &pacer{shape: shape, start: now(), now: now, sleep: clock.Sleep}
}

// wait blocks until unit n (counting from 0) is due, or ctx ends.
func (p *pacer) wait(ctx context.Context, n float64) error {
	if !p.shape.Paced() {
		return nil
	}
	due := p.start.Add(p.shape.Due(n))
	if ahead := due.Sub(p.now()); ahead >= time.Millisecond {
		return p.sleep(ctx, ahead)
	}
	return nil
}
