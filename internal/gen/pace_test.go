package gen

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/rate"
)

// fakeClock is a clock that only moves when the pacer sleeps.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestPacerSchedule(t *testing.T) {
	tests := []struct {
		rate   float64
		events int64
		want   time.Duration
	}{
		{rate: 1000, events: 5000, want: 5 * time.Second},
		{rate: 20000, events: 600000, want: 30 * time.Second},
		{rate: 3, events: 9, want: 3 * time.Second},
	}
	for _, tt := range tests {
		c := &fakeClock{t: time.Unix(0, 0)}
		p := newPacer(rate.Of(tt.rate), c.now)
		p.sleep = c.sleep
		for i := range tt.events + 1 {
			if err := p.wait(context.Background(), float64(i)); err != nil {
				t.Fatal(err)
			}
		}
		got := c.t.Sub(time.Unix(0, 0))
		if diff := got - tt.want; diff < -time.Millisecond || diff > time.Millisecond {
			t.Errorf("rate %v, %d events: elapsed %v, want %v", tt.rate, tt.events, got, tt.want)
		}
	}
}

// TestPacerShapes runs the pacer on a fake clock for every kind of shape
// and checks the events released by each second against the shape's
// integral, at every second, not only at the end: no fewer than are due,
// and no more than are due a millisecond later (the pacer does not sleep
// for less than a millisecond).
func TestPacerShapes(t *testing.T) {
	for _, text := range []string{
		"5000", "ramp:1000..20000/5s", "ramp:0..3000/4s", "steps:1000,5000,10000/2s",
		"burst:2000,20000/1s/3s", "burst:0,8000/500ms/2s", "daily:20000/4s",
	} {
		t.Run(text, func(t *testing.T) {
			shape, err := rate.Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			c := &fakeClock{t: time.Unix(0, 0)}
			p := newPacer(shape, c.now)
			p.sleep = c.sleep
			const run = 12 * time.Second
			next := time.Second
			var n float64
			for {
				if err := p.wait(context.Background(), n); err != nil {
					t.Fatal(err)
				}
				el := c.t.Sub(time.Unix(0, 0))
				for el >= next && next <= run {
					// n events were released before next.
					lo, hi := shape.Count(next), shape.Count(next+time.Millisecond)
					if n < math.Floor(lo) || n > math.Ceil(hi) {
						t.Fatalf("by %v: released %.0f events, want %.1f to %.1f", next, n, lo, hi)
					}
					next += time.Second
				}
				if el >= run {
					break
				}
				n++
			}
		})
	}
}

func TestPacerUnlimited(t *testing.T) {
	for _, s := range []rate.Shape{{}, rate.Of(0)} {
		c := &fakeClock{t: time.Unix(0, 0)}
		p := newPacer(s, c.now)
		p.sleep = c.sleep
		for i := range 1000 {
			_ = p.wait(context.Background(), float64(i))
		}
		if !c.t.Equal(time.Unix(0, 0)) {
			t.Errorf("%q slept %v, want no pacing", s, c.t.Sub(time.Unix(0, 0)))
		}
	}
}

// TestPacerAllocates nothing per event.
func TestPacerAllocates(t *testing.T) {
	for _, text := range []string{"5000", "ramp:1..2000/1s", "steps:1,2,3/1s", "burst:1,9/1s/2s", "daily:100/1s"} {
		shape, _ := rate.Parse(text)
		c := &fakeClock{t: time.Unix(0, 0)}
		p := newPacer(shape, c.now)
		p.sleep = c.sleep
		n := 0.0
		if a := testing.AllocsPerRun(1000, func() { _ = p.wait(context.Background(), n); n++ }); a != 0 {
			t.Errorf("%s: %v allocations per wait, want 0", text, a)
		}
	}
}
