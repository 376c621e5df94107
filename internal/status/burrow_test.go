package status

import (
	"testing"
	"time"
)

var base = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// commits builds a window of commits a minute apart from (offset, lag)
// pairs.
func commits(pairs ...int64) []Commit {
	var out []Commit
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Commit{Offset: pairs[i], Lag: pairs[i+1], At: base.Add(time.Duration(i/2) * time.Minute)})
	}
	return out
}

func TestBurrowRules(t *testing.T) {
	last := base.Add(4 * time.Minute) // time of the fifth commit
	tests := []struct {
		name       string
		window     []Commit
		ends       []int64
		currentLag int64
		now        time.Time
		want       Verdict
	}{
		{"empty window", nil, nil, 50, last, OK},
		{"no current lag is OK whatever the window", commits(10, 5, 10, 6, 10, 7), []int64{10}, 0, last.Add(time.Hour), OK},
		{"zero lag within the window", commits(100, 0, 200, 50, 300, 100, 400, 150, 500, 200), []int64{700}, 200, last, OK},
		{"catching up: lag decreases somewhere", commits(100, 400, 200, 450, 300, 300, 400, 350, 500, 380), []int64{880}, 380, last, OK},
		{"falling behind: offsets move, lag never decreases", commits(100, 50, 200, 100, 300, 150, 400, 200, 500, 250), []int64{750}, 250, last, Warn},
		{"flat lag while moving is still not decreasing", commits(100, 50, 200, 50, 300, 50, 400, 50, 500, 50), []int64{550}, 50, last, Warn},
		{"stuck: the same offset committed over the window", commits(100, 100, 100, 150, 100, 200, 100, 250, 100, 300), []int64{400}, 300, last, Stall},
		{"stuck with flat lag", commits(100, 100, 100, 100, 100, 100), []int64{200}, 100, base.Add(2 * time.Minute), Stall},
		{"stuck but zero lag once in the window", commits(100, 0, 100, 50, 100, 100), []int64{200}, 100, base.Add(2 * time.Minute), OK},
		{"offset went back", commits(100, 100, 200, 150, 300, 200, 200, 1250, 400, 300), []int64{700}, 300, last, Rewind},
		{"no commit for as long as the window spans", commits(100, 50, 200, 100, 300, 150, 400, 200, 500, 250), []int64{750}, 250, last.Add(4*time.Minute + time.Second), Stop},
		{"exactly the span is not yet stopped", commits(100, 50, 200, 100, 300, 150, 400, 200, 500, 250), []int64{750}, 250, last.Add(4 * time.Minute), Warn},
		{"stopped even with zero lag early in the window", commits(100, 0, 200, 50, 300, 100, 400, 150, 500, 200), []int64{700}, 200, last.Add(5 * time.Minute), Stop},
		{"not stopped when the log end was at the commit lately", commits(100, 0, 101, 0, 102, 0), []int64{103, 102, 102}, 1, base.Add(10 * time.Minute), OK},
		{"one commit with lag is stopped once time passes", commits(100, 20), []int64{120}, 20, base.Add(time.Second), Stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evaluate(tt.window, tt.ends, tt.currentLag, tt.now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestWindowObservation(t *testing.T) {
	tests := []struct {
		name    string
		members bool
		offsets []int64 // committed offset per sample, a second apart
		ends    []int64 // log end offset per sample
		want    Verdict // after the last sample
	}{
		{"live consumer keeping up", true, []int64{10, 22, 30, 44, 50}, []int64{15, 25, 35, 45, 55}, OK},
		{"live consumer stuck", true, []int64{10, 10, 10, 10, 10}, []int64{15, 25, 35, 45, 55}, Stall},
		{"gone consumer", false, []int64{10, 10, 10, 10, 10}, []int64{15, 25, 35, 45, 55}, Stop},
		{"live consumer reset backwards", true, []int64{30, 40, 20, 30, 40}, []int64{100, 110, 120, 130, 140}, Rewind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newPartitionWindow(4)
			var got Verdict
			for i, off := range tt.offsets {
				at := base.Add(time.Duration(i) * time.Second)
				w.observe(off, tt.ends[i], tt.members, at)
				got = w.verdict(tt.ends[i]-off, at)
			}
			if len(w.commits.items) > 4 {
				t.Errorf("window holds %d commits, want at most 4", len(w.commits.items))
			}
			if got != tt.want {
				t.Errorf("got %s, want %s (window %+v)", got, tt.want, w.commits.items)
			}
		})
	}
}

func TestWorse(t *testing.T) {
	order := []Verdict{OK, Warn, Stop, Stall, Rewind}
	for i, a := range order {
		for j, b := range order {
			want := a
			if j > i {
				want = b
			}
			if got := Worse(a, b); got != want {
				t.Errorf("Worse(%s, %s): got %s, want %s", a, b, got, want)
			}
		}
	}
}
