package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// edit returns base with old replaced by new, failing if old is absent so
// that a stale table entry cannot pass by accident.
func edit(t *testing.T, base, old, new string) string {
	t.Helper()
	if !strings.Contains(base, old) {
		t.Fatalf("fixture %s does not contain %s", base, old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestDecodeValidation(t *testing.T) {
	tradeV2 := readTestdata(t, "trade_v2_limit.json")
	tradeV1 := readTestdata(t, "trade_v1.json")
	price := readTestdata(t, "price_v1.json")
	user := readTestdata(t, "user_v1.json")
	alert := readTestdata(t, "alert_v1.json")

	tests := []struct {
		name   string
		schema string
		value  string
		reason Reason // "" means the value must decode
		field  string
	}{
		// Schema versions.
		{"trade/9", "trade/9", tradeV2, ReasonUnknownSchema, ""},
		{"empty schema", "", tradeV2, ReasonUnknownSchema, ""},
		{"foo schema", "foo", tradeV2, ReasonUnknownSchema, ""},
		{"TRADE/2 case", "TRADE/2", tradeV2, ReasonUnknownSchema, ""},
		{"trade/2 value under trade/1", SchemaTradeV1, tradeV2, ReasonInvalidField, "order_type"},
		{"trade/1 value under trade/2", SchemaTradeV2, tradeV1, ReasonMissingField, "order_type"},
		{"trade/1 ok", SchemaTradeV1, tradeV1, "", ""},

		// Syntax.
		{"empty value", SchemaTradeV2, "", ReasonMalformedJSON, ""},
		{"truncated", SchemaTradeV2, tradeV2[:40], ReasonMalformedJSON, ""},
		{"array", SchemaTradeV2, "[1,2]", ReasonMalformedJSON, ""},
		{"string", SchemaTradeV2, `"trade"`, ReasonMalformedJSON, ""},
		{"trailing garbage", SchemaTradeV2, tradeV2 + "x", ReasonMalformedJSON, ""},
		{"whitespace ok", SchemaTradeV2, " \n" + strings.ReplaceAll(tradeV2, ",", " ,\t") + " ", "", ""},
		{"escaped key ok", SchemaTradeV2, edit(t, tradeV2, `"trade_id"`, `"trade\u005fid"`), "", ""},

		// Fields.
		{"missing quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250,`, ``), ReasonMissingField, "quantity"},
		{"null quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":null`), ReasonMissingField, "quantity"},
		{"zero quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":0`), ReasonOutOfRange, "quantity"},
		{"negative quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":-5`), ReasonOutOfRange, "quantity"},
		{"fractional quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":2.5`), ReasonInvalidField, "quantity"},
		{"exponent quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":2e2`), ReasonInvalidField, "quantity"},
		{"string quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":"250"`), ReasonInvalidField, "quantity"},
		{"huge quantity", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":99999999999999999999`), ReasonOutOfRange, "quantity"},
		{"duplicate field", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":250,"quantity":250`), ReasonInvalidField, "quantity"},
		{"unknown field", SchemaTradeV2, edit(t, tradeV2, `"quantity":250`, `"quantity":250,"venue":"X"`), ReasonInvalidField, "venue"},
		{"unknown side", SchemaTradeV2, edit(t, tradeV2, `"side":"sell"`, `"side":"short"`), ReasonInvalidField, "side"},
		{"numeric price", SchemaTradeV2, edit(t, tradeV2, `"price":"412.1000"`, `"price":412.1`), ReasonInvalidField, "price"},
		{"bad decimal", SchemaTradeV2, edit(t, tradeV2, `"price":"412.1000"`, `"price":"412.10000"`), ReasonInvalidField, "price"},
		{"decimal overflow", SchemaTradeV2, edit(t, tradeV2, `"price":"412.1000"`, `"price":"99999999999999999"`), ReasonOutOfRange, "price"},
		{"zero price", SchemaTradeV2, edit(t, tradeV2, `"price":"412.1000"`, `"price":"0.0000"`), ReasonOutOfRange, "price"},
		{"negative fee", SchemaTradeV2, edit(t, tradeV2, `"fee":"51.5125"`, `"fee":"-1.0000"`), ReasonOutOfRange, "fee"},
		{"sell below limit", SchemaTradeV2, edit(t, tradeV2, `"limit_price":"412.0500"`, `"limit_price":"413.0000"`), ReasonOutOfRange, "price"},
		{"limit without price", SchemaTradeV2, edit(t, tradeV2, `,"limit_price":"412.0500"`, ``), ReasonMissingField, "limit_price"},
		{"null limit price", SchemaTradeV2, edit(t, tradeV2, `"limit_price":"412.0500"`, `"limit_price":null`), ReasonMissingField, "limit_price"},
		{"market with limit price", SchemaTradeV2, edit(t, tradeV2, `"order_type":"limit"`, `"order_type":"market"`), ReasonInvalidField, "limit_price"},
		{"unknown order type", SchemaTradeV2, edit(t, tradeV2, `"order_type":"limit"`, `"order_type":"stop"`), ReasonInvalidField, "order_type"},
		{"lower-case symbol normalised", SchemaTradeV2, edit(t, tradeV2, `"symbol":"BRK.B"`, `"symbol":" brk.b "`), "", ""},
		{"bad symbol", SchemaTradeV2, edit(t, tradeV2, `"symbol":"BRK.B"`, `"symbol":"1BRK"`), ReasonInvalidField, "symbol"},
		{"long symbol", SchemaTradeV2, edit(t, tradeV2, `"symbol":"BRK.B"`, `"symbol":"ABCDEFGHIJK"`), ReasonInvalidField, "symbol"},
		{"empty symbol", SchemaTradeV2, edit(t, tradeV2, `"symbol":"BRK.B"`, `"symbol":""`), ReasonMissingField, "symbol"},
		{"bad timestamp", SchemaTradeV2, edit(t, tradeV2, `"ts":"2025-03-14T14:30:05.125456789Z"`, `"ts":"2025-03-14 14:30:05"`), ReasonInvalidField, "ts"},
		{"numeric timestamp", SchemaTradeV2, edit(t, tradeV2, `"ts":"2025-03-14T14:30:05.125456789Z"`, `"ts":1741962605`), ReasonInvalidField, "ts"},
		{"ancient timestamp", SchemaTradeV2, edit(t, tradeV2, `"ts":"2025-03-14T14:30:05.125456789Z"`, `"ts":"0001-01-01T00:00:00Z"`), ReasonMissingField, "ts"},
		{"pre-epoch timestamp", SchemaTradeV2, edit(t, tradeV2, `"ts":"2025-03-14T14:30:05.125456789Z"`, `"ts":"1969-12-31T23:59:59Z"`), ReasonOutOfRange, "ts"},
		{"offset timestamp ok", SchemaTradeV2, edit(t, tradeV2, `"ts":"2025-03-14T14:30:05.125456789Z"`, `"ts":"2025-03-14T15:30:05+01:00"`), "", ""},
		{"zero trade id", SchemaTradeV2, edit(t, tradeV2, `"trade_id":9002`, `"trade_id":0`), ReasonOutOfRange, "trade_id"},

		// Prices.
		{"price ok", SchemaPriceV1, price, "", ""},
		{"bid above ask", SchemaPriceV1, edit(t, price, `"bid":"187.2400"`, `"bid":"187.2700"`), ReasonOutOfRange, "bid"},
		{"negative bid", SchemaPriceV1, edit(t, price, `"bid":"187.2400"`, `"bid":"-1.0000"`), ReasonOutOfRange, "bid"},
		{"zero last", SchemaPriceV1, edit(t, price, `"last":"187.2500"`, `"last":"0.0000"`), ReasonOutOfRange, "last"},
		{"negative volume", SchemaPriceV1, edit(t, price, `"volume":1200`, `"volume":-1`), ReasonOutOfRange, "volume"},
		{"missing sector", SchemaPriceV1, edit(t, price, `"sector":"Technology",`, ``), ReasonMissingField, "sector"},
		{"negative seq", SchemaPriceV1, edit(t, price, `"seq":42`, `"seq":-42`), ReasonOutOfRange, "seq"},

		// Users.
		{"user ok", SchemaUserV1, user, "", ""},
		{"unknown experience", SchemaUserV1, edit(t, user, `"experience":"advanced"`, `"experience":"guru"`), ReasonInvalidField, "experience"},
		{"unknown risk", SchemaUserV1, edit(t, user, `"risk_tolerance":"high"`, `"risk_tolerance":"extreme"`), ReasonInvalidField, "risk_tolerance"},
		{"bad country", SchemaUserV1, edit(t, user, `"country":"DE"`, `"country":"Germany"`), ReasonInvalidField, "country"},
		{"bad email", SchemaUserV1, edit(t, user, `"email":"zoe.obrien@example.com"`, `"email":"zoe"`), ReasonInvalidField, "email"},
		{"sectors not array", SchemaUserV1, edit(t, user, `"sectors":["Technology","Health Care"]`, `"sectors":"Technology"`), ReasonInvalidField, "sectors"},
		{"sectors with number", SchemaUserV1, edit(t, user, `"sectors":["Technology","Health Care"]`, `"sectors":["Technology",5]`), ReasonInvalidField, "sectors"},
		{"duplicate sector", SchemaUserV1, edit(t, user, `"Health Care"]`, `"Technology"]`), ReasonInvalidField, "sectors"},
		{"missing account", SchemaUserV1, edit(t, user, `"account":{"account_id":123,"type":"margin","currency":"EUR","balance":"25000.0000"},`, ``), ReasonMissingField, "account"},
		{"account not object", SchemaUserV1, edit(t, user, `{"account_id":123,"type":"margin","currency":"EUR","balance":"25000.0000"}`, `[]`), ReasonInvalidField, "account"},
		{"unknown account type", SchemaUserV1, edit(t, user, `"type":"margin"`, `"type":"ira"`), ReasonInvalidField, "account.type"},
		{"missing balance", SchemaUserV1, edit(t, user, `,"balance":"25000.0000"`, ``), ReasonMissingField, "account.balance"},
		{"unknown account field", SchemaUserV1, edit(t, user, `"currency":"EUR"`, `"currency":"EUR","iban":"x"`), ReasonInvalidField, "account.iban"},
		{"bad currency", SchemaUserV1, edit(t, user, `"currency":"EUR"`, `"currency":"euro"`), ReasonInvalidField, "account.currency"},
		{"huge balance", SchemaUserV1, edit(t, user, `"balance":"25000.0000"`, `"balance":"9000000000000.0000"`), ReasonOutOfRange, "account.balance"},

		// Alerts.
		{"alert ok", SchemaAlertV1, alert, "", ""},
		{"bad alert kind", SchemaAlertV1, edit(t, alert, `"kind":"price_above"`, `"kind":"Price Above"`), ReasonInvalidField, "kind"},
		{"zero rule", SchemaAlertV1, edit(t, alert, `"rule_id":7`, `"rule_id":0`), ReasonOutOfRange, "rule_id"},
		{"missing message", SchemaAlertV1, edit(t, alert, `"message":"NVDA last 950.1200 \u003e 950.0000",`, ``), ReasonMissingField, "message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.schema, []byte(tc.value))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Decode error = %v, want nil", err)
				}
				if got == nil {
					t.Fatalf("Decode = nil, want a value")
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode = %+v, want a %s error", got, tc.reason)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Reason != tc.reason || e.Field != tc.field {
				t.Errorf("error = %v: reason %q field %q, want reason %q field %q", err, e.Reason, e.Field, tc.reason, tc.field)
			}
			if ReasonOf(err) != tc.reason {
				t.Errorf("ReasonOf = %q, want %q", ReasonOf(err), tc.reason)
			}
			if e.Schema != tc.schema {
				t.Errorf("error schema = %q, want %q", e.Schema, tc.schema)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	_, err := Decode("trade/9", []byte("{}"))
	if !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("errors.Is(%v, ErrUnknownSchema) = false, want true", err)
	}
	if errors.Is(err, ErrMissingField) {
		t.Errorf("errors.Is(%v, ErrMissingField) = true, want false", err)
	}
	_, err = DecodeTrade(SchemaTradeV2, []byte(`{"trade_id":1}`))
	if !errors.Is(err, ErrMissingField) {
		t.Errorf("errors.Is(%v, ErrMissingField) = false, want true", err)
	}
	if got := err.Error(); got != "trade/2: user_id: required (missing_field)" {
		t.Errorf("Error() = %q, want %q", got, "trade/2: user_id: required (missing_field)")
	}
	if got := ReasonOf(errors.New("plain")); got != "" {
		t.Errorf("ReasonOf(plain error) = %q, want empty", got)
	}
}

func TestDecodeNormalisesSymbol(t *testing.T) {
	v := edit(t, readTestdata(t, "price_v1.json"), `"symbol":"AAPL"`, `"symbol":"aapl"`)
	p, err := DecodePrice([]byte(v))
	if err != nil {
		t.Fatalf("DecodePrice error: %v", err)
	}
	if p.Symbol != "AAPL" {
		t.Errorf("symbol = %q, want AAPL", p.Symbol)
	}
}

func TestNormalizeSymbol(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"AAPL", "AAPL", true},
		{" msft\t", "MSFT", true},
		{"brk.b", "BRK.B", true},
		{"A", "A", true},
		{"ABCDEFGHIJ", "ABCDEFGHIJ", true},
		{"ABCDEFGHIJK", "", false},
		{"", "", false},
		{"   ", "", false},
		{"1A", "1A", false},
		{".A", ".A", false},
		{"A-B", "A-B", false},
		{"ÄPL", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := NormalizeSymbol(tc.in)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("NormalizeSymbol(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzDecodeTrade checks that no input makes the decoder panic, and that
// whatever it accepts re-encodes canonically: encode(decode(x)) decodes to
// the same trade and encodes to the same bytes again.
func FuzzDecodeTrade(f *testing.F) {
	for _, name := range []string{"trade_v1.json", "trade_v2_market.json", "trade_v2_limit.json"} {
		f.Add(SchemaTradeV2, []byte(readTestdata(f, name)))
		f.Add(SchemaTradeV1, []byte(readTestdata(f, name)))
	}
	f.Add("trade/9", []byte(`{}`))
	f.Add(SchemaTradeV2, []byte(`{"trade_id":1,"user_id":1,"account_id":1,"symbol":"A","side":"buy","quantity":1,"price":"1","fee":"0","ts":"2025-01-01T00:00:00Z","balance_after":"0","order_type":"market","limit_price":null}`))
	f.Add(SchemaTradeV2, []byte(`{"trade\u005fid":1,"x":[{"}":"]"}],"y":"\"\\"}`))
	f.Fuzz(func(t *testing.T, schema string, value []byte) {
		tr, err := DecodeTrade(schema, value)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("DecodeTrade error %v has no reason", err)
			}
			return
		}
		enc := tr.AppendJSONVersion(nil, schema)
		again, err := DecodeTrade(schema, enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if !reflect.DeepEqual(again, tr) {
			t.Fatalf("re-decode = %+v, want %+v", again, tr)
		}
		if enc2 := again.AppendJSONVersion(nil, schema); string(enc2) != string(enc) {
			t.Fatalf("re-encode = %s, want %s", enc2, enc)
		}
	})
}

// FuzzDecode runs every schema's decoder over arbitrary input.
func FuzzDecode(f *testing.F) {
	for _, tc := range wireCases() {
		f.Add(tc.schema, []byte(readTestdata(f, tc.file)))
	}
	f.Fuzz(func(t *testing.T, schema string, value []byte) {
		v, err := Decode(schema, value)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("Decode error %v has no reason", err)
			}
			return
		}
		if v == nil {
			t.Fatalf("Decode = nil, nil")
		}
	})
}

func BenchmarkDecodeTrade(b *testing.B) {
	v := []byte(readTestdata(b, "trade_v2_limit.json"))
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := DecodeTrade(SchemaTradeV2, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePrice(b *testing.B) {
	v := []byte(readTestdata(b, "price_v1.json"))
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := DecodePrice(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTradeEncodingJSON(b *testing.B) {
	v := []byte(readTestdata(b, "trade_v2_limit.json"))
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		var tr Trade
		if err := json.Unmarshal(v, &tr); err != nil {
			b.Fatal(err)
		}
	}
}
