package market

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Session selects how the simulated clock treats exchange hours
// (09:30-16:00 America/New_York, Monday to Friday; holidays are not
// modelled).
type Session uint8

const (
	// SessionExtended (the default) runs the clock continuously. Outside
	// regular hours the market trades as in extended hours: volatility is a
	// quarter of its regular level, volume and trading activity a few
	// percent, spreads wider.
	SessionExtended Session = iota
	// SessionRegular keeps the clock inside regular hours: a round that
	// would fall after the close moves to the next weekday's open, and the
	// first round of a day carries an overnight gap return.
	SessionRegular
)

// String returns "extended" or "regular".
func (s Session) String() string {
	switch s {
	case SessionExtended:
		return "extended"
	case SessionRegular:
		return "regular"
	}
	return fmt.Sprintf("Session(%d)", uint8(s))
}

// Limits on Config values.
const (
	// MaxUsers bounds Config.Users; every profile is held in memory.
	MaxUsers = 2_000_000
	// MaxTickInterval bounds Config.TickInterval.
	MaxTickInterval = 24 * time.Hour
)

// Defaults applied by New to zero optional fields.
const (
	DefaultTickInterval  = time.Second
	DefaultTradeActivity = 1.0
	DefaultFeeRate       = event.Decimal(5)          // 0.0005, i.e. 5 basis points of notional
	DefaultMinFee        = event.Decimal(event.Unit) // 1.0000 per trade
	defaultTradeSchema   = event.SchemaTradeLatest
)

// Config holds everything that determines a simulation. The same Config
// gives the same event stream, event for event.
type Config struct {
	// Seed seeds every random choice (users, prices, trades).
	Seed uint64
	// Users is the number of simulated users, 1..MaxUsers.
	Users int
	// Universe lists the tradable instruments (see DefaultUniverse).
	Universe []Instrument
	// Start is the simulated time of the first event; user events carry it,
	// and price rounds follow it at TickInterval steps. Required; New keeps
	// it to the microsecond (PostgreSQL's precision), in UTC.
	Start time.Time
	// TickInterval is the simulated time between price rounds, at least
	// 1ms (whole microseconds keep every timestamp to the microsecond).
	// Zero means DefaultTickInterval (1s).
	TickInterval time.Duration
	// Session selects continuous (default) or regular-hours-only time.
	Session Session
	// TradeSchema is event.SchemaTradeV1 or event.SchemaTradeV2 (the
	// default when empty). With trade/1, trades carry no order type.
	TradeSchema string
	// TradeActivity scales every user's per-round trade probability. Zero
	// means DefaultTradeActivity (1).
	TradeActivity float64
	// FeeRate is the commission as a fraction of notional; zero means
	// DefaultFeeRate (0.0005).
	FeeRate event.Decimal
	// MinFee is the minimum commission per trade; zero means DefaultMinFee
	// (1.0000).
	MinFee event.Decimal
	// Kinds selects the kinds of events the Sim produces; zero means
	// KindAll. Without KindTrade, trades are not simulated at all, which
	// makes a prices-only stream cheap however many users there are; the
	// prices themselves never depend on trades, so they are the same
	// whatever Kinds holds, and so are the users.
	Kinds Kind
	// Scenario, when not nil, scripts market events on simulated time
	// (see Scenario); its symbols and sectors must be in Universe.
	Scenario *Scenario
}

// withDefaults returns c with zero optional fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.TradeSchema == "" {
		c.TradeSchema = defaultTradeSchema
	}
	if c.TradeActivity == 0 {
		c.TradeActivity = DefaultTradeActivity
	}
	if c.FeeRate == 0 {
		c.FeeRate = DefaultFeeRate
	}
	if c.MinFee == 0 {
		c.MinFee = DefaultMinFee
	}
	if c.Kinds == 0 {
		c.Kinds = KindAll
	}
	return c
}

// Time range accepted for Config.Start.
var (
	minStart = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	maxStart = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate reports every problem with c at once (joined with errors.Join),
// or nil. Zero optional fields are fine: New fills in their defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Users < 1 {
		errs = append(errs, fmt.Errorf("users is %d, want at least 1", c.Users))
	} else if c.Users > MaxUsers {
		errs = append(errs, fmt.Errorf("users is %d, want at most %d", c.Users, MaxUsers))
	}
	if len(c.Universe) == 0 {
		errs = append(errs, errors.New("universe is empty"))
	}
	seen := make(map[string]int, len(c.Universe))
	for i, in := range c.Universe {
		errs = append(errs, in.validate(i)...)
		if j, dup := seen[in.Symbol]; dup {
			errs = append(errs, fmt.Errorf("universe[%d] %q: duplicate symbol (also universe[%d])", i, in.Symbol, j))
		} else {
			seen[in.Symbol] = i
		}
	}
	if c.Start.IsZero() {
		errs = append(errs, errors.New("start time is required"))
	} else if c.Start.Before(minStart) || !c.Start.Before(maxStart) {
		errs = append(errs, fmt.Errorf("start time %s is outside 1990..2200", c.Start.Format(time.RFC3339)))
	}
	if c.TickInterval < 0 || c.TickInterval > MaxTickInterval {
		errs = append(errs, fmt.Errorf("tick interval %s must be in (0, %s]", c.TickInterval, MaxTickInterval))
	} else if c.TickInterval > 0 && c.TickInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("tick interval %s is below 1ms", c.TickInterval))
	} else if c.TickInterval%time.Microsecond != 0 {
		errs = append(errs, fmt.Errorf("tick interval %s is not a whole number of microseconds", c.TickInterval))
	}
	if c.Session > SessionRegular {
		errs = append(errs, fmt.Errorf("unknown session mode %d", c.Session))
	}
	switch c.TradeSchema {
	case "", event.SchemaTradeV1, event.SchemaTradeV2:
	default:
		errs = append(errs, fmt.Errorf("trade schema %q is not %s or %s", c.TradeSchema, event.SchemaTradeV1, event.SchemaTradeV2))
	}
	if math.IsNaN(c.TradeActivity) || c.TradeActivity < 0 || c.TradeActivity > 100 {
		errs = append(errs, fmt.Errorf("trade activity %v must be in [0, 100]", c.TradeActivity))
	}
	if c.FeeRate < 0 || c.FeeRate > event.Unit/10 {
		errs = append(errs, fmt.Errorf("fee rate %s must be in [0, 0.1]", c.FeeRate))
	}
	if c.MinFee < 0 || c.MinFee > 1000*event.Unit {
		errs = append(errs, fmt.Errorf("minimum fee %s must be in [0, 1000]", c.MinFee))
	}
	if c.Kinds&^KindAll != 0 {
		errs = append(errs, fmt.Errorf("unknown event kinds %d", c.Kinds&^KindAll))
	}
	return errors.Join(errs...)
}
