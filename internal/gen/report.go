package gen

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tradestream/tradestream/internal/rate"
)

// Stats counts a run's events. It is safe for concurrent use: the producer's
// delivery callbacks update it while the reporter reads it.
type Stats struct {
	Sent      atomic.Int64 // handed to the producer (or written, in a dry run)
	Delivered atomic.Int64 // acknowledged by the brokers
	Failed    atomic.Int64 // given up on by the producer
	Bytes     atomic.Int64 // value bytes sent
}

// Summary is a point-in-time copy of Stats with the rates over the run.
type Summary struct {
	Sent, Delivered, Failed, Bytes int64
	Elapsed                        time.Duration
	// Rate is delivered events per second over the whole run (written
	// events per second in a dry run).
	Rate float64
}

func (s *Stats) summary(elapsed time.Duration, dryRun bool) Summary {
	sum := Summary{
		Sent: s.Sent.Load(), Delivered: s.Delivered.Load(), Failed: s.Failed.Load(),
		Bytes: s.Bytes.Load(), Elapsed: elapsed,
	}
	done := sum.Delivered
	if dryRun {
		done = sum.Sent
	}
	if sec := elapsed.Seconds(); sec > 0 {
		sum.Rate = float64(done) / sec
	}
	return sum
}

// reporter prints progress: an in-place bar on a terminal when the run has
// a count, otherwise one line per interval.
type reporter struct {
	w        io.Writer
	terminal bool
	count    int64      // 0: unknown total
	shape    rate.Shape // the target rate; unpaced: none
	dryRun   bool
	lastN    int64
	lastT    time.Duration
	// stall and buffered, when set, tell the producer's stalled
	// partitions and buffered records for the rate line.
	stall    func() Stall
	buffered func() int64
	// extra, when set, ends the rate line (Options.Extra).
	extra func() string
}

func (r *reporter) bar() bool { return r.terminal && r.count > 0 }

// tick reports the state at elapsed.
func (r *reporter) tick(s Summary) {
	done := s.Delivered
	if r.dryRun {
		done = s.Sent
	}
	window := s.Elapsed - r.lastT
	cur := 0.0
	if window > 0 {
		cur = float64(done-r.lastN) / window.Seconds()
	}
	r.lastN, r.lastT = done, s.Elapsed
	if r.bar() {
		frac := float64(done) / float64(r.count)
		width := 30
		filled := min(width, int(frac*float64(width)))
		fmt.Fprintf(r.w, "\r[%s%s] %5.1f%%  %d/%d  %s/s ", strings.Repeat("=", filled),
			strings.Repeat(" ", width-filled), 100*frac, done, r.count, human(cur))
		return
	}
	line := fmt.Sprintf("gen: %s elapsed, %d sent, %d delivered, %d failed, %s/s now, %s/s average",
		s.Elapsed.Round(time.Second), s.Sent, s.Delivered, s.Failed, human(cur), human(s.Rate))
	if r.shape.Paced() {
		line += fmt.Sprintf(" (target %s)", r.targetText(r.shape.At(s.Elapsed)))
	}
	if r.stall != nil {
		if st := r.stall(); st.Stalled() {
			line += fmt.Sprintf("; STALLED: %s, %d records buffered", st, r.buffered())
		}
	}
	if r.extra != nil {
		if x := r.extra(); x != "" {
			line += "; " + x
		}
	}
	fmt.Fprintln(r.w, line)
}

// final prints the run's outcome.
func (r *reporter) final(s Summary) {
	if r.bar() {
		fmt.Fprintln(r.w)
	}
	verb := "delivered"
	n := s.Delivered
	if r.dryRun {
		verb, n = "wrote", s.Sent
	}
	line := fmt.Sprintf("gen: %s %d events (%s) in %s: %s/s", verb, n, bytesHuman(s.Bytes),
		s.Elapsed.Round(time.Millisecond), human(s.Rate))
	if r.shape.Paced() && s.Elapsed > 0 {
		// The target over the run is the shape's mean: its integral over
		// the elapsed time divided by the time.
		target := r.shape.Count(s.Elapsed) / s.Elapsed.Seconds()
		got := s.Rate
		if r.shape.Bytes() {
			got = float64(s.Bytes) / s.Elapsed.Seconds()
		}
		line += fmt.Sprintf(", target %s (%.1f%%)", r.targetText(target), 100*got/target)
	}
	if s.Failed > 0 {
		line += fmt.Sprintf("; %d FAILED", s.Failed)
	}
	fmt.Fprintln(r.w, line)
}

// targetText writes a target rate: events/s, or for a byte shape bytes/s
// in the decimal units --rate-bytes reads (5MB is 5 MB/s).
func (r *reporter) targetText(v float64) string {
	if !r.shape.Bytes() {
		return human(v) + "/s"
	}
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f GB/s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f MB/s", v/1e6)
	default:
		return fmt.Sprintf("%.1f KB/s", v/1e3)
	}
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func bytesHuman(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
}
