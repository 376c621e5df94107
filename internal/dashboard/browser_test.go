package dashboard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/rollup"
)

// EnvArtifacts names the directory test artifacts (screenshots) go to.
const EnvArtifacts = "TRADESTREAM_TEST_ARTIFACTS"

// markupName is a user name that would run script if it were ever parsed
// as HTML.
const markupName = `<img src=x onerror="window.__xss=1">Mallory <b>Bold</b>`

// markupSymbol is a stored symbol that would be markup if parsed as HTML.
const markupSymbol = `<i>X</i>`

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(kafkatest.EnvRequire) == "1" {
		t.Fatalf("chromium not found; install Debian's chromium (scripts/deps test does)")
	}
	t.Skip("chromium not found: skipping the browser test")
	return ""
}

func artifactDir(t *testing.T) string {
	if d := os.Getenv(EnvArtifacts); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("artifacts directory: %v", err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "tradestream-artifacts-")
	if err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return d
}

// browser starts headless Chromium with no network beyond loopback and
// collects console errors and uncaught exceptions.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	var mu sync.Mutex
	var errs []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				errs = append(errs, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			errs = append(errs, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				errs = append(errs, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}
	if err := chromedp.Listen(ctx, listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable log domain: %v", err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable runtime domain: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// evalWait evaluates expr until it returns a truthy value.
func evalWait(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (%s; err %v)", timeout, what, expr, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func TestBrowserDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: needs Kafka, PostgreSQL and chromium")
	}
	p := startPipeline(t, pipelineOptions{rate: 300, users: 150})
	ctx := context.Background()

	var symbols []string
	waitFor(t, 60*time.Second, "ticks of two symbols stored", func() (bool, error) {
		s, err := p.storedSymbols(ctx, 20)
		symbols = s
		return len(s) >= 2, err
	})
	// A user and a symbol whose names are markup, with a trade big enough
	// to make the user a top trader.
	var latest time.Time
	if err := p.pool.QueryRow(ctx, `SELECT max(ts) FROM price_ticks`).Scan(&latest); err != nil {
		t.Fatalf("latest tick: %v", err)
	}
	fixtures := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (user_id, name, email, country, signup_at, experience, risk_tolerance, sectors, updated_at, kafka_partition, kafka_offset)
		  VALUES (9999999, $1, 'm@example.com', 'DE', $2, 'advanced', 'high', ARRAY['Technology'], $2, 0, 0)`, []any{markupName, latest}},
		{`INSERT INTO trades (trade_id, user_id, account_id, symbol, side, quantity, price, fee, ts, balance_after, schema_version, kafka_partition, kafka_offset)
		  VALUES (99999999, 9999999, 9999999, 'AAPL', 'buy', 1000000, 999, 1, $1, 0, 1, 0, 0)`, []any{latest}},
		{`INSERT INTO price_ticks (symbol, sector, seq, ts, bid, ask, last, volume, kafka_partition, kafka_offset)
		  VALUES ($1, '<script>alert(1)</script>', 0, $2, 1, 1, 1, 1, 0, 0)`, []any{markupSymbol, latest}},
	}
	for _, f := range fixtures {
		if _, err := p.pool.Exec(ctx, f.sql, f.args...); err != nil {
			t.Fatalf("insert markup fixture: %v", err)
		}
	}
	// Fold the fixture rows into the rollups as the sink folds its own.
	rb := rollup.NewBatch()
	rb.AddTick(&event.Price{Symbol: markupSymbol, Sector: "<script>alert(1)</script>", Time: latest, Bid: event.Unit, Ask: event.Unit, Last: event.Unit, Volume: 1}, "")
	rb.AddTrade(&event.Trade{ID: 99999999, UserID: 9999999, AccountID: 9999999, Symbol: "AAPL", Side: event.SideBuy, Quantity: 1000000,
		Price: 999 * event.Unit, Fee: event.Unit, Time: latest}, "")
	if err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { _, err := rb.Write(ctx, tx); return err }); err != nil {
		t.Fatalf("fold markup fixture into rollups: %v", err)
	}

	bctx, consoleErrors := browser(t)
	bctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	first := symbols[0]
	if err := chromedp.Do(bctx, chromedp.Navigate(p.url+"/#"+first+"/1s/15m")); err != nil {
		t.Fatalf("load page: %v", err)
	}

	// The chart shows the symbol's history, and live candles follow.
	evalWait(t, bctx, 20*time.Second, "history of "+first,
		fmt.Sprintf(`document.getElementById('chart').dataset.loaded === %q && +document.getElementById('chart').dataset.candles > 0`, first))
	before := evalString(t, bctx, `document.getElementById('q-last').textContent`)
	evalWait(t, bctx, 10*time.Second, "the price of "+first+" to change",
		fmt.Sprintf(`(() => { const v = document.getElementById('q-last').textContent; return v !== %q && /\d/.test(v); })()`, before))
	evalWait(t, bctx, 10*time.Second, "the live stream", `document.getElementById('conn').classList.contains('live')`)

	// Pipeline health: real, non-zero rates from offsets and latency from
	// the records pushed to this page.
	tile := func(metric string) string {
		return fmt.Sprintf(`document.querySelector('[data-metric=%q] .v').textContent`, metric)
	}
	evalWait(t, bctx, 20*time.Second, "produce and consume rates",
		`(() => { const p = parseFloat(`+tile("produce")+`); const c = parseFloat(`+tile("consume")+`); return p > 0 && c > 0; })()`)
	evalWait(t, bctx, 20*time.Second, "end-to-end latency", `/\d/.test(`+tile("e2e")+`)`)
	evalWait(t, bctx, 10*time.Second, "rows written per second", `parseFloat(`+tile("rows")+`) > 0`)
	evalWait(t, bctx, 10*time.Second, "lag", `/\d/.test(`+tile("lag")+`) && /\d/.test(`+tile("lag-seconds")+`)`)
	// The sink keeps up with the generator: it trails it by the records in
	// flight, which is neither a lag to catch up nor "not shrinking".
	evalWait(t, bctx, 30*time.Second, "catch-up: caught up or keeping up", `/^(caught up|keeping up)$/.test(`+tile("catch-up")+`)`)
	evalWait(t, bctx, 10*time.Second, "the one broker, its partitions in sync",
		tile("brokers")+` === '1' && document.querySelector('[data-metric=brokers] .s').textContent === 'partitions in sync'`)

	// Data is text, never markup.
	evalWait(t, bctx, 20*time.Second, "the top traders with the markup name",
		fmt.Sprintf(`Array.from(document.querySelectorAll('#top-traders td.name')).some(td => td.textContent === %q)`, markupName))
	evalWait(t, bctx, 5*time.Second, "the markup symbol shown as text",
		fmt.Sprintf(`Array.from(document.querySelectorAll('#watchlist td.sym')).some(td => td.textContent === %q)`, markupSymbol))
	injected, err := chromedp.Run(bctx, chromedp.Evaluate[int](
		`document.querySelectorAll('main img, main b, main i, main script').length + (window.__xss ? 100 : 0)`))
	if err != nil {
		t.Fatalf("check markup: %v", err)
	}
	if injected != 0 {
		t.Errorf("got %d elements or script runs from data, want 0: data must be rendered as text", injected)
	}

	// Switching symbols loads the other symbol's history.
	second := symbols[1]
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#watchlist tr[data-symbol=%q]`, second)))); err != nil {
		t.Fatalf("click %s: %v", second, err)
	}
	evalWait(t, bctx, 20*time.Second, "history of "+second,
		fmt.Sprintf(`document.getElementById('chart').dataset.loaded === %q && +document.getElementById('chart').dataset.candles > 0 && document.getElementById('q-symbol').textContent === %q`, second, second))
	evalWait(t, bctx, 15*time.Second, "the tape of "+second, `document.querySelectorAll('#tape tbody tr').length > 0`)

	// Let a few more frames arrive so the screenshot shows a live screen.
	time.Sleep(2 * time.Second)
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), "dashboard-"+strconv.FormatInt(time.Now().Unix(), 10)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)

	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("got %d console errors, want none:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}
