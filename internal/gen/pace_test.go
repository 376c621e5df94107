package gen

import (
	"context"
	"testing"
	"time"
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
		p := newPacer(tt.rate, c.now)
		p.sleep = c.sleep
		for i := range tt.events + 1 {
			if err := p.wait(context.Background(), i); err != nil {
				t.Fatal(err)
			}
		}
		got := c.t.Sub(time.Unix(0, 0))
		if diff := got - tt.want; diff < -time.Millisecond || diff > time.Millisecond {
			t.Errorf("rate %v, %d events: elapsed %v, want %v", tt.rate, tt.events, got, tt.want)
		}
	}
}

func TestPacerUnlimited(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	p := newPacer(0, c.now)
	p.sleep = c.sleep
	for i := range int64(1000) {
		_ = p.wait(context.Background(), i)
	}
	if !c.t.Equal(time.Unix(0, 0)) {
		t.Errorf("rate 0 slept %v, want no pacing", c.t.Sub(time.Unix(0, 0)))
	}
}
