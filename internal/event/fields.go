package event

// Each event type's JSON object is described by one table naming each of
// its fields once, indexed by the field's constant. The table does the
// bookkeeping (unknown and duplicate keys, required fields) and the
// decoder switches on the constant to parse the value.

// fieldSet tracks which fields of an object were seen.
type fieldSet uint32

// mark records field bit as seen, failing on a duplicate key.
func (s *fieldSet) mark(bit fieldSet, name string) error {
	if *s&bit != 0 {
		return invalid(name, "duplicate field")
	}
	*s |= bit
	return nil
}

// fieldTable names the fields of one JSON object. Field i is bit i of the
// fieldSet that tracks which were seen.
type fieldTable struct {
	// prefix qualifies the field names in errors, e.g. "account.".
	prefix string
	// keys are the JSON keys, names the prefixed names, by index.
	keys, names []string
	// optional are the fields that may be absent.
	optional fieldSet
}

// newTable returns the table of an object with n fields whose keys are
// keys (indexed by field constant); the fields listed in optional may be
// absent. A table that does not name every field exactly once panics:
// it is a programming error caught by any test of the package.
func newTable(prefix string, n int, keys []string, optional ...int) *fieldTable {
	if len(keys) != n || n > 32 {
		panic("event: field table of " + prefix + keys[0] + " does not match its constants")
	}
	t := &fieldTable{prefix: prefix, keys: keys, names: make([]string, n)}
	for i, k := range keys {
		if k == "" {
			panic("event: field table of " + prefix + keys[0] + " misses a field")
		}
		t.names[i] = prefix + k
	}
	for _, i := range optional {
		t.optional |= 1 << i
	}
	return t
}

// firstN returns the table of t's first n fields, the rest being unknown.
func (t *fieldTable) firstN(n int) *fieldTable {
	return &fieldTable{prefix: t.prefix, keys: t.keys[:n:n], names: t.names[:n:n], optional: t.optional & (1<<n - 1)}
}

// index returns the position of key in t, or -1. Producers write fields in
// table order, so it tries hint, the position after the previous key,
// first.
func (t *fieldTable) index(key []byte, hint int) int {
	if hint < len(t.keys) && t.keys[hint] == string(key) {
		return hint
	}
	for i, k := range t.keys {
		if k == string(key) {
			return i
		}
	}
	return -1
}

// members walks an object's members against a table:
//
//	m := members{obj: obj, t: table}
//	for {
//		f, name, val, ok := m.next()
//		if !ok {
//			break
//		}
//		switch f {
//		case fieldA:
//			x.A, m.err = integer(name, val)
//		}
//	}
//	if err := m.end(); err != nil {
//
// next stops at an unknown or duplicate key, or once the decoder has set
// err; end returns that error or else names the first required field (in
// table order) that was absent.
type members struct {
	obj object
	t   *fieldTable
	// err is the first failure, set by next or by the decoder.
	err  error
	seen fieldSet
	last int // the previous member's field
}

// next moves to the next member and returns its field, its name in
// errors and its raw value; ok is false at the end or after a failure.
func (m *members) next() (field int, name string, val []byte, ok bool) {
	if m.err != nil {
		return 0, "", nil, false
	}
	key, val, ok := m.obj.next()
	if !ok {
		return 0, "", nil, false
	}
	i := m.t.index(key, m.last+1)
	if i < 0 {
		m.err = invalid(m.t.prefix+string(key), "unknown field")
		return 0, "", nil, false
	}
	name = m.t.names[i]
	if m.err = m.seen.mark(1<<i, name); m.err != nil {
		return 0, "", nil, false
	}
	m.last = i
	return i, name, val, true
}

// end returns the walk's error, or the missing-field error for the first
// required field not seen.
func (m *members) end() error {
	if m.err != nil {
		return m.err
	}
	all := fieldSet(1)<<len(m.t.names) - 1
	if absent := all &^ m.seen &^ m.t.optional; absent != 0 {
		for i := range m.t.names {
			if absent&(1<<i) != 0 {
				return missing(m.t.names[i])
			}
		}
	}
	return nil
}

// User fields.
const (
	userID = iota
	userName
	userEmail
	userCountry
	userSignupAt
	userExperience
	userRiskTolerance
	userSectors
	userAccount
	userUpdatedAt
	userFieldCount
)

var userFields = newTable("", userFieldCount, []string{
	userID:            "user_id",
	userName:          "name",
	userEmail:         "email",
	userCountry:       "country",
	userSignupAt:      "signup_at",
	userExperience:    "experience",
	userRiskTolerance: "risk_tolerance",
	userSectors:       "sectors",
	userAccount:       "account",
	userUpdatedAt:     "updated_at",
})

// Account fields (a user's nested account object).
const (
	accountID = iota
	accountType
	accountCurrency
	accountBalance
	accountFieldCount
)

var accountFields = newTable("account.", accountFieldCount, []string{
	accountID:       "account_id",
	accountType:     "type",
	accountCurrency: "currency",
	accountBalance:  "balance",
})

// Price fields.
const (
	priceSymbol = iota
	priceSector
	priceSeq
	priceTime
	priceBid
	priceAsk
	priceLast
	priceVolume
	priceFieldCount
)

var priceFields = newTable("", priceFieldCount, []string{
	priceSymbol: "symbol",
	priceSector: "sector",
	priceSeq:    "seq",
	priceTime:   "ts",
	priceBid:    "bid",
	priceAsk:    "ask",
	priceLast:   "last",
	priceVolume: "volume",
})

// Trade fields. trade/1 has the fields before tradeOrderType; the order
// fields are trade/2's, limit_price optional (Trade.ValidateVersion
// requires it for a limit order).
const (
	tradeID = iota
	tradeUserID
	tradeAccountID
	tradeSymbol
	tradeSide
	tradeQuantity
	tradePrice
	tradeFee
	tradeTime
	tradeBalanceAfter
	tradeOrderType
	tradeLimitPrice
	tradeFieldCount
)

var (
	tradeV2Fields = newTable("", tradeFieldCount, []string{
		tradeID:           "trade_id",
		tradeUserID:       "user_id",
		tradeAccountID:    "account_id",
		tradeSymbol:       "symbol",
		tradeSide:         "side",
		tradeQuantity:     "quantity",
		tradePrice:        "price",
		tradeFee:          "fee",
		tradeTime:         "ts",
		tradeBalanceAfter: "balance_after",
		tradeOrderType:    "order_type",
		tradeLimitPrice:   "limit_price",
	}, tradeLimitPrice)
	tradeV1Fields = tradeV2Fields.firstN(tradeOrderType)
)

// Alert fields.
const (
	alertID = iota
	alertRuleID
	alertKind
	alertSymbol
	alertMessage
	alertValue
	alertTime
	alertFieldCount
)

var alertFields = newTable("", alertFieldCount, []string{
	alertID:      "alert_id",
	alertRuleID:  "rule_id",
	alertKind:    "kind",
	alertSymbol:  "symbol",
	alertMessage: "message",
	alertValue:   "value",
	alertTime:    "ts",
})
