package gen_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/rate"
)

// fakeWall is a wall clock that advances by step for every event drawn:
// the generator's pipeline at 1/step events per second without waiting.
type fakeWall struct {
	t    time.Time
	step time.Duration
}

func (f *fakeWall) now() time.Time { return f.t }

// timedSource advances the fake wall clock before each event and records
// how far the event's time is from it.
type timedSource struct {
	src            gen.Source
	wall           *fakeWall
	ahead, behind  time.Duration
	first, last    time.Time
	events, prices int
}

var tsField = regexp.MustCompile(`"ts":"([^"]+)"`)

func (s *timedSource) Next(r *kgo.Record) bool {
	s.wall.t = s.wall.t.Add(s.wall.step)
	if !s.src.Next(r) {
		return false
	}
	s.events++
	m := tsField.FindSubmatch(r.Value)
	if m == nil {
		return true // a user: dated at the start
	}
	ts, err := time.Parse(time.RFC3339Nano, string(m[1]))
	if err != nil {
		panic(err)
	}
	s.prices++
	if s.first.IsZero() {
		s.first = ts
	}
	s.last = ts
	s.ahead = max(s.ahead, ts.Sub(s.wall.t))
	s.behind = max(s.behind, s.wall.t.Sub(ts))
	return true
}

func timedRun(t *testing.T, cfg config.Gen, wall *fakeWall, count int64) (*timedSource, string) {
	t.Helper()
	sim, _, err := gen.NewSim(cfg, wall.now())
	if err != nil {
		t.Fatal(err)
	}
	mode := gen.FollowClock(sim, cfg, wall.now)
	src := &timedSource{src: gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames("x.")), wall: wall}
	var out bytes.Buffer
	if _, err := gen.Run(context.Background(), gen.Options{DryRun: &out, Count: count, Now: wall.now}, src); err != nil {
		t.Fatal(err)
	}
	return src, mode
}

// TestEventTimeKeepsPaceAtHighRate runs the pipeline at 100,000 events/s
// of (fake) wall time for 200,000 events: event time must stay within
// 50 ms of the wall clock, where one tick interval per round runs a
// quarter of an hour ahead in the same two seconds.
func TestEventTimeKeepsPaceAtHighRate(t *testing.T) {
	wall := &fakeWall{t: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), step: 10 * time.Microsecond}
	cfg := config.Default().Gen
	cfg.Rate = rate.Of(100_000)
	src, mode := timedRun(t, cfg, wall, 200_000)
	t.Logf("%s: %d events over %s of wall time; event time at most %s ahead, %s behind", mode, src.events, 2*time.Second, src.ahead, src.behind)
	if mode != gen.TimeWall {
		t.Errorf("mode = %q, want %q", mode, gen.TimeWall)
	}
	if src.ahead > 50*time.Millisecond || src.behind > 50*time.Millisecond {
		t.Errorf("event time %s ahead / %s behind the wall clock, want within 50ms", src.ahead, src.behind)
	}

	cfg.Speed = config.SpeedMax
	wall.t = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	src, mode = timedRun(t, cfg, wall, 200_000)
	t.Logf("%s: event time %s ahead of the wall clock", mode, src.ahead)
	if mode != gen.TimeTicks || src.ahead < 10*time.Minute {
		t.Errorf("--speed max: mode %q, %s ahead; want %q running far ahead", mode, src.ahead, gen.TimeTicks)
	}
}

// TestEventTimeSpeed checks that --speed 60 runs simulated time at 60x
// the wall clock.
func TestEventTimeSpeed(t *testing.T) {
	start := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	wall := &fakeWall{t: start, step: 100 * time.Microsecond}
	cfg := config.Default().Gen
	cfg.Speed = "60"
	src, _ := timedRun(t, cfg, wall, 200_000)
	elapsed := wall.t.Sub(start)
	sim := src.last.Sub(start)
	t.Logf("wall %s, simulated %s", elapsed, sim)
	if r := sim.Seconds() / elapsed.Seconds(); r < 59 || r > 61 {
		t.Errorf("simulated/wall = %.2f, want 60", r)
	}
}

// TestSeededEventTimeFromSchedule checks that a seeded run dates events
// by the rate schedule (n / rate after the start), independent of the
// wall clock: two runs at different wall speeds give the same bytes.
func TestSeededEventTimeFromSchedule(t *testing.T) {
	cfg := config.Default().Gen
	cfg.Seed, cfg.Users, cfg.Rate = 42, 500, rate.Of(1000)
	run := func(step time.Duration) ([]byte, *timedSource) {
		wall := &fakeWall{t: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), step: step}
		sim, _, err := gen.NewSim(cfg, wall.now())
		if err != nil {
			t.Fatal(err)
		}
		if mode := gen.FollowClock(sim, cfg, wall.now); mode != gen.TimeSchedule {
			t.Fatalf("mode = %q, want %q", mode, gen.TimeSchedule)
		}
		src := &timedSource{src: gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames("x.")), wall: wall}
		var out bytes.Buffer
		if _, err := gen.Run(context.Background(), gen.Options{DryRun: &out, Count: 50_000, Now: wall.now}, src); err != nil {
			t.Fatal(err)
		}
		return out.Bytes(), src
	}
	a, src := run(time.Millisecond)
	b, _ := run(time.Second)
	if !bytes.Equal(a, b) {
		t.Error("same seed at different wall speeds: outputs differ, want byte-identical")
	}
	// 50,000 events at 1,000/s span 50 s of event time.
	if span := src.last.Sub(gen.SeededStart); span < 49*time.Second || span > 50*time.Second {
		t.Errorf("last event %s after the start, want about 50s (events / rate)", span)
	}
}

func TestStartOpenBeginsInTradingHours(t *testing.T) {
	night := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)     // 22:00 in New York, Monday
	midday := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)   // 12:00 in New York
	saturday := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC) // 10:00 in New York
	for _, tc := range []struct {
		start string
		now   time.Time
		want  time.Time
	}{
		{"open", night, time.Date(2026, 11, 30, 14, 30, 0, 0, time.UTC)},
		{"open", midday, midday},
		{" OPEN ", saturday, time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC)},
		{"2026-01-05T14:30:00Z", night, gen.SeededStart},
	} {
		cfg := config.Default().Gen
		cfg.Start = tc.start
		if err := cfg.Validate(); err != nil {
			t.Fatalf("start %q: %v", tc.start, err)
		}
		sim, _, err := gen.NewSim(cfg, tc.now)
		if err != nil {
			t.Fatal(err)
		}
		if got := sim.Config().Start; !got.Equal(tc.want) {
			t.Errorf("start %q at %s: simulated start %s, want %s", tc.start, tc.now, got, tc.want)
		}
	}
	cfg := config.Default().Gen
	cfg.Start = "opening"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "neither an RFC 3339 time nor `open`") {
		t.Errorf("start opening: got %v, want a clear error", err)
	}
	if _, err := gen.StartTime("opening", night); err == nil {
		t.Error("StartTime(opening): got no error")
	}
}
