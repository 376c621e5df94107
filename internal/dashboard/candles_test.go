package dashboard

import (
	"testing"
	"time"
)

func TestRingFoldsTicksIntoCandles(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)
	type tick struct {
		at     time.Duration
		price  int64
		volume int64
	}
	tests := []struct {
		name  string
		ticks []tick
		iv    int // index into Intervals
		want  []Candle
	}{
		{
			name:  "one bucket",
			ticks: []tick{{0, 100, 1}, {200 * time.Millisecond, 105, 2}, {400 * time.Millisecond, 95, 3}, {900 * time.Millisecond, 101, 4}},
			iv:    0,
			want:  []Candle{{Time: base.Unix(), Open: 100, High: 105, Low: 95, Close: 101, Volume: 10}},
		},
		{
			name:  "rollover",
			ticks: []tick{{0, 100, 1}, {time.Second, 110, 2}, {1500 * time.Millisecond, 90, 3}},
			iv:    0,
			want: []Candle{
				{Time: base.Unix(), Open: 100, High: 100, Low: 100, Close: 100, Volume: 1},
				{Time: base.Unix() + 1, Open: 110, High: 110, Low: 90, Close: 90, Volume: 5},
			},
		},
		{
			name:  "late tick updates its own bucket",
			ticks: []tick{{0, 100, 1}, {time.Second, 110, 2}, {500 * time.Millisecond, 120, 3}},
			iv:    0,
			want: []Candle{
				{Time: base.Unix(), Open: 100, High: 120, Low: 100, Close: 120, Volume: 4},
				{Time: base.Unix() + 1, Open: 110, High: 110, Low: 110, Close: 110, Volume: 2},
			},
		},
		{
			name:  "minute buckets",
			ticks: []tick{{10 * time.Second, 100, 1}, {59 * time.Second, 120, 1}, {61 * time.Second, 80, 1}},
			iv:    1,
			want: []Candle{
				{Time: base.Unix(), Open: 100, High: 120, Low: 100, Close: 120, Volume: 2},
				{Time: base.Unix() + 60, Open: 80, High: 80, Low: 80, Close: 80, Volume: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSeries()
			for _, tk := range tt.ticks {
				s.add(base.Add(tk.at), tk.price, tk.volume)
			}
			got := s.rings[tt.iv].tail(nil, 100)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d candles %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("candle %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRingIsBounded(t *testing.T) {
	r := newRing(3)
	for i := int64(0); i < 10; i++ {
		r.add(i, 100+i, 1)
	}
	got := r.tail(nil, 10)
	if len(got) != 3 || got[0].Time != 7 || got[2].Time != 9 {
		t.Fatalf("got %+v, want the 3 newest candles 7..9", got)
	}
	if got := r.tail(nil, 2); len(got) != 2 || got[0].Time != 8 {
		t.Fatalf("tail(2): got %+v, want candles 8 and 9", got)
	}
}

func TestParseInterval(t *testing.T) {
	for _, tt := range []struct {
		in    string
		width time.Duration
		ok    bool
	}{{"1s", time.Second, true}, {"1m", time.Minute, true}, {"5m", 5 * time.Minute, true}, {"1h", 0, false}, {"", 0, false}} {
		t.Run(tt.in, func(t *testing.T) {
			iv, err := ParseInterval(tt.in)
			if (err == nil) != tt.ok || iv.Width != tt.width {
				t.Errorf("got %v, %v; want width %v, ok %v", iv.Width, err, tt.width, tt.ok)
			}
		})
	}
}
