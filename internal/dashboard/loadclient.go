package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// LoadResult is what a set of live stream clients measured.
type LoadResult struct {
	Clients int `json:"clients"`
	// Connected is how many clients were still connected at the end.
	Connected int   `json:"connected"`
	Frames    int64 `json:"frames"`
	Bytes     int64 `json:"bytes"`
	// FramesPerClientSecond is the mean frame rate one client received.
	FramesPerClientSecond float64 `json:"frames_per_client_second"`
	// Latency is produced_at (the pt field of a frame) to the frame's
	// arrival at the client, over every frame received.
	Latency Percentiles `json:"latency"`
	// Freshness is the newest record a frame reflects (its pn field) to
	// the frame's arrival: how old the freshest data on screen is.
	Freshness Percentiles   `json:"freshness"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// LoadClients connects n clients to the live stream at base (e.g.
// "http://127.0.0.1:8080"), spread over symbols, reads frames until ctx
// ends and reports what they measured from measureFrom on. It is the client side of
// `tradestream bench dash`; only loopback addresses are meant as targets.
func LoadClients(ctx context.Context, base string, symbols []string, interval string, n int, measureFrom time.Time) (LoadResult, error) {
	if len(symbols) == 0 || n <= 0 {
		return LoadResult{}, fmt.Errorf("load clients: need symbols and a positive count")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	lat, fresh := newLatencyWindow(1<<20), newLatencyWindow(1<<20)
	var frames, bytesRead atomic.Int64
	var connected atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, n)
	start := time.Now()
	for i := range n {
		u := base + "/api/stream?symbol=" + url.QueryEscape(symbols[i%len(symbols)]) + "&interval=" + url.QueryEscape(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				errc <- err
				return
			}
			res, err := hc.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					errc <- fmt.Errorf("connect %s: %w", u, err)
				}
				return
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				errc <- fmt.Errorf("connect %s: status %s", u, res.Status)
				return
			}
			connected.Add(1)
			defer connected.Add(-1)
			sc := bufio.NewScanner(res.Body)
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
				now := time.Now()
				if now.Before(measureFrom) {
					continue
				}
				frames.Add(1)
				bytesRead.Add(int64(len(line)))
				f.ProducedAt, f.Newest = 0, 0
				if json.Unmarshal(data, &f) == nil && f.ProducedAt > 0 {
					lat.observe(now.Sub(time.UnixMicro(f.ProducedAt)))
					fresh.observe(now.Sub(time.UnixMicro(f.Newest)))
				}
			}
		}()
	}
	// Report how many are connected at the end, before they are torn down:
	// just before the deadline, since once ctx ends the streams close
	// concurrently with the count.
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl) - 250*time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	} else {
		<-ctx.Done()
	}
	res := LoadResult{Clients: n, Connected: int(connected.Load())}
	<-ctx.Done()
	wg.Wait()
	close(errc)
	res.Elapsed = time.Since(start)
	if measureFrom.After(start) {
		res.Elapsed = time.Since(measureFrom)
	}
	res.Frames, res.Bytes = frames.Load(), bytesRead.Load()
	res.FramesPerClientSecond = float64(res.Frames) / float64(n) / res.Elapsed.Seconds()
	res.Latency = lat.percentiles(false)
	res.Freshness = fresh.percentiles(false)
	for err := range errc {
		return res, err
	}
	return res, nil
}
