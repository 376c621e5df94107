package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Hostile is a record that no schema describes, and a name for it that
// tests map to the reason they expect their consumer to give.
type Hostile struct {
	Name   string
	Record *kgo.Record
}

// The names of the records HostileRecords makes.
const (
	HostileRandomBytes    = "random bytes"
	HostileJSONArray      = "json array"
	HostileJSONWrongShape = "json of the wrong shape"
	HostileLargeValue     = "900 KiB value"
	HostileNULInvalidUTF8 = "NUL bytes and invalid UTF-8"
	HostileBinaryHeaders  = "binary header keys and values"
	HostileUnknownVersion = "unknown schema version"
	HostileRepeatedSchema = "schema header repeated"
	HostileHugeSchema     = "600 KiB schema header"
	HostileLargest        = "largest record the producer takes"
)

// HostileRecords returns one record of each hostile kind for topic, whose
// records carry schema, and whose valid value is valid (used where the
// value must pass and the headers are what is wrong). The records are
// deterministic; the largest one is sized by ProduceLargest.
func HostileRecords(topic, schema string, valid []byte) []Hostile {
	rng := rand.New(rand.NewPCG(11, 12))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	hdrs := func(schemas ...string) []kgo.RecordHeader {
		hs := []kgo.RecordHeader{{Key: "produced_at", Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))}}
		for _, s := range schemas {
			hs = append(hs, kgo.RecordHeader{Key: "schema", Value: []byte(s)})
		}
		return hs
	}
	rec := func(key, value []byte, hs []kgo.RecordHeader) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: key, Value: value, Headers: hs}
	}
	large := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 900<<10)...)
	large = append(large, `"}`...)
	return []Hostile{
		{HostileRandomBytes, rec(random(16), random(4096), hdrs(schema))},
		{HostileJSONArray, rec([]byte("k"), []byte(`[1,"two",{"three":3},null]`), hdrs(schema))},
		{HostileJSONWrongShape, rec([]byte("k"), []byte(`{"hello":"world","n":[1,2],"deep":{"a":{"b":{}}}}`), hdrs(schema))},
		{HostileLargeValue, rec([]byte("k"), large, hdrs(schema))},
		{HostileNULInvalidUTF8, rec([]byte("k\x00\xff"), []byte("{\"symbol\":\"A\x00\xff\xfe\",\"x\":\"\xc3\x28\"}\x00"), hdrs(schema))},
		{HostileBinaryHeaders, rec(nil, random(256), []kgo.RecordHeader{
			{Key: "\x00\xff\x01", Value: random(64)},
			{Key: "", Value: nil},
			{Key: "", Value: random(8)},
			{Key: "schema\x00", Value: []byte(schema)},
			{Key: "produced_at", Value: random(32)},
		})},
		{HostileUnknownVersion, rec([]byte("k"), valid, hdrs(schema+"99"))},
		{HostileRepeatedSchema, rec([]byte("k"), valid, hdrs(schema, schema+"99"))},
		{HostileHugeSchema, rec([]byte("k"), valid, hdrs(string(bytes.Repeat([]byte("\xfe"), 600<<10))))},
		{HostileLargest, rec([]byte("k"), nil, hdrs(schema))},
	}
}

// ProduceLargest gives the HostileLargest record in hs the largest random
// value prod accepts (within 64 bytes) and produces it. Records too large
// are refused by the client before they are sent, so the search is quick.
func ProduceLargest(t testing.TB, prod *kgo.Client, hs []Hostile, limit int) {
	t.Helper()
	var r *kgo.Record
	for _, h := range hs {
		if h.Name == HostileLargest {
			r = h.Record
		}
	}
	if r == nil {
		t.Fatal("no largest record in the hostile set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(13, 14))
	value := make([]byte, limit)
	for i := range value {
		value[i] = byte(rng.UintN(256))
	}
	for n := limit; n > limit/2; n -= 64 {
		r.Value = value[:n]
		err := prod.ProduceSync(ctx, r).FirstErr()
		if err == nil {
			return
		}
		if !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("produce the largest record (%d bytes): %v", n, err)
		}
	}
	t.Fatalf("no record under %d bytes was accepted", limit)
}
