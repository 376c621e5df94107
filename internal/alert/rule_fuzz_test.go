package alert

import (
	"errors"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// FuzzRuleValidate validates arbitrary rules: never a panic, every
// problem wraps ErrInvalidRule, and a rule that passes holds the limits
// the engine relies on (a known kind, a positive bounded threshold, a
// window exactly when the kind needs one, a bounded cooldown and note).
func FuzzRuleValidate(f *testing.F) {
	f.Add("price_above", "aapl", int64(2000000), int64(0), int64(0), "note")
	f.Add("pct_move", "", int64(25000), int64(5*time.Minute), int64(time.Minute), "")
	f.Add("volume_spike", "BRK.B", int64(30000), int64(-1), int64(-1), "  x  ")
	f.Add("big_trade", "\x00\xff", int64(-1), int64(MaxWindow+1), int64(MaxCooldown+1), string(make([]byte, 300)))
	f.Add("PRICE_BELOW", " msft ", int64(event.MaxPrice+1), int64(1), int64(1), "\u2028")
	f.Fuzz(func(t *testing.T, kind, symbol string, threshold, window, cooldown int64, note string) {
		r := Rule{Kind: Kind(kind), Symbol: symbol, Threshold: event.Decimal(threshold),
			Window: time.Duration(window), Cooldown: time.Duration(cooldown), Note: note}
		r.Normalize()
		err := r.Validate()
		_ = r.String()
		if err != nil {
			if !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("Validate error %v does not wrap ErrInvalidRule", err)
			}
			return
		}
		switch {
		case !r.Kind.Valid():
			t.Fatalf("kind %q accepted", r.Kind)
		case r.Threshold <= 0 || r.Threshold > event.MaxMoney:
			t.Fatalf("threshold %s accepted", r.Threshold)
		case r.Kind.needsWindow() != (r.Window > 0) || r.Window > MaxWindow:
			t.Fatalf("window %v accepted for %s", r.Window, r.Kind)
		case r.Cooldown < 0 || r.Cooldown > MaxCooldown:
			t.Fatalf("cooldown %v accepted", r.Cooldown)
		case len(r.Note) > maxNote:
			t.Fatalf("note of %d bytes accepted", len(r.Note))
		case r.Symbol != "" && !event.ValidSymbol(r.Symbol):
			t.Fatalf("symbol %q accepted", r.Symbol)
		}
	})
}
