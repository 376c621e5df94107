package sink

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/store"
)

// TestCopyEncodingRoundTrips writes values through the binary COPY
// encoder and reads them back as PostgreSQL renders them.
func TestCopyEncodingRoundTrips(t *testing.T) {
	pool, _ := pgtest.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE enc (n numeric(20,4), raw numeric, ts timestamptz, tags text[],
		i8 bigint, i4 integer, i2 smallint, s text, b bytea)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		d       event.Decimal
		want    string // numeric(20,4) rendering
		wantRaw string // plain numeric rendering (dscale 4)
	}{
		{0, "0.0000", "0.0000"},
		{1, "0.0001", "0.0001"},
		{-1, "-0.0001", "-0.0001"},
		{event.Unit, "1.0000", "1.0000"},
		{-event.Unit, "-1.0000", "-1.0000"},
		{1872500, "187.2500", "187.2500"},
		{10000 * event.Unit, "10000.0000", "10000.0000"},
		{100000000 * event.Unit, "100000000.0000", "100000000.0000"},
		{123456789012345, "12345678901.2345", "12345678901.2345"},
		{event.MaxMoney, "1000000000000.0000", "1000000000000.0000"},
		{-event.MaxMoney - 1, "-1000000000000.0001", "-1000000000000.0001"},
		{event.MaxDecimal, "922337203685477.5807", "922337203685477.5807"},
		{event.MinDecimal, "-922337203685477.5808", "-922337203685477.5808"},
	}
	ts := time.Date(2025, 6, 2, 13, 30, 1, 123456789, time.UTC)
	tags := [][]string{{"Technology", "Energy"}, {}, {`quo"te`, "ünï"}}
	var c copyBuffer
	c.reset()
	for i, tt := range tests {
		c.row(9)
		c.numeric(tt.d)
		c.numeric(tt.d)
		c.timestamptz(ts.Add(time.Duration(i) * time.Hour * 24 * 400))
		c.textArray(tags[i%len(tags)])
		c.int64(-int64(i))
		c.int32(int32(i))
		c.int16(int16(i))
		c.textOrNull([]string{"", "x"}[i%2])
		c.bytea([]byte{0, byte(i)})
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	enc := store.Table{Name: "enc"}
	for _, n := range []string{"n", "raw", "ts", "tags", "i8", "i4", "i2", "s", "b"} {
		enc.Columns = append(enc.Columns, store.Column{Name: n})
	}
	encTable := newCopyTable(enc)
	if n, err := copyRows(ctx, tx, encTable, &c); err != nil || n != int64(len(tests)) {
		t.Fatalf("copy: %d rows, %v", n, err)
	}
	i := 0
	rows, err := tx.Query(ctx, `SELECT n::text, raw::text, ts, tags, i8, i4, i2, s, b FROM enc ORDER BY i4`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for ; rows.Next(); i++ {
		var n, raw string
		var gotTS time.Time
		var gotTags []string
		var i8 int64
		var i4 int32
		var i2 int16
		var s *string
		var b []byte
		if err := rows.Scan(&n, &raw, &gotTS, &gotTags, &i8, &i4, &i2, &s, &b); err != nil {
			t.Fatal(err)
		}
		tt := tests[i]
		if n != tt.want || raw != tt.wantRaw {
			t.Errorf("decimal %d: got %s and %s, want %s and %s", int64(tt.d), n, raw, tt.want, tt.wantRaw)
		}
		wantTS := ts.Add(time.Duration(i) * time.Hour * 24 * 400).Truncate(time.Microsecond)
		if !gotTS.Equal(wantTS) {
			t.Errorf("row %d: got ts %s, want %s", i, gotTS, wantTS)
		}
		if want := tags[i%len(tags)]; len(gotTags) != len(want) || (len(want) > 0 && gotTags[0] != want[0]) {
			t.Errorf("row %d: got tags %q, want %q", i, gotTags, want)
		}
		if i8 != -int64(i) || i4 != int32(i) || i2 != int16(i) {
			t.Errorf("row %d: got ints %d %d %d", i, i8, i4, i2)
		}
		if (s == nil) != (i%2 == 0) {
			t.Errorf("row %d: got text %v, want NULL only on even rows", i, s)
		}
		if len(b) != 2 || b[1] != byte(i) {
			t.Errorf("row %d: got bytea %v", i, b)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(tests) {
		t.Errorf("got %d rows back, want %d", i, len(tests))
	}
}

func BenchmarkAppendNumeric(b *testing.B) {
	buf := make([]byte, 0, 64)
	for i := 0; b.Loop(); i++ {
		buf = appendNumeric(buf[:0], event.Decimal(1872500+i))
	}
}

// tickRowsForBench returns n decoded ticks as the sink holds them.
func tickRowsForBench(n int) []tickRow {
	rows := make([]tickRow, n)
	for i := range rows {
		rows[i].ev = event.Price{Symbol: "AAPL", Sector: "Technology", Seq: int64(i), Time: time.Unix(1700000000+int64(i), 0),
			Bid: event.Decimal(1872500 + i), Ask: event.Decimal(1872600 + i), Last: event.Decimal(1872550 + i), Volume: 100}
		rows[i].src = &kgo.Record{Partition: 3, Offset: int64(i), Headers: event.Headers{RunID: []byte("run")}.Records()}
	}
	return rows
}

func TestCopyEncodingDoesNotAllocate(t *testing.T) {
	rows := tickRowsForBench(1000)
	var c copyBuffer
	encodeTicks(&c, rows) // grows the buffer once
	if got := testing.AllocsPerRun(20, func() { encodeTicks(&c, rows) }); got != 0 {
		t.Errorf("got %.1f allocations per 1000-row batch, want 0", got)
	}
}

func BenchmarkEncodeTicks(b *testing.B) {
	rows := tickRowsForBench(5000)
	var c copyBuffer
	b.ReportAllocs()
	for b.Loop() {
		encodeTicks(&c, rows)
	}
	b.SetBytes(int64(len(c.b)))
}
