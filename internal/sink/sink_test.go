package sink

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/bench/feed"
)

// checkFeedLoaded asserts that the tables hold exactly what the feed's
// valid records make, and its dead letters exactly the malformed ones.
func checkFeedLoaded(t *testing.T, e *testEnv, exp feed.Expect) {
	t.Helper()
	tests := []struct {
		name string
		got  int64
		want int
	}{
		{"price ticks", e.count(t, "SELECT count(*) FROM price_ticks"), exp.Prices},
		{"trades", e.count(t, "SELECT count(*) FROM trades"), exp.Trades},
		{"trade/1 rows, without order fields", e.count(t, "SELECT count(*) FROM trades WHERE schema_version = 1 AND order_type IS NULL AND limit_price IS NULL"), exp.TradesV1},
		{"trade/2 rows, with an order type", e.count(t, "SELECT count(*) FROM trades WHERE schema_version = 2 AND order_type IS NOT NULL"), exp.TradesV2},
		{"users", e.count(t, "SELECT count(*) FROM users"), exp.Users},
		{"dead letters", e.count(t, "SELECT count(*) FROM dead_letters"), exp.MalformedTotal()},
	}
	for reason, n := range exp.Malformed {
		tests = append(tests, struct {
			name string
			got  int64
			want int
		}{"dead letters " + reason, e.count(t, "SELECT count(*) FROM dead_letters WHERE reason = $1", reason), n})
	}
	for _, tt := range tests {
		if tt.got != int64(tt.want) {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	rows, err := e.pool.Query(context.Background(), "SELECT account_id, balance::text FROM accounts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, wrong := 0, 0
	for rows.Next() {
		var id int64
		var bal string
		if err := rows.Scan(&id, &bal); err != nil {
			t.Fatal(err)
		}
		n++
		if want := exp.Balances[id]; bal != want.String() {
			if wrong++; wrong <= 5 {
				t.Errorf("account %d: got balance %s, want %s", id, bal, want)
			}
		}
	}
	if n != len(exp.Balances) {
		t.Errorf("got %d accounts, want %d", n, len(exp.Balances))
	}
}

func TestLoadsFeedOnceWithDeadLettersAndBothTradeVersions(t *testing.T) {
	e := newTestEnv(t, 3)
	ctx := context.Background()
	exp, err := feed.Produce(ctx, e.producer, e.names, feed.Config{
		Seed: 7, Users: 300, Events: 30_000, MalformedEvery: 97, V1Share: 0.5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if exp.TradesV1 == 0 || exp.TradesV2 == 0 {
		t.Fatalf("feed made %d trade/1 and %d trade/2 trades, want both", exp.TradesV1, exp.TradesV2)
	}
	reg := prometheus.NewRegistry()
	start := time.Now()
	e.runSink(t, e.options(), reg, 2*time.Minute)
	t.Logf("loaded %d events and %d malformed records in %v", 30_000, exp.MalformedTotal(), time.Since(start).Round(time.Millisecond))
	checkFeedLoaded(t, e, exp)

	if got := counterSum(t, reg, "tradestream_sink_dead_letters_total"); int(got) != exp.MalformedTotal() {
		t.Errorf("dead letter metric: got %v, want %d", got, exp.MalformedTotal())
	}
	if got := counterSum(t, reg, "tradestream_sink_rows_written_total"); int(got) != exp.Prices+exp.Trades+exp.Users {
		t.Errorf("rows written metric: got %v, want %d", got, exp.Prices+exp.Trades+exp.Users)
	}

	// A second run from the stored offsets finds nothing new to load.
	e.runSink(t, e.options(), nil, time.Minute)
	checkFeedLoaded(t, e, exp)
	rep := e.verify(t, 0)
	if rep.Users.Keys != int64(exp.Users) {
		t.Errorf("verify saw %d user keys, want %d", rep.Users.Keys, exp.Users)
	}
}

// counterSum returns the sum over its labels of the named counter in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}
