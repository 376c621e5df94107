package sink

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
)

// exampleTransforms loads testdata/transforms.yaml as the configuration
// does.
func exampleTransforms(t testing.TB) []config.Transform {
	t.Helper()
	cfg := config.Default()
	if err := config.Load(&cfg, pflag.NewFlagSet("x", pflag.ContinueOnError), "testdata/transforms.yaml", func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return cfg.Sink.Transforms
}

func compileExamples(t testing.TB) []Transform {
	t.Helper()
	ts, err := CompileTransforms(exampleTransforms(t))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

var testTime = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

func testUser(id int64, email string) event.User {
	return event.User{ID: id, Name: "Ada", Email: email, Country: "GB", SignupAt: testTime,
		Experience: event.ExperienceBeginner, RiskTolerance: event.RiskLow, Sectors: []string{"Energy"},
		Account:   event.Account{ID: id, Type: event.AccountCash, Currency: "USD", Balance: event.FromInt(1000)},
		UpdatedAt: testTime}
}

func testPrice(sym, sector string) event.Price {
	return event.Price{Symbol: sym, Sector: sector, Seq: 1, Time: testTime, Bid: event.FromInt(99),
		Ask: event.FromInt(101), Last: event.FromInt(100), Volume: 10}
}

func testTrade(id, user, qty int64, price string) event.Trade {
	return event.Trade{ID: id, UserID: user, AccountID: user, Symbol: "XOM", Side: event.SideBuy, Quantity: qty,
		Price: event.MustParseDecimal(price), Time: testTime, BalanceAfter: event.FromInt(5), OrderType: event.OrderMarket}
}

func TestDeclaredTransformExamples(t *testing.T) {
	ts := compileExamples(t)
	run := func(rec *Record) error {
		for _, tr := range ts {
			if err := tr.Apply(rec); err != nil {
				return err
			}
		}
		return nil
	}
	user := func(email string) *Record {
		u := testUser(7, email)
		return &Record{Topic: topicUsers, Schema: event.SchemaUserV1, Key: []byte("7"), User: &u}
	}
	trade := func(qty int64, price string) *Record {
		tr := testTrade(1, 7, qty, price)
		return &Record{Topic: topicTrades, Schema: event.SchemaTradeV2, Trade: &tr}
	}
	price := func(sym, sector string) *Record {
		p := testPrice(sym, sector)
		return &Record{Topic: topicPrices, Schema: event.SchemaPriceV1, Price: &p}
	}
	for _, tc := range []struct {
		name   string
		rec    *Record
		drop   bool
		reason string
		check  func(*Record) string
	}{
		{name: "test user dropped", rec: user("qa@test.example"), drop: true},
		{name: "real user kept, sectors unset", rec: user("ada@example.com"), check: func(r *Record) string {
			if len(r.User.Sectors) != 0 {
				return "sectors still set"
			}
			return ""
		}},
		{name: "symbol upper-cased", rec: price("xom", "Energy"), check: func(r *Record) string {
			if r.Price.Symbol != "XOM" || r.Price.Sector != "Energy" {
				return "got " + r.Price.Symbol + " " + r.Price.Sector
			}
			return ""
		}},
		{name: "when selects energy", rec: price("XOM", "energy"), check: func(r *Record) string {
			if r.Price.Sector != "ENERGY" {
				return "got sector " + r.Price.Sector
			}
			return ""
		}},
		{name: "trade at the notional limit kept", rec: trade(10_000, "100.0000")},
		{name: "trade above the notional rejected", rec: trade(10_001, "100.0000"), reason: "above_notional"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.rec)
			switch {
			case tc.drop:
				if !errors.Is(err, ErrDrop) {
					t.Errorf("got %v, want the record dropped", err)
				}
			case tc.reason != "":
				if got := rejectionReason(err); err == nil || got != tc.reason {
					t.Errorf("got %v (reason %q), want reason %q", err, got, tc.reason)
				}
			case err != nil:
				t.Errorf("got %v, want the record kept", err)
			case tc.check != nil:
				if msg := tc.check(tc.rec); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
	rec := trade(20_000, "100.0000")
	if err := run(rec); err == nil || !strings.Contains(err.Error(), "notional 2e+06 is above 1000000") {
		t.Errorf("got %v, want the message expression's text", err)
	}
}

func TestCompileTransformsReportsEveryProblem(t *testing.T) {
	specs := []config.Transform{
		{Name: "a", Drop: "record.email.endsWith(", Topics: []string{"users"}},
		{Name: "b", Topics: []string{"trades", "orders"}, Reject: "size(record) + 1", Reason: "Big"},
		{Name: "c", Topics: []string{"prices"}, Set: map[string]string{"colour": `"red"`, "symbol": "record.nosuch"}},
		{Name: "a", Drop: "true", Set: map[string]string{"symbol": `"X"`}},
		{Topics: []string{"trades"}, Unset: []string{"price", "notional"}},
		{Name: "e", Drop: "record.symbol == 'X'"},
	}
	_, err := CompileTransforms(specs)
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{
		"sink transform 1 (a): drop: ERROR",
		`sink transform 2 (b): topic "orders": want users, prices, trades or alerts`,
		`sink transform 2 (b): reject: "size(record) + 1" gives a int, want a bool`,
		`sink transform 2 (b): reason "Big"`,
		`sink transform 3 (c): field "colour": no such field on topic prices`,
		"sink transform 3 (c): set symbol: record.nosuch: no such field on topic prices",
		`sink transform 4 (a): name "a" is used twice`,
		"sink transform 4 (a): give exactly one of drop, reject, set and unset (got 2)",
		"sink transform 5: needs a name",
		`sink transform 5: field "price" of topic trades is required and cannot be unset`,
		`sink transform 5: field "notional" of topic trades is derived and cannot be set`,
		"sink transform 6 (e): drop: record.symbol: no such field on topic users",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got errors:\n%v\nwant one containing %q", err, want)
		}
	}
}

func TestDeclaredTransformFailureIsADeadLetter(t *testing.T) {
	ts, err := CompileTransforms([]config.Transform{
		{Name: "bad-set", Topics: []string{"trades"}, Set: map[string]string{"quantity": "record.quantity * 1000000000000"}},
		{Name: "bad-type", Topics: []string{"prices"}, Set: map[string]string{"volume": `record.symbol`}},
		{Name: "invalid-result", Topics: []string{"users"}, Set: map[string]string{"email": `"nobody"`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, p, u := testTrade(1, 7, 5_000_000_000_000, "1.0000"), testPrice("XOM", "Energy"), testUser(7, "a@example.com")
	for _, tc := range []struct {
		rec    *Record
		reason string
	}{
		{&Record{Topic: topicTrades, Schema: event.SchemaTradeV2, Trade: &tr}, ReasonTransformFailed},
		{&Record{Topic: topicPrices, Schema: event.SchemaPriceV1, Price: &p}, ReasonTransformFailed},
		{&Record{Topic: topicUsers, Schema: event.SchemaUserV1, User: &u}, string(event.ReasonInvalidField)},
	} {
		var err error
		for _, t := range ts {
			if err = t.Apply(tc.rec); err != nil {
				break
			}
		}
		if got := rejectionReason(err); err == nil || got != tc.reason {
			t.Errorf("%s: got %v (%q), want reason %q", tc.rec.Topic, err, got, tc.reason)
		}
	}
}

// TestDeclaredTransformsThroughTheSink loads records through a real sink
// configured with testdata/transforms.yaml.
func TestDeclaredTransformsThroughTheSink(t *testing.T) {
	e := newTestEnv(t, 1)
	declared := compileExamples(t)
	now := time.Now().UTC().Truncate(time.Second)
	var recs []*kgo.Record
	for i, email := range []string{"ada@example.com", "qa1@test.example", "bob@example.com", "qa2@test.example"} {
		u := testUser(int64(i+1), email)
		u.SignupAt, u.UpdatedAt = now, now
		recs = append(recs, record(e.names.Users, event.SchemaUserV1, u.Key(), u.AppendJSON(nil)))
	}
	for i, sector := range []string{"energy", "Technology"} {
		p := testPrice("XOM", sector)
		p.Time, p.Seq = now, int64(i+1)
		recs = append(recs, record(e.names.Prices, event.SchemaPriceV1, p.Key(), p.AppendJSON(nil)))
	}
	for i, qty := range []int64{10, 20_000, 30} {
		tr := testTrade(int64(i+1), 1, qty, "100.0000")
		tr.Time = now
		recs = append(recs, record(e.names.Trades, event.SchemaTradeV2, tr.Key(), tr.AppendJSON(nil)))
	}
	e.produce(t, recs...)
	opts := e.options()
	opts.Declared = declared
	e.runSink(t, opts, nil, time.Minute)

	e.expectCounts(t, []countCheck{
		{"users kept (test users dropped)", "SELECT count(*) FROM users", 2},
		{"test users nowhere", "SELECT count(*) FROM users WHERE email LIKE '%@test.example'", 0},
		{"users without sectors", "SELECT count(*) FROM users WHERE sectors = '{}'", 2},
		{"dropped users are not dead letters", "SELECT count(*) FROM dead_letters WHERE topic = '" + e.names.Users + "'", 0},
		{"energy sector upper-cased", "SELECT count(*) FROM price_ticks WHERE sector = 'ENERGY'", 1},
		{"other sector kept", "SELECT count(*) FROM price_ticks WHERE sector = 'Technology'", 1},
		{"trades within the notional", "SELECT count(*) FROM trades WHERE symbol = 'XOM'", 2},
		{"trade above the notional", "SELECT count(*) FROM dead_letters WHERE reason = 'above_notional' AND kafka_offset = 1", 1},
	}...)
	// Every offset was consumed, the dropped ones too.
	if got := e.count(t, "SELECT next_offset FROM sink_offsets WHERE topic = $1", e.names.Users); got != 4 {
		t.Errorf("users stored offset: got %d, want 4", got)
	}
}

// BenchmarkDeclaredTransforms is the cost per record of the README's
// example steps (testdata/transforms.yaml) on a trade.
func BenchmarkDeclaredTransforms(b *testing.B) {
	ts := compileExamples(b)
	tr := testTrade(1, 7, 10, "100.0000")
	rec := &Record{Topic: topicTrades, Schema: event.SchemaTradeV2}
	b.ReportAllocs()
	for b.Loop() {
		ev := tr
		rec.Trade = &ev
		for _, t := range ts {
			if err := t.Apply(rec); err != nil {
				b.Fatal(err)
			}
		}
	}
}
