package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

func TestTransforms(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	window := TimeWindow{RetentionDays: 3, MaxAhead: 48 * time.Hour, Now: func() time.Time { return now }}
	price := func(sym string, ts time.Time) *Record {
		return &Record{Topic: topicPrices, Price: &event.Price{Symbol: sym, Sector: "Energy", Time: ts}}
	}
	user := func(key string, id int64, name string) *Record {
		return &Record{Topic: topicUsers, Key: []byte(key), User: &event.User{ID: id, Name: name}}
	}
	tests := []struct {
		name   string
		tr     Transform
		rec    *Record
		reason string // "" accepts
	}{
		{"symbol normalised", NormalizeSymbols(), price(" xom ", now), ""},
		{"symbol invalid", NormalizeSymbols(), price("1BAD", now), string(event.ReasonInvalidField)},
		{"trade symbol", NormalizeSymbols(), &Record{Trade: &event.Trade{Symbol: "brk.b"}}, ""},
		{"NUL in a name", StorableText(), user("1", 1, "a\x00b"), string(event.ReasonInvalidField)},
		{"NUL in a sector", StorableText(), &Record{Price: &event.Price{Sector: "x\x00"}}, string(event.ReasonInvalidField)},
		{"plain text", StorableText(), user("1", 1, "Zoë"), ""},
		{"user key matches", UserKeyMatches(), user("42", 42, "a"), ""},
		{"user key differs", UserKeyMatches(), user("41", 42, "a"), string(event.ReasonInvalidField)},
		{"user key not a number", UserKeyMatches(), user("x", 42, "a"), string(event.ReasonInvalidField)},
		{"today", window, price("A", now), ""},
		{"first day kept", window, price("A", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)), ""},
		{"day before retention", window, price("A", time.Date(2026, 3, 6, 23, 59, 59, 0, time.UTC)), ReasonOutsideRetention},
		{"within max ahead", window, price("A", now.Add(47*time.Hour)), ""},
		{"past max ahead", window, price("A", now.Add(49*time.Hour)), ReasonFutureTime},
		{"users are not dated", window, user("1", 1, "a"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tr.Apply(tt.rec)
			got := ""
			if err != nil {
				got = rejectionReason(err)
			}
			if got != tt.reason {
				t.Errorf("got reason %q (%v), want %q", got, err, tt.reason)
			}
		})
	}
	r := price(" xom ", now)
	_ = NormalizeSymbols().Apply(r)
	if r.Price.Symbol != "XOM" {
		t.Errorf("got symbol %q, want XOM", r.Price.Symbol)
	}
}

func TestCustomTransformRejects(t *testing.T) {
	noPennies := TransformFunc(func(rec *Record) error {
		if rec.Price != nil && rec.Price.Last < event.Unit {
			return Reject("penny_stock", "last %s is below 1", rec.Price.Last)
		}
		return nil
	})
	bl := builder{topics: map[string]string{"p": topicPrices}, transforms: []Transform{noPennies}}
	b := newBatch()
	mk := func(off int64, last string) *kgo.Record {
		v := fmt.Sprintf(`{"symbol":"AAPL","sector":"Technology","seq":%d,"ts":"2026-03-10T12:00:00Z","bid":"0.5000","ask":"9.0000","last":"%s","volume":1}`, off, last)
		return &kgo.Record{Topic: "p", Offset: off, Value: []byte(v), Headers: []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(event.SchemaPriceV1)}}}
	}
	bl.addPartition(context.Background(), b, "p", 0, []*kgo.Record{mk(0, "5.0000"), mk(1, "0.5000")}, func(topicPartition) int64 { return -1 }, time.Now())
	if len(b.ticks) != 1 || len(b.dead) != 1 || b.dead[0].reason != "penny_stock" {
		t.Fatalf("got %d ticks and dead letters %+v, want 1 tick and one penny_stock dead letter", len(b.ticks), b.dead)
	}
	if r := b.ranges[topicPartition{"p", 0}]; r == nil || r.from != -1 || r.to != 2 {
		t.Errorf("got range %+v, want -1..2", r)
	}
	// Redelivered records below the position are skipped.
	b2 := newBatch()
	skipped := bl.addPartition(context.Background(), b2, "p", 0, []*kgo.Record{mk(0, "5.0000"), mk(1, "5.0000"), mk(2, "5.0000")},
		func(topicPartition) int64 { return 2 }, time.Now())
	if skipped != 2 || len(b2.ticks) != 1 {
		t.Errorf("got %d skipped and %d ticks, want 2 and 1", skipped, len(b2.ticks))
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want errorClass
	}{
		{fmt.Errorf("store offsets: %w", errFenced), classFenced},
		{&pgconn.PgError{Code: "23514", Message: `no partition of relation "trades" found for row`}, classPartition},
		{&pgconn.PgError{Code: "23514", Message: `new row violates check constraint`}, classData},
		{&pgconn.PgError{Code: "22021", Message: "invalid byte sequence"}, classData},
		{&pgconn.PgError{Code: "22003", Message: "numeric field overflow"}, classData},
		{&pgconn.PgError{Code: "21000"}, classData},
		{&pgconn.PgError{Code: "42P01", Message: `relation "trades" does not exist`}, classFatal},
		{&pgconn.PgError{Code: "42501"}, classFatal},
		{&pgconn.PgError{Code: "28P01"}, classFatal},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, classTransient},
		{&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, classTransient},
		{&pgconn.PgError{Code: "40P01"}, classTransient},
		{&pgconn.PgError{Code: "40001"}, classTransient},
		{&pgconn.PgError{Code: "53300"}, classTransient},
		{fmt.Errorf("begin: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), classTransient},
		{io.ErrUnexpectedEOF, classTransient},
		{context.DeadlineExceeded, classTransient},
		{errors.New("something new"), classTransient},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var last time.Duration
	for i := range 10 {
		d := b.next()
		if d > time.Second || d < 80*time.Millisecond {
			t.Fatalf("step %d: got %v, want within [80ms, 1s]", i, d)
		}
		last = d
	}
	if last < 800*time.Millisecond {
		t.Errorf("got %v after 10 steps, want the cap (1s less jitter)", last)
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: got %v, want at most min", d)
	}
}
