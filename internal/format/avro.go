package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/tradestream/tradestream/internal/event"
)

// Avro binary encoding of the events, written by hand to the layout of the
// embedded schemas (field order, types), without allocating: longs are
// zig-zag varints, strings and bytes carry their length first, a decimal
// is the two's-complement big-endian bytes of its unscaled value, an array
// is one block of items closed by a zero count, a union the branch index
// then the value. avro_test.go checks every byte against hamba/avro's
// encoder for the same schemas.

func avroLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

// varintLen is the length of v's zig-zag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

func avroString(dst []byte, s string) []byte {
	return append(avroLong(dst, int64(len(s))), s...)
}

// avroDecimal appends d as a decimal of scale 4: the fewest bytes that
// hold its unscaled value in two's complement.
func avroDecimal(dst []byte, d event.Decimal) []byte {
	v := int64(d)
	n := 1
	for n < 8 && (v < -(1<<(8*n-1)) || v >= 1<<(8*n-1)) {
		n++
	}
	dst = avroLong(dst, int64(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

func avroMicros(dst []byte, t time.Time) []byte { return avroLong(dst, t.UnixMicro()) }

func appendAvroUser(dst []byte, u *event.User) []byte {
	dst = avroLong(dst, u.ID)
	dst = avroString(dst, u.Name)
	dst = avroString(dst, u.Email)
	dst = avroString(dst, u.Country)
	dst = avroMicros(dst, u.SignupAt)
	dst = avroString(dst, string(u.Experience))
	dst = avroString(dst, string(u.RiskTolerance))
	if len(u.Sectors) > 0 {
		// One block with a negative count followed by its size in bytes,
		// as the Java and hamba encoders write it, so readers can skip it.
		size := 0
		for _, s := range u.Sectors {
			size += varintLen(int64(len(s))) + len(s)
		}
		dst = avroLong(avroLong(dst, -int64(len(u.Sectors))), int64(size))
		for _, s := range u.Sectors {
			dst = avroString(dst, s)
		}
	}
	dst = avroLong(dst, 0)
	dst = avroLong(dst, u.Account.ID)
	dst = avroString(dst, string(u.Account.Type))
	dst = avroString(dst, u.Account.Currency)
	dst = avroDecimal(dst, u.Account.Balance)
	return avroMicros(dst, u.UpdatedAt)
}

func appendAvroPrice(dst []byte, p *event.Price) []byte {
	dst = avroString(dst, p.Symbol)
	dst = avroString(dst, p.Sector)
	dst = avroLong(dst, p.Seq)
	dst = avroMicros(dst, p.Time)
	dst = avroDecimal(dst, p.Bid)
	dst = avroDecimal(dst, p.Ask)
	dst = avroDecimal(dst, p.Last)
	return avroLong(dst, p.Volume)
}

func appendAvroTrade(dst []byte, t *event.Trade, version string) []byte {
	dst = avroLong(dst, t.ID)
	dst = avroLong(dst, t.UserID)
	dst = avroLong(dst, t.AccountID)
	dst = avroString(dst, t.Symbol)
	dst = avroString(dst, string(t.Side))
	dst = avroLong(dst, t.Quantity)
	dst = avroDecimal(dst, t.Price)
	dst = avroDecimal(dst, t.Fee)
	dst = avroMicros(dst, t.Time)
	dst = avroDecimal(dst, t.BalanceAfter)
	if version == event.SchemaTradeV1 {
		return dst
	}
	dst = avroString(dst, string(t.OrderType))
	if t.LimitPrice == 0 {
		return avroLong(dst, 0) // the null branch
	}
	return avroDecimal(avroLong(dst, 1), t.LimitPrice)
}

func appendAvroAlert(dst []byte, a *event.Alert) []byte {
	dst = avroString(dst, a.ID)
	dst = avroLong(dst, a.RuleID)
	dst = avroString(dst, a.Kind)
	dst = avroString(dst, a.Symbol)
	dst = avroString(dst, a.Message)
	dst = avroDecimal(dst, a.Value)
	return avroMicros(dst, a.Time)
}

// Decoding follows the writer's schema, fetched from the registry: each of
// its fields is read by its own type and kept when tradestream knows the
// name (with a compatible type), skipped otherwise, so a writer that adds,
// drops or reorders fields is read as Avro's schema resolution does. A
// field the event needs that the writer lacks takes the reader's default
// where the schema has one (order_type "", limit_price null) and is
// missing otherwise. The reader checks every length against what is left
// and refuses trailing bytes.

type avroReader struct {
	b   []byte
	err error
}

func (r *avroReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *avroReader) long() int64 {
	if r.err != nil {
		return 0
	}
	u, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return int64(u>>1) ^ -int64(u&1)
}

func (r *avroReader) bytes() []byte {
	n := r.long()
	if r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)) {
		r.fail("length %d past the end of the value", n)
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *avroReader) skipN(n int) {
	if r.err != nil {
		return
	}
	if n > len(r.b) {
		r.fail("truncated value")
		return
	}
	r.b = r.b[n:]
}

// skip reads past one value of schema s.
func (r *avroReader) skip(s avro.Schema, depth int) {
	if depth > 32 {
		r.fail("schema nested too deeply")
		return
	}
	switch s := s.(type) {
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Null:
		case avro.Boolean:
			r.skipN(1)
		case avro.Int, avro.Long:
			r.long()
		case avro.Float:
			r.skipN(4)
		case avro.Double:
			r.skipN(8)
		case avro.String, avro.Bytes:
			r.bytes()
		default:
			r.fail("cannot read Avro type %s", s.Type())
		}
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			r.skip(f.Type(), depth+1)
		}
	case *avro.EnumSchema:
		r.long()
	case *avro.FixedSchema:
		r.skipN(s.Size())
	case *avro.ArraySchema:
		r.blocks(func() { r.skip(s.Items(), depth+1) })
	case *avro.MapSchema:
		r.blocks(func() { r.bytes(); r.skip(s.Values(), depth+1) })
	case *avro.UnionSchema:
		i := r.long()
		if r.err == nil && (i < 0 || i >= int64(len(s.Types()))) {
			r.fail("union branch %d out of range", i)
			return
		}
		if r.err == nil {
			r.skip(s.Types()[i], depth+1)
		}
	case *avro.RefSchema:
		r.skip(s.Schema(), depth+1)
	default:
		r.fail("cannot read Avro schema %T", s)
	}
}

// blocks reads an array's or map's blocks, calling item for each item.
func (r *avroReader) blocks(item func()) {
	for items := 0; r.err == nil; {
		n := r.long()
		if r.err != nil || n == 0 {
			return
		}
		if n < 0 { // a negative count is followed by the block's size
			n = -n
			r.long()
		}
		if items += int(n); n > int64(len(r.b)) || items > 1<<20 {
			r.fail("array or map of %d items past the end of the value", n)
			return
		}
		for i := int64(0); i < n && r.err == nil; i++ {
			item()
		}
	}
}

// avroField reads one writer field into the event: the value of field
// name with writer schema s. It returns false when the name is not one
// the event has (the caller skips the value).
type avroField func(r *avroReader, name string, s avro.Schema) bool

// readRecord reads a record with the writer's schema w, handing each
// field to into, and returns the names read.
func (r *avroReader) readRecord(w *avro.RecordSchema, into avroField) {
	for _, f := range w.Fields() {
		if r.err != nil {
			return
		}
		if !into(r, f.Name(), f.Type()) {
			r.skip(f.Type(), 0)
		}
	}
}

// Typed reads: each checks the writer's type is one it can read exactly.

func (r *avroReader) readLong(field string, s avro.Schema) int64 {
	if p, ok := s.(*avro.PrimitiveSchema); ok && (p.Type() == avro.Long || p.Type() == avro.Int) && p.Logical() == nil {
		return r.long()
	}
	r.fail("field %s: want a long, the writer has %s", field, s.Type())
	return 0
}

func (r *avroReader) readString(field string, s avro.Schema) string {
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Type() == avro.String {
		return string(r.bytes())
	}
	if e, ok := s.(*avro.EnumSchema); ok {
		i := r.long()
		if syms := e.Symbols(); r.err == nil && i >= 0 && i < int64(len(syms)) {
			return syms[i]
		}
		r.fail("field %s: enum index out of range", field)
		return ""
	}
	r.fail("field %s: want a string, the writer has %s", field, s.Type())
	return ""
}

func (r *avroReader) readTime(field string, s avro.Schema) time.Time {
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Type() == avro.Long && p.Logical() != nil {
		switch p.Logical().Type() {
		case avro.TimestampMicros:
			return time.UnixMicro(r.long()).UTC()
		case avro.TimestampMillis:
			return time.UnixMilli(r.long()).UTC()
		}
	}
	r.fail("field %s: want a timestamp-micros or -millis long, the writer has %s", field, s.Type())
	return time.Time{}
}

// readDecimal reads a bytes decimal of scale at most 4 as an exact
// Decimal.
func (r *avroReader) readDecimal(field string, s avro.Schema) event.Decimal {
	p, ok := s.(*avro.PrimitiveSchema)
	var scale int
	if ok && p.Type() == avro.Bytes {
		if l, isDec := p.Logical().(*avro.DecimalLogicalSchema); isDec {
			scale = l.Scale()
		} else {
			ok = false
		}
	} else {
		ok = false
	}
	if !ok || scale > event.Scale {
		r.fail("field %s: want a decimal of scale <= 4, the writer has %s", field, s.Type())
		return 0
	}
	b := r.bytes()
	if r.err != nil {
		return 0
	}
	if len(b) == 0 || len(b) > 8 {
		r.fail("field %s: a decimal of %d bytes does not fit", field, len(b))
		return 0
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	for ; scale < event.Scale; scale++ {
		hi, lo := bits.Mul64(uint64(abs64(v)), 10)
		if hi != 0 || lo > math.MaxInt64 {
			r.fail("field %s: decimal out of range", field)
			return 0
		}
		v *= 10
	}
	return event.Decimal(v)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// readOptionalDecimal reads a ["null", decimal] union (or a plain
// decimal); null is 0.
func (r *avroReader) readOptionalDecimal(field string, s avro.Schema) event.Decimal {
	u, ok := s.(*avro.UnionSchema)
	if !ok {
		return r.readDecimal(field, s)
	}
	i := r.long()
	if r.err != nil {
		return 0
	}
	if i < 0 || i >= int64(len(u.Types())) {
		r.fail("field %s: union branch %d out of range", field, i)
		return 0
	}
	if u.Types()[i].Type() == avro.Null {
		return 0
	}
	return r.readDecimal(field, u.Types()[i])
}

func (r *avroReader) readStrings(field string, s avro.Schema) []string {
	a, ok := s.(*avro.ArraySchema)
	if !ok {
		r.fail("field %s: want an array, the writer has %s", field, s.Type())
		return nil
	}
	var out []string
	r.blocks(func() { out = append(out, r.readString(field, a.Items())) })
	return out
}

func avroUserField(u *event.User, seen *uint32) avroField {
	return func(r *avroReader, name string, s avro.Schema) bool {
		switch name {
		case "user_id":
			u.ID = r.readLong(name, s)
		case "name":
			u.Name = r.readString(name, s)
		case "email":
			u.Email = r.readString(name, s)
		case "country":
			u.Country = r.readString(name, s)
		case "signup_at":
			u.SignupAt = r.readTime(name, s)
		case "experience":
			u.Experience = event.Experience(r.readString(name, s))
		case "risk_tolerance":
			u.RiskTolerance = event.RiskTolerance(r.readString(name, s))
		case "sectors":
			u.Sectors = r.readStrings(name, s)
		case "account":
			rs, ok := s.(*avro.RecordSchema)
			if !ok {
				r.fail("field account: want a record, the writer has %s", s.Type())
				return true
			}
			var accSeen uint32
			r.readRecord(rs, avroAccountField(&u.Account, &accSeen))
			if r.err == nil && accSeen != 1<<4-1 {
				r.fail("field account: %s", missingOf(accSeen, "account_id", "type", "currency", "balance"))
			}
		case "updated_at":
			u.UpdatedAt = r.readTime(name, s)
		default:
			return false
		}
		*seen |= 1 << indexOf(name, userNames)
		return true
	}
}

var userNames = []string{"user_id", "name", "email", "country", "signup_at", "experience", "risk_tolerance", "sectors", "account", "updated_at"}

func avroAccountField(a *event.Account, seen *uint32) avroField {
	names := []string{"account_id", "type", "currency", "balance"}
	return func(r *avroReader, name string, s avro.Schema) bool {
		switch name {
		case "account_id":
			a.ID = r.readLong(name, s)
		case "type":
			a.Type = event.AccountType(r.readString(name, s))
		case "currency":
			a.Currency = r.readString(name, s)
		case "balance":
			a.Balance = r.readDecimal(name, s)
		default:
			return false
		}
		*seen |= 1 << indexOf(name, names)
		return true
	}
}

var priceNames = []string{"symbol", "sector", "seq", "ts", "bid", "ask", "last", "volume"}

func avroPriceField(p *event.Price, seen *uint32) avroField {
	return func(r *avroReader, name string, s avro.Schema) bool {
		switch name {
		case "symbol":
			p.Symbol = r.readString(name, s)
		case "sector":
			p.Sector = r.readString(name, s)
		case "seq":
			p.Seq = r.readLong(name, s)
		case "ts":
			p.Time = r.readTime(name, s)
		case "bid":
			p.Bid = r.readDecimal(name, s)
		case "ask":
			p.Ask = r.readDecimal(name, s)
		case "last":
			p.Last = r.readDecimal(name, s)
		case "volume":
			p.Volume = r.readLong(name, s)
		default:
			return false
		}
		*seen |= 1 << indexOf(name, priceNames)
		return true
	}
}

// tradeNames are trade/1's fields; trade/2's two more have defaults.
var tradeNames = []string{"trade_id", "user_id", "account_id", "symbol", "side", "quantity", "price", "fee", "ts", "balance_after"}

func avroTradeField(t *event.Trade, seen *uint32) avroField {
	return func(r *avroReader, name string, s avro.Schema) bool {
		switch name {
		case "trade_id":
			t.ID = r.readLong(name, s)
		case "user_id":
			t.UserID = r.readLong(name, s)
		case "account_id":
			t.AccountID = r.readLong(name, s)
		case "symbol":
			t.Symbol = r.readString(name, s)
		case "side":
			t.Side = event.Side(r.readString(name, s))
		case "quantity":
			t.Quantity = r.readLong(name, s)
		case "price":
			t.Price = r.readDecimal(name, s)
		case "fee":
			t.Fee = r.readDecimal(name, s)
		case "ts":
			t.Time = r.readTime(name, s)
		case "balance_after":
			t.BalanceAfter = r.readDecimal(name, s)
		case "order_type":
			t.OrderType = event.OrderType(r.readString(name, s))
			return true
		case "limit_price":
			t.LimitPrice = r.readOptionalDecimal(name, s)
			return true
		default:
			return false
		}
		*seen |= 1 << indexOf(name, tradeNames)
		return true
	}
}

var alertNames = []string{"alert_id", "rule_id", "kind", "symbol", "message", "value", "ts"}

func avroAlertField(a *event.Alert, seen *uint32) avroField {
	return func(r *avroReader, name string, s avro.Schema) bool {
		switch name {
		case "alert_id":
			a.ID = r.readString(name, s)
		case "rule_id":
			a.RuleID = r.readLong(name, s)
		case "kind":
			a.Kind = r.readString(name, s)
		case "symbol":
			a.Symbol = r.readString(name, s)
		case "message":
			a.Message = r.readString(name, s)
		case "value":
			a.Value = r.readDecimal(name, s)
		case "ts":
			a.Time = r.readTime(name, s)
		default:
			return false
		}
		*seen |= 1 << indexOf(name, alertNames)
		return true
	}
}

func indexOf(name string, names []string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return 31
}

// missingOf names the first field of names whose bit is not in seen.
func missingOf(seen uint32, names ...string) string {
	for i, n := range names {
		if seen&(1<<i) == 0 {
			return "the writer's schema has no field " + n
		}
	}
	return "incomplete"
}

// decodeAvro decodes payload, written with the record schema w, as the
// event kind k.
func decodeAvro(k kind, w *avro.RecordSchema, payload []byte) (any, error) {
	r := &avroReader{b: payload}
	var seen uint32
	var v any
	var names []string
	switch k {
	case kindUser:
		u := new(event.User)
		r.readRecord(w, avroUserField(u, &seen))
		v, names = u, userNames
	case kindPrice:
		p := new(event.Price)
		r.readRecord(w, avroPriceField(p, &seen))
		v, names = p, priceNames
	case kindTrade:
		t := new(event.Trade)
		r.readRecord(w, avroTradeField(t, &seen))
		v, names = t, tradeNames
	case kindAlert:
		a := new(event.Alert)
		r.readRecord(w, avroAlertField(a, &seen))
		v, names = a, alertNames
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the record", len(r.b))
	}
	if r.err != nil {
		return nil, mismatch(r.err)
	}
	if seen != 1<<len(names)-1 {
		return nil, &event.Error{Reason: event.ReasonMissingField, Msg: missingOf(seen, names...)}
	}
	return v, nil
}

func mismatch(err error) error {
	return &event.Error{Reason: event.ReasonSchemaMismatch, Msg: "the value does not decode with its schema", Err: err}
}
