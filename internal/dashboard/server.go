package dashboard

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/tradestream/tradestream/internal/format"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
)

// maxBody bounds every request body.
const maxBody = 64 << 10

// contentSecurityPolicy allows the page's own scripts, styles and
// connections only: no inline script, no third-party origin, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configure a Server.
type Options struct {
	// Topics names the topics to read live and to measure.
	Topics kafka.Topics
	// SinkGroup is the sink's consumer group, whose position gives the
	// consume rate and lag.
	SinkGroup string
	// Health is where the health panel's figures come from: a
	// status.Sampler that its owner runs (about once a second, the
	// panel's pace) and that reads at least SinkGroup and the topics.
	// nil leaves the panel without pipeline figures.
	Health HealthSource
	// Token authorises the write API; empty disables writes (403).
	Token config.Secret
	// AuthLimit bounds wrong tokens per client address (429 beyond it).
	AuthLimit AuthLimit
	// TLS, when set, makes Run serve HTTPS only on its listener.
	TLS *tls.Config
	// Rules backs the alerts panel and rule API; nil answers 503 there.
	Rules RuleStore
	// Hub tunes the live push.
	Hub HubOptions
	// Assets are the page's files; nil serves the embedded build (or a
	// page saying how to build it).
	Assets fs.FS
	// Registerer receives the dashboard's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives the server's logs; nil discards them.
	Log *slog.Logger
	// Decoder reads the live records in every format; nil reads JSON only.
	Decoder *format.Decoder
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server is the dashboard: HTTP API and page, live reader, hub and health
// sampler. Create it with New and start it with Run.
type Server struct {
	opts    Options
	live    *kgo.Client
	pool    *pgxpool.Pool
	market  *market
	hub     *Hub
	health  *healthSampler
	hist    *history
	reader  *reader
	metrics *serverMetrics
	log     *slog.Logger
	handler http.Handler
	auth    *authLimiter

	knownMu sync.Mutex
	known   map[string]bool // symbols confirmed to exist in PostgreSQL
}

// New returns a dashboard server. live must be a client built with
// LiveOptions (it is also used for admin requests); the server does not
// close it or pool.
func New(live *kgo.Client, pool *pgxpool.Pool, opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hub.Now == nil {
		opts.Hub.Now = opts.Now
	}
	if opts.Assets == nil {
		opts.Assets = Assets()
	}
	m := newMarket()
	met := newServerMetrics(opts.Registerer)
	s := &Server{
		opts: opts, live: live, pool: pool, market: m, metrics: met, log: opts.Log,
		hist:  &history{pool: pool},
		known: map[string]bool{},
		auth:  newAuthLimiter(opts.AuthLimit, opts.Now),
	}
	s.health = &healthSampler{
		src: opts.Health, topics: opts.Topics, group: opts.SinkGroup, metrics: met, now: opts.Now,
	}
	s.hub = newHub(opts.Hub, m, s.health.Latest, met)
	s.health.clients = s.hub.Clients
	s.reader = &reader{cl: live, topics: opts.Topics, market: m, metrics: met, log: opts.Log, now: opts.Now, dec: opts.Decoder}
	s.handler = s.routes()
	return s
}

// Handler returns the dashboard's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/config", s.handleConfig)
	mux.HandleFunc("GET /api/symbols", s.handleSymbols)
	mux.HandleFunc("GET /api/candles", s.handleCandles)
	mux.HandleFunc("GET /api/trades", s.handleTrades)
	mux.HandleFunc("GET /api/movers", s.handleMovers)
	mux.HandleFunc("GET /api/breakdown", s.handleBreakdown)
	mux.HandleFunc("GET /api/health", s.handleHealth)
	mux.HandleFunc("GET /api/stream", s.handleStream)
	mux.HandleFunc("GET /api/alerts", s.handleAlerts)
	mux.HandleFunc("GET /api/rules", s.handleRules)
	mux.Handle("POST /api/rules", s.requireToken(http.HandlerFunc(s.handleAddRule)))
	mux.Handle("DELETE /api/rules/{id}", s.requireToken(http.HandlerFunc(s.handleRemoveRule)))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("/", onlyGet(assetHandler(s.opts.Assets)))
	return secureHeaders(mux)
}

// secureHeaders sets the headers every response carries and bounds every
// request body.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		if r.ContentLength > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// onlyGet answers 405 to anything but GET and HEAD.
func onlyGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireToken lets a request through only with the configured token as a
// bearer credential, compared in constant time; without a configured
// token, writes are disabled. An address that has sent too many wrong
// tokens is answered 429 with Retry-After until it may try again.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := s.opts.Token.Reveal()
		if want == "" {
			writeError(w, http.StatusForbidden, "writes are disabled: start the dashboard with --token (or TRADESTREAM_DASHBOARD_TOKEN) to enable them")
			return
		}
		addr := clientAddr(r)
		if wait, blocked := s.auth.blocked(addr); blocked {
			w.Header().Set("Retry-After", retryAfter(wait))
			writeError(w, http.StatusTooManyRequests, "too many wrong tokens from this address; retry after "+retryAfter(wait)+"s")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
			s.auth.failed(addr)
			s.log.Warn("dashboard write refused: missing or wrong token", "client", addr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="tradestream"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Run serves on ln and runs the live reader, the hub and the health
// sampler until ctx ends, then shuts the HTTP server down (closing live
// streams) and waits for all of them. It returns the first failure.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.hub.stopsWith(ctx) // before any request: the streams' contexts derive from ctx
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("dashboard %s: %w", name, err)
				cancel()
			}
		}()
	}
	goRun("live reader", s.reader.run)
	goRun("hub", s.hub.Run)
	goRun("health", s.health.run)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if s.opts.TLS != nil {
			ln = tls.NewListener(ln, s.opts.TLS)
		}
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("dashboard http: %w", err)
			cancel()
		}
	}()
	<-ctx.Done()
	shut, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shut) // live streams end with ctx; idle ones are closed
	wg.Wait()
	close(errc)
	return <-errc
}
