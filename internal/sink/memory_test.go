package sink

import (
	"crypto/rand"
	"fmt"
	runtimemetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
)

// TestMemoryStaysBoundedWithLargeRecords loads a backlog of 64 MiB of
// large, incompressible records (each a dead letter: not JSON) with a
// batch size in records that alone would hold all of them: the byte bound
// keeps every batch near BatchBytes, and the live Go heap stays under its
// bound (two batches and the fetch buffers) while every record is stored.
func TestMemoryStaysBoundedWithLargeRecords(t *testing.T) {
	e := newTestEnv(t, 3)
	const n, size = 2048, 32 << 10
	for i := 0; i < n; i += 64 {
		recs := make([]*kgo.Record, 0, 64)
		for j := i; j < i+64; j++ {
			v := make([]byte, size)
			_, _ = rand.Read(v)
			recs = append(recs, record(e.names.Prices, event.SchemaPriceV1, fmt.Appendf(nil, "k%d", j), v))
		}
		e.produce(t, recs...)
	}
	opts := e.options()
	opts.BatchSize, opts.BatchBytes = 100_000, 4<<20
	var mu sync.Mutex
	var batches, largest int
	opts.OnCommit = func(c Committed) {
		mu.Lock()
		defer mu.Unlock()
		batches++
		largest = max(largest, c.Bytes)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []runtimemetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			runtimemetrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	e.runSink(t, opts, nil, 2*time.Minute)
	close(stop)
	wg.Wait()

	if got := e.count(t, `SELECT count(*) FROM dead_letters WHERE length(value) = $1`, size); got != n {
		t.Fatalf("dead letters stored: got %d, want %d", got, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if largest > 2*opts.BatchBytes || batches < n*size/(2*opts.BatchBytes) {
		t.Errorf("got %d batches, the largest %d bytes; want batches near %d bytes", batches, largest, opts.BatchBytes)
	}
	const bound = 96 << 20
	t.Logf("%d batches, largest %.1f MiB; peak live heap %.1f MiB", batches, float64(largest)/(1<<20), float64(peak.Load())/(1<<20))
	if peak.Load() > bound {
		t.Errorf("peak live heap: got %.1f MiB, want under %d MiB", float64(peak.Load())/(1<<20), bound>>20)
	}
}
