package market

import "time"

// Exchange hours: 09:30-16:00 America/New_York, Monday to Friday.
const (
	sessionOpen    = (9*60 + 30) * 60 // seconds after local midnight
	sessionClose   = 16 * 60 * 60
	sessionSeconds = sessionClose - sessionOpen // 23400
)

// exchangeClock maps instants to New York wall-clock time without a time
// zone database (so the package needs no I/O): it applies the US
// daylight-saving rules in force since 2007 (second Sunday of March to
// first Sunday of November, switching at 02:00 local). It caches the
// transition instants of the last year it saw; it is not safe for
// concurrent use.
type exchangeClock struct {
	year             int
	dstStart, dstEnd time.Time
}

// offset returns New York's UTC offset at t: -4h in summer, -5h otherwise.
func (c *exchangeClock) offset(t time.Time) time.Duration {
	if y := t.Year(); y != c.year || c.dstStart.IsZero() {
		c.year = y
		c.dstStart = nthSunday(y, time.March, 2).Add(7 * time.Hour)  // 02:00 EST
		c.dstEnd = nthSunday(y, time.November, 1).Add(6 * time.Hour) // 02:00 EDT
	}
	if !t.Before(c.dstStart) && t.Before(c.dstEnd) {
		return -4 * time.Hour
	}
	return -5 * time.Hour
}

// nthSunday returns midnight UTC of the n-th Sunday of month m in year y.
func nthSunday(y int, m time.Month, n int) time.Time {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	delta := (7 - int(first.Weekday())) % 7
	return first.AddDate(0, 0, delta+7*(n-1))
}

// local returns t as New York wall-clock time, expressed as a UTC time
// whose fields read as the local date and time.
func (c *exchangeClock) local(t time.Time) time.Time {
	u := t.UTC()
	return u.Add(c.offset(u))
}

// session reports whether t is within regular hours and, if so, the
// fraction tau in [0, 1) of the session that has elapsed.
func (c *exchangeClock) session(t time.Time) (open bool, tau float64) {
	lt := c.local(t)
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false, 0
	}
	h, m, s := lt.Clock()
	secs := float64(h*3600+m*60+s) + float64(lt.Nanosecond())/1e9
	if secs < sessionOpen || secs >= sessionClose {
		return false, 0
	}
	return true, (secs - sessionOpen) / sessionSeconds
}

// nextOpen returns the first session open at or after t.
func (c *exchangeClock) nextOpen(t time.Time) time.Time {
	lt := c.local(t)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
	open := day.Add(sessionOpen * time.Second)
	if lt.After(open) {
		day = day.AddDate(0, 0, 1)
	}
	for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = day.AddDate(0, 0, 1)
	}
	// Convert local 09:30 back to UTC. Transitions happen at 02:00 on
	// Sundays, so the offset at a weekday's open is unambiguous.
	cand := day.Add(sessionOpen*time.Second + 5*time.Hour)
	if c.offset(cand) == -4*time.Hour {
		cand = cand.Add(-time.Hour)
	}
	return cand
}

// InSession reports whether t is within New York's regular hours
// (09:30-16:00, Monday to Friday).
func InSession(t time.Time) bool {
	var c exchangeClock
	open, _ := c.session(t)
	return open
}

// LatestOpen returns the latest session open at or before t: today's
// 09:30 New York time once it has passed on a weekday, else the previous
// weekday's.
func LatestOpen(t time.Time) time.Time {
	var c exchangeClock
	open := c.nextOpen(t.AddDate(0, 0, -5))
	for {
		next := c.nextOpen(open.Add(time.Second))
		if next.After(t) {
			return open
		}
		open = next
	}
}
