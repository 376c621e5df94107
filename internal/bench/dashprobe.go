package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/dashboard"
)

// What `bench dash` reads from the dashboard under test and its process.

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitSymbols waits until the dashboard answers and has live symbols.
func waitSymbols(ctx context.Context, base string, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		var body struct {
			Symbols []dashboard.Quote `json:"symbols"`
		}
		if err := getJSON(ctx, base+"/api/symbols", &body); err != nil {
			last = err
		} else if len(body.Symbols) > 0 {
			out := make([]string, len(body.Symbols))
			for i, q := range body.Symbols {
				out[i] = q.Symbol
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("dashboard at %s had no live symbols within %v: %v", base, timeout, last)
}

func lastHealth(ctx context.Context, base string) *dashboard.HealthSample {
	var body struct {
		History []*dashboard.HealthSample `json:"history"`
	}
	if err := getJSON(ctx, base+"/api/health", &body); err != nil || len(body.History) == 0 {
		return nil
	}
	return body.History[len(body.History)-1]
}

func get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return res, nil
}

func getJSON(ctx context.Context, url string, v any) error {
	res, err := get(ctx, url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}

// streamsEnded reads the dashboard's count of ended live streams by cause
// from its /metrics.
func streamsEnded(ctx context.Context, metricsURL string) (map[string]float64, error) {
	res, err := get(ctx, metricsURL)
	if err != nil {
		return nil, fmt.Errorf("dashboard metrics: %w", err)
	}
	defer res.Body.Close()
	out, err := parseStreamsEnded(bufio.NewScanner(res.Body))
	if err != nil {
		return nil, fmt.Errorf("dashboard metrics: %w", err)
	}
	return out, nil
}

// parseStreamsEnded reads the samples of the streams-ended counter from
// Prometheus text exposition lines.
func parseStreamsEnded(sc *bufio.Scanner) (map[string]float64, error) {
	return parseLabelled(sc, dashboard.StreamsEndedMetric, "cause")
}

// parseLabelled reads the samples of metric, which has the one label, from
// Prometheus text exposition lines, by the label's value.
func parseLabelled(sc *bufio.Scanner, metric, label string) (map[string]float64, error) {
	prefix := metric + "{" + label + `="`
	out := map[string]float64{}
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		key, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("malformed sample %q", sc.Text())
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("malformed sample %q: %w", sc.Text(), err)
		}
		out[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s samples", metric)
	}
	return out, nil
}

// procCPU returns the user+system CPU seconds process pid has used.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read process cpu: %w", err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read process cpu: short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// procRSSMiB returns process pid's resident memory in MiB.
func procRSSMiB(pid int) (float64, error) {
	kb, err := procStatusKiB(pid, "VmRSS")
	return kb / 1024, err
}

// procStatusKiB reads a memory field of /proc/PID/status, in KiB: VmRSS
// (resident now) or VmHWM (the peak resident set of the process's own
// memory, unlike getrusage's, which counts the parent's at fork).
func procStatusKiB(pid int, field string) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		}
	}
	return 0, errors.New("no " + field)
}
