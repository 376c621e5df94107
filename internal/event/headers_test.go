package event

import (
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// allHeaders returns Headers with every field set to a distinct value, by
// reflection, so a field added without its Append and ReadHeaders lines
// fails TestHeadersRoundTrip.
func allHeaders(t *testing.T) Headers {
	t.Helper()
	var h Headers
	v := reflect.ValueOf(&h).Elem()
	for i := range v.NumField() {
		v.Field(i).SetBytes([]byte("value of " + v.Type().Field(i).Name))
	}
	return h
}

func TestHeadersRoundTrip(t *testing.T) {
	want := allHeaders(t)
	hs := want.Records()
	if n := reflect.TypeOf(want).NumField(); len(hs) != n {
		t.Fatalf("got %d headers from Records, want one per field (%d)", len(hs), n)
	}
	keys := map[string]bool{}
	for _, h := range hs {
		if keys[h.Key] {
			t.Errorf("got header %q twice, want each once", h.Key)
		}
		keys[h.Key] = true
	}
	if got := ReadHeaders(hs); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v after a round trip, want %+v", got, want)
	}
}

func TestReadHeaders(t *testing.T) {
	tests := []struct {
		name string
		hs   []kgo.RecordHeader
		want Headers
	}{
		{"none", nil, Headers{}},
		{"contract", []kgo.RecordHeader{
			{Key: HeaderSchema, Value: []byte(SchemaPriceV1)},
			{Key: HeaderProducedAt, Value: []byte("2026-03-10T12:00:00Z")},
			{Key: HeaderRunID, Value: []byte("r1")},
		}, Headers{Schema: []byte(SchemaPriceV1), ProducedAt: []byte("2026-03-10T12:00:00Z"), RunID: []byte("r1")}},
		{"unknown ignored", []kgo.RecordHeader{
			{Key: "traceparent", Value: []byte("00-abc")},
			{Key: HeaderSchema, Value: []byte(SchemaPriceV1)},
			{Key: "Schema", Value: []byte("other/1")},
		}, Headers{Schema: []byte(SchemaPriceV1)}},
		{"missing stay nil", []kgo.RecordHeader{
			{Key: HeaderRunID, Value: []byte("r1")},
		}, Headers{RunID: []byte("r1")}},
		{"duplicate: last wins", []kgo.RecordHeader{
			{Key: HeaderSchema, Value: []byte(SchemaTradeV1)},
			{Key: HeaderRunID, Value: []byte("r1")},
			{Key: HeaderSchema, Value: []byte(SchemaTradeV2)},
		}, Headers{Schema: []byte(SchemaTradeV2), RunID: []byte("r1")}},
		{"null value is present and empty", []kgo.RecordHeader{
			{Key: HeaderSchema},
		}, Headers{Schema: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadHeaders(tt.hs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHeadersAppendSkipsAbsent(t *testing.T) {
	h := Headers{RunID: []byte("r1"), Schema: []byte{}}
	got := h.Append([]kgo.RecordHeader{{Key: "k", Value: []byte("v")}})
	want := []kgo.RecordHeader{{Key: "k", Value: []byte("v")}, {Key: HeaderSchema, Value: []byte{}}, {Key: HeaderRunID, Value: []byte("r1")}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestHeadersAllocs(t *testing.T) {
	dst := make([]kgo.RecordHeader, 0, 3)
	stamp := make([]byte, 0, 64)
	hs := []kgo.RecordHeader{{Key: HeaderSchema, Value: []byte(SchemaPriceV1)}, {Key: HeaderRunID, Value: []byte("r")}}
	schema := []byte(SchemaPriceV1)
	now := time.Date(2026, 3, 10, 12, 0, 0, 1, time.UTC)
	allocs := testing.AllocsPerRun(100, func() {
		h := Headers{Schema: schema, ProducedAt: AppendTime(stamp[:0], now)}
		dst = h.Append(dst[:0])
		_ = ReadHeaders(hs)
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per Append and ReadHeaders, want 0", allocs)
	}
}

func TestTimeHeader(t *testing.T) {
	at := time.Date(2026, 3, 10, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	v := AppendTime(nil, at)
	if string(v) != "2026-03-10T11:00:00.123456789Z" {
		t.Errorf("got %s, want 2026-03-10T11:00:00.123456789Z", v)
	}
	if got, ok := ParseTime(v); !ok || !got.Equal(at) {
		t.Errorf("got %v, %v parsing %s, want %v, true", got, ok, v, at)
	}
	for _, bad := range []string{"", "yesterday"} {
		if got, ok := ParseTime([]byte(bad)); ok {
			t.Errorf("got %v, true parsing %q, want false", got, bad)
		}
	}
}

func BenchmarkReadHeaders(b *testing.B) {
	hs := []kgo.RecordHeader{
		{Key: HeaderSchema, Value: []byte(SchemaPriceV1)},
		{Key: HeaderProducedAt, Value: []byte("2026-03-10T12:00:00.123456789Z")},
		{Key: HeaderRunID, Value: []byte("bench")},
	}
	b.ReportAllocs()
	for b.Loop() {
		if h := ReadHeaders(hs); h.RunID == nil {
			b.Fatal("no run_id")
		}
	}
}

func BenchmarkHeadersAppend(b *testing.B) {
	h := Headers{Schema: []byte(SchemaPriceV1), ProducedAt: []byte("2026-03-10T12:00:00.123456789Z"), RunID: []byte("bench")}
	dst := make([]kgo.RecordHeader, 0, 3)
	b.ReportAllocs()
	for b.Loop() {
		dst = h.Append(dst[:0])
	}
}
