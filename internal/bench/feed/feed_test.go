package feed

import (
	"bytes"
	"testing"

	"github.com/tradestream/tradestream/internal/event"
)

func collect(t *testing.T, cfg Config) ([]Record, Expect) {
	t.Helper()
	var recs []Record
	exp, err := Generate(cfg, func(r Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return recs, exp
}

func TestGenerateIsSeededAndCounted(t *testing.T) {
	cfg := Config{Seed: 42, Users: 20, Events: 3000, MalformedEvery: 10, V1Share: 0.5}
	a, exp := collect(t, cfg)
	b, _ := collect(t, cfg)
	if len(a) != len(b) {
		t.Fatalf("got %d and %d records from one seed", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Value, b[i].Value) || a[i].Schema != b[i].Schema {
			t.Fatalf("record %d differs between two runs of one seed", i)
		}
	}
	valid := 0
	for _, r := range a {
		if r.Valid {
			valid++
		}
	}
	if valid != 3000 || exp.Users+exp.Prices+exp.Trades != 3000 || exp.TradesV1+exp.TradesV2 != exp.Trades {
		t.Errorf("got %d valid records, counts %+v; want 3000 in all", valid, exp)
	}
	if exp.Users != 20 || exp.TradesV1 == 0 || exp.TradesV2 == 0 {
		t.Errorf("got %d users, %d trade/1, %d trade/2; want 20 and both versions", exp.Users, exp.TradesV1, exp.TradesV2)
	}
	if got := len(a) - valid; got != 300 || exp.MalformedTotal() != 300 {
		t.Errorf("got %d malformed records (expected %d), want 300", got, exp.MalformedTotal())
	}
	if len(exp.Balances) != 20 {
		t.Errorf("got %d balances, want one per account", len(exp.Balances))
	}
}

// TestMalformedRecordsFailForTheirReason decodes every kind of malformed
// record as the sink does and checks the reason it must get.
func TestMalformedRecordsFailForTheirReason(t *testing.T) {
	accepted := map[Topic][]string{
		Users: {event.SchemaUserV1}, Prices: {event.SchemaPriceV1}, Trades: {event.SchemaTradeV1, event.SchemaTradeV2},
	}
	for i, k := range malformedKinds {
		m := malformer{n: i}
		rec, reason := m.next(Record{Key: []byte("AAPL")})
		if reason != k.reason {
			t.Fatalf("kind %d: got reason %s, want %s", i, reason, k.reason)
		}
		onTopic := false
		for _, s := range accepted[rec.Topic] {
			onTopic = onTopic || s == rec.Schema
		}
		_, err := event.Decode(rec.Schema, rec.Value)
		var got string
		switch {
		case event.KnownSchema(rec.Schema) && !onTopic:
			got = "unexpected_schema"
		case err != nil:
			got = string(event.ReasonOf(err))
		}
		if got != reason {
			t.Errorf("kind %d (%s on topic %d): decodes as %q (%v), want %s", i, rec.Schema, rec.Topic, got, err, reason)
		}
	}
}
