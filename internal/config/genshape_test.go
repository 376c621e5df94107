package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPace checks which shape the generator paces with: a dry run without
// an explicit rate is unpaced, an explicit rate is honoured everywhere,
// and --rate-bytes paces bytes.
func TestPace(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  string
		bytes bool
	}{
		{"default", nil, nil, "200", false},
		{"dry run without a rate", []string{"--dry-run"}, nil, "0", false},
		{"dry run with a rate flag", []string{"--dry-run", "--rate", "50"}, nil, "50", false},
		{"dry run with a rate variable", []string{"--dry-run"}, map[string]string{"TRADESTREAM_GEN_RATE": "70"}, "70", false},
		{"shape", []string{"--rate", "ramp:10..20/1m"}, nil, "ramp:10..20/1m", false},
		{"shape variable", nil, map[string]string{"TRADESTREAM_GEN_RATE": "burst:1,9/1s/4s"}, "burst:1,9/1s/4s", false},
		{"bytes", []string{"--rate-bytes", "5MB"}, nil, "5MB", true},
		{"bytes shape variable", nil, map[string]string{"TRADESTREAM_GEN_RATE_BYTES": "steps:1MB,2MB/10s"}, "steps:1MB,2MB/10s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			fs := newFlags(&c)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := Load(&c, fs, "", func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if err := c.Gen.Validate(); err != nil {
				t.Fatal(err)
			}
			got := c.Gen.Pace()
			if got.String() != tt.want || got.Bytes() != tt.bytes {
				t.Errorf("got %q (bytes %v), want %q (bytes %v)", got, got.Bytes(), tt.want, tt.bytes)
			}
		})
	}
}

func TestRateFlagErrors(t *testing.T) {
	// Bad shapes are reported by Validate, with the other problems.
	c := Default()
	fs := newFlags(&c)
	if err := fs.Parse([]string{"--rate", "ramp:5..1", "--users", "0", "--inject", "late=2"}); err != nil {
		t.Fatal(err)
	}
	if err := Load(&c, fs, "", func(k string) string {
		return map[string]string{"TRADESTREAM_GEN_RATE_BYTES": "lots"}[k]
	}); err != nil {
		t.Fatal(err)
	}
	err := c.Gen.Validate()
	for _, want := range []string{`rate "ramp:5..1"`, "ramp:FROM..TO/DURATION", `rate "lots"`, "not a size", "users", `inject "late=2"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
}

func TestInjectSyntax(t *testing.T) {
	var in Inject
	if err := in.Set("duplicates=0.01,late=0.005:30s,reorder=0.01,malformed=0.002,oversized=0.001,unknown_schema=0.001"); err != nil {
		t.Fatal(err)
	}
	want := Inject{Duplicates: 0.01, Late: 0.005, LateDelay: 30 * time.Second, Reorder: 0.01, Malformed: 0.002, Oversized: 0.001, UnknownSchema: 0.001}
	if in != want {
		t.Errorf("got %+v, want %+v", in, want)
	}
	var again Inject
	if err := again.Set(in.String()); err != nil || again != in {
		t.Errorf("String %q re-read as %+v (%v), want %+v", in.String(), again, err, in)
	}
	if in.Delay() != 30*time.Second || (Inject{Late: 0.1}).Delay() != DefaultLateDelay {
		t.Errorf("delays: got %v and %v", in.Delay(), (Inject{Late: 0.1}).Delay())
	}
	for _, tt := range []struct{ text, want string }{
		{"dupes=0.1", `unknown kind "dupes"`},
		{"late", "want KIND=RATE"},
		{"late=2", "probability"},
		{"late=0.1:soon", "positive duration"},
	} {
		var i Inject
		if err := i.Set(tt.text); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Set(%q): got %v, want an error containing %q", tt.text, err, tt.want)
		}
	}
}

func TestInjectYAML(t *testing.T) {
	dir := t.TempDir()
	for _, text := range []string{
		"gen:\n  inject: duplicates=0.5,late=0.25:1s\n  rate: ramp:1..2/1s\n  rate_bytes: 0\n",
		"gen:\n  inject:\n    duplicates: 0.5\n    late: 0.25\n    late_delay: 1s\n  rate: ramp:1..2/1s\n",
	} {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		fs := newFlags(&c)
		if err := Load(&c, fs, path, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if c.Gen.Inject != (Inject{Duplicates: 0.5, Late: 0.25, LateDelay: time.Second}) || c.Gen.Rate.String() != "ramp:1..2/1s" {
			t.Errorf("%q: got inject %+v, rate %q", text, c.Gen.Inject, c.Gen.Rate)
		}
	}
}
