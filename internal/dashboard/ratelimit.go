package dashboard

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// AuthLimit bounds wrong write-API tokens per client address with a token
// bucket: an address may send Burst wrong tokens, regains one every
// Every, and with none left is answered 429 with Retry-After, whatever
// token it sends, until it regains one. Zero fields take the defaults.
type AuthLimit struct {
	// Burst is how many wrong tokens an address may send in a row
	// (default 5).
	Burst int
	// Every is how long an address waits to regain one (default 10s).
	Every time.Duration
	// MaxClients bounds the addresses remembered (default 4096); when it
	// is reached the address whose last wrong token is oldest is
	// forgotten.
	MaxClients int
}

func (l AuthLimit) withDefaults() AuthLimit {
	if l.Burst <= 0 {
		l.Burst = 5
	}
	if l.Every <= 0 {
		l.Every = 10 * time.Second
	}
	if l.MaxClients <= 0 {
		l.MaxClients = 4096
	}
	return l
}

// authLimiter is the per-address table of AuthLimit.
type authLimiter struct {
	limit AuthLimit
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

// bucket holds an address's tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

func newAuthLimiter(l AuthLimit, now func() time.Time) *authLimiter {
	return &authLimiter{limit: l.withDefaults(), now: now, clients: map[string]*bucket{}}
}

// refill brings b's tokens up to now.
func (a *authLimiter) refill(b *bucket, now time.Time) {
	b.tokens = math.Min(float64(a.limit.Burst), b.tokens+float64(now.Sub(b.last))/float64(a.limit.Every))
	b.last = now
}

// blocked reports whether addr has no wrong tokens left, and how long it
// waits for one.
func (a *authLimiter) blocked(addr string) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.clients[addr]
	if !ok {
		return 0, false
	}
	now := a.now()
	a.refill(b, now)
	if b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(a.limit.Every)), true
}

// failed takes one token from addr for a wrong token.
func (a *authLimiter) failed(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	b, ok := a.clients[addr]
	if !ok {
		if len(a.clients) >= a.limit.MaxClients {
			a.evict(now)
		}
		b = &bucket{tokens: float64(a.limit.Burst), last: now}
		a.clients[addr] = b
	}
	a.refill(b, now)
	b.tokens = math.Max(0, b.tokens-1)
}

// evict forgets the addresses whose buckets are full again, or else the
// one whose last wrong token is oldest.
func (a *authLimiter) evict(now time.Time) {
	var oldest string
	for addr, b := range a.clients {
		a.refill(b, now)
		if b.tokens >= float64(a.limit.Burst) {
			delete(a.clients, addr)
			continue
		}
		if oldest == "" || b.last.Before(a.clients[oldest].last) {
			oldest = addr
		}
	}
	if len(a.clients) >= a.limit.MaxClients && oldest != "" {
		delete(a.clients, oldest)
	}
}

// size is how many addresses the table holds.
func (a *authLimiter) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.clients)
}

// clientAddr is the request's peer address without the port; the
// dashboard does not trust forwarding headers.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfter formats d as whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}
