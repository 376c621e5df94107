package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// TestBrowserDemo runs the demo as `make demo` does, after the stack is
// up and the binary built: scripts/demo (twice, to show that its rules
// are added once), then the page. The example rules fire and their
// alerts appear in the alerts panel and as markers on the chart; the
// token `scripts/demo token` prints (the demo's own output names its file
// but never shows it) lets the page add and remove a rule.
func TestBrowserDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: needs Kafka, PostgreSQL and chromium")
	}
	chromiumPath(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if Assets() == nil {
		t.Fatal("the dashboard page is not built into this package: run scripts/build first")
	}
	bin := filepath.Join(t.TempDir(), "tradestream")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tradestream")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tradestream: %v\n%s", err, out)
	}

	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	pool, db := pgtest.Migrated(t)
	state := t.TempDir()
	env := append(withoutTradestream(os.Environ()),
		"BIN="+bin, "DEMO_STATE_DIR="+state,
		"TRADESTREAM_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"TRADESTREAM_DATABASE_URL="+db.URL.Reveal(),
		"TRADESTREAM_TOPIC_PREFIX="+tc.Prefix,
		"TRADESTREAM_TOPIC_PARTITIONS=3",
		"TRADESTREAM_SINK_GROUP="+tc.Prefix+"sink",
		"TRADESTREAM_ALERTS_GROUP="+tc.Prefix+"alerts",
		"TRADESTREAM_DASHBOARD_ADDR=127.0.0.1:0",
		"TRADESTREAM_METRICS_ADDR=",
	)
	script := filepath.Join(root, "scripts", "demo")
	for i, want := range []string{"4 added, 0 already there", "0 added, 4 already there"} {
		cmd := exec.Command(script, "rules")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("scripts/demo rules, run %d: %v, output %q; want %q", i+1, err, out, want)
		}
	}
	ctx := context.Background()
	var rules int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM alert_rules`).Scan(&rules); err != nil || rules != 4 {
		t.Fatalf("after two runs: %d rules (%v), want the 4 example rules once", rules, err)
	}

	url, printed, genLine := startDemo(t, script, env)
	if !strings.Contains(genLine, "scenario demo") {
		t.Errorf("up's generator line %q does not name the demo scenario", genLine)
	}
	tokenCmd := exec.Command(script, "token")
	tokenCmd.Env = env
	out, err := tokenCmd.Output()
	if err != nil {
		t.Fatalf("scripts/demo token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	data, err := os.ReadFile(filepath.Join(state, "dashboard-token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(state, "dashboard-token")); fi.Mode().Perm() != 0o600 || string(data) != token || len(token) < 16 {
		t.Errorf("token file: mode %v, content %q; want 0600 holding the token scripts/demo token prints, %q", fi.Mode().Perm(), data, token)
	}
	if !strings.Contains(printed, "/dashboard-token (scripts/demo token prints it)") {
		t.Errorf("the demo's output does not say where the token is:\n%s", printed)
	}
	if strings.Contains(printed, token) {
		t.Errorf("the demo printed the dashboard token itself:\n%s", printed)
	}

	// Every example rule fires soon after the start.
	var fired []string
	defer func() {
		if t.Failed() {
			t.Logf("kinds of alert stored: %v", fired)
			var n int
			var first, lo, hi string
			err := pool.QueryRow(ctx, `SELECT count(*), coalesce((array_agg(last::text ORDER BY ts, seq))[1], ''),
				coalesce(min(last)::text, ''), coalesce(max(last)::text, '') FROM price_ticks WHERE symbol = 'NVDA'`).Scan(&n, &first, &lo, &hi)
			t.Logf("NVDA ticks stored: %d, first %s, lowest %s, highest %s (%v)", n, first, lo, hi, err)
		}
	}()
	waitFor(t, 3*time.Minute, "an alert of each example rule stored", func() (bool, error) {
		err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT kind), '{}') FROM alerts`).Scan(&fired)
		return len(fired) == 4, err
	})

	bctx, consoleErrors := browser(t)
	bctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("load page: %v", err)
	}
	evalWait(t, bctx, 30*time.Second, "alerts in the alerts panel", `document.querySelectorAll('#alert-list li').length >= 4`)
	evalWait(t, bctx, 10*time.Second, "the engine on and the rule form shown",
		`document.getElementById('alerts-state').textContent === 'engine on' && !document.getElementById('rule-form').hidden`)
	symbol := evalString(t, bctx, `document.querySelector('#alert-list li .s').textContent`)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#watchlist tr[data-symbol=%q]`, symbol)))); err != nil {
		t.Fatalf("click %s: %v", symbol, err)
	}
	evalWait(t, bctx, 30*time.Second, "alert markers on the chart of "+symbol,
		fmt.Sprintf(`document.getElementById('chart').dataset.loaded === %q && +document.getElementById('chart').dataset.markers > 0`, symbol))

	// The token lets the page add a rule, and remove it.
	err = chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(`#rule-form`)),
		chromedp.SetValue(chromedp.CSS(`#rule-kind`), "big_trade"),
		chromedp.SendKeys(chromedp.CSS(`#rule-threshold`), "5000000"),
		chromedp.SendKeys(chromedp.CSS(`#rule-token`), token),
		chromedp.Click(chromedp.CSS(`#rule-form button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("fill the rule form: %v", err)
	}
	evalWait(t, bctx, 15*time.Second, "the added rule listed (or a form error)",
		`document.querySelectorAll('#rules tbody tr').length === 5 || document.getElementById('alerts-err').textContent`)
	if e := evalString(t, bctx, `document.getElementById('alerts-err').textContent || ''`); e != "" {
		t.Fatalf("adding a rule with the demo's token: %s", e)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#rules tbody tr:last-child button`))); err != nil {
		t.Fatalf("remove the rule: %v", err)
	}
	evalWait(t, bctx, 15*time.Second, "the rule removed", `document.querySelectorAll('#rules tbody tr').length === 4`)

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err == nil {
		path := filepath.Join(artifactDir(t), fmt.Sprintf("dashboard-demo-%d.png", time.Now().Unix()))
		if err := os.WriteFile(path, png, 0o644); err == nil {
			t.Logf("screenshot: %s", path)
		}
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("got %d console errors, want none:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

// startDemo runs `scripts/demo up` until the test ends and returns the
// dashboard URL, everything printed before it and the generator line.
func startDemo(t *testing.T, script string, env []string) (url, printed, genLine string) {
	t.Helper()
	cmd := exec.Command(script, "up")
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start scripts/demo: %v", err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(45 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("demo stderr:\n%s", stderr.String())
		}
	})
	found := make(chan [3]string, 1)
	go func() {
		defer close(exited)
		var u, tok, g string
		sc := bufio.NewScanner(out)
		urlLine := regexp.MustCompile(`^dashboard\s+(http://\S+?)/?$`)
		for sc.Scan() {
			if g == "" {
				tok += sc.Text() + "\n"
			}
			if strings.HasPrefix(sc.Text(), "gen ") && g == "" {
				g = sc.Text()
				found <- [3]string{u, tok, g}
			}
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				u = m[1]
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	select {
	case f := <-found:
		if f[0] == "" {
			t.Fatalf("scripts/demo printed the generator line but no dashboard URL:\n%s", f[1])
		}
		return f[0], f[1], f[2]
	case <-exited:
		t.Fatalf("scripts/demo exited before the dashboard started:\n%s", stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("scripts/demo did not start the dashboard within 2 minutes:\n%s", stderr.String())
	}
	return "", "", ""
}

// TestDemoScenarioSetting runs scripts/demo with a stand-in binary: the
// demo scenario is on by default, TRADESTREAM_GEN_SCENARIO=none turns it
// off, and another name is passed through.
func TestDemoScenarioSetting(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tradestream")
	fake := "#!/bin/sh\ncase \"$1 $2\" in\n'alerts list') echo '[]' ;;\n'up '*) echo \"up scenario=$TRADESTREAM_GEN_SCENARIO\" ;;\nesac\n"
	if err := os.WriteFile(bin, []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join("..", "..", "scripts", "demo")
	for _, tt := range []struct{ set, want, says string }{
		{"", "up scenario=demo", "market scenario demo"},
		{"none", "up scenario=none", "market scenario off"},
		{"flash-crash", "up scenario=flash-crash", "market scenario flash-crash"},
	} {
		cmd := exec.Command(script, "up")
		cmd.Env = append(withoutTradestream(os.Environ()), "BIN="+bin, "DEMO_STATE_DIR="+dir)
		if tt.set != "" {
			cmd.Env = append(cmd.Env, "TRADESTREAM_GEN_SCENARIO="+tt.set)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), tt.says) {
			t.Errorf("TRADESTREAM_GEN_SCENARIO=%q: %v, output %q; want %q and %q", tt.set, err, out, tt.says, tt.want)
		}
	}
}

// withoutTradestream drops the TRADESTREAM_* variables of the test's own
// environment, so that the demo sees only the ones the test sets.
func withoutTradestream(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TRADESTREAM_") {
			out = append(out, kv)
		}
	}
	return out
}
