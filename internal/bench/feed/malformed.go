package feed

import (
	"fmt"

	"github.com/tradestream/tradestream/internal/event"
)

// malformed is one kind of record the sink can never load, and the
// dead-letter reason it must get.
type malformed struct {
	topic  Topic
	schema string
	value  string // "" with nilValue: no value at all
	reason string
}

// The kinds of malformed records, in the order they are mixed in. %d is
// replaced by a sequence number so that no two are identical.
var malformedKinds = []malformed{
	{Trades, event.SchemaTradeV2, `{"trade_id":%d,"user_id":1,`, string(event.ReasonMalformedJSON)},
	{Trades, "trade/9", `{"trade_id":%d,"user_id":1,"account_id":1,"symbol":"AAPL","side":"buy","quantity":1,"price":"1.0000","fee":"1.0000","ts":"2025-06-02T13:30:00Z","balance_after":"1.0000","stop_price":"1.0000"}`, string(event.ReasonUnknownSchema)},
	{Prices, event.SchemaPriceV1, `{"symbol":"AAPL","sector":"Technology","seq":%d,"ts":"2025-06-02T13:30:00Z","ask":"1.0100","last":"1.0000","volume":1}`, string(event.ReasonMissingField)},
	{Prices, event.SchemaPriceV1, `{"symbol":"AAPL","sector":"Technology","seq":%d,"ts":"2025-06-02T13:30:00Z","bid":"-1.0000","ask":"1.0100","last":"1.0000","volume":1}`, string(event.ReasonOutOfRange)},
	{Trades, event.SchemaTradeV1, `{"trade_id":%d,"user_id":1,"account_id":1,"symbol":"AAPL","side":"hold","quantity":1,"price":"1.0000","fee":"1.0000","ts":"2025-06-02T13:30:00Z","balance_after":"1.0000"}`, string(event.ReasonInvalidField)},
	{Trades, event.SchemaPriceV1, `{"symbol":"AAPL","sector":"Technology","seq":%d,"ts":"2025-06-02T13:30:00Z","bid":"1.0000","ask":"1.0100","last":"1.0000","volume":1}`, "unexpected_schema"},
	{Users, event.SchemaUserV1, `{"user_id":1,"name":"Nobody %d","email":"not-an-email","country":"DE","signup_at":"2025-01-01T00:00:00Z","experience":"beginner","risk_tolerance":"low","sectors":[],"account":{"account_id":1,"type":"cash","currency":"USD","balance":"1.0000"},"updated_at":"2025-06-02T13:30:00Z"}`, string(event.ReasonInvalidField)},
	{Prices, "", `{"symbol":"AAPL","sector":"Technology","seq":%d}`, string(event.ReasonUnknownSchema)},
	{Prices, event.SchemaPriceV1, `[%d]`, string(event.ReasonMalformedJSON)},
}

// malformer hands out malformed records in turn.
type malformer struct {
	seed uint64
	n    int
}

// next returns the next malformed record, keyed like the valid record
// after which it goes (a user record gets user 1's key, so that it
// competes with a real profile and must not replace it).
func (m *malformer) next(after Record) (Record, string) {
	k := malformedKinds[(m.n+int(m.seed%uint64(len(malformedKinds))))%len(malformedKinds)]
	m.n++
	key := after.Key
	if k.topic == Users {
		key = []byte("1")
	}
	return Record{
		Topic:  k.topic,
		Key:    key,
		Value:  fmt.Appendf(nil, k.value, m.n),
		Schema: k.schema,
	}, k.reason
}
