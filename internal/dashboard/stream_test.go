package dashboard

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// smallBuffers makes every accepted connection's send buffer small, so
// that a client that stops reading blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// runStreamServer runs a dashboard with hub options opts on a loopback
// listener, with AAPL quotes changing every millisecond, and returns it,
// its address and a function stopping it.
func runStreamServer(t *testing.T, opts HubOptions) (*Server, string, func()) {
	t.Helper()
	pool, _ := pgtest.Migrated(t)
	live := kafkatest.Client(t, kafkatest.Brokers(t))
	s := New(live, pool, Options{Topics: kafka.TopicNames(kafkatest.Prefix(t)), SinkGroup: "g", Hub: opts,
		Registerer: prometheus.NewRegistry()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	feedDone, runDone := make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(feedDone)
		for i := 0; ctx.Err() == nil; i++ {
			s.market.addPrice(&event.Price{Symbol: "AAPL", Sector: "Technology", Seq: int64(i), Time: time.Now(),
				Bid: event.FromInt(100), Ask: event.FromInt(101), Last: event.FromInt(100 + int64(i%7)), Volume: 10}, time.Now().UnixNano())
			time.Sleep(time.Millisecond) // pacing the feed, not waiting for a result
		}
	}()
	go func() { runDone <- s.Run(ctx, smallBuffers{ln}) }()
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		<-feedDone
		if err := <-runDone; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return s, ln.Addr().String(), stop
}

// readingClient opens a stream and reads it until the returned function
// closes it.
func readingClient(t *testing.T, addr string) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/stream?symbol=AAPL&interval=1s", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got status %s, want 200", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "retry:") {
		t.Fatalf("got first line %q, want the retry line", sc.Text())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
		}
	}()
	return func() { cancel(); res.Body.Close(); <-done }
}

// stalledClient opens a stream on a connection with a small receive
// buffer and never reads it.
func stalledClient(t *testing.T, addr string) {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("GET /api/stream?symbol=AAPL&interval=1s HTTP/1.1\r\nHost: dash\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
}

// ended reads the count of streams ended by cause.
func ended(t *testing.T, s *Server, cause StreamEnd) float64 {
	t.Helper()
	var m dto.Metric
	if err := s.metrics.streamsEnded.WithLabelValues(string(cause)).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// waitEnded waits until cause has been counted once, and checks that no
// other cause was counted.
func waitEnded(t *testing.T, s *Server, cause StreamEnd) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for ended(t, s, cause) < 1 {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range StreamEndCauses {
		want := 0.0
		if c == cause {
			want = 1
		}
		if got := ended(t, s, c); got != want {
			t.Errorf("got %v streams ended by %s, want %v", got, c, want)
		}
	}
}

func TestStreamEndsAreCountedByCause(t *testing.T) {
	fast := HubOptions{FrameInterval: 2 * time.Millisecond}
	tests := []struct {
		name string
		hub  HubOptions
		end  func(t *testing.T, addr string, stop func())
		want StreamEnd
	}{
		{"client closes", fast, func(t *testing.T, addr string, _ func()) {
			readingClient(t, addr)()
		}, EndClientGone},
		{"client stops reading", HubOptions{FrameInterval: 2 * time.Millisecond, MaxSkipped: 1 << 30, WriteTimeout: 200 * time.Millisecond},
			func(t *testing.T, addr string, _ func()) { stalledClient(t, addr) }, EndWriteDeadline},
		// The write timeout is far longer than the wait: the drop itself
		// must cut the blocked write.
		{"client misses frames", HubOptions{FrameInterval: 2 * time.Millisecond, QueueFrames: 1, MaxSkipped: 3, WriteTimeout: 10 * time.Minute},
			func(t *testing.T, addr string, _ func()) { stalledClient(t, addr) }, EndQueueOverflow},
		{"server stops", fast, func(t *testing.T, addr string, stop func()) {
			closeClient := readingClient(t, addr)
			stop()
			closeClient()
		}, EndServerStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, stop := runStreamServer(t, tt.hub)
			tt.end(t, addr, stop)
			waitEnded(t, s, tt.want)
		})
	}
}
