package event

import (
	"encoding/json"
	"strings"
	"testing"
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
