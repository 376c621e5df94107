package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tradestream/tradestream/internal/rate"
)

// DefaultRate is the events per second of a generator given neither
// --rate nor --rate-bytes. A dry run given neither is unpaced instead: it
// writes as fast as it can.
const DefaultRate = 200

// DefaultLateDelay bounds how late a late event of --inject is when the
// rate gives no delay (late=0.01 rather than late=0.01:30s).
const DefaultLateDelay = 5 * time.Second

// Pace returns the shape the generator paces with: RateBytes when set,
// else Rate when set, else unpaced for a dry run and DefaultRate
// otherwise. A shape of bytes (Bytes()) paces value bytes, not events.
func (g *Gen) Pace() rate.Shape {
	switch {
	case g.RateBytes.IsSet():
		return g.RateBytes
	case g.Rate.IsSet():
		return g.Rate
	case g.DryRun:
		return rate.Of(0)
	}
	return rate.Of(DefaultRate)
}

// deferredFlag is the pflag.Value of --rate, --rate-bytes and --inject:
// a bad value is kept, not refused, so that Validate reports it together
// with every other problem.
type deferredFlag struct {
	v    pflag.Value
	err  *error
	text string
}

func (f *deferredFlag) Set(text string) error {
	*f.err, f.text = f.v.Set(text), text
	return nil
}

func (f *deferredFlag) String() string {
	if *f.err != nil {
		return f.text
	}
	return f.v.String()
}

func (f *deferredFlag) Type() string { return f.v.Type() }

func (g *Gen) bindShapes(b binder) {
	b.value(&deferredFlag{v: &g.RateBytes, err: &g.rateBytesErr}, "rate-bytes", "value bytes per second instead of events: a size (5MB, 512KiB) or a --rate shape of sizes (ramp:1MB..10MB/5m)")
	b.value(&deferredFlag{v: &g.Inject, err: &g.injectErr}, "inject", "deliberate faults, KIND=RATE,... with RATE a probability per event; kinds duplicates, "+
		"late (late=RATE:MAXDELAY), reorder, malformed, oversized, unknown_schema")
	b.string(&g.InjectManifest, "inject-manifest", "file the JSON manifest of the injected faults is written to (default: tradestream-inject-RUNID.json)")
}

func (g *Gen) validateShapes(p *problems) {
	for _, err := range []error{g.rateErr, g.rateBytesErr, g.injectErr} {
		if err != nil {
			p.addf("gen %v", err)
		}
	}
	if g.Rate.IsSet() && g.RateBytes.IsSet() {
		p.addf("gen rate: --rate %s and --rate-bytes %s both given; pace by events or by bytes, not both", g.Rate, g.RateBytes)
	}
	if g.RateBytes.IsSet() && !g.RateBytes.Bytes() {
		p.addf("gen rate bytes: %s is not a byte rate", g.RateBytes)
	}
	if g.InjectManifest != "" && !g.Inject.Any() {
		p.addf("gen inject manifest: %s given without --inject", g.InjectManifest)
	}
}

// InjectSyntax is the --inject syntax, for error messages.
const InjectSyntax = "duplicates, late (late=RATE:MAXDELAY, e.g. late=0.01:30s), reorder, malformed, oversized, unknown_schema; " +
	"e.g. duplicates=0.01,late=0.005:30s,reorder=0.01,malformed=0.002,oversized=0.001,unknown_schema=0.001"

// Inject holds the rates of deliberate faults: each is the probability,
// per generated event, that a fault of that kind is injected next to (or,
// for late and reorder, instead of the timely sending of) the event.
type Inject struct {
	// Duplicates sends the event's record a second time.
	Duplicates float64 `yaml:"duplicates"`
	// Late holds the record back until the stream's event time is up to
	// LateDelay past the record's, so that it arrives out of event-time
	// order by at most LateDelay.
	Late float64 `yaml:"late"`
	// LateDelay bounds how long a late record is held; 0 means
	// DefaultLateDelay.
	LateDelay time.Duration `yaml:"late_delay"`
	// Reorder holds the record back until the next record of the same key
	// has been sent, swapping the two.
	Reorder float64 `yaml:"reorder"`
	// Malformed sends a broken copy of the record, cycling through the
	// dead-letter reasons of a bad value: malformed_json, missing_field,
	// out_of_range, invalid_field.
	Malformed float64 `yaml:"malformed"`
	// Oversized sends a copy whose value is padded past 256 KiB.
	Oversized float64 `yaml:"oversized"`
	// UnknownSchema sends a copy under a schema version no consumer knows.
	UnknownSchema float64 `yaml:"unknown_schema"`
}

// injectKinds maps the --inject names to the fields.
func (i *Inject) kinds() map[string]*float64 {
	return map[string]*float64{
		"duplicates": &i.Duplicates, "late": &i.Late, "reorder": &i.Reorder,
		"malformed": &i.Malformed, "oversized": &i.Oversized, "unknown_schema": &i.UnknownSchema,
	}
}

// Any reports whether any fault is injected.
func (i Inject) Any() bool {
	return i.Duplicates > 0 || i.Late > 0 || i.Reorder > 0 || i.Malformed > 0 || i.Oversized > 0 || i.UnknownSchema > 0
}

// Delay returns the bound on a late record's delay.
func (i Inject) Delay() time.Duration {
	if i.LateDelay > 0 {
		return i.LateDelay
	}
	return DefaultLateDelay
}

// Set parses the --inject syntax into i: the pflag.Value of --inject.
func (i *Inject) Set(text string) error {
	var out Inject
	kinds := out.kinds()
	for _, part := range strings.Split(text, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("inject %q: want KIND=RATE; kinds are %s", part, InjectSyntax)
		}
		field, known := kinds[name]
		if !known {
			return fmt.Errorf("inject %q: unknown kind %q; kinds are %s", part, name, InjectSyntax)
		}
		if name == "late" {
			if v, delay, hasDelay := strings.Cut(val, ":"); hasDelay {
				d, err := time.ParseDuration(delay)
				if err != nil || d <= 0 {
					return fmt.Errorf("inject %q: delay %q is not a positive duration (like 30s)", part, delay)
				}
				out.LateDelay, val = d, v
			}
		}
		r, err := strconv.ParseFloat(val, 64)
		if err != nil || r < 0 || r > 1 {
			return fmt.Errorf("inject %q: rate %q is not a probability in [0, 1] (0.01 is one event in a hundred)", part, val)
		}
		*field = r
	}
	*i = out
	return nil
}

// String writes i in the syntax Set reads.
func (i *Inject) String() string {
	var parts []string
	for name, v := range i.kinds() {
		if *v <= 0 {
			continue
		}
		s := name + "=" + strconv.FormatFloat(*v, 'f', -1, 64)
		if name == "late" && i.LateDelay > 0 {
			s += ":" + i.LateDelay.String()
		}
		parts = append(parts, s)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Type names the flag's value type in --help.
func (i *Inject) Type() string { return "faults" }

// UnmarshalYAML reads Inject from either the flag syntax (inject:
// "duplicates=0.01") or a mapping of the fields.
func (i *Inject) UnmarshalYAML(unmarshal func(any) error) error {
	var text string
	if err := unmarshal(&text); err == nil {
		return i.Set(text)
	}
	type plain Inject
	return unmarshal((*plain)(i))
}
