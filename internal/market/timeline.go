package market

import "time"

// timeline decides when rounds happen. By default a round follows the
// previous one by Config.TickInterval, so simulated time runs as fast as
// events are drawn. With FollowClock, each round happens at the time the
// caller's clock gives, so simulated time keeps pace with that clock
// however many events each round holds.
type timeline struct {
	follow func() time.Time
	shift  time.Duration // regular-session jumps to the next open
	end    time.Time     // time of the latest trade
}

// FollowClock makes every later round start at clock() (to the
// microsecond) instead of one TickInterval after the previous round: a
// caller that paces events by the wall clock passes a clock derived from
// it, so that event time keeps pace with the wall clock and a higher rate
// means more ticks and trades per simulated second, not a faster calendar.
// Prices move by the simulated time that really elapsed between rounds,
// so volatility stays calibrated per simulated second. Time never goes
// backwards: a round starts at least a microsecond after the previous
// one and its trades, and each trade is stamped with the clock's time
// when it is drawn (not before its round). With SessionRegular a close still
// moves the clock to the next open, and later rounds keep that offset.
// The Sim stays pure: it calls clock and nothing else.
func (s *Sim) FollowClock(clock func() time.Time) { s.timeline.follow = clock }

// nextRoundTime returns the time of the next round.
func (s *Sim) nextRoundTime() time.Time {
	if s.timeline.follow == nil {
		return s.now.Add(s.cfg.TickInterval)
	}
	floor := s.now
	if s.timeline.end.After(floor) {
		floor = s.timeline.end
	}
	return later(s.clockTime(), floor.Add(time.Microsecond))
}

// tradeTime returns the time of trade k of the n in this round: spread
// evenly over the TickInterval after the round's ticks, or with
// FollowClock the clock's time when it is drawn.
func (s *Sim) tradeTime(k, n int) time.Time {
	if s.timeline.follow == nil {
		return s.now.Add((s.cfg.TickInterval * time.Duration(k+1) / time.Duration(n+1)).Truncate(time.Microsecond))
	}
	s.timeline.end = later(s.clockTime(), later(s.now, s.timeline.end))
	return s.timeline.end
}

func (s *Sim) clockTime() time.Time {
	return s.timeline.follow().UTC().Truncate(time.Microsecond).Add(s.timeline.shift)
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}
