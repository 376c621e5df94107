package event

import (
	"strconv"
	"time"
)

// Trade is one execution for a user's account (schemas trade/1 and
// trade/2, topic trades, keyed by user id).
//
// Cash flow: a buy costs Price*Quantity + Fee, a sell yields
// Price*Quantity - Fee; BalanceAfter is the account balance once the trade
// has settled. trade/2 adds OrderType and, for limit orders, LimitPrice; in
// a trade/1 trade OrderType is empty and LimitPrice zero.
type Trade struct {
	ID           int64     `json:"trade_id"`
	UserID       int64     `json:"user_id"`
	AccountID    int64     `json:"account_id"`
	Symbol       string    `json:"symbol"`
	Side         Side      `json:"side"`
	Quantity     int64     `json:"quantity"`
	Price        Decimal   `json:"price"`
	Fee          Decimal   `json:"fee"`
	Time         time.Time `json:"ts"`
	BalanceAfter Decimal   `json:"balance_after"`
	OrderType    OrderType `json:"order_type,omitempty"`
	LimitPrice   Decimal   `json:"limit_price,omitempty"` // zero: none (market order or trade/1)
}

// Key returns the Kafka record key: the decimal user id.
func (t *Trade) Key() []byte { return t.AppendKey(nil) }

// AppendKey appends the Kafka record key (the decimal user id) to dst.
func (t *Trade) AppendKey(dst []byte) []byte { return strconv.AppendInt(dst, t.UserID, 10) }

// Notional returns Price*Quantity, saturating on overflow.
func (t *Trade) Notional() Decimal { return t.Price.MulQty(t.Quantity) }

// CashFlow returns the signed change the trade makes to the account
// balance: -(notional+fee) for a buy, notional-fee for a sell.
func (t *Trade) CashFlow() Decimal {
	if t.Side == SideBuy {
		return -(t.Notional() + t.Fee)
	}
	return t.Notional() - t.Fee
}

// AppendJSON appends the latest-schema (trade/2) encoding of t to dst.
func (t *Trade) AppendJSON(dst []byte) []byte {
	return t.AppendJSONVersion(dst, SchemaTradeLatest)
}

// AppendJSONVersion appends the encoding of t in the given trade schema:
// trade/1 leaves out order_type and limit_price; trade/2 writes order_type
// and, when LimitPrice is set, limit_price. Any other schema is treated as
// trade/2; producers pick the schema from the SchemaTrade* constants.
func (t *Trade) AppendJSONVersion(dst []byte, schema string) []byte {
	dst = append(dst, `{"trade_id":`...)
	dst = appendInt(dst, t.ID)
	dst = append(dst, `,"user_id":`...)
	dst = appendInt(dst, t.UserID)
	dst = append(dst, `,"account_id":`...)
	dst = appendInt(dst, t.AccountID)
	dst = append(dst, `,"symbol":`...)
	dst = appendString(dst, t.Symbol)
	dst = append(dst, `,"side":`...)
	dst = appendString(dst, string(t.Side))
	dst = append(dst, `,"quantity":`...)
	dst = appendInt(dst, t.Quantity)
	dst = append(dst, `,"price":`...)
	dst = appendDecimal(dst, t.Price)
	dst = append(dst, `,"fee":`...)
	dst = appendDecimal(dst, t.Fee)
	dst = append(dst, `,"ts":`...)
	dst = appendTime(dst, t.Time)
	dst = append(dst, `,"balance_after":`...)
	dst = appendDecimal(dst, t.BalanceAfter)
	if schema != SchemaTradeV1 {
		dst = append(dst, `,"order_type":`...)
		dst = appendString(dst, string(t.OrderType))
		if t.LimitPrice != 0 {
			dst = append(dst, `,"limit_price":`...)
			dst = appendDecimal(dst, t.LimitPrice)
		}
	}
	return append(dst, '}')
}

// Validate checks the fields common to every trade schema, plus the order
// fields when set: ids positive, a valid symbol and side, 0 < quantity <=
// MaxQuantity, 0 < price <= MaxPrice, 0 <= fee <= MaxMoney, |balance_after|
// <= MaxMoney, a timestamp in range; a limit price only on limit orders and
// one the execution honours (a buy at or below it, a sell at or above it).
func (t *Trade) Validate() error {
	switch {
	case t.ID <= 0:
		return outOfRange("trade_id", "must be positive")
	case t.UserID <= 0:
		return outOfRange("user_id", "must be positive")
	case t.AccountID <= 0:
		return outOfRange("account_id", "must be positive")
	case t.Symbol == "":
		return missing("symbol")
	case !validSymbol(t.Symbol):
		return invalid("symbol", "want ^[A-Z][A-Z0-9.]{0,9}$")
	case !t.Side.Valid():
		return invalid("side", "want buy or sell")
	case t.Quantity <= 0 || t.Quantity > MaxQuantity:
		return outOfRange("quantity", "must be in [1, 1e9]")
	case t.Price <= 0 || t.Price > MaxPrice:
		return outOfRange("price", "must be positive and at most 10000000")
	case t.Fee < 0 || t.Fee > MaxMoney:
		return outOfRange("fee", "must be in [0, 1e12]")
	case t.BalanceAfter.Abs() > MaxMoney:
		return outOfRange("balance_after", "magnitude too large")
	case t.OrderType != "" && !t.OrderType.Valid():
		return invalid("order_type", "want market or limit")
	case t.LimitPrice != 0 && t.OrderType != OrderLimit:
		return invalid("limit_price", "only limit orders have a limit price")
	case t.OrderType == OrderLimit && t.LimitPrice == 0:
		return missing("limit_price")
	case t.LimitPrice < 0 || t.LimitPrice > MaxPrice:
		return outOfRange("limit_price", "must be positive and at most 10000000")
	case t.OrderType == OrderLimit && t.Side == SideBuy && t.Price > t.LimitPrice:
		return outOfRange("price", "buy executed above its limit price")
	case t.OrderType == OrderLimit && t.Side == SideSell && t.Price < t.LimitPrice:
		return outOfRange("price", "sell executed below its limit price")
	}
	return checkTime("ts", t.Time)
}

// ValidateVersion is Validate plus the schema's shape: trade/1 carries no
// order fields, trade/2 requires an order type.
func (t *Trade) ValidateVersion(schema string) error {
	switch schema {
	case SchemaTradeV1:
		if t.OrderType != "" {
			return withSchema(invalid("order_type", "not part of trade/1"), schema)
		}
		if t.LimitPrice != 0 {
			return withSchema(invalid("limit_price", "not part of trade/1"), schema)
		}
	case SchemaTradeV2:
		if t.OrderType == "" {
			return withSchema(missing("order_type"), schema)
		}
	default:
		return &Error{Reason: ReasonUnknownSchema, Schema: schema, Msg: "not a trade schema"}
	}
	return withSchema(t.Validate(), schema)
}
