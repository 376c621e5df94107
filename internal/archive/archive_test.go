package archive

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

func testHeader() Header {
	return Header{
		CreatedAt: time.Date(2025, 6, 20, 12, 0, 0, 0, time.UTC), Prefix: "p.",
		Topics: []Topic{
			{Name: "users", Partitions: []Range{{0, 10}, {0, 10}}},
			{Name: "trades", Partitions: []Range{{5, 100}}},
		},
	}
}

// testRecords covers what must survive: nil and empty keys and values,
// nil and empty header values, a header key that is not UTF-8, binary.
func testRecords() []*kgo.Record {
	ts := time.UnixMilli(1718900000123)
	return []*kgo.Record{
		{Topic: "users", Partition: 0, Offset: 0, Timestamp: ts, Key: []byte("42"), Value: []byte(`{"user_id":42}`),
			Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("user/1")}, {Key: "run_id", Value: []byte{}}}},
		{Topic: "users", Partition: 0, Offset: 3, Timestamp: ts, Key: []byte("42")}, // a tombstone
		{Topic: "users", Partition: 1, Offset: 0, Timestamp: ts.Add(time.Second), Key: nil, Value: []byte{}},
		{Topic: "trades", Partition: 0, Offset: 5, Timestamp: time.UnixMilli(0), Key: []byte{}, Value: []byte{0, 0xff, '\n', '"'},
			Headers: []kgo.RecordHeader{{Key: "\xff\xfe", Value: nil}, {Key: "", Value: []byte("x")}}},
	}
}

func writeFile(t *testing.T, h Header, recs []*kgo.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r.Topic, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(data []byte) ([]*kgo.Record, *Reader, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []*kgo.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		out = append(out, rec)
	}
}

func TestRoundTripIsLossless(t *testing.T) {
	want := testRecords()
	got, r, err := readAll(writeFile(t, testHeader(), want))
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header(); h.Prefix != "p." || len(h.Topics) != 2 || h.Format != Format {
		t.Errorf("got header %+v", h)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Topic != w.Topic || g.Partition != w.Partition || g.Offset != w.Offset || !g.Timestamp.Equal(w.Timestamp) {
			t.Errorf("record %d: got %s/%d@%d %v, want %s/%d@%d %v", i, g.Topic, g.Partition, g.Offset, g.Timestamp,
				w.Topic, w.Partition, w.Offset, w.Timestamp)
		}
		// reflect.DeepEqual tells nil from empty, which must survive.
		if !reflect.DeepEqual(g.Key, w.Key) || !reflect.DeepEqual(g.Value, w.Value) || !reflect.DeepEqual(g.Headers, w.Headers) {
			t.Errorf("record %d: got key %#v value %#v headers %#v, want %#v %#v %#v", i, g.Key, g.Value, g.Headers, w.Key, w.Value, w.Headers)
		}
	}
}

// compress returns text as a zstd stream.
func compress(t testing.TB, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write([]byte(text))
	_ = zw.Close()
	return buf.Bytes()
}

const goodHeader = `{"format":"tradestream-topics","version":1,"prefix":"p.","topics":[{"name":"trades","partitions":[{"start":0,"end":10}]}]}` + "\n"

func TestReaderRejectsHostileInput(t *testing.T) {
	good := writeFile(t, testHeader(), testRecords())
	rec := func(p, off int) string {
		return `{"topic":"trades","partition":` + strconv.Itoa(p) + `,"offset":` + strconv.Itoa(off) + `,"timestamp":1,"key":"MQ==","value":"eA=="}` + "\n"
	}
	tests := []struct {
		name     string
		data     []byte
		wantLine int
		want     string
	}{
		{"empty", nil, 1, "empty file"},
		{"not zstd", []byte(goodHeader), 1, "zstd"},
		{"truncated stream", good[:len(good)-9], 0, "truncated"},
		{"no trailer", compress(t, goodHeader+rec(0, 1)), 2, "no end marker"},
		{"header only", compress(t, goodHeader), 1, "no end marker"},
		{"not json", compress(t, "hello\n"), 1, "header"},
		{"other format", compress(t, `{"format":"x","version":1}`+"\n"), 1, "not a tradestream topics export"},
		{"newer version", compress(t, `{"format":"tradestream-topics","version":2}`+"\n"), 1, "version 2"},
		{"bad range", compress(t, `{"format":"tradestream-topics","version":1,"topics":[{"name":"a","partitions":[{"start":5,"end":1}]}]}`+"\n"), 1, "bad range"},
		{"duplicate topic", compress(t, `{"format":"tradestream-topics","version":1,"topics":[{"name":"a","partitions":[{}]},{"name":"a","partitions":[{}]}]}`+"\n"), 1, "twice"},
		{"garbage record", compress(t, goodHeader+rec(0, 1)+"{nope\n"), 3, "not a record"},
		{"unknown topic", compress(t, goodHeader+`{"topic":"x","partition":0,"offset":0}`+"\n"), 2, `topic "x"`},
		{"no topic", compress(t, goodHeader+`{"partition":0,"offset":0}`+"\n"), 2, "without a topic"},
		{"partition out of range", compress(t, goodHeader+rec(3, 0)), 2, "no partition 3"},
		{"negative partition", compress(t, goodHeader+rec(-1, 0)), 2, "no partition -1"},
		{"offsets backwards", compress(t, goodHeader+rec(0, 5)+rec(0, 4)), 3, "out of order"},
		{"offset repeated", compress(t, goodHeader+rec(0, 5)+rec(0, 5)), 3, "out of order"},
		{"offset past the range", compress(t, goodHeader+rec(0, 10)), 2, "outside the exported range"},
		{"bad base64", compress(t, goodHeader+`{"topic":"trades","partition":0,"offset":0,"key":"!!"}`+"\n"), 2, "not a record"},
		{"wrong count", compress(t, goodHeader+rec(0, 1)+`{"end":{"records":2}}`+"\n"), 3, "counts 2 records"},
		{"after the end", compress(t, goodHeader+`{"end":{"records":0}}`+"\n"+rec(0, 1)), 3, "after the end marker"},
		{"too long", compress(t, goodHeader+`{"topic":"trades","value":"`+strings.Repeat("A", MaxLine)+`"}`+"\n"), 2, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(tt.data)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LineError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to say %q", err, tt.want)
			}
			if tt.wantLine > 0 && le.Line != tt.wantLine {
				t.Errorf("got line %d, want %d (%v)", le.Line, tt.wantLine, err)
			}
		})
	}
}

// FuzzReader feeds arbitrary bytes, compressed and raw, to the reader: it
// must return records or an error, never panic or loop.
func FuzzReader(f *testing.F) {
	f.Add([]byte(goodHeader + `{"end":{"records":0}}` + "\n"))
	f.Add([]byte(goodHeader + `{"topic":"trades","partition":0,"offset":1,"headers":[{"key64":"/w==","value":null}]}` + "\n" + `{"end":{"records":1}}` + "\n"))
	f.Add([]byte(`{"format":"tradestream-topics","version":1,"topics":[{"name":"a","partitions":[{"start":0,"end":1}]}]}` + "\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, data := range [][]byte{compress(t, string(text)), text} {
			recs, _, err := readAll(data)
			if err == nil {
				for _, r := range recs {
					if r.Topic == "" || r.Partition < 0 || r.Offset < 0 {
						t.Fatalf("accepted a bad record %+v", r)
					}
				}
			}
		}
	})
}
