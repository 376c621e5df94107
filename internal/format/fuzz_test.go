package format

import (
	"context"
	"testing"

	"github.com/tradestream/tradestream/internal/event"
)

// FuzzDecodeFramed feeds the decoder hostile values in the wire format of
// the embedded schemas (ids 100-104 in Avro, Protobuf or JSON Schema, by
// the first byte): it never panics, and what it accepts passes the
// event's rules.
func FuzzDecodeFramed(f *testing.F) {
	decoders := map[Format]*Decoder{}
	for _, fm := range []Format{Avro, Protobuf, JSONSchema} {
		d, e := testDecoder(f, fm)
		decoders[fm] = d
		for _, ev := range events(f, 40, event.SchemaTradeV2) {
			b, err := e.Append(nil, ev.Schema, ev.Value())
			if err != nil {
				f.Fatal(err)
			}
			f.Add(byte(fm-1), b[4], b[5:]) // which: fm-1 maps back to fm below
		}
		for _, a := range alerts(f, 20) {
			b, err := e.Append(nil, event.SchemaAlertV1, a)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(byte(fm-1), b[4], b[5:])
		}
	}
	f.Fuzz(func(t *testing.T, which, id byte, payload []byte) {
		fm := Format(1 + int(which)%3)
		value := append([]byte{0, 0, 0, 0, 100 + id%5}, payload...)
		version, v, err := decoders[fm].Decode(context.Background(), nil, value)
		if err != nil {
			if event.ReasonOf(err) == "" {
				t.Fatalf("%s: an error without a dead letter's reason: %v", fm, err)
			}
			return
		}
		if err := validate(v, version); err != nil {
			t.Fatalf("%s: accepted a %s that breaks its rules: %v", fm, version, err)
		}
	})
}
