package rate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Syntax is the shape syntax, for error messages and help texts.
const Syntax = `N (constant, 0: as fast as possible), ramp:FROM..TO/DURATION, ` +
	`steps:R1,R2,...,RN/STEP, burst:BASE,PEAK/LENGTH/PERIOD, daily:MEAN/PERIOD ` +
	`(e.g. 5000, ramp:1000..20000/5m, steps:1000,5000,10000/1m, burst:2000,20000/10s/50s, daily:20000/10m)`

// SyntaxBytes is Syntax for byte rates.
const SyntaxBytes = `SIZE (constant, e.g. 5MB, 512KiB; 0: as fast as possible), ramp:FROM..TO/DURATION, ` +
	`steps:S1,S2,...,SN/STEP, burst:BASE,PEAK/LENGTH/PERIOD, daily:MEAN/PERIOD ` +
	`(e.g. 5MB, ramp:1MB..10MB/5m, burst:1MB,8MB/10s/50s)`

// Parse reads an events-per-second shape in the Syntax.
func Parse(text string) (Shape, error) { return parse(text, false) }

// ParseBytes reads a bytes-per-second shape: the Syntax with sizes (5MB,
// 512KiB, 1GB; a bare number is bytes) instead of numbers.
func ParseBytes(text string) (Shape, error) { return parse(text, true) }

// syntaxError names the problem and shows the syntax.
func syntaxError(text string, bytes bool, format string, args ...any) error {
	syn := Syntax
	if bytes {
		syn = SyntaxBytes
	}
	return fmt.Errorf("rate %q: %s; want %s", text, fmt.Sprintf(format, args...), syn)
}

func parse(text string, bytes bool) (Shape, error) {
	s := Shape{bytes: bytes}
	kind, args, found := strings.Cut(strings.TrimSpace(text), ":")
	if !found {
		v, err := number(kind, bytes)
		if err != nil {
			return Shape{}, syntaxError(text, bytes, "%v", err)
		}
		s.kind, s.levels = Constant, []float64{v}
		return s, nil
	}
	parts := strings.Split(args, "/")
	bad := func(format string, a ...any) (Shape, error) {
		return Shape{}, syntaxError(text, bytes, format, a...)
	}
	var err error
	switch kind {
	case "ramp":
		if len(parts) != 2 {
			return bad("a ramp is ramp:FROM..TO/DURATION")
		}
		from, to, ok := strings.Cut(parts[0], "..")
		if !ok {
			return bad("a ramp's rates are FROM..TO")
		}
		s.kind = Ramp
		if s.levels, err = numbers([]string{from, to}, bytes); err != nil {
			return bad("%v", err)
		}
		if s.levels[1] <= 0 {
			return bad("a ramp must end above 0")
		}
	case "steps":
		if len(parts) != 2 {
			return bad("steps are steps:R1,R2,...,RN/STEP")
		}
		s.kind = Steps
		if s.levels, err = numbers(strings.Split(parts[0], ","), bytes); err != nil {
			return bad("%v", err)
		}
		if s.levels[len(s.levels)-1] <= 0 {
			return bad("the last step must be above 0")
		}
	case "burst":
		if len(parts) != 3 {
			return bad("a burst is burst:BASE,PEAK/LENGTH/PERIOD")
		}
		s.kind = Burst
		if s.levels, err = numbers(strings.Split(parts[0], ","), bytes); err != nil {
			return bad("%v", err)
		}
		if len(s.levels) != 2 {
			return bad("a burst has two rates, BASE,PEAK")
		}
		if s.levels[1] <= 0 {
			return bad("a burst's peak must be above 0")
		}
	case "daily":
		if len(parts) != 2 {
			return bad("a daily curve is daily:MEAN/PERIOD")
		}
		s.kind = Daily
		if s.levels, err = numbers([]string{parts[0]}, bytes); err != nil {
			return bad("%v", err)
		}
		if s.levels[0] <= 0 {
			return bad("a daily curve's mean must be above 0")
		}
	default:
		return bad("unknown shape %q", kind)
	}
	if s.span, err = positive(parts[1]); err != nil {
		return bad("%v", err)
	}
	if s.kind == Burst {
		if s.period, err = positive(parts[2]); err != nil {
			return bad("%v", err)
		}
		if s.span >= s.period {
			return bad("the burst length %v must be shorter than its period %v", s.span, s.period)
		}
	}
	return s, nil
}

func numbers(texts []string, bytes bool) ([]float64, error) {
	out := make([]float64, len(texts))
	for i, t := range texts {
		v, err := number(t, bytes)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// number reads one rate: a non-negative number, or with bytes a size.
func number(text string, bytes bool) (float64, error) {
	text = strings.TrimSpace(text)
	if bytes {
		return parseBytes(text)
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", text)
	}
	if v < 0 {
		return 0, fmt.Errorf("%v is negative", v)
	}
	return v, nil
}

func positive(text string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(text))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30s or 5m)", text)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %v must be positive", d)
	}
	return d, nil
}

// byteUnits are the size suffixes, longest first so that "KiB" is not
// read as "B".
var byteUnits = []struct {
	suffix string
	size   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1},
}

func parseBytes(text string) (float64, error) {
	num, mult := text, 1.0
	for _, u := range byteUnits {
		if len(text) > len(u.suffix) && strings.EqualFold(text[len(text)-len(u.suffix):], u.suffix) {
			num, mult = strings.TrimSpace(text[:len(text)-len(u.suffix)]), u.size
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a size (like 5MB or 512KiB)", text)
	}
	if v < 0 {
		return 0, fmt.Errorf("%v is negative", v)
	}
	return v * mult, nil
}

// formatBytes writes a size with the largest decimal unit that keeps it
// exact, so that String re-parses to the same value.
func formatBytes(v float64) string {
	for _, u := range []struct {
		suffix string
		size   float64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if v >= u.size && math.Mod(v, u.size) == 0 {
			return strconv.FormatFloat(v/u.size, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "B"
}

// Set parses text into s: the pflag.Value of --rate.
func (s *Shape) Set(text string) error {
	v, err := parse(text, s.bytes)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Type names the flag's value type in --help.
func (s *Shape) Type() string {
	if s.bytes {
		return "bytes-shape"
	}
	return "shape"
}

// UnmarshalYAML reads a shape from a YAML scalar: a number (rate: 5000)
// or a shape (rate: ramp:1000..20000/5m).
func (s *Shape) UnmarshalYAML(unmarshal func(any) error) error {
	var text string
	if err := unmarshal(&text); err != nil {
		return err
	}
	return s.Set(text)
}

// MarshalYAML writes the shape in the syntax Parse reads.
func (s Shape) MarshalYAML() (any, error) { return s.String(), nil }

// BytesUnset returns an Unset shape whose Set parses byte rates: the
// zero value of --rate-bytes.
func BytesUnset() Shape { return Shape{bytes: true} }
