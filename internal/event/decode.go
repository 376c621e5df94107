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
	m := members{obj: obj, t: userFields}
	for {
		f, n, v, ok := m.next()
		if !ok {
			break
		}
		switch f {
		case userID:
			u.ID, m.err = integer(n, v)
		case userName:
			u.Name, m.err = str(n, v)
		case userEmail:
			u.Email, m.err = str(n, v)
		case userCountry:
			u.Country, m.err = str(n, v)
		case userSignupAt:
			u.SignupAt, m.err = timestamp(n, v)
		case userExperience:
			var s string
			s, m.err = enum(n, v, string(ExperienceBeginner), string(ExperienceIntermediate),
				string(ExperienceAdvanced), string(ExperienceProfessional))
			u.Experience = Experience(s)
		case userRiskTolerance:
			var s string
			s, m.err = enum(n, v, string(RiskLow), string(RiskMedium), string(RiskHigh))
			u.RiskTolerance = RiskTolerance(s)
		case userSectors:
			u.Sectors, m.err = stringArray(n, v, maxSectors)
		case userAccount:
			m.err = decodeAccount(v, &u.Account)
		case userUpdatedAt:
			u.UpdatedAt, m.err = timestamp(n, v)
		}
	}
	if err := m.end(); err != nil {
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
	m := members{obj: obj, t: accountFields}
	for {
		f, n, v, ok := m.next()
		if !ok {
			break
		}
		switch f {
		case accountID:
			a.ID, m.err = integer(n, v)
		case accountType:
			var s string
			s, m.err = enum(n, v, string(AccountCash), string(AccountMargin))
			a.Type = AccountType(s)
		case accountCurrency:
			a.Currency, m.err = enum(n, v, "USD", "EUR", "GBP")
		case accountBalance:
			a.Balance, m.err = decimal(n, v)
		}
	}
	return m.end()
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
	m := members{obj: obj, t: priceFields}
	for {
		f, n, v, ok := m.next()
		if !ok {
			break
		}
		switch f {
		case priceSymbol:
			p.Symbol, m.err = symbol(n, v)
		case priceSector:
			p.Sector, m.err = str(n, v)
		case priceSeq:
			p.Seq, m.err = integer(n, v)
		case priceTime:
			p.Time, m.err = timestamp(n, v)
		case priceBid:
			p.Bid, m.err = decimal(n, v)
		case priceAsk:
			p.Ask, m.err = decimal(n, v)
		case priceLast:
			p.Last, m.err = decimal(n, v)
		case priceVolume:
			p.Volume, m.err = integer(n, v)
		}
	}
	if err := m.end(); err != nil {
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
	m := members{obj: obj, t: tradeV1Fields}
	if schema == SchemaTradeV2 {
		m.t = tradeV2Fields
	}
	for {
		f, n, v, ok := m.next()
		if !ok {
			break
		}
		switch f {
		case tradeID:
			t.ID, m.err = integer(n, v)
		case tradeUserID:
			t.UserID, m.err = integer(n, v)
		case tradeAccountID:
			t.AccountID, m.err = integer(n, v)
		case tradeSymbol:
			t.Symbol, m.err = symbol(n, v)
		case tradeSide:
			var s string
			s, m.err = enum(n, v, string(SideBuy), string(SideSell))
			t.Side = Side(s)
		case tradeQuantity:
			t.Quantity, m.err = integer(n, v)
		case tradePrice:
			t.Price, m.err = decimal(n, v)
		case tradeFee:
			t.Fee, m.err = decimal(n, v)
		case tradeTime:
			t.Time, m.err = timestamp(n, v)
		case tradeBalanceAfter:
			t.BalanceAfter, m.err = decimal(n, v)
		case tradeOrderType:
			var s string
			s, m.err = enum(n, v, string(OrderMarket), string(OrderLimit))
			t.OrderType = OrderType(s)
		case tradeLimitPrice:
			if !isNull(v) {
				t.LimitPrice, m.err = decimal(n, v)
				if m.err == nil && t.LimitPrice <= 0 {
					m.err = outOfRange(n, "must be positive")
				}
			}
		}
	}
	if err := m.end(); err != nil {
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
	m := members{obj: obj, t: alertFields}
	for {
		f, n, v, ok := m.next()
		if !ok {
			break
		}
		switch f {
		case alertID:
			a.ID, m.err = str(n, v)
		case alertRuleID:
			a.RuleID, m.err = integer(n, v)
		case alertKind:
			a.Kind, m.err = str(n, v)
		case alertSymbol:
			a.Symbol, m.err = symbol(n, v)
		case alertMessage:
			a.Message, m.err = str(n, v)
		case alertValue:
			a.Value, m.err = decimal(n, v)
		case alertTime:
			a.Time, m.err = timestamp(n, v)
		}
	}
	if err := m.end(); err != nil {
		return err
	}
	return a.Validate()
}
