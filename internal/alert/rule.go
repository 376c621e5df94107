package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Kind is the condition a rule watches. It is also the alert/1 "kind" of
// the alerts the rule fires.
type Kind string

// The rule kinds.
const (
	// KindPriceAbove fires when a symbol's last price crosses above the
	// threshold: one tick at or below it, the next above it.
	KindPriceAbove Kind = "price_above"
	// KindPriceBelow fires when the last price crosses below the
	// threshold: one tick at or above it, the next below it.
	KindPriceBelow Kind = "price_below"
	// KindPctMove fires when the last price has moved more than threshold
	// percent (up from the lowest or down from the highest price) within
	// the rule's window.
	KindPctMove Kind = "pct_move"
	// KindVolumeSpike fires when a tick's volume exceeds threshold times
	// the symbol's rolling baseline volume over the rule's window.
	KindVolumeSpike Kind = "volume_spike"
	// KindBigTrade fires for every trade whose notional (price times
	// quantity) exceeds the threshold.
	KindBigTrade Kind = "big_trade"
)

// Kinds lists every rule kind, in the order help texts show them.
var Kinds = []Kind{KindPriceAbove, KindPriceBelow, KindPctMove, KindVolumeSpike, KindBigTrade}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// onPrices reports whether the kind is evaluated on price ticks (the
// others on trades).
func (k Kind) onPrices() bool { return k != KindBigTrade }

// needsWindow reports whether the kind looks back over a window.
func (k Kind) needsWindow() bool { return k == KindPctMove || k == KindVolumeSpike }

// Limits on rule fields.
const (
	// MaxWindow is the longest pct_move window or volume_spike baseline.
	MaxWindow = 24 * time.Hour
	// MaxCooldown is the longest cooldown.
	MaxCooldown = 7 * 24 * time.Hour
	// maxPercent bounds a pct_move threshold (1000 %).
	maxPercent = 1000 * event.Unit
	// maxMultiple bounds a volume_spike threshold (1000x).
	maxMultiple = 1000 * event.Unit
	maxNote     = 200
)

// ErrInvalidRule is wrapped by every rule validation error.
var ErrInvalidRule = errors.New("invalid rule")

// ErrRuleNotFound is returned when no rule has the requested id.
var ErrRuleNotFound = errors.New("rule not found")

// Rule is one alert rule, as stored in the alert_rules table.
type Rule struct {
	// ID identifies the rule; the store assigns it.
	ID int64 `json:"rule_id"`
	// Kind is the condition.
	Kind Kind `json:"kind"`
	// Symbol restricts the rule to one symbol; empty matches every symbol
	// (not allowed for the price level kinds).
	Symbol string `json:"symbol,omitempty"`
	// Threshold is, by kind: the price level (price_above, price_below),
	// the move in percent (pct_move, 2.5000 = 2.5 %), the multiple of the
	// baseline volume (volume_spike, 3.0000 = 3x), or the notional of one
	// trade (big_trade).
	Threshold event.Decimal `json:"threshold"`
	// Window is the pct_move look-back and the volume_spike baseline span;
	// zero for the other kinds.
	Window time.Duration `json:"window,omitempty"`
	// Cooldown is the least event time between two alerts of the rule for
	// one symbol; zero fires on every crossing.
	Cooldown time.Duration `json:"cooldown,omitempty"`
	// Enabled rules are evaluated; disabled ones keep their state.
	Enabled bool `json:"enabled"`
	// Note is free text shown with the rule.
	Note string `json:"note,omitempty"`
	// CreatedAt is when the rule was stored.
	CreatedAt time.Time `json:"created_at"`
}

// Normalize upper-cases the symbol and trims the note, in place.
func (r *Rule) Normalize() {
	if r.Symbol != "" {
		if s, ok := event.NormalizeSymbol(r.Symbol); ok {
			r.Symbol = s
		}
	}
	r.Note = strings.TrimSpace(r.Note)
}

// Validate checks r and reports every problem at once; each wraps
// ErrInvalidRule.
func (r *Rule) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRule}, args...)...))
	}
	if !r.Kind.Valid() {
		add("kind %q: want one of %s", r.Kind, kindList())
	}
	switch {
	case r.Symbol == "" && (r.Kind == KindPriceAbove || r.Kind == KindPriceBelow):
		add("symbol: a price level needs a symbol")
	case r.Symbol != "" && !event.ValidSymbol(r.Symbol):
		add("symbol %q: want 1 to 10 letters, digits or dots, starting with a letter", r.Symbol)
	}
	switch {
	case r.Threshold <= 0:
		add("threshold %s: must be positive", r.Threshold)
	case r.Kind == KindPctMove && r.Threshold > maxPercent:
		add("threshold %s: a move above 1000 %% never happens", r.Threshold)
	case r.Kind == KindVolumeSpike && r.Threshold > maxMultiple:
		add("threshold %s: at most 1000 times the baseline", r.Threshold)
	case (r.Kind == KindPriceAbove || r.Kind == KindPriceBelow) && r.Threshold > event.MaxPrice:
		add("threshold %s: above the largest price", r.Threshold)
	case r.Threshold > event.MaxMoney:
		add("threshold %s: out of range", r.Threshold)
	}
	switch {
	case r.Kind.needsWindow() && r.Window <= 0:
		add("window: %s needs a positive window", r.Kind)
	case !r.Kind.needsWindow() && r.Window != 0 && r.Kind.Valid():
		add("window: %s does not use a window", r.Kind)
	case r.Window > MaxWindow:
		add("window %v: at most %v", r.Window, MaxWindow)
	}
	if r.Cooldown < 0 || r.Cooldown > MaxCooldown {
		add("cooldown %v: want 0 to %v", r.Cooldown, MaxCooldown)
	}
	if len(r.Note) > maxNote {
		add("note: at most %d bytes", maxNote)
	}
	return errors.Join(errs...)
}

// String describes the rule in one line, e.g. "#7 price_above AAPL 200.0000".
func (r *Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s %s", r.ID, r.Kind, orAny(r.Symbol), r.Threshold)
	if r.Window > 0 {
		fmt.Fprintf(&b, " window %v", r.Window)
	}
	if r.Cooldown > 0 {
		fmt.Fprintf(&b, " cooldown %v", r.Cooldown)
	}
	return b.String()
}

func orAny(symbol string) string {
	if symbol == "" {
		return "*"
	}
	return symbol
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
