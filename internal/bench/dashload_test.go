package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/dashboard"
)

// TestLoadClientsSayWhyStreamsEnded serves streams of which one ends
// after its first frame, and checks that the clients count it as ended
// early and the others as connected at the end.
func TestLoadClientsSayWhyStreamsEnded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		us := time.Now().UnixMicro()
		fmt.Fprintf(w, "data: {\"t\":1,\"pt\":%d,\"pn\":%d}\n\n", us, us)
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("symbol") == "END" {
			return
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var frames, ends int
	seen := func(what string) { // the run ends once every client has had its frame and END has ended
		mu.Lock()
		defer mu.Unlock()
		if what == "frame" {
			frames++
		} else {
			ends++
		}
		if frames == 4 && ends == 1 {
			cancel()
		}
	}
	res, err := loadClients(ctx, srv.URL, []string{"AAPL", "MSFT", "IBM", "END"}, "1s", 4, time.Time{}, seen)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 3 || res.Ended[clientEndServerClosed] != 1 || len(res.Ended) != 1 {
		t.Errorf("got %d connected at the end and ended early %v, want 3 and 1 %s", res.Connected, res.Ended, clientEndServerClosed)
	}
	if res.Frames != 4 || res.Latency.Samples != 4 {
		t.Errorf("got %d frames and %d latency samples, want 4 of each", res.Frames, res.Latency.Samples)
	}
}

func TestParseStreamsEnded(t *testing.T) {
	text := "# HELP x\n" + dashboard.StreamsEndedMetric + "{cause=\"client_gone\"} 3\n" +
		dashboard.StreamsEndedMetric + "{cause=\"write_deadline\"} 77\nother_total 5\n"
	got, err := parseStreamsEnded(bufio.NewScanner(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["client_gone"] != 3 || got["write_deadline"] != 77 {
		t.Errorf("got %v, want client_gone 3 and write_deadline 77", got)
	}
	if _, err := parseStreamsEnded(bufio.NewScanner(strings.NewReader("other_total 5\n"))); err == nil {
		t.Error("got no error for metrics without the counter")
	}
}
