package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
)

// memRules is a RuleStore for tests, held in memory.
type memRules struct {
	mu    sync.Mutex
	rules []Rule
}

func (m *memRules) Rules(context.Context) ([]Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Rule(nil), m.rules...), nil
}

func (m *memRules) AddRule(_ context.Context, s RuleSpec) (Rule, error) {
	if s.Kind != "price_above" && s.Kind != "price_below" {
		return Rule{}, errors.Join(ErrInvalidRule, errors.New("kind not supported here"))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := Rule{ID: int64(len(m.rules) + 1), RuleSpec: s, Enabled: true, CreatedAt: time.Now()}
	m.rules = append(m.rules, r)
	return r, nil
}

func (m *memRules) RemoveRule(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range m.rules {
		if r.ID == id {
			m.rules = append(m.rules[:i], m.rules[i+1:]...)
			return nil
		}
	}
	return ErrRuleNotFound
}

func (m *memRules) RecentAlerts(context.Context, int) ([]AlertView, error) { return nil, nil }

const testToken = "0123456789abcdef0123"

// apiServer serves the API on a migrated schema holding one AAPL tick, with
// a live client that reads nothing (the API tests need no live data).
func apiServer(t *testing.T, rules RuleStore, token config.Secret) *httptest.Server {
	t.Helper()
	pool, _ := pgtest.Migrated(t)
	brokers := kafkatest.Brokers(t)
	topics := kafka.TopicNames(kafkatest.Prefix(t))
	if _, err := pool.Exec(context.Background(), `INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset)
		VALUES ('AAPL', 'Technology', 1, now(), 187.24, 187.26, 187.25, 100, 0, 0)`); err != nil {
		t.Fatalf("insert tick: %v", err)
	}
	// The tick was stored without the sink: build its rollups.
	if err := rollup.Rebuild(context.Background(), pool, time.Now().AddDate(0, 0, -1), time.Now().AddDate(0, 0, 1), nil); err != nil {
		t.Fatalf("rollups: %v", err)
	}
	live := kafkatest.Client(t, brokers)
	s := New(live, pool, Options{Topics: topics, SinkGroup: "g", Token: token, Rules: rules})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestAPIAnswersBadRequestsWithClear4xx(t *testing.T) {
	srv := apiServer(t, &memRules{}, testToken)
	big := `{"kind":"price_above","symbol":"AAPL","threshold":"1.0000","note":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name, method, path, body, token string
		want                            int
		wantErr                         string
	}{
		{"candles ok", "GET", "/api/candles?symbol=AAPL&interval=1m", "", "", 200, ""},
		{"lower-case symbol normalised", "GET", "/api/candles?symbol=aapl&interval=1s", "", "", 200, ""},
		{"unknown symbol", "GET", "/api/candles?symbol=ZZZZ&interval=1m", "", "", 404, "unknown symbol"},
		{"malformed symbol", "GET", "/api/candles?symbol=%3Cb%3E&interval=1m", "", "", 400, "symbol"},
		{"missing symbol", "GET", "/api/trades", "", "", 400, "symbol: required"},
		{"bad interval", "GET", "/api/candles?symbol=AAPL&interval=7m", "", "", 400, "interval"},
		{"absurd range", "GET", "/api/candles?symbol=AAPL&interval=1s&from=0&to=2000000000", "", "", 400, "at most 1500"},
		{"reversed range", "GET", "/api/candles?symbol=AAPL&interval=1m&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "", "", 400, "after from"},
		{"bad time", "GET", "/api/candles?symbol=AAPL&from=yesterday", "", "", 400, "RFC 3339"},
		{"bad count", "GET", "/api/candles?symbol=AAPL&count=999999", "", "", 400, "count"},
		{"bad trades limit", "GET", "/api/trades?symbol=AAPL&limit=-1", "", "", 400, "limit"},
		{"bad movers window", "GET", "/api/movers?window=1y", "", "", 400, "window"},
		{"stream unknown symbol", "GET", "/api/stream?symbol=NOPE", "", "", 404, "unknown symbol"},
		{"unknown endpoint", "GET", "/api/nope", "", "", 404, "no such API endpoint"},
		{"write without token", "POST", "/api/rules", `{"kind":"price_above","symbol":"AAPL","threshold":"1.0000"}`, "", 401, "token"},
		{"write with wrong token", "POST", "/api/rules", `{"kind":"price_above","symbol":"AAPL","threshold":"1.0000"}`, "wrong-token-wrong-token", 401, "token"},
		{"delete without token", "DELETE", "/api/rules/1", "", "", 401, "token"},
		{"oversized body", "POST", "/api/rules", big, testToken, 413, "over 65536 bytes"},
		{"malformed body", "POST", "/api/rules", `{"kind":`, testToken, 400, "malformed JSON"},
		{"unknown field", "POST", "/api/rules", `{"kind":"price_above","threshold":"1.0000","evil":1}`, testToken, 400, "unknown field"},
		{"bad threshold", "POST", "/api/rules", `{"kind":"price_above","symbol":"AAPL","threshold":"-1.0000"}`, testToken, 400, "threshold"},
		{"bad window", "POST", "/api/rules", `{"kind":"pct_move","threshold":"2.0000","window":"forever"}`, testToken, 400, "window"},
		{"store rejects", "POST", "/api/rules", `{"kind":"big_trade","threshold":"2.0000"}`, testToken, 400, "invalid rule"},
		{"rule created", "POST", "/api/rules", `{"kind":"price_above","symbol":"aapl","threshold":"200.0000"}`, testToken, 201, ""},
		{"bad rule id", "DELETE", "/api/rules/abc", "", testToken, 400, "rule id"},
		{"missing rule", "DELETE", "/api/rules/42", "", testToken, 404, "rule not found"},
		{"rule removed", "DELETE", "/api/rules/1", "", testToken, 204, ""},
		{"page method", "POST", "/", "", "", 405, "method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want {
				t.Fatalf("got status %d (%s), want %d", res.StatusCode, body, tt.want)
			}
			if tt.wantErr != "" && !strings.Contains(string(body), tt.wantErr) {
				t.Errorf("got body %s, want an error mentioning %q", body, tt.wantErr)
			}
			if strings.HasPrefix(tt.path, "/api/") && res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("got Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv := apiServer(t, nil, "")
	for _, path := range []string{"/", "/api/symbols"} {
		t.Run(path, func(t *testing.T) {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("got CSP %q, want it to contain %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("got CSP %q, want no unsafe-inline or unsafe-eval", csp)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("got X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

func TestAlertsWithoutEngineAnswer503(t *testing.T) {
	srv := apiServer(t, nil, testToken)
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/api/alerts", ""},
		{"GET", "/api/rules", ""},
		{"POST", "/api/rules", `{"kind":"price_above","symbol":"AAPL","threshold":"1.0000"}`},
		{"DELETE", "/api/rules/1", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]string
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body["error"], "alerts engine not running") {
				t.Errorf("got %d %q, want 503 saying the alerts engine is not running", res.StatusCode, body["error"])
			}
		})
	}
	res, err := http.Get(srv.URL + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cfg map[string]any
	_ = json.NewDecoder(res.Body).Decode(&cfg)
	if cfg["alerts_engine"] != false {
		t.Errorf("got alerts_engine %v, want false", cfg["alerts_engine"])
	}
}

func TestWritesDisabledWithoutToken(t *testing.T) {
	srv := apiServer(t, &memRules{}, "")
	req, _ := http.NewRequest("POST", srv.URL+"/api/rules", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer anything-at-all-here")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("got %d, want 403 when no token is configured", res.StatusCode)
	}
}

func TestMergeCandlesPrefersTheFullerBucket(t *testing.T) {
	stored := []Candle{{Time: 60, Close: 1, Volume: 10}, {Time: 120, Close: 2, Volume: 5}}
	live := []Candle{{Time: 0, Close: 9, Volume: 1}, {Time: 120, Close: 3, Volume: 8}, {Time: 180, Close: 4, Volume: 1}}
	got := mergeCandles(stored, live, 60, 240)
	want := []Candle{{Time: 60, Close: 1, Volume: 10}, {Time: 120, Close: 3, Volume: 8}, {Time: 180, Close: 4, Volume: 1}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("candle %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRuleSpecValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec RuleSpec
		ok   bool
	}{
		{"price level", RuleSpec{Kind: "price_above", Symbol: "aapl", Threshold: event.MustParseDecimal("200")}, true},
		{"all symbols", RuleSpec{Kind: "big_trade", Threshold: event.MustParseDecimal("1000000")}, true},
		{"markup symbol", RuleSpec{Kind: "price_above", Symbol: "<b>", Threshold: 1}, false},
		{"zero threshold", RuleSpec{Kind: "price_above", Symbol: "AAPL"}, false},
		{"bad kind", RuleSpec{Kind: "DROP TABLE", Threshold: 1}, false},
		{"long window", RuleSpec{Kind: "pct_move", Threshold: 1, Window: "48h"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.validate()
			if (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
