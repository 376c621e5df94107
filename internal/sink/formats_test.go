package sink

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestSinkReadsEveryFormatOnTheSameTopics produces prices and trades in
// JSON, Avro, Protobuf and JSON Schema in turn on the same topics, plus
// three records no schema reads, through a registry that is down for the
// sink's first requests. The sink waits out the outage (no dead letter
// for it), loads every good record once and dead-letters the three with
// their reasons; verify agrees.
func TestSinkReadsEveryFormatOnTheSameTopics(t *testing.T) {
	registry := kafkatest.Registry(t)
	e := newTestEnv(t, 3)
	ctx := context.Background()
	reg, err := format.NewRegistry(format.RegistryConfig{URL: registry})
	if err != nil {
		t.Fatal(err)
	}
	encoders := map[format.Format]*format.Encoder{}
	for _, f := range []format.Format{format.Avro, format.Protobuf, format.JSONSchema} {
		// A subject keeps one format: each registers under its own.
		enc, err := format.NewEncoder(ctx, reg, f, []format.Registration{
			{Version: event.SchemaPriceV1, Subject: e.names.Prices + "-" + f.String() + "-value"},
			{Version: event.SchemaTradeV2, Subject: e.names.Trades + "-" + f.String() + "-value"},
			{Version: event.SchemaAlertV1, Subject: e.names.Alerts + "-" + f.String() + "-value"}})
		if err != nil {
			t.Fatal(err)
		}
		encoders[f] = enc
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	perFormat := map[format.Format]int{}
	n := 0
	encode := func(version string, ev any, json []byte) []byte {
		f := format.Format(n % 4)
		n++
		perFormat[f]++
		if f == format.JSON {
			return json
		}
		b, err := encoders[f].Append(nil, version, ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const prices, trades = 400, 200
	var recs []*kgo.Record
	var avroPrice []byte
	for i := 1; i <= prices; i++ {
		last := event.Decimal(1_000_000 + 37*i)
		p := event.Price{Symbol: "AAPL", Sector: "Technology", Seq: int64(i), Time: now.Add(time.Duration(i) * time.Millisecond),
			Bid: last - 100, Ask: last + 100, Last: last, Volume: int64(i)}
		v := encode(event.SchemaPriceV1, &p, p.AppendJSON(nil))
		if format.Framed(v) && avroPrice == nil && n%4 == 2 {
			avroPrice = v
		}
		recs = append(recs, record(e.names.Prices, event.SchemaPriceV1, p.AppendKey(nil), v))
	}
	balances := map[int64]event.Decimal{}
	for i := 1; i <= trades; i++ {
		acct := int64(1 + i%7)
		tr := event.Trade{ID: int64(i), UserID: acct, AccountID: acct, Symbol: "AAPL", Side: event.SideBuy,
			Quantity: int64(i), Price: 1_000_000, Fee: event.Unit, Time: now.Add(time.Duration(i) * time.Millisecond),
			OrderType: event.OrderMarket}
		if balances[acct] == 0 {
			balances[acct] = event.FromInt(10_000_000)
		}
		balances[acct] += tr.CashFlow()
		tr.BalanceAfter = balances[acct]
		recs = append(recs, record(e.names.Trades, event.SchemaTradeV2, tr.AppendKey(nil), encode(event.SchemaTradeV2, &tr, tr.AppendJSON(nil))))
	}
	const alerts = 40
	for i := 1; i <= alerts; i++ {
		a := event.Alert{ID: fmt.Sprintf("r1-prices-0-%d-00000000", i), RuleID: 1, Kind: "price_above", Symbol: "AAPL",
			Message: "AAPL above 100.0000", Value: event.Decimal(1_000_000 + i), Time: now.Add(time.Duration(i) * time.Millisecond)}
		recs = append(recs, record(e.names.Alerts, event.SchemaAlertV1, a.AppendKey(nil), encode(event.SchemaAlertV1, &a, a.AppendJSON(nil))))
	}
	// Three records no schema reads: an id the registry never handed out,
	// an Avro price cut short, and a price on the trades topic.
	unknown := append([]byte{0, 0x7f, 0xff, 0xff, 0xf0}, avroPrice[5:]...)
	recs = append(recs,
		record(e.names.Prices, "", []byte("AAPL"), unknown),
		record(e.names.Prices, "", []byte("AAPL"), avroPrice[:len(avroPrice)-4]),
		record(e.names.Trades, "", []byte("1"), avroPrice))
	e.produce(t, recs...)

	// The registry the sink sees is down for its first requests.
	target, _ := url.Parse(registry)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused.Add(1) <= 4 {
			http.Error(w, "registry restarting", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	flaky, err := format.NewRegistry(format.RegistryConfig{URL: srv.URL + strings.TrimSuffix(target.Path, "/")})
	if err != nil {
		t.Fatal(err)
	}
	dec := format.NewDecoder(flaky, nil)
	opts := e.options()
	opts.Decoder = dec
	e.runSink(t, opts, nil, time.Minute)

	if got := e.count(t, `SELECT count(*) FROM price_ticks`); got != prices {
		t.Errorf("%d price ticks, want %d", got, prices)
	}
	if got := e.count(t, `SELECT count(DISTINCT seq) FROM price_ticks`); got != prices {
		t.Errorf("%d distinct ticks, want %d", got, prices)
	}
	if got := e.count(t, `SELECT count(*) FROM trades WHERE schema_version = 2`); got != trades {
		t.Errorf("%d trade/2 trades, want %d", got, trades)
	}
	// Each alert as written: its value is 100 plus its number in units.
	if got := e.count(t, `SELECT count(*) FROM alerts WHERE value = 100 + 0.0001 * split_part(alert_id, '-', 4)::int AND symbol = 'AAPL'`); got != alerts {
		t.Errorf("%d alerts loaded as written, want %d", got, alerts)
	}
	for reason, want := range map[string]int64{"unknown_schema": 1, "schema_mismatch": 1, ReasonUnexpectedSchema: 1} {
		if got := e.count(t, `SELECT count(*) FROM dead_letters WHERE reason = $1`, reason); got != want {
			t.Errorf("%d dead letters %s, want %d", got, reason, want)
		}
	}
	if got := e.count(t, `SELECT count(*) FROM dead_letters`); got != 3 {
		t.Errorf("%d dead letters, want 3", got)
	}
	if w := dec.Waits.Load(); w < 4 {
		t.Errorf("the decoder waited %d times for the registry, want at least 4", w)
	}
	e.verify(t, 0)
	t.Logf("loaded %d ticks, %d trades and %d alerts written as %v (json, avro, protobuf, jsonschema), 3 dead letters, %d registry waits",
		prices, trades, alerts, perFormat, dec.Waits.Load())
}
