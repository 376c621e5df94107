package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// postRule posts a valid rule from addr with token and returns the answer.
func postRule(h http.Handler, addr, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/api/rules", strings.NewReader(`{"kind":"price_above","symbol":"AAPL","threshold":"200"}`))
	r.RemoteAddr = addr
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWrongTokensAreRateLimitedPerAddress(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := New(nil, nil, Options{Token: testToken, Rules: &memRules{}, Now: clock.Now,
		AuthLimit: AuthLimit{Burst: 3, Every: time.Minute, MaxClients: 8}})
	h := s.Handler()
	const a, b = "192.0.2.1:4000", "192.0.2.2:5000"

	for i := range 3 {
		if w := postRule(h, a, "wrong-token-wrong-token"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: got %d %s, want 401", i+1, w.Code, w.Body)
		}
	}
	w := postRule(h, a, "wrong-token-wrong-token")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("4th wrong token: got %d, Retry-After %q, want 429, 60", w.Code, w.Header().Get("Retry-After"))
	}
	if w := postRule(h, strings.Replace(a, "4000", "4001", 1), testToken); w.Code != http.StatusTooManyRequests {
		t.Errorf("right token from the blocked address (another port): got %d, want 429", w.Code)
	}
	if w := postRule(h, b, testToken); w.Code != http.StatusCreated {
		t.Errorf("right token from another address: got %d %s, want 201", w.Code, w.Body)
	}
	if w := postRule(h, b, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("no token from another address: got %d, want 401", w.Code)
	}

	clock.Add(30 * time.Second)
	if w := postRule(h, a, testToken); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Errorf("after 30s: got %d, Retry-After %q, want 429, 30", w.Code, w.Header().Get("Retry-After"))
	}
	clock.Add(30 * time.Second)
	if w := postRule(h, a, testToken); w.Code != http.StatusCreated {
		t.Errorf("after a minute, the right token: got %d %s, want 201", w.Code, w.Body)
	}
	if w := postRule(h, a, "wrong-token-wrong-token"); w.Code != http.StatusUnauthorized {
		t.Errorf("after a minute, a wrong token: got %d, want 401", w.Code)
	}
	if w := postRule(h, a, "wrong-token-wrong-token"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the regained token used up: got %d, want 429", w.Code)
	}
}

func TestAuthLimiterMemoryIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := New(nil, nil, Options{Token: testToken, Rules: &memRules{}, Now: clock.Now,
		AuthLimit: AuthLimit{Burst: 2, Every: time.Minute, MaxClients: 16}})
	h := s.Handler()
	for i := range 1000 {
		addr := fmt.Sprintf("[2001:db8::%x]:%d", i, 1000+i)
		postRule(h, addr, "wrong-token-wrong-token")
		postRule(h, addr, "wrong-token-wrong-token")
		if n := s.auth.size(); n > 16 {
			t.Fatalf("after %d addresses the table holds %d, want at most 16", i+1, n)
		}
	}
	last := "[2001:db8::3e7]:9"
	if w := postRule(h, last, testToken); w.Code != http.StatusTooManyRequests {
		t.Errorf("the newest blocked address: got %d, want 429 (it must not have been forgotten)", w.Code)
	}
}
