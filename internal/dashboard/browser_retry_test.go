package dashboard

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/rollup"
)

// cutProxy forwards TCP connections to PostgreSQL until it is cut: then it
// drops the connections it carries and closes every new one at once, as a
// server that crashed (or a failover in progress) would look to the pool.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// setCut cuts the proxy (dropping what it carries) or heals it.
func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// TestBrowserRetriesWhileDatabaseUnavailable loads the page, then cuts the
// dashboard off its database (as a primary's crash would) and switches the
// chart to another symbol: the history request gets 503, the chart says it
// is retrying, and once the database is back the same page, not reloaded,
// shows that symbol's stored candles.
func TestBrowserRetriesWhileDatabaseUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: needs Kafka, PostgreSQL and chromium")
	}
	ctx := context.Background()
	direct, _ := pgtest.Migrated(t)
	for _, sym := range []string{"RETRYA", "RETRYB"} {
		if _, err := direct.Exec(ctx, `INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset)
			SELECT $1, 'Technology', g, now() - make_interval(mins => g), 99.99, 100.01, 100 + g, 100, 0, g
			FROM generate_series(1, 30) g`, sym); err != nil {
			t.Fatalf("insert ticks: %v", err)
		}
	}
	if err := rollup.Rebuild(ctx, direct, time.Now().AddDate(0, 0, -1), time.Now().AddDate(0, 0, 1), nil); err != nil {
		t.Fatalf("rollups: %v", err)
	}

	cc := direct.Config().ConnConfig
	proxy := newCutProxy(t, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))))
	pcfg := direct.Config().Copy()
	pcfg.ConnConfig.Host = "127.0.0.1"
	pcfg.ConnConfig.Port = uint16(proxy.ln.Addr().(*net.TCPAddr).Port)
	pcfg.ConnConfig.Fallbacks = nil
	pcfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatalf("pool through the proxy: %v", err)
	}
	t.Cleanup(pool.Close)

	brokers := kafkatest.Brokers(t)
	s := New(kafkatest.Client(t, brokers), pool, Options{Topics: kafka.TopicNames(kafkatest.Prefix(t)), SinkGroup: "g"})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	bctx, _ := browser(t)
	bctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/#RETRYA/1m/1h")); err != nil {
		t.Fatalf("load page: %v", err)
	}
	chart := `document.getElementById('chart')`
	evalWait(t, bctx, 20*time.Second, "history of RETRYA", chart+`.dataset.loaded === "RETRYA" && +`+chart+`.dataset.candles > 0`)

	proxy.setCut(true)
	evalString(t, bctx, `(document.querySelector('tr[data-symbol="RETRYB"]').click(), 'picked')`)
	msg := `document.getElementById('chart-msg').textContent`
	evalWait(t, bctx, 20*time.Second, "the chart to say it retries", msg+`.includes('database is unavailable') && `+msg+`.includes('retrying')`)
	t.Logf("while cut off: %q", evalString(t, bctx, msg))
	if loaded := evalString(t, bctx, chart+`.dataset.loaded || ''`); loaded != "" {
		t.Fatalf("chart says %q is loaded while the database is unavailable", loaded)
	}

	healed := time.Now()
	proxy.setCut(false)
	evalWait(t, bctx, 30*time.Second, "history of RETRYB after the database is back", chart+`.dataset.loaded === "RETRYB" && +`+chart+`.dataset.candles > 0`)
	t.Logf("RETRYB's history shown %v after the database came back, page not reloaded: %s candles",
		time.Since(healed).Round(10*time.Millisecond), evalString(t, bctx, chart+`.dataset.candles`))
	if m := evalString(t, bctx, msg); m != "" {
		t.Fatalf("chart message after recovery: %q", m)
	}
}
