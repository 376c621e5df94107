package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradestream/tradestream/internal/dashboard"
)

// LoadResult is what a set of live stream clients measured.
type LoadResult struct {
	Clients int `json:"clients"`
	// Connected is how many clients were still connected when the run
	// ended: those whose stream started and did not end before.
	Connected int   `json:"connected"`
	Frames    int64 `json:"frames"`
	Bytes     int64 `json:"bytes"`
	// FramesPerClientSecond is the mean frame rate one client received.
	FramesPerClientSecond float64 `json:"frames_per_client_second"`
	// Latency is produced_at (the pt field of a frame) to the frame's
	// arrival at the client, over every frame received.
	Latency dashboard.Percentiles `json:"latency"`
	// Freshness is the newest record a frame reflects (its pn field) to
	// the frame's arrival: how old the freshest data on screen is.
	Freshness dashboard.Percentiles `json:"freshness"`
	// Ended counts, by the client's view of the cause, the streams that
	// ended before the measurement did (see the clientEnd constants).
	Ended   map[string]int `json:"ended_early"`
	Elapsed time.Duration  `json:"elapsed_ns"`
}

// How a load client's stream ended, as the client sees it.
const (
	// clientEndServerClosed: the server ended the response (EOF).
	clientEndServerClosed = "server_closed"
	// clientEndReadError: reading failed (reset, a frame over the
	// client's line limit, ...).
	clientEndReadError = "read_error"
	// clientEndConnectFailed: the stream never started.
	clientEndConnectFailed = "connect_failed"
)

// maxSamplesPerClient bounds the latency samples a client keeps.
const maxSamplesPerClient = 1 << 16

// loadClient is one live stream client's tally; only its goroutine writes
// it until the run ends.
type loadClient struct {
	lat, fresh []time.Duration
	connected  bool
	seenFrame  bool
	end        string // "" while connected or ended by the run's end
}

// LoadClients connects n clients to the live stream at base (e.g.
// "http://127.0.0.1:8080"), spread over symbols, reads frames until ctx
// ends and reports what they measured from measureFrom on. It is the
// client side of `tradestream bench dash`; only loopback addresses are
// meant as targets.
func LoadClients(ctx context.Context, base string, symbols []string, interval string, n int, measureFrom time.Time) (LoadResult, error) {
	return loadClients(ctx, base, symbols, interval, n, measureFrom, func(string) {})
}

// loadClients is LoadClients; each client calls seen with "frame" after its
// first frame and with "end" when its stream ends before ctx does.
func loadClients(ctx context.Context, base string, symbols []string, interval string, n int, measureFrom time.Time, seen func(string)) (LoadResult, error) {
	if len(symbols) == 0 || n <= 0 {
		return LoadResult{}, fmt.Errorf("load clients: need symbols and a positive count")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var frames, bytesRead atomic.Int64
	clients := make([]loadClient, n)
	var wg sync.WaitGroup
	errc := make(chan error, n)
	start := time.Now()
	for i := range n {
		u := base + "/api/stream?symbol=" + url.QueryEscape(symbols[i%len(symbols)]) + "&interval=" + url.QueryEscape(interval)
		lc := &clients[i]
		wg.Go(func() {
			body, err := connect(ctx, hc, u)
			if err != nil {
				if ctx.Err() == nil {
					lc.end = clientEndConnectFailed
					errc <- err
				}
				return
			}
			defer body.Close()
			lc.connected = true
			lc.read(ctx, body, measureFrom, &frames, &bytesRead, seen)
		})
	}
	res := LoadResult{Clients: n}
	<-ctx.Done()
	wg.Wait()
	close(errc)
	res.Elapsed = time.Since(start)
	if measureFrom.After(start) {
		res.Elapsed = time.Since(measureFrom)
	}
	res.Frames, res.Bytes = frames.Load(), bytesRead.Load()
	res.FramesPerClientSecond = float64(res.Frames) / float64(n) / res.Elapsed.Seconds()
	res.Latency, res.Freshness, res.Ended = summarizeClients(clients)
	for _, c := range clients {
		if c.connected && c.end == "" {
			res.Connected++
		}
	}
	return res, <-errc // nil when no client failed to connect
}

// connect opens one stream.
func connect(ctx context.Context, hc *http.Client, u string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("connect %s: status %s", u, res.Status)
	}
	return res.Body, nil
}

// read reads frames until the stream ends, keeping the latency of those
// that arrive from measureFrom on, and notes why it ended if that was
// before ctx did.
func (lc *loadClient) read(ctx context.Context, body io.Reader, measureFrom time.Time, frames, bytesRead *atomic.Int64, seen func(string)) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var f struct {
		ProducedAt int64 `json:"pt"`
		Newest     int64 `json:"pn"`
	}
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		if !lc.seenFrame {
			lc.seenFrame = true
			seen("frame")
		}
		now := time.Now()
		if now.Before(measureFrom) {
			continue
		}
		frames.Add(1)
		bytesRead.Add(int64(len(line)))
		f.ProducedAt, f.Newest = 0, 0
		if json.Unmarshal(data, &f) == nil && f.ProducedAt > 0 && len(lc.lat) < maxSamplesPerClient {
			lc.lat = append(lc.lat, now.Sub(time.UnixMicro(f.ProducedAt)))
			lc.fresh = append(lc.fresh, now.Sub(time.UnixMicro(f.Newest)))
		}
	}
	switch err := sc.Err(); {
	case ctx.Err() != nil:
	case err == nil || errors.Is(err, io.ErrUnexpectedEOF):
		lc.end = clientEndServerClosed
	default:
		lc.end = clientEndReadError
	}
	if lc.end != "" {
		seen("end")
	}
}

// summarizeClients merges the clients' tallies.
func summarizeClients(clients []loadClient) (lat, fresh dashboard.Percentiles, ended map[string]int) {
	var ls, fs []time.Duration
	ended = map[string]int{}
	for _, c := range clients {
		ls, fs = append(ls, c.lat...), append(fs, c.fresh...)
		if c.end != "" {
			ended[c.end]++
		}
	}
	return dashboard.PercentilesOf(ls), dashboard.PercentilesOf(fs), ended
}
