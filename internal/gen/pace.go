package gen

import (
	"context"
	"time"

	"github.com/tradestream/tradestream/internal/clock"
)

// pacer spaces events evenly at a target rate. It schedules event i at
// start + i/rate, so the long-run rate is exact whatever the sleep
// granularity, and it sleeps only when at least a millisecond ahead, so the
// cost per event is one clock read.
type pacer struct {
	rate  float64 // events per second; 0 means no pacing
	start time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newPacer(rate float64, now func() time.Time) *pacer {
	return &pacer{rate: rate, start: now(), now: now, sleep: clock.Sleep}
}

// wait blocks until event number n (counting from 0) is due, or ctx ends.
func (p *pacer) wait(ctx context.Context, n int64) error {
	if p.rate <= 0 {
		return nil
	}
	due := p.start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	if ahead := due.Sub(p.now()); ahead >= time.Millisecond {
		return p.sleep(ctx, ahead)
	}
	return nil
}
