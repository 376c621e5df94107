package gen

import (
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/market"
)

// Event-time modes, as FollowClock reports them.
const (
	// TimeWall: simulated time is the start plus Speed times the wall
	// time elapsed since the run began (a live run without a seed).
	TimeWall = "wall clock"
	// TimeSchedule: simulated time is the start plus Speed times the
	// time each event is scheduled at by the rate (n / rate), so a seeded
	// run or a dry run gives the same stream whenever and however fast it
	// is made.
	TimeSchedule = "rate schedule"
	// TimeTicks: one tick interval per price round, as fast as events are
	// drawn (--speed max, or a seeded or dry run without a rate).
	TimeTicks = "tick interval per round"
)

// FollowClock sets how sim's event time advances and returns the mode:
//
//   - --speed max: one tick interval per round (TimeTicks), the calendar
//     as fast as events are made, for backfills;
//   - a dry run or a seeded run: from the event count and the rate
//     (TimeSchedule), start + speed * the time event n is due by the rate
//     shape (n/rate for a constant rate), which keeps pace with the wall
//     clock when the run keeps its rate and never depends on it, so the
//     same seed gives byte-identical output; without a rate (--rate 0, a
//     dry run without --rate, or --rate-bytes) there is no event schedule
//     and it falls back to TimeTicks;
//   - otherwise: the wall clock (TimeWall), start + speed * elapsed.
//
// now is the wall clock; the run's elapsed time counts from this call.
func FollowClock(sim *market.Sim, cfg config.Gen, now func() time.Time) string {
	speed, err := cfg.SpeedFactor()
	if err != nil || speed == 0 {
		return TimeTicks
	}
	start := sim.Config().Start
	scale := func(d float64) time.Time { return start.Add(time.Duration(d * speed)) }
	if cfg.DryRun || cfg.Seed != 0 {
		// The schedule of a shape is when each event is due (a byte shape
		// has no event schedule: its events are dated like an unpaced
		// run's).
		shape := cfg.Pace()
		if !shape.Paced() || shape.Bytes() {
			return TimeTicks
		}
		sim.FollowClock(func() time.Time { return scale(float64(shape.Due(float64(sim.Emitted())))) })
		return TimeSchedule
	}
	wallStart := now()
	sim.FollowClock(func() time.Time { return scale(float64(now().Sub(wallStart))) })
	return TimeWall
}
