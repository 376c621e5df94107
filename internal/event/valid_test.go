package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var validCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-12.25E-2`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b": null}] } `,
	`{"s":"\"\\\/\b\f\n\r\t\u00e9"}`, "\"\xff\xfe\"", `{"a":1,"a":2}`,
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{,}`, `[,1]`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `truex`,
	`{"a" 1}`, `{a:1}`, `{"a":}`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01\"", `"abc`, `[1 2]`, `1 2`, `{"a":1}}`, `[[]`,
	"\t\r\n[\n1\n]\n", `NaN`, `Infinity`, `'a'`, `{"a":"b"`, `[{"a":[{"b":[]}]}]`,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%q) = %v, want %v (encoding/json)", c, got, want)
		}
	}
	for _, depth := range []int{maxNesting, maxNesting + 1} {
		arr := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		obj := strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
		for _, c := range []string{arr, obj} {
			if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
				t.Errorf("validJSON at depth %d = %v, want %v (encoding/json)", depth, got, want)
			}
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Errorf("validJSON(%q) = %v, want %v (encoding/json)", data, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	trade := []byte(`{"trade_id":123456789,"user_id":42,"account_id":4201,"symbol":"NVDA","side":"buy","quantity":120,"price":"121.4000","fee":"7.2840","ts":"2026-01-05T14:30:01.250Z","balance_after":"98765.4321","order_type":"limit","limit_price":"121.5000"}`)
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validJSON", validJSON}, {"encoding_json", json.Valid}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(trade)))
			for b.Loop() {
				if !bc.valid(trade) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

var utcCases = []string{
	"2026-01-05T14:30:00Z", "2026-01-05T14:30:00.5Z", "2026-01-05T14:30:00.123456789Z", "2024-02-29T00:00:00Z",
	"2025-02-29T00:00:00Z", "2026-04-31T10:00:00Z", "2026-13-01T00:00:00Z", "2026-01-05T24:00:00Z", "2026-01-05T14:60:00Z",
	"2026-01-05T14:30:60Z", "2026-01-05T14:30:00.Z", "2026-01-05T14:30:00.1234567890Z", "2026-01-05t14:30:00Z",
	"2026-01-05T14:30:00+01:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2026-1-05T14:30:00Z", "2026-01-05T14:30:00,5Z",
}

func FuzzParseUTC(f *testing.F) {
	for _, c := range utcCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC([]byte(s))
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !got.Equal(want.UTC()) || got.Location() != time.UTC {
			t.Errorf("parseUTC(%q) = %v, want %v, %v (time.Parse)", s, got, want, err)
		}
	})
}

func TestParseUTCTakesTheGeneratorsForm(t *testing.T) {
	for _, c := range utcCases {
		_, ok := parseUTC([]byte(c))
		want, err := time.Parse(time.RFC3339Nano, c)
		if ok && err != nil {
			t.Errorf("parseUTC(%q) accepted what time.Parse refuses: %v", c, err)
		}
		if !ok && err == nil && want.Location() == time.UTC && strings.HasSuffix(c, "Z") && len(c) <= 30 && !strings.Contains(c, ",") {
			t.Errorf("parseUTC(%q) refused the generator's form", c)
		}
	}
}
