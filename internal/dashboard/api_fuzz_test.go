package dashboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzQueryParams parses an arbitrary query string with the history API's
// parameter readers: never a panic, and what they accept is within their
// bounds.
func FuzzQueryParams(f *testing.F) {
	for _, q := range []string{
		"symbol=AAPL&interval=1m&count=300", "from=0&to=68719476736", "from=2025-01-01T00:00:00Z&to=1735689600",
		"count=-1&limit=99999999999999999999", "interval=%00&symbol=%FF", "from=10000-01-01T00:00:00Z",
		"symbol=brk.b&symbol=x", "window=1d&limit=500", "count=1e3&from=1969-12-31T23:59:59Z", ";;&&==%",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/api/candles", nil)
		r.URL.RawQuery = raw
		if n, err := intParam(r, "count", defaultCandles, 1, maxCandles); err == nil && (n < 1 || n > maxCandles) {
			t.Fatalf("count %d accepted from %q", n, raw)
		}
		for _, name := range []string{"from", "to"} {
			tm, err := timeParam(r, name)
			if err == nil && !tm.IsZero() && (tm.Year() < 1970 || tm.Year() > 9999) {
				t.Fatalf("%s %v accepted from %q", name, tm, raw)
			}
		}
		q := r.URL.Query()
		if iv, err := ParseInterval(q.Get("interval")); err == nil && iv.Width <= 0 {
			t.Fatalf("interval %q has width %v", q.Get("interval"), iv.Width)
		}
		if w, ok := moverWindows[q.Get("window")]; ok && w <= 0 {
			t.Fatalf("window %q is %v", q.Get("window"), w)
		}
	})
}

// FuzzAddRuleBody posts arbitrary bodies to the rule API: the answer is
// 201 or a 4xx with a JSON error, never a 5xx, and a created rule is one
// validate accepts.
func FuzzAddRuleBody(f *testing.F) {
	for _, b := range []string{
		`{"kind":"price_above","symbol":"aapl","threshold":"200"}`,
		`{"kind":"price_below","symbol":"MSFT","threshold":"380.5","cooldown":"10m","note":"x"}`,
		`{"kind":"pct_move","threshold":2.5}`, `{"kind":"x","threshold":"1","extra":1}`, `{} {}`, `[]`, `null`,
		`{"kind":"price_above","symbol":"A\u0000","threshold":"1e3","window":"99999h"}`, "{\"note\":\"\xff\"}",
		`{"kind":"price_above","threshold":"922337203685477.5807","window":"0s"}`,
	} {
		f.Add([]byte(b), "application/json")
	}
	f.Add([]byte(`{}`), "text/plain")
	s := New(nil, nil, Options{Token: testToken, Rules: &memRules{}})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/api/rules", strings.NewReader(string(body)))
		r.Header.Set("Authorization", "Bearer "+testToken)
		if contentType != "" && !strings.ContainsAny(contentType, "\r\n\x00") {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code == http.StatusCreated:
			var rule Rule
			if err := json.Unmarshal(w.Body.Bytes(), &rule); err != nil {
				t.Fatalf("201 body %s: %v", w.Body, err)
			}
			if err := rule.RuleSpec.validate(); err != nil {
				t.Fatalf("created rule %+v does not validate: %v", rule, err)
			}
		case w.Code >= 400 && w.Code < 500:
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%d body %q is not a JSON error: %v", w.Code, w.Body, err)
			}
		default:
			t.Fatalf("POST %q: status %d: %s", body, w.Code, w.Body)
		}
	})
}
