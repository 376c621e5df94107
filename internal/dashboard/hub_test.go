package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

func TestHubSkipsAndDropsStalledClients(t *testing.T) {
	m := newMarket()
	met := newServerMetrics(nil)
	h := newHub(HubOptions{QueueFrames: 2, MaxSkipped: 3}, m, func() *HealthSample { return nil }, met)
	fast, leaveFast := h.join(subKey{symbol: "AAPL", interval: 0})
	defer leaveFast()
	slow, leaveSlow := h.join(subKey{symbol: "AAPL", interval: 0})
	defer leaveSlow()

	price := func(i int) {
		m.addPrice(&event.Price{Symbol: "AAPL", Sector: "Technology", Seq: int64(i), Time: time.Unix(1700000000+int64(i), 0),
			Bid: event.FromInt(100), Ask: event.FromInt(101), Last: event.FromInt(100 + int64(i)), Volume: 10}, time.Now().UnixNano())
	}
	for i := range 6 {
		price(i)
		h.tick()
		select { // the fast client reads every frame
		case f := <-fast.ch:
			if !strings.Contains(string(f.data), `"symbol":"AAPL"`) || len(f.produced) != 1 {
				t.Fatalf("frame %d: got %s with %d samples, want the AAPL quote and 1 sample", i, f.data, len(f.produced))
			}
		default:
			t.Fatalf("frame %d: fast client got no frame", i)
		}
	}
	// The slow client never read: 2 frames queued, then 3 skipped, then dropped.
	select {
	case <-slow.gone:
	default:
		t.Fatalf("got slow client still connected, want it dropped after 3 skipped frames")
	}
	if got := met.skippedCount.Load(); got != 3 {
		t.Errorf("got %d skipped frames, want 3", got)
	}
	if got := h.Clients(); got != 1 {
		t.Errorf("got %d clients, want 1", got)
	}
}

func TestHubCoalescesIntoOneFrame(t *testing.T) {
	m := newMarket()
	h := newHub(HubOptions{}, m, func() *HealthSample { return nil }, newServerMetrics(nil))
	c, leave := h.join(subKey{symbol: "MSFT", interval: 1})
	defer leave()
	for i := range 100 {
		m.addPrice(&event.Price{Symbol: "MSFT", Sector: "Technology", Seq: int64(i), Time: time.Unix(1700000000, int64(i)*1e6),
			Bid: event.FromInt(400), Ask: event.FromInt(401), Last: event.FromInt(400), Volume: 1}, time.Now().UnixNano())
	}
	h.tick()
	if got := len(c.ch); got != 1 {
		t.Fatalf("got %d frames for 100 ticks, want 1", got)
	}
	f := <-c.ch
	if !strings.Contains(string(f.data), `"volume":100`) {
		t.Errorf("got %s, want one 1m candle with volume 100", f.data)
	}
	h.tick()
	if got := len(c.ch); got != 0 {
		t.Errorf("got %d frames with nothing new, want 0", got)
	}
}
