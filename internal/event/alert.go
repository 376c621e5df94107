package event

import "time"

// Alert is a fired alert rule (schema alert/1, topic alerts, keyed by
// symbol). Kind names the rule's condition (for example "price_above");
// Value is the observed value that triggered it.
type Alert struct {
	ID      string    `json:"alert_id"`
	RuleID  int64     `json:"rule_id"`
	Kind    string    `json:"kind"`
	Symbol  string    `json:"symbol"`
	Message string    `json:"message"`
	Value   Decimal   `json:"value"`
	Time    time.Time `json:"ts"`
}

// Key returns the Kafka record key: the symbol.
func (a *Alert) Key() []byte { return []byte(a.Symbol) }

// AppendKey appends the Kafka record key (the symbol) to dst.
func (a *Alert) AppendKey(dst []byte) []byte { return append(dst, a.Symbol...) }

// AppendJSON appends the alert/1 JSON encoding of a to dst.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"alert_id":`...)
	dst = appendString(dst, a.ID)
	dst = append(dst, `,"rule_id":`...)
	dst = appendInt(dst, a.RuleID)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, a.Kind)
	dst = append(dst, `,"symbol":`...)
	dst = appendString(dst, a.Symbol)
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, a.Message)
	dst = append(dst, `,"value":`...)
	dst = appendDecimal(dst, a.Value)
	dst = append(dst, `,"ts":`...)
	dst = appendTime(dst, a.Time)
	return append(dst, '}')
}

// Validate checks a against the alert/1 rules: a non-empty id of at most
// 128 bytes, a positive rule id, a kind of lower-case letters, digits and
// underscores, a valid symbol, a non-empty message, |value| <= MaxMoney and
// a timestamp in range.
func (a *Alert) Validate() error {
	switch {
	case a.ID == "":
		return missing("alert_id")
	case len(a.ID) > maxID:
		return outOfRange("alert_id", "too long")
	case a.RuleID <= 0:
		return outOfRange("rule_id", "must be positive")
	case a.Kind == "":
		return missing("kind")
	case !validKind(a.Kind):
		return invalid("kind", "want ^[a-z][a-z0-9_]{0,63}$")
	case a.Symbol == "":
		return missing("symbol")
	case !validSymbol(a.Symbol):
		return invalid("symbol", "want ^[A-Z][A-Z0-9.]{0,9}$")
	case a.Message == "":
		return missing("message")
	case len(a.Message) > maxMessage:
		return outOfRange("message", "too long")
	case a.Value.Abs() > MaxMoney:
		return outOfRange("value", "magnitude too large")
	}
	return checkTime("ts", a.Time)
}

func validKind(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
