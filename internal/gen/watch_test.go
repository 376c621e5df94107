package gen

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/rate"
)

// TestWatchStall drives the hooks on a fake clock: a partition holding
// records with no acknowledgement for StallAfter is stalled, from the later
// of its last acknowledgement and the moment it began to hold records.
func TestWatchStall(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	rec := func(p int32) *kgo.Record { return &kgo.Record{Topic: "prices", Partition: p} }
	tests := []struct {
		name      string
		steps     func(w *Watch, at func(time.Duration))
		elapsed   time.Duration
		want      []string
		wantSince time.Duration
		wantWait  int64
	}{
		{
			name:    "nothing sent",
			steps:   func(*Watch, func(time.Duration)) {},
			elapsed: time.Minute,
		},
		{
			name: "acknowledged in time",
			steps: func(w *Watch, at func(time.Duration)) {
				w.OnProduceRecordPartitioned(rec(0), 1)
				at(time.Second)
				w.OnProduceRecordUnbuffered(rec(0), nil)
			},
			elapsed: time.Minute,
		},
		{
			name: "waiting longer than StallAfter",
			steps: func(w *Watch, at func(time.Duration)) {
				w.OnProduceRecordPartitioned(rec(2), 1)
				w.OnProduceRecordPartitioned(rec(2), 1)
				w.OnProduceRecordPartitioned(rec(1), 3)
				at(time.Second)
				w.OnProduceRecordUnbuffered(rec(1), nil)
			},
			elapsed:  6 * time.Second,
			want:     []string{"prices/2"},
			wantWait: 2,
		},
		{
			name: "acknowledged recently while others wait",
			steps: func(w *Watch, at func(time.Duration)) {
				w.OnProduceRecordPartitioned(rec(0), 1)
				w.OnProduceRecordPartitioned(rec(0), 1)
				at(4 * time.Second)
				w.OnProduceRecordUnbuffered(rec(0), nil)
			},
			elapsed: 6 * time.Second,
		},
		{
			name: "a failed record is no acknowledgement",
			steps: func(w *Watch, at func(time.Duration)) {
				w.OnProduceRecordPartitioned(rec(0), 1)
				w.OnProduceRecordPartitioned(rec(0), 1)
				at(3 * time.Second)
				w.OnProduceRecordUnbuffered(rec(0), errors.New("boom"))
			},
			elapsed:  5 * time.Second,
			want:     []string{"prices/0"},
			wantWait: 1,
		},
		{
			name: "stalled since the last acknowledgement",
			steps: func(w *Watch, at func(time.Duration)) {
				w.OnProduceRecordPartitioned(rec(0), 1)
				w.OnProduceRecordPartitioned(rec(0), 1)
				at(2 * time.Second)
				w.OnProduceRecordUnbuffered(rec(0), nil)
			},
			elapsed:   10 * time.Second,
			want:      []string{"prices/0"},
			wantSince: 2 * time.Second,
			wantWait:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			w := NewWatch(func() time.Time { return now })
			tt.steps(w, func(d time.Duration) { now = t0.Add(d) })
			now = t0.Add(tt.elapsed)
			s := w.Stall()
			if strings.Join(s.Partitions, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got stalled %v, want %v", s.Partitions, tt.want)
			}
			if !s.Stalled() {
				return
			}
			if !s.Since.Equal(t0.Add(tt.wantSince)) || s.Pending != tt.wantWait {
				t.Errorf("got since %v and %d waiting, want %v and %d", s.Since, s.Pending, t0.Add(tt.wantSince), tt.wantWait)
			}
		})
	}
}

// TestRateLineNamesStall checks that the rate line says which partitions
// stalled, since when, and how much is buffered.
func TestRateLineNamesStall(t *testing.T) {
	var buf bytes.Buffer
	since := time.Date(2026, 1, 2, 10, 0, 3, 0, time.UTC)
	r := &reporter{w: &buf, shape: rate.Of(100),
		stall:    func() Stall { return Stall{Partitions: []string{"prices/0", "trades/1"}, Since: since, Pending: 42} },
		buffered: func() int64 { return 50 },
	}
	r.tick(Summary{Sent: 10, Delivered: 8, Elapsed: 10 * time.Second})
	got := buf.String()
	want := "STALLED: 2 partitions without acknowledgement since 10:00:03: prices/0,trades/1 (42 records waiting), 50 records buffered"
	if !strings.Contains(got, want) {
		t.Errorf("got rate line %q, want it to contain %q", got, want)
	}
}

// TestRateLineEndsWithExtra checks that the rate line ends with what
// Options.Extra returns (up's pipeline state), and adds nothing for "".
func TestRateLineEndsWithExtra(t *testing.T) {
	for _, tt := range []struct{ extra, want string }{
		{"sink lag 3 keeping up", "gen: 10s elapsed, 10 sent, 8 delivered, 0 failed, 1/s now, 1/s average (target 100/s); sink lag 3 keeping up\n"},
		{"", "gen: 10s elapsed, 10 sent, 8 delivered, 0 failed, 1/s now, 1/s average (target 100/s)\n"},
	} {
		var buf bytes.Buffer
		r := &reporter{w: &buf, shape: rate.Of(100), extra: func() string { return tt.extra }}
		r.tick(Summary{Sent: 10, Delivered: 8, Elapsed: 10 * time.Second, Rate: 0.8})
		if got := buf.String(); got != tt.want {
			t.Errorf("extra %q: got rate line\n%q, want\n%q", tt.extra, got, tt.want)
		}
	}
}
