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

	"github.com/tradestream/tradestream/internal/event"
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

// gatedRules is a RuleStore that asks the database first, as the real
// one does (through the same pool as the dashboard's other reads), then
// answers from memory: its failures are the database's.
type gatedRules struct {
	memRules
	pool   *pgxpool.Pool
	alerts []AlertView
}

func (g *gatedRules) ping(ctx context.Context) error {
	var one int
	return g.pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
}

func (g *gatedRules) Rules(ctx context.Context) ([]Rule, error) {
	if err := g.ping(ctx); err != nil {
		return nil, err
	}
	return g.memRules.Rules(ctx)
}

func (g *gatedRules) RecentAlerts(ctx context.Context, _ int) ([]AlertView, error) {
	if err := g.ping(ctx); err != nil {
		return nil, err
	}
	return g.alerts, nil
}

// retryRig is a dashboard with two symbols' history stored, one rule and
// one alert in its rule store. Its reads of history and of rules go to
// the database through two cutProxies, hist and rules, so that a test
// can bring them back one after the other.
type retryRig struct {
	hist, rules *cutProxy
	url         string
}

func newRetryRig(t *testing.T) *retryRig {
	t.Helper()
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
	through := func() (*cutProxy, *pgxpool.Pool) {
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
		return proxy, pool
	}
	r := &retryRig{}
	var histPool, rulesPool *pgxpool.Pool
	r.hist, histPool = through()
	r.rules, rulesPool = through()

	rules := &gatedRules{pool: rulesPool, alerts: []AlertView{{ID: "stored-alert-1", RuleID: 1, Kind: "price_above",
		Symbol: "RETRYA", Message: "RETRYA above 100.0000", Value: 1_005_000, Time: time.Now().UnixMilli()}}}
	threshold, _ := event.ParseDecimal("100")
	if _, err := rules.AddRule(ctx, RuleSpec{Kind: "price_above", Symbol: "RETRYA", Threshold: threshold}); err != nil {
		t.Fatal(err)
	}
	brokers := kafkatest.Brokers(t)
	s := New(kafkatest.Client(t, brokers), histPool, Options{Topics: kafka.TopicNames(kafkatest.Prefix(t)), SinkGroup: "g", Rules: rules})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// open opens the page on RETRYA in Chromium, for at most 2 minutes.
func (r *retryRig) open(t *testing.T) context.Context {
	t.Helper()
	bctx, _ := browser(t)
	bctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx, chromedp.Navigate(r.url+"/#RETRYA/1m/1h")); err != nil {
		t.Fatalf("load page: %v", err)
	}
	return bctx
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
	r := newRetryRig(t)
	proxy := r.hist
	bctx := r.open(t)
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

// TestBrowserLoadsWhileDatabaseUnavailable opens the page while the
// dashboard is cut off its database: the page says it is retrying to
// start. Once the history's database is back, the same page, not
// reloaded, shows the chart, while the alerts panel, its rule store still
// cut off, says it is retrying; once that is back too, the rule and the
// stored alert are listed and the panel's message is gone.
func TestBrowserLoadsWhileDatabaseUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: needs Kafka, PostgreSQL and chromium")
	}
	r := newRetryRig(t)
	r.hist.setCut(true)
	r.rules.setCut(true)

	bctx := r.open(t)
	chart := `document.getElementById('chart')`
	chartMsg := `document.getElementById('chart-msg').textContent`
	panelMsg := `document.getElementById('alerts-err').textContent`
	rules := `document.querySelectorAll('#rules tbody tr').length`
	alerts := `[...document.querySelectorAll('#alert-list li')].map(li => li.textContent).join('|')`
	evalWait(t, bctx, 20*time.Second, "the page to say it retries", chartMsg+`.includes('database is unavailable') && `+chartMsg+`.includes('retrying')`)
	t.Logf("while cut off: %q", evalString(t, bctx, chartMsg))

	healed := time.Now()
	r.hist.setCut(false)
	evalWait(t, bctx, 30*time.Second, "history of RETRYA after the database is back", chart+`.dataset.loaded === "RETRYA" && +`+chart+`.dataset.candles > 0`)
	t.Logf("RETRYA's history shown %v after the database came back, page not reloaded", time.Since(healed).Round(10*time.Millisecond))
	evalWait(t, bctx, 20*time.Second, "the alerts panel to say it retries",
		`!document.getElementById('alerts-err').hidden && `+panelMsg+`.includes('unavailable') && `+panelMsg+`.includes('retrying')`)
	t.Logf("rule store still cut off: %q", evalString(t, bctx, panelMsg))
	if n := evalString(t, bctx, `String(`+rules+`)`); n != "0" {
		t.Fatalf("%s rules listed while the rule store is unavailable", n)
	}

	healed = time.Now()
	r.rules.setCut(false)
	evalWait(t, bctx, 30*time.Second, "the rule after the rule store is back", rules+` === 1`)
	evalWait(t, bctx, 30*time.Second, "the stored alert after the rule store is back", alerts+`.includes('RETRYA above 100.0000')`)
	evalWait(t, bctx, 10*time.Second, "the alerts panel's message to go", `document.getElementById('alerts-err').hidden`)
	t.Logf("rule and stored alert shown %v after the rule store came back, page not reloaded", time.Since(healed).Round(10*time.Millisecond))
	if m := evalString(t, bctx, chartMsg); m != "" {
		t.Fatalf("chart message after recovery: %q", m)
	}
}
