package format

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tradestream/tradestream/internal/event"
)

// Protobuf encoding of the events to the messages of the embedded .proto
// files, by field number, in proto3's canonical form: fields in number
// order, zero values left out. Every field is an int64 (varint) or a
// string; User's account is an embedded Account message.

func pbInt(dst []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, uint64(v))
}

func pbString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func pbMicros(dst []byte, num protowire.Number, t time.Time) []byte {
	return pbInt(dst, num, t.UnixMicro())
}

func pbIntSize(num protowire.Number, v int64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
}

func pbStringSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendProtoUser(dst []byte, u *event.User) []byte {
	dst = pbInt(dst, 1, u.ID)
	dst = pbString(dst, 2, u.Name)
	dst = pbString(dst, 3, u.Email)
	dst = pbString(dst, 4, u.Country)
	dst = pbMicros(dst, 5, u.SignupAt)
	dst = pbString(dst, 6, string(u.Experience))
	dst = pbString(dst, 7, string(u.RiskTolerance))
	for _, s := range u.Sectors {
		dst = protowire.AppendTag(dst, 8, protowire.BytesType)
		dst = protowire.AppendString(dst, s)
	}
	a := &u.Account
	size := pbIntSize(1, a.ID) + pbStringSize(2, string(a.Type)) + pbStringSize(3, a.Currency) + pbIntSize(4, int64(a.Balance))
	dst = protowire.AppendTag(dst, 9, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(size))
	dst = pbInt(dst, 1, a.ID)
	dst = pbString(dst, 2, string(a.Type))
	dst = pbString(dst, 3, a.Currency)
	dst = pbInt(dst, 4, int64(a.Balance))
	return pbMicros(dst, 10, u.UpdatedAt)
}

func appendProtoPrice(dst []byte, p *event.Price) []byte {
	dst = pbString(dst, 1, p.Symbol)
	dst = pbString(dst, 2, p.Sector)
	dst = pbInt(dst, 3, p.Seq)
	dst = pbMicros(dst, 4, p.Time)
	dst = pbInt(dst, 5, int64(p.Bid))
	dst = pbInt(dst, 6, int64(p.Ask))
	dst = pbInt(dst, 7, int64(p.Last))
	return pbInt(dst, 8, p.Volume)
}

func appendProtoTrade(dst []byte, t *event.Trade, version string) []byte {
	dst = pbInt(dst, 1, t.ID)
	dst = pbInt(dst, 2, t.UserID)
	dst = pbInt(dst, 3, t.AccountID)
	dst = pbString(dst, 4, t.Symbol)
	dst = pbString(dst, 5, string(t.Side))
	dst = pbInt(dst, 6, t.Quantity)
	dst = pbInt(dst, 7, int64(t.Price))
	dst = pbInt(dst, 8, int64(t.Fee))
	dst = pbMicros(dst, 9, t.Time)
	dst = pbInt(dst, 10, int64(t.BalanceAfter))
	if version == event.SchemaTradeV1 {
		return dst
	}
	dst = pbString(dst, 11, string(t.OrderType))
	return pbInt(dst, 12, int64(t.LimitPrice))
}

func appendProtoAlert(dst []byte, a *event.Alert) []byte {
	dst = pbString(dst, 1, a.ID)
	dst = pbInt(dst, 2, a.RuleID)
	dst = pbString(dst, 3, a.Kind)
	dst = pbString(dst, 4, a.Symbol)
	dst = pbString(dst, 5, a.Message)
	dst = pbInt(dst, 6, int64(a.Value))
	return pbMicros(dst, 7, a.Time)
}

// protoReader walks a message's fields; proto3 semantics: a field absent
// is its zero value, an unknown field number is skipped, a repeated
// scalar field's last value wins.
type protoReader struct {
	b   []byte
	typ protowire.Type // wire type of the field next returned
	err error
}

var errWireType = errors.New("wrong wire type")

// next returns the next field's number and wire type, and its value's
// bytes: the varint's value in v for varints, the contents in b for
// length-delimited fields.
func (r *protoReader) next() (num protowire.Number, v uint64, b []byte, ok bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, 0, nil, false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.err = protowire.ParseError(n)
		return 0, 0, nil, false
	}
	r.b = r.b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(r.b)
	case protowire.BytesType:
		b, n = protowire.ConsumeBytes(r.b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, r.b)
		if n >= 0 {
			r.b = r.b[n:]
			return r.next() // a fixed-width or group field: not one of ours
		}
	}
	if n < 0 {
		r.err = protowire.ParseError(n)
		return 0, 0, nil, false
	}
	r.b = r.b[n:]
	r.typ = typ
	return num, v, b, true
}

func (r *protoReader) varint(field string, v uint64) int64 {
	if r.typ != protowire.VarintType {
		r.fail(field)
	}
	return int64(v)
}

func (r *protoReader) str(field string, b []byte) string {
	if r.typ != protowire.BytesType {
		r.fail(field)
	}
	return string(b)
}

func (r *protoReader) fail(field string) {
	if r.err == nil {
		r.err = fmt.Errorf("field %s: %w", field, errWireType)
	}
}

func decodeProto(k kind, payload []byte) (any, error) {
	r := &protoReader{b: payload}
	var v any
	switch k {
	case kindUser:
		u := new(event.User)
		for num, x, b, ok := r.next(); ok; num, x, b, ok = r.next() {
			switch num {
			case 1:
				u.ID = r.varint("user_id", x)
			case 2:
				u.Name = r.str("name", b)
			case 3:
				u.Email = r.str("email", b)
			case 4:
				u.Country = r.str("country", b)
			case 5:
				u.SignupAt = time.UnixMicro(r.varint("signup_at_micros", x)).UTC()
			case 6:
				u.Experience = event.Experience(r.str("experience", b))
			case 7:
				u.RiskTolerance = event.RiskTolerance(r.str("risk_tolerance", b))
			case 8:
				if len(u.Sectors) >= 64 {
					r.err = errors.New("field sectors: too many")
					break
				}
				u.Sectors = append(u.Sectors, r.str("sectors", b))
			case 9:
				if r.typ != protowire.BytesType {
					r.fail("account")
					break
				}
				ar := &protoReader{b: b}
				for num, x, b, ok := ar.next(); ok; num, x, b, ok = ar.next() {
					switch num {
					case 1:
						u.Account.ID = ar.varint("account.account_id", x)
					case 2:
						u.Account.Type = event.AccountType(ar.str("account.type", b))
					case 3:
						u.Account.Currency = ar.str("account.currency", b)
					case 4:
						u.Account.Balance = event.Decimal(ar.varint("account.balance_e4", x))
					}
				}
				if ar.err != nil {
					r.err = ar.err
				}
			case 10:
				u.UpdatedAt = time.UnixMicro(r.varint("updated_at_micros", x)).UTC()
			}
		}
		if u.Sectors == nil {
			u.Sectors = []string{}
		}
		v = u
	case kindPrice:
		p := new(event.Price)
		for num, x, b, ok := r.next(); ok; num, x, b, ok = r.next() {
			switch num {
			case 1:
				p.Symbol = r.str("symbol", b)
			case 2:
				p.Sector = r.str("sector", b)
			case 3:
				p.Seq = r.varint("seq", x)
			case 4:
				p.Time = time.UnixMicro(r.varint("ts_micros", x)).UTC()
			case 5:
				p.Bid = event.Decimal(r.varint("bid_e4", x))
			case 6:
				p.Ask = event.Decimal(r.varint("ask_e4", x))
			case 7:
				p.Last = event.Decimal(r.varint("last_e4", x))
			case 8:
				p.Volume = r.varint("volume", x)
			}
		}
		v = p
	case kindTrade:
		t := new(event.Trade)
		for num, x, b, ok := r.next(); ok; num, x, b, ok = r.next() {
			switch num {
			case 1:
				t.ID = r.varint("trade_id", x)
			case 2:
				t.UserID = r.varint("user_id", x)
			case 3:
				t.AccountID = r.varint("account_id", x)
			case 4:
				t.Symbol = r.str("symbol", b)
			case 5:
				t.Side = event.Side(r.str("side", b))
			case 6:
				t.Quantity = r.varint("quantity", x)
			case 7:
				t.Price = event.Decimal(r.varint("price_e4", x))
			case 8:
				t.Fee = event.Decimal(r.varint("fee_e4", x))
			case 9:
				t.Time = time.UnixMicro(r.varint("ts_micros", x)).UTC()
			case 10:
				t.BalanceAfter = event.Decimal(r.varint("balance_after_e4", x))
			case 11:
				t.OrderType = event.OrderType(r.str("order_type", b))
			case 12:
				t.LimitPrice = event.Decimal(r.varint("limit_price_e4", x))
			}
		}
		v = t
	case kindAlert:
		a := new(event.Alert)
		for num, x, b, ok := r.next(); ok; num, x, b, ok = r.next() {
			switch num {
			case 1:
				a.ID = r.str("alert_id", b)
			case 2:
				a.RuleID = r.varint("rule_id", x)
			case 3:
				a.Kind = r.str("kind", b)
			case 4:
				a.Symbol = r.str("symbol", b)
			case 5:
				a.Message = r.str("message", b)
			case 6:
				a.Value = event.Decimal(r.varint("value_e4", x))
			case 7:
				a.Time = time.UnixMicro(r.varint("ts_micros", x)).UTC()
			}
		}
		v = a
	}
	if r.err != nil {
		return nil, mismatch(r.err)
	}
	return v, nil
}
