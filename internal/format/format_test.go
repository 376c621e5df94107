package format

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/market"
)

// events returns n events of a seeded market with both trade versions and
// the JSON decoding of each, the reference every format must reproduce.
func events(t testing.TB, n int, tradeSchema string) []market.Event {
	t.Helper()
	sim, err := market.New(market.Config{Seed: 11, Users: 40, Universe: market.DefaultUniverse(),
		Start: time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC), TradeSchema: tradeSchema})
	if err != nil {
		t.Fatal(err)
	}
	var out []market.Event
	for len(out) < n {
		ev := sim.Next()
		// Each event is copied out of the simulator's reused structs.
		switch ev.Kind {
		case market.KindUser:
			u := *ev.User
			u.Sectors = append([]string{}, u.Sectors...)
			ev.User = &u
		case market.KindPrice:
			p := *ev.Price
			ev.Price = &p
		case market.KindTrade:
			tr := *ev.Trade
			ev.Trade = &tr
		}
		out = append(out, ev)
	}
	return out
}

// testDecoder is a Decoder whose writers are the embedded schemas under
// fixed ids, as a registry would hand them out.
func testDecoder(t testing.TB, f Format) (*Decoder, *Encoder) {
	t.Helper()
	d := NewDecoder(nil, nil)
	e := &Encoder{f: f, ids: map[string]int{}}
	for i, v := range []string{event.SchemaUserV1, event.SchemaPriceV1, event.SchemaTradeV1, event.SchemaTradeV2, event.SchemaAlertV1} {
		text, err := Schema(f, v)
		if err != nil {
			t.Fatal(err)
		}
		id := 100 + i
		w := parseWriter(id, sr.Schema{Schema: text, Type: srType(f)})
		if w.err != nil {
			t.Fatalf("%s %s: %v", f, v, w.err)
		}
		d.store(id, w)
		e.ids[v] = id
	}
	return d, e
}

func TestEveryFormatReadsBackEveryEvent(t *testing.T) {
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		for _, ts := range []string{event.SchemaTradeV1, event.SchemaTradeV2} {
			t.Run(f.String()+"/"+ts, func(t *testing.T) {
				d, e := testDecoder(t, f)
				kinds := map[string]int{}
				for _, ev := range events(t, 3000, ts) {
					want, err := event.Decode(ev.Schema, appendJSON(ev))
					if err != nil {
						t.Fatal(err)
					}
					b, err := e.Append(nil, ev.Schema, ev.Value())
					if err != nil {
						t.Fatal(err)
					}
					version, got, err := d.Decode(context.Background(), nil, b)
					if err != nil {
						t.Fatalf("%s: %v", ev.Schema, err)
					}
					if version != ev.Schema {
						t.Fatalf("version %s, want %s", version, ev.Schema)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s read back as\n%+v\nwant\n%+v", ev.Schema, got, want)
					}
					kinds[version]++
				}
				if kinds[event.SchemaUserV1] == 0 || kinds[event.SchemaPriceV1] == 0 || kinds[ts] == 0 {
					t.Fatalf("not every event kind was checked: %v", kinds)
				}
			})
		}
	}
}

func appendJSON(ev market.Event) []byte {
	switch ev.Kind {
	case market.KindUser:
		return ev.User.AppendJSON(nil)
	case market.KindPrice:
		return ev.Price.AppendJSON(nil)
	}
	return ev.Trade.AppendJSONVersion(nil, ev.Schema)
}

// TestAvroEncodingIsHambas checks the hand-written encoder byte for byte
// against hamba/avro's encoding of the same events with the same schemas.
func TestAvroEncodingIsHambas(t *testing.T) {
	schemas := map[string]avro.Schema{}
	for _, v := range []string{event.SchemaUserV1, event.SchemaPriceV1, event.SchemaTradeV1, event.SchemaTradeV2} {
		text, _ := Schema(Avro, v)
		schemas[v] = avro.MustParse(text)
	}
	rat := func(d event.Decimal) *big.Rat { return big.NewRat(int64(d), int64(event.Unit)) }
	for _, ts := range []string{event.SchemaTradeV1, event.SchemaTradeV2} {
		for _, ev := range events(t, 2000, ts) {
			var m map[string]any
			switch ev.Kind {
			case market.KindUser:
				u := ev.User
				m = map[string]any{"user_id": u.ID, "name": u.Name, "email": u.Email, "country": u.Country,
					"signup_at": u.SignupAt, "experience": string(u.Experience), "risk_tolerance": string(u.RiskTolerance),
					"sectors": u.Sectors, "updated_at": u.UpdatedAt,
					"account": map[string]any{"account_id": u.Account.ID, "type": string(u.Account.Type),
						"currency": u.Account.Currency, "balance": rat(u.Account.Balance)}}
			case market.KindPrice:
				p := ev.Price
				m = map[string]any{"symbol": p.Symbol, "sector": p.Sector, "seq": p.Seq, "ts": p.Time,
					"bid": rat(p.Bid), "ask": rat(p.Ask), "last": rat(p.Last), "volume": p.Volume}
			case market.KindTrade:
				tr := ev.Trade
				m = map[string]any{"trade_id": tr.ID, "user_id": tr.UserID, "account_id": tr.AccountID, "symbol": tr.Symbol,
					"side": string(tr.Side), "quantity": tr.Quantity, "price": rat(tr.Price), "fee": rat(tr.Fee),
					"ts": tr.Time, "balance_after": rat(tr.BalanceAfter)}
				if ev.Schema == event.SchemaTradeV2 {
					m["order_type"] = string(tr.OrderType)
					m["limit_price"] = nil
					if tr.LimitPrice != 0 {
						m["limit_price"] = map[string]any{"bytes.decimal": rat(tr.LimitPrice)}
					}
				}
			}
			want, err := avro.Marshal(schemas[ev.Schema], m)
			if err != nil {
				t.Fatalf("hamba: %v", err)
			}
			var got []byte
			switch ev.Kind {
			case market.KindUser:
				got = appendAvroUser(nil, ev.User)
			case market.KindPrice:
				got = appendAvroPrice(nil, ev.Price)
			default:
				got = appendAvroTrade(nil, ev.Trade, ev.Schema)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: encoded\n%x\nhamba/avro\n%x", ev.Schema, got, want)
			}
		}
	}
}

// TestDecimalsAtTheEdges round-trips the extremes of the money range.
func TestDecimalsAtTheEdges(t *testing.T) {
	for _, d := range []event.Decimal{0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769,
		event.MaxMoney, -event.MaxMoney, event.MaxDecimal, event.MinDecimal} {
		b := avroDecimal(nil, d)
		r := &avroReader{b: b}
		got := r.readDecimal("x", avro.MustParse(`{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}`))
		if r.err != nil || got != d || len(r.b) != 0 {
			t.Fatalf("%d: read %d (%v)", d, got, r.err)
		}
	}
}

// TestEmbeddedJSONSchemasAcceptWhatTheEncoderWrites validates every
// generated value against its JSON Schema with a JSON Schema validator,
// and a broken one against it too.
func TestEmbeddedJSONSchemasAcceptWhatTheEncoderWrites(t *testing.T) {
	compiled := map[string]*jsonschema.Schema{}
	for _, v := range []string{event.SchemaUserV1, event.SchemaPriceV1, event.SchemaTradeV1, event.SchemaTradeV2} {
		text, _ := Schema(JSONSchema, v)
		c := jsonschema.NewCompiler()
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("s.json", inst); err != nil {
			t.Fatal(err)
		}
		if compiled[v], err = c.Compile("s.json"); err != nil {
			t.Fatal(err)
		}
	}
	for _, ts := range []string{event.SchemaTradeV1, event.SchemaTradeV2} {
		for _, ev := range events(t, 1500, ts) {
			if err := validateJSON(compiled[ev.Schema], appendJSON(ev)); err != nil {
				t.Fatalf("%s: %v", ev.Schema, err)
			}
		}
	}
	err := validateJSON(compiled[event.SchemaPriceV1], []byte(`{"symbol":"AAPL","sector":"x","seq":1,"ts":"2026-01-05T14:30:00Z","bid":"1.0","ask":"1.0000","last":"1.0000","volume":1}`))
	if !errors.Is(err, event.ErrSchemaMismatch) {
		t.Fatalf("a three-decimal bid: %v, want schema_mismatch", err)
	}
}

// TestBrokenValuesAreDeadLetteredWithTheirReason covers what a consumer
// meets: truncated and padded payloads, a bad header, an id the registry
// does not have, a schema that is no event, and values that break the
// event's rules.
func TestBrokenValuesAreDeadLetteredWithTheirReason(t *testing.T) {
	ev := events(t, 200, event.SchemaTradeV2)
	var tr market.Event
	for _, e := range ev {
		if e.Kind == market.KindTrade {
			tr = e
			break
		}
	}
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		d, e := testDecoder(t, f)
		good, err := e.Append(nil, tr.Schema, tr.Trade)
		if err != nil {
			t.Fatal(err)
		}
		// Protobuf skips what it does not know, so a wrong wire type is
		// its mismatch: field 7 (price_e4) as a length-delimited field.
		decodesBrokenFraming(t, d, f, good, []byte{0x3a, 0x01, 0x41})
		// A buy above its limit breaks the event's rules in every format.
		bad := *tr.Trade
		bad.OrderType, bad.Side, bad.LimitPrice = event.OrderLimit, event.SideBuy, bad.Price-1
		b, _ := e.Append(nil, event.SchemaTradeV2, &bad)
		if _, _, err := d.Decode(context.Background(), nil, b); event.ReasonOf(err) != event.ReasonOutOfRange {
			t.Errorf("%s: a buy above its limit: %v, want out_of_range", f, err)
		}
	}
	// A schema that describes no tradestream event.
	w := parseWriter(7, sr.Schema{Schema: `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`})
	if event.ReasonOf(w.err) != event.ReasonUnknownSchema {
		t.Errorf("an Order schema: %v, want unknown_schema", w.err)
	}
}

// decodesBrokenFraming checks the reasons d gives for good, a framed
// value of format f, cut short, padded (for Protobuf, which skips what it
// does not know, with wrongWire appended instead: a field of a wrong wire
// type), reduced to its header and given an id the registry never handed
// out.
func decodesBrokenFraming(t *testing.T, d *Decoder, f Format, good, wrongWire []byte) {
	t.Helper()
	wantMismatch := event.ReasonSchemaMismatch
	if f == JSONSchema {
		wantMismatch = event.ReasonMalformedJSON // the strict JSON decoder's reason
	}
	cases := []struct {
		name  string
		value []byte
		want  event.Reason
	}{
		{"truncated", good[:len(good)-3], wantMismatch},
		{"trailing bytes", append(append([]byte{}, good...), 0x02, 0x02), wantMismatch},
		{"header only", good[:3], event.ReasonSchemaMismatch},
		{"unknown id", append([]byte{0, 0, 0, 0x30, 0x39}, good[5:]...), event.ReasonUnknownSchema},
	}
	if f == Protobuf {
		cases[1].name, cases[1].value = "wrong wire type", append(append([]byte{}, good...), wrongWire...)
	}
	for _, c := range cases {
		_, _, err := d.Decode(context.Background(), nil, c.value)
		if got := event.ReasonOf(err); got != c.want {
			t.Errorf("%s %s: reason %q (%v), want %q", f, c.name, got, err, c.want)
		}
	}
}

// TestForeignAvroWritersAreResolvedByName reads a trade written with a
// schema of another producer: fields reordered, one added, trade/1's
// shape, a timestamp in milliseconds and a decimal of scale 2.
func TestForeignAvroWritersAreResolvedByName(t *testing.T) {
	schema := `{"type":"record","name":"Trade","namespace":"com.example","fields":[
		{"name":"symbol","type":"string"},{"name":"venue","type":"string"},
		{"name":"trade_id","type":"long"},{"name":"user_id","type":"long"},{"name":"account_id","type":"int"},
		{"name":"side","type":{"type":"enum","name":"Side","symbols":["buy","sell"]}},{"name":"quantity","type":"long"},
		{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
		{"name":"fee","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":4}},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"balance_after","type":{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}}]}`
	s := avro.MustParse(schema)
	ts := time.Date(2026, 1, 5, 15, 0, 0, 123e6, time.UTC)
	b, err := avro.Marshal(s, map[string]any{"symbol": "AAPL", "venue": "XNAS", "trade_id": int64(9), "user_id": int64(3),
		"account_id": 3, "side": "sell", "quantity": int64(10), "price": big.NewRat(18725, 100), "fee": big.NewRat(1, 1),
		"ts": ts, "balance_after": big.NewRat(100050, 100)})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(nil, nil)
	d.store(1, parseWriter(1, sr.Schema{Schema: schema}))
	version, v, err := d.Decode(context.Background(), nil, append([]byte{0, 0, 0, 0, 1}, b...))
	if err != nil {
		t.Fatal(err)
	}
	want := &event.Trade{ID: 9, UserID: 3, AccountID: 3, Symbol: "AAPL", Side: event.SideSell, Quantity: 10,
		Price: 1872500, Fee: 10000, Time: ts, BalanceAfter: 10005000}
	if version != event.SchemaTradeV1 || !reflect.DeepEqual(v, want) {
		t.Fatalf("read %s %+v, want trade/1 %+v", version, v, want)
	}
}

// TestJSONValuesStillDecodeByTheirHeader: the decoder reads tradestream's
// JSON as before, by the schema header.
func TestJSONValuesStillDecodeByTheirHeader(t *testing.T) {
	d := NewDecoder(nil, nil)
	for _, ev := range events(t, 50, event.SchemaTradeV2) {
		version, v, err := d.Decode(context.Background(), []byte(ev.Schema), appendJSON(ev))
		want, _ := event.Decode(ev.Schema, appendJSON(ev))
		if err != nil || version != ev.Schema || !reflect.DeepEqual(v, want) {
			t.Fatalf("%s: %v", ev.Schema, err)
		}
	}
	// Without a registry, a framed value is of an unknown schema.
	if _, _, err := d.Decode(context.Background(), nil, []byte{0, 0, 0, 0, 1, 2}); event.ReasonOf(err) != event.ReasonUnknownSchema {
		t.Fatalf("framed value without a registry: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for i, n := range Names {
		f, err := Parse(n)
		if err != nil || int(f) != i || f.String() != n {
			t.Fatalf("%s: %v %v", n, f, err)
		}
	}
	if _, err := Parse("xml"); err == nil || !strings.Contains(err.Error(), "json, avro, protobuf, jsonschema") {
		t.Fatalf("xml: %v", err)
	}
}
