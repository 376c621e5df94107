package status

import "time"

// Verdict is a consumer's health over the sliding window, after LinkedIn
// Burrow's consumer lag evaluation rules.
type Verdict string

// The verdicts, from best to worst as Burrow ranks them.
const (
	// OK: the consumer is keeping up, or had zero lag within the window.
	OK Verdict = "OK"
	// Warn: offsets advance but lag never decreased over the window (the
	// consumer is falling behind).
	Warn Verdict = "WARN"
	// Stop: the consumer has not committed for longer than the window
	// spans, and it has lag.
	Stop Verdict = "STOP"
	// Stall: the consumer commits, but the same offset over the whole
	// window, with lag.
	Stall Verdict = "STALL"
	// Rewind: the committed offset went backwards within the window.
	Rewind Verdict = "REWIND"
)

// Rank is the verdict's number among Burrow's status constants (OK 1,
// WARN 2, STOP 4, STALL 5, REWIND 6), which orders them from best to
// worst; a group's verdict is its worst partition's.
func (v Verdict) Rank() int {
	switch v {
	case Warn:
		return 2
	case Stop:
		return 4
	case Stall:
		return 5
	case Rewind:
		return 6
	}
	return 1
}

// Worse returns the worse of two verdicts.
func Worse(a, b Verdict) Verdict {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Commit is one entry of a partition's window: the committed offset, the
// lag when it was observed and when. As Burrow stores one entry per offset
// commit, the sampler stores one per sample while the group has members
// (they commit), and none while the group is empty unless the offset
// moved: a consumer that is gone stops adding entries, so its window ages
// into STOP, while one that is alive but stuck fills its window with the
// same offset, which is STALL.
type Commit struct {
	Offset int64     `json:"offset"`
	Lag    int64     `json:"lag"`
	At     time.Time `json:"at"`
}

// evaluate applies Burrow's rules to one partition's window (oldest
// first), its recent log end offsets and current lag, at now:
//
//  1. Current lag zero: OK.
//  2. The last commit is older, from now, than the window spans (last minus
//     first commit time), and no recent log end offset was at or below the
//     last committed offset (the consumer was not simply idle at the end):
//     STOP.
//  3. Lag was zero at any commit in the window: OK.
//  4. The committed offset went backwards between two commits: REWIND.
//  5. The committed offset never changed over the window: STALL.
//  6. Lag never decreased between two commits: WARN.
//  7. Otherwise OK.
//
// An empty window is OK: there is nothing to judge.
func evaluate(window []Commit, ends []int64, currentLag int64, now time.Time) Verdict {
	if len(window) == 0 || currentLag <= 0 {
		return OK
	}
	first, last := window[0], window[len(window)-1]
	if now.Sub(last.At) > last.At.Sub(first.At) && !recentLagZero(last.Offset, ends) {
		return Stop
	}
	for _, c := range window {
		if c.Lag == 0 {
			return OK
		}
	}
	for i := 1; i < len(window); i++ {
		if window[i].Offset < window[i-1].Offset {
			return Rewind
		}
	}
	stalled := true
	for i := 1; i < len(window); i++ {
		if window[i].Offset != window[i-1].Offset {
			stalled = false
			break
		}
	}
	if stalled {
		return Stall
	}
	for i := 1; i < len(window); i++ {
		if window[i].Lag < window[i-1].Lag {
			return OK
		}
	}
	return Warn
}

// recentLagZero reports whether a recent log end offset was at or below
// the committed offset: the consumer was caught up a moment ago and new
// records just arrived.
func recentLagZero(committed int64, ends []int64) bool {
	for _, e := range ends {
		if e <= committed {
			return true
		}
	}
	return false
}

// ring is a bounded history, oldest first.
type ring[T any] struct {
	size  int
	items []T
}

func (r *ring[T]) add(v T) {
	if len(r.items) == r.size {
		copy(r.items, r.items[1:])
		r.items = r.items[:len(r.items)-1]
	}
	r.items = append(r.items, v)
}

func (r *ring[T]) last() (T, bool) {
	var zero T
	if len(r.items) == 0 {
		return zero, false
	}
	return r.items[len(r.items)-1], true
}

// partitionWindow is one group partition's sliding window.
type partitionWindow struct {
	commits ring[Commit]
	ends    ring[int64]
}

func newPartitionWindow(size int) *partitionWindow {
	return &partitionWindow{commits: ring[Commit]{size: size}, ends: ring[int64]{size: size}}
}

// observe records one sample: the log end offset always, the commit when
// the group has members or the offset moved.
func (w *partitionWindow) observe(committed, end int64, members bool, at time.Time) {
	w.ends.add(end)
	prev, ok := w.commits.last()
	if members || !ok || prev.Offset != committed {
		w.commits.add(Commit{Offset: committed, Lag: max(end-committed, 0), At: at})
	}
}

// verdict evaluates the window at now for the current lag.
func (w *partitionWindow) verdict(currentLag int64, now time.Time) Verdict {
	return evaluate(w.commits.items, w.ends.items, currentLag, now)
}
