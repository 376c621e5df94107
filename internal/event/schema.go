package event

// Schema versions carried in the HeaderSchema record header. A consumer
// accepts every version listed here and dead-letters anything else.
const (
	SchemaUserV1  = "user/1"
	SchemaPriceV1 = "price/1"
	SchemaTradeV1 = "trade/1"
	SchemaTradeV2 = "trade/2"
	SchemaAlertV1 = "alert/1"
)

// SchemaTradeLatest is the trade schema producers write by default.
const SchemaTradeLatest = SchemaTradeV2

// KnownSchema reports whether s is a schema version this package decodes.
func KnownSchema(s string) bool {
	switch s {
	case SchemaUserV1, SchemaPriceV1, SchemaTradeV1, SchemaTradeV2, SchemaAlertV1:
		return true
	}
	return false
}

// Experience is a user's trading experience level.
type Experience string

// Experience levels, from least to most experienced.
const (
	ExperienceBeginner     Experience = "beginner"
	ExperienceIntermediate Experience = "intermediate"
	ExperienceAdvanced     Experience = "advanced"
	ExperienceProfessional Experience = "professional"
)

// Valid reports whether e is a known experience level.
func (e Experience) Valid() bool {
	switch e {
	case ExperienceBeginner, ExperienceIntermediate, ExperienceAdvanced, ExperienceProfessional:
		return true
	}
	return false
}

// RiskTolerance is a user's appetite for risk.
type RiskTolerance string

// Risk tolerance levels.
const (
	RiskLow    RiskTolerance = "low"
	RiskMedium RiskTolerance = "medium"
	RiskHigh   RiskTolerance = "high"
)

// Valid reports whether r is a known risk tolerance.
func (r RiskTolerance) Valid() bool {
	switch r {
	case RiskLow, RiskMedium, RiskHigh:
		return true
	}
	return false
}

// AccountType is the kind of brokerage account.
type AccountType string

// Account types. A cash account's balance never goes negative and it never
// sells shares it does not hold; a margin account may borrow and sell short
// within limits.
const (
	AccountCash   AccountType = "cash"
	AccountMargin AccountType = "margin"
)

// Valid reports whether a is a known account type.
func (a AccountType) Valid() bool {
	return a == AccountCash || a == AccountMargin
}

// Side is the direction of a trade.
type Side string

// Trade sides.
const (
	SideBuy  Side = "buy"
	SideSell Side = "sell"
)

// Valid reports whether s is a known side.
func (s Side) Valid() bool {
	return s == SideBuy || s == SideSell
}

// OrderType is the order kind behind a trade (trade/2 onwards).
type OrderType string

// Order types. A trade/1 trade has the empty OrderType.
const (
	OrderMarket OrderType = "market"
	OrderLimit  OrderType = "limit"
)

// Valid reports whether o is a known order type.
func (o OrderType) Valid() bool {
	return o == OrderMarket || o == OrderLimit
}

// Domain limits enforced by validation. They are generous bounds that
// catch corrupt data, not business rules.
const (
	// MaxPrice is the largest accepted price (bid, ask, last, trade price).
	MaxPrice Decimal = 10_000_000 * Unit
	// MaxMoney bounds the magnitude of balances, fees and alert values.
	MaxMoney Decimal = 1_000_000_000_000 * Unit
	// MaxQuantity is the largest accepted trade quantity in shares.
	MaxQuantity = 1_000_000_000
	// MaxVolume is the largest accepted per-tick volume in shares.
	MaxVolume = 1_000_000_000_000
	// MaxSymbolLen is the longest symbol.
	MaxSymbolLen = 10
	// maxText bounds free-text fields (names, sectors, messages).
	maxName    = 200
	maxEmail   = 254
	maxSector  = 64
	maxSectors = 16
	maxMessage = 1024
	maxID      = 128
)

// NormalizeSymbol trims ASCII spaces, upper-cases s and reports whether
// the result matches ^[A-Z][A-Z0-9.]{0,9}$. Already-normal input is
// returned without allocating.
func NormalizeSymbol(s string) (string, bool) {
	if validSymbol(s) {
		return s, true
	}
	start, end := 0, len(s)
	for start < end && isSpace(s[start]) {
		start++
	}
	for end > start && isSpace(s[end-1]) {
		end--
	}
	if end-start == 0 || end-start > MaxSymbolLen {
		return "", false
	}
	b := make([]byte, end-start)
	for i := range b {
		c := s[start+i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b[i] = c
	}
	out := string(b)
	return out, validSymbol(out)
}

// ValidSymbol reports whether s already matches ^[A-Z][A-Z0-9.]{0,9}$.
func ValidSymbol(s string) bool { return validSymbol(s) }

func validSymbol(s string) bool {
	if len(s) == 0 || len(s) > MaxSymbolLen || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isUpperAlpha(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
