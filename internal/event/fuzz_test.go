package event

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// roundTrip checks what a decoder accepted: encoding it and decoding the
// encoding gives the same event and the same bytes again. Any error must
// carry a reason.
func roundTrip[T any](t *testing.T, v T, err error, enc func(*T) []byte, dec func([]byte) (T, error)) {
	t.Helper()
	if err != nil {
		if ReasonOf(err) == "" {
			t.Fatalf("error %v has no reason", err)
		}
		return
	}
	b := enc(&v)
	again, err := dec(b)
	if err != nil {
		t.Fatalf("re-decode of %s: %v", b, err)
	}
	if !reflect.DeepEqual(again, v) {
		t.Fatalf("re-decode = %+v, want %+v", again, v)
	}
	if b2 := enc(&again); !bytes.Equal(b2, b) {
		t.Fatalf("re-encode = %s, want %s", b2, b)
	}
}

// addHostileSeeds adds values that no schema describes.
func addHostileSeeds(f *testing.F) {
	for _, s := range []string{"", "null", "[]", "{}", `{"a":`, "{\"a\":\"\x00\xff\"}", `{"x":1e999}`, `"str"`,
		`{"ts":"2025-13-40T99:99:99Z"}`, `{"balance":"-0"}`, `{"id":9223372036854775808}`} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(readTestdata(f, "user_v1.json")))
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		u, err := DecodeUser(value)
		roundTrip(t, u, err, func(u *User) []byte { return u.AppendJSON(nil) }, DecodeUser)
	})
}

func FuzzDecodePrice(f *testing.F) {
	f.Add([]byte(readTestdata(f, "price_v1.json")))
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		p, err := DecodePrice(value)
		roundTrip(t, p, err, func(p *Price) []byte { return p.AppendJSON(nil) }, DecodePrice)
	})
}

func FuzzDecodeAlert(f *testing.F) {
	f.Add([]byte(readTestdata(f, "alert_v1.json")))
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		a, err := DecodeAlert(value)
		roundTrip(t, a, err, func(a *Alert) []byte { return a.AppendJSON(nil) }, DecodeAlert)
	})
}

// FuzzReadHeaders reads two arbitrary headers (keys and values of any
// bytes, repeated or empty) after the contract's: the last of a repeated
// key wins, unknown keys are ignored, and ParseTime never panics.
func FuzzReadHeaders(f *testing.F) {
	f.Add("schema", []byte("trade/9"), "produced_at", []byte("2025-01-01T00:00:00Z"))
	f.Add("", []byte(nil), "\x00\xff", []byte{0, 0xff})
	f.Add("reason", []byte("x"), "schema", []byte(""))
	f.Add("source_offset", []byte("-1"), "produced_at", []byte("9999-99-99"))
	f.Fuzz(func(t *testing.T, k1 string, v1 []byte, k2 string, v2 []byte) {
		base := Headers{Schema: []byte(SchemaTradeV2), ProducedAt: AppendTime(nil, time.Unix(1, 0)), RunID: []byte("r")}
		hs := append(base.Records(), kgo.RecordHeader{Key: k1, Value: v1}, kgo.RecordHeader{Key: k2, Value: v2})
		h := ReadHeaders(hs)
		want := map[string][]byte{HeaderSchema: base.Schema, HeaderProducedAt: base.ProducedAt, HeaderRunID: base.RunID}
		for _, kv := range []kgo.RecordHeader{{Key: k1, Value: v1}, {Key: k2, Value: v2}} {
			if kv.Value == nil {
				kv.Value = []byte{}
			}
			want[kv.Key] = kv.Value
		}
		for key, got := range map[string][]byte{HeaderSchema: h.Schema, HeaderProducedAt: h.ProducedAt, HeaderRunID: h.RunID} {
			if !bytes.Equal(got, want[key]) {
				t.Fatalf("header %q = %q, want %q", key, got, want[key])
			}
		}
		if pt, ok := ParseTime(h.ProducedAt); ok {
			if back, ok := ParseTime(AppendTime(nil, pt)); !ok || !back.Equal(pt) {
				t.Fatalf("ParseTime(%q) = %v; its AppendTime parses back to %v, %v", h.ProducedAt, pt, back, ok)
			}
		}
		rt := ReadHeaders(h.Records())
		if !reflect.DeepEqual(rt, h) {
			t.Fatalf("ReadHeaders(Records()) = %+v, want %+v", rt, h)
		}
	})
}

// FuzzDecimalJSON checks the JSON and text forms of Decimal: what
// UnmarshalJSON accepts marshals back to a string that parses to the
// same value.
func FuzzDecimalJSON(f *testing.F) {
	for _, s := range []string{`"1.5"`, `"-0.0001"`, `1.5`, `null`, `"x"`, `"922337203685477.5807"`, `"1e3"`, "\"\x00\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decimal
		if err := d.UnmarshalJSON(data); err != nil {
			return
		}
		text, err := d.AppendText(nil)
		if err != nil {
			t.Fatalf("AppendText(%d): %v", d, err)
		}
		var back Decimal
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Fatalf("UnmarshalJSON(%q) = %d; its text %q parses back to %d, %v", data, d, text, back, err)
		}
	})
}

// TestDecodeRejectsTextPostgreSQLCannotStore: FuzzDecodePrice found that
// invalid UTF-8 in a string field was accepted (and re-encoded as U+FFFD);
// an escaped NUL was accepted too. Neither fits a text column.
func TestDecodeRejectsTextPostgreSQLCannotStore(t *testing.T) {
	valid := readTestdata(t, "price_v1.json")
	for _, bad := range []string{"\xe7", "a\xff\xfeb", `\u0000`, `x\u0000y`} {
		v := bytes.Replace([]byte(valid), []byte(`"Technology"`), []byte(`"`+bad+`"`), 1)
		_, err := DecodePrice(v)
		if got := ReasonOf(err); got != ReasonInvalidField {
			t.Errorf("DecodePrice with sector %q: got reason %q (%v), want %q", bad, got, err, ReasonInvalidField)
		}
	}
	if _, err := DecodePrice([]byte(strings.Replace(valid, `"Technology"`, `"Tech\u00e9 \"q\""`, 1))); err != nil {
		t.Errorf("DecodePrice with an escaped sector: %v", err)
	}
}
