// Package event defines tradestream's wire contract: the record values that
// travel on the users, prices, trades and alerts topics, their schema
// versions and header names, and the exact money type they use.
//
// Every value is a JSON object with a fixed field order. Producers encode
// with the AppendJSON methods, which append to a caller's buffer without
// allocating and escape strings exactly like encoding/json; consumers
// decode with Decode (or DecodeUser, DecodePrice, DecodeTrade,
// DecodeAlert), which is strict: unknown, duplicate, missing or mistyped
// fields, unknown enum values, unparsable decimals or timestamps and
// out-of-range values are all rejected with an *Error whose Reason
// ("malformed_json", "unknown_schema", "missing_field", "out_of_range",
// "invalid_field") the sink stores with the dead letter.
//
// Money and prices are Decimal: an int64 of fixed scale 4, written as a
// JSON string with exactly four decimals ("187.2500"). Quantities are
// whole shares (int64). Times are RFC 3339 with nanoseconds, in UTC.
//
// Schema versions (header "schema"):
//
//	user/1   user profile with its account (key: user id, compacted topic)
//	price/1  quote tick: bid, ask, last, volume (key: symbol)
//	trade/1  execution with fee and balance after (key: user id)
//	trade/2  trade/1 plus order_type and, for limit orders, limit_price
//	alert/1  a fired alert rule (key: symbol)
//
// A schema change adds a version; consumers accept every version they know
// and dead-letter the rest.
package event
