package event

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// wireCase is one schema's fixture: how to encode it and what Decode
// should give back.
type wireCase struct {
	name   string
	schema string
	file   string
	value  any // pointer to the fixture
	encode func(dst []byte) []byte
}

func wireCases() []wireCase {
	u, p, a := sampleUser(), samplePrice(), sampleAlert()
	tm, tl, t1 := sampleTradeMarket(), sampleTradeLimit(), sampleTradeV1()
	return []wireCase{
		{"user/1", SchemaUserV1, "user_v1.json", &u, u.AppendJSON},
		{"price/1", SchemaPriceV1, "price_v1.json", &p, p.AppendJSON},
		{"trade/1", SchemaTradeV1, "trade_v1.json", &t1, func(dst []byte) []byte { return t1.AppendJSONVersion(dst, SchemaTradeV1) }},
		{"trade/2 market", SchemaTradeV2, "trade_v2_market.json", &tm, tm.AppendJSON},
		{"trade/2 limit", SchemaTradeV2, "trade_v2_limit.json", &tl, tl.AppendJSON},
		{"alert/1", SchemaAlertV1, "alert_v1.json", &a, a.AppendJSON},
	}
}

func TestGoldenRoundTrip(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.encode(nil)
			want := golden(t, tc.file, got)

			decoded, err := Decode(tc.schema, want)
			if err != nil {
				t.Fatalf("Decode(%s, golden) error: %v", tc.schema, err)
			}
			if !reflect.DeepEqual(decoded, tc.value) {
				t.Errorf("Decode(%s) = %+v, want %+v", tc.schema, decoded, tc.value)
			}
			// Encoding is deterministic: the same value twice, and into a
			// non-empty buffer, gives the same bytes.
			prefix := []byte("xyz")
			again := tc.encode(prefix)
			if string(again[len(prefix):]) != string(got) {
				t.Errorf("second encoding = %s, want %s", again[len(prefix):], got)
			}
		})
	}
}

// TestAppendJSONMatchesEncodingJSON pins the hand-written encoders to the
// standard library: same fields, order, escaping and number formats.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.value)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if got := tc.encode(nil); string(got) != string(want) {
				t.Errorf("AppendJSON = %s\nencoding/json = %s", got, want)
			}
		})
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "<script>&amp;</script>",
		"ctl \x00\x01\x08\x0c\n\r\t\x1f\x7f", "line\u2028para\u2029", "bad utf8 \xff\xfe end",
		"truncated \xe2\x82", "emoji 😀 and é", "\u00a0nbsp",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		tests = append(tests, string(b))
	}
	for _, s := range tests {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\u2028", "\xff", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestKeys(t *testing.T) {
	u, p, tr, a := sampleUser(), samplePrice(), sampleTradeLimit(), sampleAlert()
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"user", u.Key(), "123"},
		{"price", p.Key(), "AAPL"},
		{"trade", tr.Key(), "77"},
		{"alert", a.Key(), "NVDA"},
		{"user append", u.AppendKey([]byte("k:")), "k:123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Errorf("key = %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	p, tr := samplePrice(), sampleTradeLimit()
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = tr.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("Trade.AppendJSON allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = p.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("Price.AppendJSON allocs = %v, want 0", n)
	}
}

func BenchmarkTradeAppendJSON(b *testing.B) {
	tr := sampleTradeLimit()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = tr.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkTradeEncodingJSON(b *testing.B) {
	tr := sampleTradeLimit()
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out, _ = json.Marshal(&tr)
	}
	b.SetBytes(int64(len(out)))
}

func BenchmarkPriceAppendJSON(b *testing.B) {
	p := samplePrice()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkPriceEncodingJSON(b *testing.B) {
	p := samplePrice()
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out, _ = json.Marshal(&p)
	}
	b.SetBytes(int64(len(out)))
}

func BenchmarkUserAppendJSON(b *testing.B) {
	u := sampleUser()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = u.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkUserEncodingJSON(b *testing.B) {
	u := sampleUser()
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out, _ = json.Marshal(&u)
	}
	b.SetBytes(int64(len(out)))
}
