package format

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tradestream/tradestream/internal/event"
)

// alerts returns n valid alerts, seeded: the edges first (values at and
// around the byte boundaries of an Avro decimal and at ±MaxMoney, times
// a microsecond after the epoch and just before 2262, ids, kinds and
// messages at their longest, symbols of every shape, text that JSON
// escapes), then random ones with microsecond times. (The epoch itself
// is left out: Protobuf, as proto3 does, cannot tell ts_micros 0 from an
// absent ts, which is missing, for alerts as for prices and trades.)
func alerts(t testing.TB, n int) []*event.Alert {
	t.Helper()
	values := []event.Decimal{0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769,
		9501200, -9501200, event.MaxMoney, -event.MaxMoney, event.MaxMoney - 1, -event.MaxMoney + 1}
	times := []time.Time{time.UnixMicro(1).UTC(), time.UnixMicro(1_000_001).UTC(),
		time.Date(2261, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(2026, 1, 5, 14, 30, 0, 123456000, time.UTC)}
	symbols := []string{"NVDA", "A", "BRK.B", "ABCDEFGHIJ", "X9"}
	kinds := []string{"price_above", "price_below", "pnl_drop", "a", "k" + strings.Repeat("_9", 31) + "z"}
	messages := []string{"NVDA last 950.1200 > 950.0000", "x", `quote " and \ back`, "<tags> & \u2028 line\nbreak\ttab",
		"é 株価 ↑", strings.Repeat("m", 1024)}
	ids := []string{"01J8Z3K5-7", "r1-prices-0-1", "x", strings.Repeat("i", 128)}
	rng := rand.New(rand.NewPCG(11, 12))
	out := make([]*event.Alert, 0, n)
	for i := 0; len(out) < n; i++ {
		a := &event.Alert{ID: ids[i%len(ids)], RuleID: int64(i + 1), Kind: kinds[i%len(kinds)], Symbol: symbols[i%len(symbols)],
			Message: messages[i%len(messages)]}
		switch {
		case i < len(values):
			a.Value, a.Time = values[i], times[i%len(times)]
		default:
			a.Value = event.Decimal(rng.Int64N(int64(2*event.MaxMoney+1))) - event.MaxMoney
			a.Time = time.UnixMicro(rng.Int64N(time.Date(2261, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())).UTC()
			if i%7 == 0 {
				a.RuleID = math.MaxInt64 - int64(i)
			}
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("test alert %d: %v", i, err)
		}
		out = append(out, a)
	}
	return out
}

func TestEveryFormatReadsBackAlerts(t *testing.T) {
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		t.Run(f.String(), func(t *testing.T) {
			d, e := testDecoder(t, f)
			for _, a := range alerts(t, 500) {
				want, err := event.DecodeAlert(a.AppendJSON(nil))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(&want, a) {
					t.Fatalf("the JSON decoding of\n%+v\nis\n%+v", a, want)
				}
				b, err := e.Append(nil, event.SchemaAlertV1, a)
				if err != nil {
					t.Fatal(err)
				}
				if id := int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]); b[0] != 0 || id != e.ID(event.SchemaAlertV1) {
					t.Fatalf("frame %x, want magic 0 and id %d", b[:5], e.ID(event.SchemaAlertV1))
				}
				version, got, err := d.Decode(context.Background(), nil, b)
				if err != nil {
					t.Fatalf("%+v: %v", a, err)
				}
				if version != event.SchemaAlertV1 || !reflect.DeepEqual(got, a) {
					t.Fatalf("read back as %s\n%+v\nwant alert/1\n%+v", version, got, a)
				}
			}
		})
	}
}

// TestJSONSchemaAlertPayloadIsTradestreamsJSON: the JSON Schema format
// frames the alert's own JSON encoding.
func TestJSONSchemaAlertPayloadIsTradestreamsJSON(t *testing.T) {
	_, e := testDecoder(t, JSONSchema)
	for _, a := range alerts(t, 50) {
		b, err := e.Append(nil, event.SchemaAlertV1, a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b[5:], a.AppendJSON(nil)) {
			t.Fatalf("payload %s, want %s", b[5:], a.AppendJSON(nil))
		}
	}
}

// TestAvroAlertEncodingIsHambas checks the hand-written alert encoder
// byte for byte against hamba/avro's encoding with the embedded schema,
// and reads what it writes back with hamba/avro. A value of -2^(8n-1)
// (-128, -32768, ...) is the one difference: the encoder writes its n
// bytes, as Java's BigInteger.toByteArray does, hamba/avro a sign byte
// more; both are the same decimal.
func TestAvroAlertEncodingIsHambas(t *testing.T) {
	text, err := Schema(Avro, event.SchemaAlertV1)
	if err != nil {
		t.Fatal(err)
	}
	s := avro.MustParse(text)
	hambaWidens := func(d event.Decimal) bool {
		v := -int64(d)
		return v > 0 && v&(v-1) == 0 && bits.TrailingZeros64(uint64(v))%8 == 7
	}
	widened := 0
	for _, a := range alerts(t, 500) {
		m := map[string]any{"alert_id": a.ID, "rule_id": a.RuleID, "kind": a.Kind, "symbol": a.Symbol,
			"message": a.Message, "value": big.NewRat(int64(a.Value), int64(event.Unit)), "ts": a.Time}
		want, err := avro.Marshal(s, m)
		if err != nil {
			t.Fatalf("hamba: %v", err)
		}
		got := appendAvroAlert(nil, a)
		if hambaWidens(a.Value) {
			widened++
		} else if !bytes.Equal(got, want) {
			t.Fatalf("%+v: encoded\n%x\nhamba/avro\n%x", a, got, want)
		}
		var back map[string]any
		if err := avro.Unmarshal(s, got, &back); err != nil {
			t.Fatalf("hamba reads %x: %v", got, err)
		}
		if back["value"].(*big.Rat).Cmp(m["value"].(*big.Rat)) != 0 || !back["ts"].(time.Time).Equal(a.Time) {
			t.Fatalf("hamba reads %+v back as %v", a, back)
		}
		delete(back, "value")
		delete(back, "ts")
		delete(m, "value")
		delete(m, "ts")
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("hamba reads %+v back as %v", a, back)
		}
	}
	if widened == 0 {
		t.Fatal("no value of -2^(8n-1) was checked")
	}
}

// TestProtoAlertFieldsAreTheSchemas checks the alert encoder's field
// numbers and wire types against alert.proto's message.
func TestProtoAlertFieldsAreTheSchemas(t *testing.T) {
	text, _ := Schema(Protobuf, event.SchemaAlertV1)
	msgs := protoMessages(text)
	if len(msgs) != 1 || msgs[0].name != "Alert" {
		t.Fatalf("alert.proto's messages: %+v, want one Alert", msgs)
	}
	want := map[int]string{1: "string alert_id", 2: "int64 rule_id", 3: "string kind", 4: "string symbol",
		5: "string message", 6: "int64 value_e4", 7: "int64 ts_micros"}
	for num, decl := range want {
		if !strings.Contains(msgs[0].body, fmt.Sprintf("%s = %d;", decl, num)) {
			t.Fatalf("alert.proto lacks %q = %d", decl, num)
		}
	}
	a := alerts(t, 1)[0]
	a.Value, a.Time = -9501200, time.Date(2026, 1, 5, 14, 30, 0, 5000, time.UTC)
	b := appendProtoAlert(nil, a)
	r := &protoReader{b: b}
	var nums []int
	for num, _, _, ok := r.next(); ok; num, _, _, ok = r.next() {
		nums = append(nums, int(num))
		isString := strings.HasPrefix(want[int(num)], "string")
		if (r.typ == protowire.BytesType) != isString {
			t.Fatalf("field %d: wire type %d for %s", num, r.typ, want[int(num)])
		}
	}
	if r.err != nil || !reflect.DeepEqual(nums, []int{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("fields %v (%v), want 1..7 in order", nums, r.err)
	}
}

// TestEmbeddedAlertJSONSchemaAcceptsWhatTheEncoderWrites validates every
// test alert against alert.schema.json, and broken ones against it too.
func TestEmbeddedAlertJSONSchemaAcceptsWhatTheEncoderWrites(t *testing.T) {
	text, _ := Schema(JSONSchema, event.SchemaAlertV1)
	c := jsonschema.NewCompiler()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("s.json", inst); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts(t, 500) {
		if err := validateJSON(s, a.AppendJSON(nil)); err != nil {
			t.Fatalf("%s: %v", a.AppendJSON(nil), err)
		}
	}
	good := `{"alert_id":"a1","rule_id":7,"kind":"price_above","symbol":"NVDA","message":"m","value":"950.1200","ts":"2026-01-05T14:30:00Z"}`
	for name, bad := range map[string]string{
		"a three-decimal value": strings.Replace(good, `"950.1200"`, `"950.120"`, 1),
		"a number for value":    strings.Replace(good, `"950.1200"`, `950.12`, 1),
		"an upper-case kind":    strings.Replace(good, `"price_above"`, `"Price_above"`, 1),
		"rule id 0":             strings.Replace(good, `"rule_id":7`, `"rule_id":0`, 1),
		"no ts":                 strings.Replace(good, `,"ts":"2026-01-05T14:30:00Z"`, ``, 1),
		"an extra property":     strings.Replace(good, `}`, `,"venue":"XNAS"}`, 1),
	} {
		if err := validateJSON(s, []byte(bad)); !errors.Is(err, event.ErrSchemaMismatch) {
			t.Errorf("%s: %v, want schema_mismatch", name, err)
		}
	}
	if err := validateJSON(s, []byte(good)); err != nil {
		t.Fatalf("the good alert: %v", err)
	}
}

// TestBrokenAlertsAreDeadLetteredWithTheirReason: cut and padded
// payloads and unknown ids give the reasons they give for the other
// events, and an alert that breaks the rules gives, in every format, the
// reason, field and schema DecodeAlert gives for its JSON.
func TestBrokenAlertsAreDeadLetteredWithTheirReason(t *testing.T) {
	a := &event.Alert{ID: "01J8Z3K5-7", RuleID: 7, Kind: "price_above", Symbol: "NVDA", Message: "NVDA last 950.1200 > 950.0000",
		Value: 9501200, Time: time.Date(2026, 1, 5, 14, 30, 5, 123456000, time.UTC)}
	broken := map[string]func(*event.Alert){
		"no id":              func(a *event.Alert) { a.ID = "" },
		"a long id":          func(a *event.Alert) { a.ID = strings.Repeat("i", 129) },
		"rule id 0":          func(a *event.Alert) { a.RuleID = 0 },
		"a negative rule id": func(a *event.Alert) { a.RuleID = -5 },
		"no kind":            func(a *event.Alert) { a.Kind = "" },
		"an upper-case kind": func(a *event.Alert) { a.Kind = "Price_above" },
		"no symbol":          func(a *event.Alert) { a.Symbol = "" },
		"a bad symbol":       func(a *event.Alert) { a.Symbol = "NV$A" },
		"no message":         func(a *event.Alert) { a.Message = "" },
		"a long message":     func(a *event.Alert) { a.Message = strings.Repeat("m", 1025) },
		"a value too large":  func(a *event.Alert) { a.Value = event.MaxMoney + 1 },
		"a value too small":  func(a *event.Alert) { a.Value = -event.MaxMoney - 1 },
		"no ts":              func(a *event.Alert) { a.Time = time.Time{} },
		"a ts before 1970":   func(a *event.Alert) { a.Time = time.UnixMicro(-1).UTC() },
		"a ts after 2262":    func(a *event.Alert) { a.Time = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		d, e := testDecoder(t, f)
		good, err := e.Append(nil, event.SchemaAlertV1, a)
		if err != nil {
			t.Fatal(err)
		}
		// Protobuf's wrong wire type: field 4 (symbol) as a varint.
		decodesBrokenFraming(t, d, f, good, []byte{0x20, 0x01})
		for name, breakIt := range broken {
			bad := *a
			breakIt(&bad)
			_, jerr := event.DecodeAlert(bad.AppendJSON(nil))
			var want *event.Error
			if !errors.As(jerr, &want) {
				t.Fatalf("%s: DecodeAlert gives %v, want an *event.Error", name, jerr)
			}
			b, err := e.Append(nil, event.SchemaAlertV1, &bad)
			if err != nil {
				t.Fatal(err)
			}
			version, _, err := d.Decode(context.Background(), nil, b)
			var got *event.Error
			if !errors.As(err, &got) || version != event.SchemaAlertV1 {
				t.Errorf("%s %s: read %s (%v), want %v", f, name, version, err, want)
				continue
			}
			if got.Reason != want.Reason || got.Field != want.Field || got.Schema != want.Schema {
				t.Errorf("%s %s: %s/%s/%s (%v), want DecodeAlert's %s/%s/%s (%v)", f, name,
					got.Reason, got.Field, got.Schema, got, want.Reason, want.Field, want.Schema, want)
			}
		}
	}
	// Schemas of alert-like records that are no tradestream event.
	for name, s := range map[string]sr.Schema{
		"an Avro Alarm record":       {Schema: `{"type":"record","name":"Alarm","fields":[{"name":"alert_id","type":"string"}]}`},
		"a JSON Schema titled Alarm": {Type: sr.TypeJSON, Schema: `{"title":"Alarm","type":"object"}`},
	} {
		if w := parseWriter(7, s); event.ReasonOf(w.err) != event.ReasonUnknownSchema {
			t.Errorf("%s: %v, want unknown_schema", name, w.err)
		}
	}
}

// TestAvroAlertWritersWithOtherFields: a writer's alert record that lacks
// a field is missing_field, one whose field has a type tradestream cannot
// read exactly is schema_mismatch.
func TestAvroAlertWritersWithOtherFields(t *testing.T) {
	base := `{"name":"alert_id","type":"string"},{"name":"rule_id","type":"long"},{"name":"kind","type":"string"},` +
		`{"name":"symbol","type":"string"},{"name":"message","type":"string"},` +
		`{"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}}`
	fields := map[string]any{"alert_id": "a1", "rule_id": int64(7), "kind": "price_above", "symbol": "NVDA", "message": "m",
		"ts": time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)}
	for _, c := range []struct {
		name, value string
		v           any
		want        event.Reason
	}{
		{"no value field", ``, nil, event.ReasonMissingField},
		{"value as a double", `,{"name":"value","type":"double"}`, 950.12, event.ReasonSchemaMismatch},
		{"value of scale 6", `,{"name":"value","type":{"type":"bytes","logicalType":"decimal","precision":18,"scale":6}}`,
			big.NewRat(95012, 100), event.ReasonSchemaMismatch},
	} {
		schema := `{"type":"record","name":"Alert","fields":[` + base + c.value + `]}`
		m := map[string]any{}
		for k, v := range fields {
			m[k] = v
		}
		if c.v != nil {
			m["value"] = c.v
		}
		b, err := avro.Marshal(avro.MustParse(schema), m)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(nil, nil)
		d.store(1, parseWriter(1, sr.Schema{Schema: schema}))
		version, _, err := d.Decode(context.Background(), nil, append([]byte{0, 0, 0, 0, 1}, b...))
		if event.ReasonOf(err) != c.want || version != event.SchemaAlertV1 {
			t.Errorf("%s: %s %v, want alert/1 %s", c.name, version, err, c.want)
		}
	}
}

// TestForeignAvroAlertWritersAreResolvedByName reads an alert written with
// another producer's schema: another namespace, fields reordered, one
// added, an int rule id, an enum kind, a timestamp in milliseconds and a
// decimal of scale 2.
func TestForeignAvroAlertWritersAreResolvedByName(t *testing.T) {
	schema := `{"type":"record","name":"Alert","namespace":"com.example.alerts","fields":[
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"symbol","type":"string"},{"name":"severity","type":{"type":"array","items":"string"}},
		{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["price_above","price_below"]}},
		{"name":"value","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
		{"name":"rule_id","type":"int"},{"name":"message","type":"string"},{"name":"alert_id","type":"string"}]}`
	ts := time.Date(2026, 1, 5, 15, 0, 0, 123e6, time.UTC)
	b, err := avro.Marshal(avro.MustParse(schema), map[string]any{"ts": ts, "symbol": "NVDA", "severity": []string{"high", "page"},
		"kind": "price_below", "value": big.NewRat(-95012, 100), "rule_id": 42, "message": "NVDA below -950", "alert_id": "ext-1"})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(nil, nil)
	d.store(1, parseWriter(1, sr.Schema{Schema: schema}))
	version, v, err := d.Decode(context.Background(), nil, append([]byte{0, 0, 0, 0, 1}, b...))
	if err != nil {
		t.Fatal(err)
	}
	want := &event.Alert{ID: "ext-1", RuleID: 42, Kind: "price_below", Symbol: "NVDA", Message: "NVDA below -950",
		Value: -9501200, Time: ts}
	if version != event.SchemaAlertV1 || !reflect.DeepEqual(v, want) {
		t.Fatalf("read %s %+v, want alert/1 %+v", version, v, want)
	}
}

// TestProtobufAlertAtAnotherMessageIndex: in a .proto file of several
// messages the index picks the Alert; an index naming another message is
// unknown_schema.
func TestProtobufAlertAtAnotherMessageIndex(t *testing.T) {
	text := "syntax = \"proto3\";\npackage other;\n\nmessage Envelope {\n  string source = 1;\n}\n\n" +
		"message Alert {\n  string alert_id = 1;\n  int64 rule_id = 2;\n  string kind = 3;\n  string symbol = 4;\n" +
		"  string message = 5;\n  int64 value_e4 = 6;\n  int64 ts_micros = 7;\n}\n"
	d := NewDecoder(nil, nil)
	d.store(9, parseWriter(9, sr.Schema{Schema: text, Type: sr.TypeProtobuf}))
	a := alerts(t, 1)[0]
	// The message index [1]: its length 1 and its entry 1, zig-zag varints.
	b := appendProtoAlert([]byte{0, 0, 0, 0, 9, 2, 2}, a)
	version, v, err := d.Decode(context.Background(), nil, b)
	if err != nil || version != event.SchemaAlertV1 || !reflect.DeepEqual(v, a) {
		t.Fatalf("index [1]: read %s %+v (%v), want alert/1 %+v", version, v, err, a)
	}
	b = appendProtoAlert([]byte{0, 0, 0, 0, 9, 0}, a)
	if _, _, err := d.Decode(context.Background(), nil, b); event.ReasonOf(err) != event.ReasonUnknownSchema {
		t.Fatalf("index [0] (Envelope): %v, want unknown_schema", err)
	}
}

// TestAppendAlertDoesNotAllocate: an alert is encoded into dst's spare
// capacity in every format.
func TestAppendAlertDoesNotAllocate(t *testing.T) {
	a := alerts(t, 1)[0]
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		_, e := testDecoder(t, f)
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(100, func() { buf, _ = e.Append(buf[:0], event.SchemaAlertV1, a) }); n != 0 {
			t.Errorf("%s: %.0f allocations per alert", f, n)
		}
	}
}
