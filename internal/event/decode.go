package event

// Decode parses and validates value according to schema (the record's
// HeaderSchema header) and returns a *User, *Price, *Trade or *Alert.
// Every failure is an *Error whose Reason says why: a schema this package
// does not know gives ReasonUnknownSchema, and so on. An empty value (a
// compaction tombstone) is ReasonMalformedJSON; callers that expect
// tombstones check for them first.
func Decode(schema string, value []byte) (any, error) {
	switch schema {
	case SchemaUserV1:
		u, err := DecodeUser(value)
		if err != nil {
			return nil, err
		}
		return &u, nil
	case SchemaPriceV1:
		p, err := DecodePrice(value)
		if err != nil {
			return nil, err
		}
		return &p, nil
	case SchemaTradeV1, SchemaTradeV2:
		t, err := DecodeTrade(schema, value)
		if err != nil {
			return nil, err
		}
		return &t, nil
	case SchemaAlertV1:
		a, err := DecodeAlert(value)
		if err != nil {
			return nil, err
		}
		return &a, nil
	}
	return nil, unknownSchema(schema)
}

func unknownSchema(schema string) *Error {
	return &Error{Reason: ReasonUnknownSchema, Schema: schema, Msg: "unknown schema version"}
}

// Field names by bit position, for missing-field errors.
var (
	userFields    = []string{"user_id", "name", "email", "country", "signup_at", "experience", "risk_tolerance", "sectors", "account", "updated_at"}
	accountFields = []string{"account.account_id", "account.type", "account.currency", "account.balance"}
	priceFields   = []string{"symbol", "sector", "seq", "ts", "bid", "ask", "last", "volume"}
	tradeFields   = []string{"trade_id", "user_id", "account_id", "symbol", "side", "quantity", "price", "fee", "ts", "balance_after", "order_type", "limit_price"}
	alertFields   = []string{"alert_id", "rule_id", "kind", "symbol", "message", "value", "ts"}
)

// DecodeUser parses and validates a user/1 value.
func DecodeUser(value []byte) (User, error) {
	var u User
	if err := decodeUser(value, &u); err != nil {
		return User{}, withSchema(err, SchemaUserV1)
	}
	return u, nil
}

func decodeUser(value []byte, u *User) error {
	obj, err := checkedObject(value)
	if err != nil {
		return err
	}
	var seen fieldSet
	for {
		key, val, ok := obj.next()
		if !ok {
			break
		}
		switch string(key) {
		case "user_id":
			if err = seen.mark(1<<0, "user_id"); err == nil {
				u.ID, err = integer("user_id", val)
			}
		case "name":
			if err = seen.mark(1<<1, "name"); err == nil {
				u.Name, err = str("name", val)
			}
		case "email":
			if err = seen.mark(1<<2, "email"); err == nil {
				u.Email, err = str("email", val)
			}
		case "country":
			if err = seen.mark(1<<3, "country"); err == nil {
				u.Country, err = str("country", val)
			}
		case "signup_at":
			if err = seen.mark(1<<4, "signup_at"); err == nil {
				u.SignupAt, err = timestamp("signup_at", val)
			}
		case "experience":
			if err = seen.mark(1<<5, "experience"); err == nil {
				var s string
				s, err = enum("experience", val, string(ExperienceBeginner), string(ExperienceIntermediate),
					string(ExperienceAdvanced), string(ExperienceProfessional))
				u.Experience = Experience(s)
			}
		case "risk_tolerance":
			if err = seen.mark(1<<6, "risk_tolerance"); err == nil {
				var s string
				s, err = enum("risk_tolerance", val, string(RiskLow), string(RiskMedium), string(RiskHigh))
				u.RiskTolerance = RiskTolerance(s)
			}
		case "sectors":
			if err = seen.mark(1<<7, "sectors"); err == nil {
				u.Sectors, err = stringArray("sectors", val, maxSectors)
			}
		case "account":
			if err = seen.mark(1<<8, "account"); err == nil {
				err = decodeAccount(val, &u.Account)
			}
		case "updated_at":
			if err = seen.mark(1<<9, "updated_at"); err == nil {
				u.UpdatedAt, err = timestamp("updated_at", val)
			}
		default:
			err = unknownField(key)
		}
		if err != nil {
			return err
		}
	}
	if err := seen.firstMissing(1<<len(userFields)-1, userFields); err != nil {
		return err
	}
	return u.Validate()
}

func decodeAccount(value []byte, a *Account) error {
	if isNull(value) {
		return missing("account")
	}
	obj, err := openObject(value)
	if err != nil {
		return invalid("account", "want an object")
	}
	var seen fieldSet
	for {
		key, val, ok := obj.next()
		if !ok {
			break
		}
		switch string(key) {
		case "account_id":
			if err = seen.mark(1<<0, "account.account_id"); err == nil {
				a.ID, err = integer("account.account_id", val)
			}
		case "type":
			if err = seen.mark(1<<1, "account.type"); err == nil {
				var s string
				s, err = enum("account.type", val, string(AccountCash), string(AccountMargin))
				a.Type = AccountType(s)
			}
		case "currency":
			if err = seen.mark(1<<2, "account.currency"); err == nil {
				a.Currency, err = enum("account.currency", val, "USD", "EUR", "GBP")
			}
		case "balance":
			if err = seen.mark(1<<3, "account.balance"); err == nil {
				a.Balance, err = decimal("account.balance", val)
			}
		default:
			err = invalid("account."+string(key), "unknown field")
		}
		if err != nil {
			return err
		}
	}
	return seen.firstMissing(1<<len(accountFields)-1, accountFields)
}

// DecodePrice parses and validates a price/1 value. The symbol is
// normalised (trimmed, upper-cased) before validation.
func DecodePrice(value []byte) (Price, error) {
	var p Price
	if err := decodePrice(value, &p); err != nil {
		return Price{}, withSchema(err, SchemaPriceV1)
	}
	return p, nil
}

func decodePrice(value []byte, p *Price) error {
	obj, err := checkedObject(value)
	if err != nil {
		return err
	}
	var seen fieldSet
	for {
		key, val, ok := obj.next()
		if !ok {
			break
		}
		switch string(key) {
		case "symbol":
			if err = seen.mark(1<<0, "symbol"); err == nil {
				p.Symbol, err = symbol("symbol", val)
			}
		case "sector":
			if err = seen.mark(1<<1, "sector"); err == nil {
				p.Sector, err = str("sector", val)
			}
		case "seq":
			if err = seen.mark(1<<2, "seq"); err == nil {
				p.Seq, err = integer("seq", val)
			}
		case "ts":
			if err = seen.mark(1<<3, "ts"); err == nil {
				p.Time, err = timestamp("ts", val)
			}
		case "bid":
			if err = seen.mark(1<<4, "bid"); err == nil {
				p.Bid, err = decimal("bid", val)
			}
		case "ask":
			if err = seen.mark(1<<5, "ask"); err == nil {
				p.Ask, err = decimal("ask", val)
			}
		case "last":
			if err = seen.mark(1<<6, "last"); err == nil {
				p.Last, err = decimal("last", val)
			}
		case "volume":
			if err = seen.mark(1<<7, "volume"); err == nil {
				p.Volume, err = integer("volume", val)
			}
		default:
			err = unknownField(key)
		}
		if err != nil {
			return err
		}
	}
	if err := seen.firstMissing(1<<len(priceFields)-1, priceFields); err != nil {
		return err
	}
	return p.Validate()
}

// DecodeTrade parses and validates a trade/1 or trade/2 value. trade/1
// rejects the order fields; trade/2 requires order_type and, for limit
// orders, limit_price (a null limit_price counts as absent).
func DecodeTrade(schema string, value []byte) (Trade, error) {
	if schema != SchemaTradeV1 && schema != SchemaTradeV2 {
		return Trade{}, unknownSchema(schema)
	}
	var t Trade
	if err := decodeTrade(schema, value, &t); err != nil {
		return Trade{}, withSchema(err, schema)
	}
	return t, nil
}

func decodeTrade(schema string, value []byte, t *Trade) error {
	obj, err := checkedObject(value)
	if err != nil {
		return err
	}
	v2 := schema == SchemaTradeV2
	var seen fieldSet
	for {
		key, val, ok := obj.next()
		if !ok {
			break
		}
		switch string(key) {
		case "trade_id":
			if err = seen.mark(1<<0, "trade_id"); err == nil {
				t.ID, err = integer("trade_id", val)
			}
		case "user_id":
			if err = seen.mark(1<<1, "user_id"); err == nil {
				t.UserID, err = integer("user_id", val)
			}
		case "account_id":
			if err = seen.mark(1<<2, "account_id"); err == nil {
				t.AccountID, err = integer("account_id", val)
			}
		case "symbol":
			if err = seen.mark(1<<3, "symbol"); err == nil {
				t.Symbol, err = symbol("symbol", val)
			}
		case "side":
			if err = seen.mark(1<<4, "side"); err == nil {
				var s string
				s, err = enum("side", val, string(SideBuy), string(SideSell))
				t.Side = Side(s)
			}
		case "quantity":
			if err = seen.mark(1<<5, "quantity"); err == nil {
				t.Quantity, err = integer("quantity", val)
			}
		case "price":
			if err = seen.mark(1<<6, "price"); err == nil {
				t.Price, err = decimal("price", val)
			}
		case "fee":
			if err = seen.mark(1<<7, "fee"); err == nil {
				t.Fee, err = decimal("fee", val)
			}
		case "ts":
			if err = seen.mark(1<<8, "ts"); err == nil {
				t.Time, err = timestamp("ts", val)
			}
		case "balance_after":
			if err = seen.mark(1<<9, "balance_after"); err == nil {
				t.BalanceAfter, err = decimal("balance_after", val)
			}
		case "order_type":
			if !v2 {
				err = unknownField(key)
			} else if err = seen.mark(1<<10, "order_type"); err == nil {
				var s string
				s, err = enum("order_type", val, string(OrderMarket), string(OrderLimit))
				t.OrderType = OrderType(s)
			}
		case "limit_price":
			if !v2 {
				err = unknownField(key)
			} else if err = seen.mark(1<<11, "limit_price"); err == nil && !isNull(val) {
				t.LimitPrice, err = decimal("limit_price", val)
				if err == nil && t.LimitPrice <= 0 {
					err = outOfRange("limit_price", "must be positive")
				}
			}
		default:
			err = unknownField(key)
		}
		if err != nil {
			return err
		}
	}
	required := fieldSet(1<<10 - 1)
	if v2 {
		required |= 1 << 10
	}
	if err := seen.firstMissing(required, tradeFields); err != nil {
		return err
	}
	return t.ValidateVersion(schema)
}

// DecodeAlert parses and validates an alert/1 value.
func DecodeAlert(value []byte) (Alert, error) {
	var a Alert
	if err := decodeAlert(value, &a); err != nil {
		return Alert{}, withSchema(err, SchemaAlertV1)
	}
	return a, nil
}

func decodeAlert(value []byte, a *Alert) error {
	obj, err := checkedObject(value)
	if err != nil {
		return err
	}
	var seen fieldSet
	for {
		key, val, ok := obj.next()
		if !ok {
			break
		}
		switch string(key) {
		case "alert_id":
			if err = seen.mark(1<<0, "alert_id"); err == nil {
				a.ID, err = str("alert_id", val)
			}
		case "rule_id":
			if err = seen.mark(1<<1, "rule_id"); err == nil {
				a.RuleID, err = integer("rule_id", val)
			}
		case "kind":
			if err = seen.mark(1<<2, "kind"); err == nil {
				a.Kind, err = str("kind", val)
			}
		case "symbol":
			if err = seen.mark(1<<3, "symbol"); err == nil {
				a.Symbol, err = symbol("symbol", val)
			}
		case "message":
			if err = seen.mark(1<<4, "message"); err == nil {
				a.Message, err = str("message", val)
			}
		case "value":
			if err = seen.mark(1<<5, "value"); err == nil {
				a.Value, err = decimal("value", val)
			}
		case "ts":
			if err = seen.mark(1<<6, "ts"); err == nil {
				a.Time, err = timestamp("ts", val)
			}
		default:
			err = unknownField(key)
		}
		if err != nil {
			return err
		}
	}
	if err := seen.firstMissing(1<<len(alertFields)-1, alertFields); err != nil {
		return err
	}
	return a.Validate()
}
