package app

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws one line that it rewrites in place (a terminal) as a
// long task advances through a known number of items, at most every
// 200 ms. Off a terminal it prints nothing until done. It is not safe for
// concurrent use.
type progress struct {
	w        io.Writer
	terminal bool
	what     string // e.g. "export"
	unit     string // e.g. "records"
	total    int64  // 0: unknown
	now      func() time.Time
	start    time.Time
	last     time.Time
	done     int64
	drawn    bool
}

func (e *Env) progress(w io.Writer, what, unit string, total int64) *progress {
	now := e.Now
	if now == nil {
		now = time.Now
	}
	t := now()
	return &progress{w: w, terminal: e.Terminal, what: what, unit: unit, total: total, now: now, start: t}
}

// add counts n more items done and redraws the line when due; extra is
// appended to it.
func (p *progress) add(n int64, extra string) {
	p.done += n
	if !p.terminal {
		return
	}
	t := p.now()
	if t.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = t
	p.drawn = true
	line := fmt.Sprintf("\r%s: %d %s", p.what, p.done, p.unit)
	if p.total > 0 {
		frac := min(1, float64(p.done)/float64(p.total))
		const width = 30
		filled := int(frac * width)
		line = fmt.Sprintf("\r%s: [%s%s] %5.1f%%  %d/%d %s", p.what, strings.Repeat("=", filled),
			strings.Repeat(" ", width-filled), 100*frac, p.done, p.total, p.unit)
	}
	if sec := t.Sub(p.start).Seconds(); sec > 0 {
		line += fmt.Sprintf("  %.0f/s", float64(p.done)/sec)
	}
	fmt.Fprint(p.w, line+extra+" ")
}

// finish ends the line drawn, if any, and returns the time since start.
func (p *progress) finish() time.Duration {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
	return p.now().Sub(p.start)
}

// mib writes a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
