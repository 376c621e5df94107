package cli

import (
	"testing"

	"github.com/tradestream/tradestream/internal/event"
)

// FuzzParseRule parses arbitrary KIND SYMBOL THRESHOLD arguments: never a
// panic, and what parses has a known kind, a valid symbol or none, and
// the threshold's own value.
func FuzzParseRule(f *testing.F) {
	for _, a := range [][3]string{
		{"price_above", "AAPL", "200"}, {"PCT_MOVE", "nvda", "2.5"}, {"big_trade", "*", "1000000"},
		{"volume_spike", "any", "4"}, {"x", "\x00", "1e9"}, {"", "", ""}, {"price_below", "BRK.B", "-0.00001"},
		{"price_above", "ÄPL", "922337203685477.5808"},
	} {
		f.Add(a[0], a[1], a[2])
	}
	f.Fuzz(func(t *testing.T, kind, symbol, threshold string) {
		r, err := parseRule([]string{kind, symbol, threshold})
		if err != nil {
			return
		}
		if !r.Kind.Valid() {
			t.Fatalf("parseRule(%q) kind %q accepted", kind, r.Kind)
		}
		if r.Symbol != "" && !event.ValidSymbol(r.Symbol) {
			t.Fatalf("parseRule(%q) symbol %q accepted", symbol, r.Symbol)
		}
		if d, err := event.ParseDecimal(threshold); err != nil || d != r.Threshold {
			t.Fatalf("parseRule threshold %q = %s, want %d, %v", threshold, r.Threshold, d, err)
		}
		_ = r.Validate()
	})
}
