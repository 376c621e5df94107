package sink

import (
	"fmt"
	"math"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/tradestream/tradestream/internal/event"
)

// This file is what declarative transforms see of a Record: each topic's
// fields by their JSON names (a user's account fields flattened:
// account_id, account_type, currency, balance), as CEL values, and how
// each is set. Money is a double in expressions (a Decimal when set back,
// rounded to its four decimals); times are timestamps.

// fieldKind is the type of a field, in Go and in CEL.
type fieldKind int

const (
	kindInt fieldKind = iota
	kindString
	kindDecimal
	kindTime
	kindStrings
	kindDouble // derived, read-only
)

func (k fieldKind) String() string {
	return [...]string{"int", "string", "double (money)", "timestamp", "list of strings", "double"}[k]
}

// field is one field of one topic's event. set is nil for a read-only
// (derived) field; optional fields may be unset.
type field struct {
	kind     fieldKind
	get      func(*Record) any
	set      func(*Record, any)
	optional bool
}

// eventFields are the fields of each short topic name's event.
var eventFields = map[string]map[string]field{
	topicUsers: {
		"user_id":        intField(func(r *Record) *int64 { return &r.User.ID }),
		"name":           strField(func(r *Record) *string { return &r.User.Name }),
		"email":          strField(func(r *Record) *string { return &r.User.Email }),
		"country":        strField(func(r *Record) *string { return &r.User.Country }),
		"signup_at":      timeField(func(r *Record) *time.Time { return &r.User.SignupAt }),
		"experience":     typedStrField(func(r *Record) *event.Experience { return &r.User.Experience }),
		"risk_tolerance": typedStrField(func(r *Record) *event.RiskTolerance { return &r.User.RiskTolerance }),
		"sectors":        optional(sectorsField()),
		"updated_at":     timeField(func(r *Record) *time.Time { return &r.User.UpdatedAt }),
		"account_id":     intField(func(r *Record) *int64 { return &r.User.Account.ID }),
		"account_type":   typedStrField(func(r *Record) *event.AccountType { return &r.User.Account.Type }),
		"currency":       strField(func(r *Record) *string { return &r.User.Account.Currency }),
		"balance":        decField(func(r *Record) *event.Decimal { return &r.User.Account.Balance }),
	},
	topicPrices: {
		"symbol": strField(func(r *Record) *string { return &r.Price.Symbol }),
		"sector": strField(func(r *Record) *string { return &r.Price.Sector }),
		"seq":    intField(func(r *Record) *int64 { return &r.Price.Seq }),
		"ts":     timeField(func(r *Record) *time.Time { return &r.Price.Time }),
		"bid":    decField(func(r *Record) *event.Decimal { return &r.Price.Bid }),
		"ask":    decField(func(r *Record) *event.Decimal { return &r.Price.Ask }),
		"last":   decField(func(r *Record) *event.Decimal { return &r.Price.Last }),
		"volume": intField(func(r *Record) *int64 { return &r.Price.Volume }),
	},
	topicTrades: {
		"trade_id":      intField(func(r *Record) *int64 { return &r.Trade.ID }),
		"user_id":       intField(func(r *Record) *int64 { return &r.Trade.UserID }),
		"account_id":    intField(func(r *Record) *int64 { return &r.Trade.AccountID }),
		"symbol":        strField(func(r *Record) *string { return &r.Trade.Symbol }),
		"side":          typedStrField(func(r *Record) *event.Side { return &r.Trade.Side }),
		"quantity":      intField(func(r *Record) *int64 { return &r.Trade.Quantity }),
		"price":         decField(func(r *Record) *event.Decimal { return &r.Trade.Price }),
		"fee":           decField(func(r *Record) *event.Decimal { return &r.Trade.Fee }),
		"ts":            timeField(func(r *Record) *time.Time { return &r.Trade.Time }),
		"balance_after": decField(func(r *Record) *event.Decimal { return &r.Trade.BalanceAfter }),
		"order_type":    optional(typedStrField(func(r *Record) *event.OrderType { return &r.Trade.OrderType })),
		"limit_price":   optional(decField(func(r *Record) *event.Decimal { return &r.Trade.LimitPrice })),
		// notional is price × quantity, read-only.
		"notional": {kind: kindDouble, get: func(r *Record) any { return r.Trade.Notional().Float64() }},
	},
	topicAlerts: {
		"alert_id": strField(func(r *Record) *string { return &r.Alert.ID }),
		"rule_id":  intField(func(r *Record) *int64 { return &r.Alert.RuleID }),
		"kind":     strField(func(r *Record) *string { return &r.Alert.Kind }),
		"symbol":   strField(func(r *Record) *string { return &r.Alert.Symbol }),
		"message":  strField(func(r *Record) *string { return &r.Alert.Message }),
		"value":    decField(func(r *Record) *event.Decimal { return &r.Alert.Value }),
		"ts":       timeField(func(r *Record) *time.Time { return &r.Alert.Time }),
	},
}

// shortTopics are the short topic names, in order.
var shortTopics = []string{topicUsers, topicPrices, topicTrades, topicAlerts}

func optional(f field) field { f.optional = true; return f }

func intField(p func(*Record) *int64) field {
	return field{kind: kindInt, get: func(r *Record) any { return *p(r) }, set: func(r *Record, v any) { *p(r) = v.(int64) }}
}

func strField(p func(*Record) *string) field {
	return field{kind: kindString, get: func(r *Record) any { return *p(r) }, set: func(r *Record, v any) { *p(r) = v.(string) }}
}

func typedStrField[S ~string](p func(*Record) *S) field {
	return field{kind: kindString, get: func(r *Record) any { return string(*p(r)) }, set: func(r *Record, v any) { *p(r) = S(v.(string)) }}
}

func decField(p func(*Record) *event.Decimal) field {
	return field{kind: kindDecimal, get: func(r *Record) any { return p(r).Float64() }, set: func(r *Record, v any) { *p(r) = v.(event.Decimal) }}
}

func timeField(p func(*Record) *time.Time) field {
	return field{kind: kindTime, get: func(r *Record) any { return *p(r) }, set: func(r *Record, v any) { *p(r) = v.(time.Time) }}
}

func sectorsField() field {
	return field{kind: kindStrings,
		get: func(r *Record) any { return r.User.Sectors },
		set: func(r *Record, v any) { r.User.Sectors = v.([]string) }}
}

// topicOf returns the short topic name of rec's event, "" for a tombstone.
func topicOf(rec *Record) string {
	switch {
	case rec.User != nil:
		return topicUsers
	case rec.Price != nil:
		return topicPrices
	case rec.Trade != nil:
		return topicTrades
	case rec.Alert != nil:
		return topicAlerts
	}
	return ""
}

// validate checks rec's event again after a step changed it, as decoding
// did.
func validate(rec *Record) error {
	switch {
	case rec.User != nil:
		return rec.User.Validate()
	case rec.Price != nil:
		return rec.Price.Validate()
	case rec.Trade != nil:
		return rec.Trade.ValidateVersion(rec.Schema)
	case rec.Alert != nil:
		return rec.Alert.Validate()
	}
	return nil
}

// convert turns a CEL result into the Go value of a field of kind k.
func convert(k fieldKind, v ref.Val) (any, error) {
	switch k {
	case kindInt:
		switch x := v.(type) {
		case types.Int:
			return int64(x), nil
		case types.Uint:
			if uint64(x) <= math.MaxInt64 {
				return int64(x), nil
			}
		}
	case kindString:
		if s, ok := v.(types.String); ok {
			return string(s), nil
		}
	case kindDecimal:
		switch x := v.(type) {
		case types.Double:
			f := float64(x)
			if math.IsNaN(f) || math.Abs(f) > float64(event.MaxMoney)/float64(event.Unit) {
				return nil, fmt.Errorf("%v is out of range", f)
			}
			return event.FromFloat(f), nil
		case types.Int:
			return event.FromInt(int64(x)), nil
		case types.String:
			return event.ParseDecimal(string(x))
		}
	case kindTime:
		if ts, ok := v.(types.Timestamp); ok {
			return ts.Time, nil
		}
	case kindStrings:
		native, err := v.ConvertToNative(stringsType)
		if err == nil {
			return native, nil
		}
	}
	return nil, fmt.Errorf("got a %s, want a %s", v.Type().TypeName(), k)
}
