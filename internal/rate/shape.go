// Package rate describes how fast a generator sends: a target rate as a
// function of time (a Shape), its parsing from the --rate and --rate-bytes
// syntax, and the maths a pacer needs — the rate at a time, the number of
// units due by a time (the integral of the rate) and its inverse, the time
// the n-th unit is due. The maths is exact (closed forms, Newton steps for
// the daily curve) and allocation-free, so a pacer that schedules unit n
// at Due(n) keeps the long-run count exact whatever its sleep granularity.
//
// # Syntax
//
// A unit is an event (--rate) or a byte (--rate-bytes, where every rate
// takes a size suffix: 500KB, 5MB, 1GiB). Durations are Go durations
// (30s, 5m, 1h30m).
//
//	5000                       constant: 5000 per second; 0 is as fast as possible
//	ramp:1000..20000/5m        ramp: 1000/s rising linearly to 20000/s over 5m, then 20000/s
//	steps:1000,5000,10000/1m   steps: each level held 1m, the last one held for good
//	burst:2000,20000/10s/50s   bursts: every 50s starts with 10s at 20000/s, the rest at 2000/s
//	daily:20000/10m            daily curve: the intraday U-shape compressed into 10m,
//	                           repeating; opens and closes at 2x the mean, midday at
//	                           0.5x, averaging 20000/s over each period
package rate

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the family of a Shape.
type Kind uint8

// The kinds of shape. Unset is the zero Shape: no rate was given, and the
// caller picks a default.
const (
	Unset Kind = iota
	Constant
	Ramp
	Steps
	Burst
	Daily
)

// Daily curve: u(x) = dailyFloor + dailyCurve*(2x-1)^2 for x in [0,1)
// the phase of the period; its mean over a period is dailyFloor +
// dailyCurve/3 = 1, its ends 2 and its middle 0.5.
const (
	dailyFloor = 0.5
	dailyCurve = 1.5
)

// Shape is a target rate (units per second) as a function of the time
// since the run started. The zero Shape is Unset; a Constant of 0 is
// unpaced (as fast as possible). Shapes are values: copy them freely.
type Shape struct {
	kind   Kind
	levels []float64     // constant {r}; ramp {from, to}; steps; burst {base, peak}; daily {mean}
	span   time.Duration // ramp length, step length, burst length, daily period
	period time.Duration // burst period
	bytes  bool          // units are bytes (for String)
}

// Of returns a constant shape of r units per second (0: unpaced).
func Of(r float64) Shape { return Shape{kind: Constant, levels: []float64{r}} }

// Kind returns the shape's family.
func (s Shape) Kind() Kind { return s.kind }

// IsSet reports whether a rate was given (Unset is the zero Shape).
func (s Shape) IsSet() bool { return s.kind != Unset }

// Paced reports whether the shape limits the rate: false for Unset and for
// a constant 0 (as fast as possible).
func (s Shape) Paced() bool {
	return s.kind != Unset && !(s.kind == Constant && s.levels[0] <= 0)
}

// Bytes reports whether the shape was parsed as bytes per second.
func (s Shape) Bytes() bool { return s.bytes }

// At returns the target rate at t after the start; 0 when unpaced.
func (s Shape) At(t time.Duration) float64 {
	if !s.Paced() {
		return 0
	}
	l := s.levels
	switch s.kind {
	case Ramp:
		if t >= s.span {
			return l[1]
		}
		return l[0] + (l[1]-l[0])*t.Seconds()/s.span.Seconds()
	case Steps:
		i := int(t / s.span)
		if i >= len(l) {
			i = len(l) - 1
		}
		return l[i]
	case Burst:
		if t%s.period < s.span {
			return l[1]
		}
		return l[0]
	case Daily:
		x := 2*phase(t, s.span) - 1
		return l[0] * (dailyFloor + dailyCurve*x*x)
	}
	return l[0]
}

// Count returns the number of units due in the first t of the run: the
// integral of the rate from 0 to t. It is 0 when unpaced.
func (s Shape) Count(t time.Duration) float64 {
	if !s.Paced() || t <= 0 {
		return 0
	}
	l := s.levels
	sec := t.Seconds()
	switch s.kind {
	case Ramp:
		d := s.span.Seconds()
		if sec >= d {
			return (l[0]+l[1])/2*d + l[1]*(sec-d)
		}
		return l[0]*sec + (l[1]-l[0])*sec*sec/(2*d)
	case Steps:
		step := s.span.Seconds()
		var n float64
		for i, r := range l {
			if i == len(l)-1 || sec <= step {
				return n + r*sec
			}
			n += r * step
			sec -= step
		}
	case Burst:
		per := float64(t / s.period)
		rem := (t % s.period).Seconds()
		burst := math.Min(rem, s.span.Seconds())
		return per*s.perPeriod() + l[1]*burst + l[0]*(rem-burst)
	case Daily:
		p := s.span.Seconds()
		per := float64(t / s.span)
		return l[0] * p * (per + dailyIntegral(phase(t, s.span)))
	}
	return l[0] * sec
}

// Due returns when the n-th unit is due: the time at which Count reaches
// n (the inverse of Count). It is 0 when unpaced.
func (s Shape) Due(n float64) time.Duration {
	if !s.Paced() || n <= 0 {
		return 0
	}
	l := s.levels
	var sec float64
	switch s.kind {
	case Ramp:
		sec = rampDue(l[0], l[1], s.span.Seconds(), n)
	case Steps:
		step := s.span.Seconds()
		for i, r := range l {
			if i == len(l)-1 || n <= r*step {
				sec += n / r
				break
			}
			n -= r * step
			sec += step
		}
	case Burst:
		per := math.Floor(n / s.perPeriod())
		rem := n - per*s.perPeriod()
		sec = per * s.period.Seconds()
		if inBurst := l[1] * s.span.Seconds(); rem <= inBurst {
			sec += rem / l[1]
		} else {
			sec += s.span.Seconds() + (rem-inBurst)/l[0]
		}
	case Daily:
		p := s.span.Seconds()
		periods := n / (l[0] * p)
		per := math.Floor(periods)
		sec = (per + dailyInverse(periods-per)) * p
	default:
		sec = n / l[0]
	}
	return seconds(sec)
}

// perPeriod is a burst shape's units per period.
func (s Shape) perPeriod() float64 {
	return s.levels[1]*s.span.Seconds() + s.levels[0]*(s.period-s.span).Seconds()
}

// rampDue solves from*t + (to-from)*t²/(2d) = n for t, and past the ramp
// n = count(d) + to*(t-d).
func rampDue(from, to, d, n float64) float64 {
	whole := (from + to) / 2 * d
	if n >= whole {
		return d + (n-whole)/to
	}
	k := (to - from) / d
	if math.Abs(k) < 1e-12 {
		return n / from
	}
	// The root of k/2 t² + from t - n = 0 in [0, d], written so that it
	// stays accurate when k is small.
	disc := from*from + 2*k*n
	if disc < 0 {
		disc = 0
	}
	return 2 * n / (from + math.Sqrt(disc))
}

// phase returns t's position in its period, in [0, 1).
func phase(t, period time.Duration) float64 {
	return float64(t%period) / float64(period)
}

// dailyIntegral is the integral of the daily curve u over [0, x], in
// periods: dailyFloor*x + dailyCurve*((2x-1)³+1)/6.
func dailyIntegral(x float64) float64 {
	y := 2*x - 1
	return dailyFloor*x + dailyCurve*(y*y*y+1)/6
}

// dailyInverse returns x in [0, 1] with dailyIntegral(x) = f, by Newton's
// method: the integral is increasing and convex-concave with a slope of at
// least dailyFloor, so a few steps from x = f reach float precision.
func dailyInverse(f float64) float64 {
	x := f
	for range 30 {
		y := 2*x - 1
		step := (dailyIntegral(x) - f) / (dailyFloor + dailyCurve*y*y)
		x -= step
		x = math.Min(math.Max(x, 0), 1)
		if math.Abs(step) < 1e-13 {
			break
		}
	}
	return x
}

// seconds converts to a Duration, saturating instead of overflowing.
func seconds(sec float64) time.Duration {
	if sec >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(sec * float64(time.Second))
}

// String returns the shape in the syntax Parse reads ("" when Unset).
func (s Shape) String() string {
	num := func(v float64) string {
		if s.bytes {
			return formatBytes(v)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	list := func(vs []float64, sep string) string {
		out := ""
		for i, v := range vs {
			if i > 0 {
				out += sep
			}
			out += num(v)
		}
		return out
	}
	switch s.kind {
	case Constant:
		return num(s.levels[0])
	case Ramp:
		return "ramp:" + list(s.levels, "..") + "/" + short(s.span)
	case Steps:
		return "steps:" + list(s.levels, ",") + "/" + short(s.span)
	case Burst:
		return "burst:" + list(s.levels, ",") + "/" + short(s.span) + "/" + short(s.period)
	case Daily:
		return "daily:" + num(s.levels[0]) + "/" + short(s.span)
	}
	return ""
}

// short writes a duration without trailing zero units: 5m, not 5m0s.
func short(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
