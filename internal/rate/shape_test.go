package rate

import (
	"math"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var shapes = []string{
	"5000",
	"ramp:1000..20000/5m",
	"ramp:0..300/2s",
	"ramp:20000..1000/1m",
	"steps:1000,5000,10000/1m",
	"steps:0,40/1s",
	"burst:2000,20000/10s/50s",
	"burst:0,500/1s/3s",
	"daily:20000/10m",
}

func mustParse(t *testing.T, text string) Shape {
	t.Helper()
	s, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCountIsIntegral checks Count against a fine numerical integral of At.
func TestCountIsIntegral(t *testing.T) {
	for _, text := range shapes {
		t.Run(text, func(t *testing.T) {
			s := mustParse(t, text)
			const dt = time.Millisecond
			var sum float64
			for at := time.Duration(0); at < 25*time.Minute; at += dt {
				sum += s.At(at+dt/2) * dt.Seconds()
				if at%(7*time.Second+dt) == 0 || at+dt >= 25*time.Minute {
					got, want := s.Count(at+dt), sum
					if math.Abs(got-want) > 1e-6*want+2 {
						t.Fatalf("Count(%v) = %.3f, want %.3f (integral of At)", at+dt, got, want)
					}
				}
			}
		})
	}
}

// TestDueInvertsCount checks that unit n is due exactly when Count
// reaches n, and that Due never goes backwards.
func TestDueInvertsCount(t *testing.T) {
	for _, text := range shapes {
		t.Run(text, func(t *testing.T) {
			s := mustParse(t, text)
			total := s.Count(25 * time.Minute)
			var last time.Duration
			for i := 0; i <= 5000; i++ {
				n := total * float64(i) / 5000
				due := s.Due(n)
				if due < last {
					t.Fatalf("Due(%.1f) = %v, before Due of the previous unit %v", n, due, last)
				}
				last = due
				if got := s.Count(due); math.Abs(got-n) > 1e-6*n+1e-3 {
					t.Fatalf("Count(Due(%.3f)) = %.3f, want %.3f", n, got, n)
				}
			}
		})
	}
}

func TestShapeValues(t *testing.T) {
	tests := []struct {
		text string
		at   time.Duration
		want float64
	}{
		{"5000", time.Hour, 5000},
		{"ramp:1000..20000/5m", 0, 1000},
		{"ramp:1000..20000/5m", 150 * time.Second, 10500},
		{"ramp:1000..20000/5m", time.Hour, 20000},
		{"steps:1000,5000,10000/1m", 30 * time.Second, 1000},
		{"steps:1000,5000,10000/1m", 90 * time.Second, 5000},
		{"steps:1000,5000,10000/1m", time.Hour, 10000},
		{"burst:2000,20000/10s/50s", 5 * time.Second, 20000},
		{"burst:2000,20000/10s/50s", 30 * time.Second, 2000},
		{"burst:2000,20000/10s/50s", 55 * time.Second, 20000},
		{"daily:20000/10m", 0, 40000},
		{"daily:20000/10m", 5 * time.Minute, 10000},
		{"daily:20000/10m", 10 * time.Minute, 40000},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.text).At(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s at %v: got %v, want %v", tt.text, tt.at, got, tt.want)
		}
	}
	// The daily curve averages its mean over each period.
	if got := mustParse(t, "daily:20000/10m").Count(30 * time.Minute); math.Abs(got-20000*1800) > 1e-3 {
		t.Errorf("daily:20000/10m over 30m: got %v, want %v", got, 20000*1800)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"fast", `"fast" is not a number`},
		{"-5", "negative"},
		{"ramp:1000/5m", "FROM..TO"},
		{"ramp:1000..2000", "ramp:FROM..TO/DURATION"},
		{"ramp:1000..0/5m", "end above 0"},
		{"ramp:1..2/soon", `"soon" is not a duration`},
		{"steps:1,2,0/1m", "last step"},
		{"burst:1,2,3/1s/5s", "two rates"},
		{"burst:1,2/5s/5s", "shorter than its period"},
		{"burst:1,2/5s", "BASE,PEAK/LENGTH/PERIOD"},
		{"daily:0/1m", "mean must be above 0"},
		{"wave:1/1m", `unknown shape "wave"`},
		{"steps:1,2/0s", "must be positive"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		if err == nil {
			t.Errorf("Parse(%q): no error, want one containing %q", tt.text, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "ramp:FROM..TO/DURATION") {
			t.Errorf("Parse(%q): got %q, want it to contain %q and the syntax", tt.text, err, tt.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, text := range append(shapes, "0", "2.5") {
		if got := mustParse(t, text).String(); got != text {
			t.Errorf("Parse(%q).String() = %q", text, got)
		}
	}
	for _, tt := range []struct{ text, want string }{
		{"5MB", "5MB"}, {"512KiB", "524288B"}, {"ramp:1MB..10MB/5m", "ramp:1MB..10MB/5m"}, {"1500", "1500B"},
	} {
		s, err := ParseBytes(tt.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("ParseBytes(%q).String() = %q, want %q", tt.text, got, tt.want)
		}
		if !s.Bytes() {
			t.Errorf("ParseBytes(%q) is not a byte shape", tt.text)
		}
	}
	if s, _ := ParseBytes("5MB"); s.At(0) != 5e6 {
		t.Errorf("5MB: got %v bytes/s, want 5e6", s.At(0))
	}
}

func TestYAML(t *testing.T) {
	var c struct {
		A Shape `yaml:"a"`
		B Shape `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: 5000\nb: ramp:1..2/1s\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.A.String() != "5000" || c.B.String() != "ramp:1..2/1s" {
		t.Errorf("got %q and %q, want 5000 and ramp:1..2/1s", c.A, c.B)
	}
	if err := yaml.Unmarshal([]byte("a: ramp:1/1s\n"), &c); err == nil {
		t.Error("bad YAML shape: no error")
	}
}

func TestUnpaced(t *testing.T) {
	for _, s := range []Shape{{}, Of(0)} {
		if s.Paced() || s.Due(1e6) != 0 || s.Count(time.Hour) != 0 {
			t.Errorf("%q: paced %v, Due %v, Count %v; want unpaced", s, s.Paced(), s.Due(1e6), s.Count(time.Hour))
		}
	}
}
