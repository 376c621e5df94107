package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tradestream/tradestream/internal/bench"
)

// TestPrintProduceShowsTheLayoutAndTheDifferences checks the text form of
// `bench produce`: the one topic both sides share, the settings, the
// ratio, and every difference left.
func TestPrintProduceShowsTheLayoutAndTheDifferences(t *testing.T) {
	res := bench.ProduceResult{
		Settings: map[string]string{
			"topic": "bench.1.produce", "partitions": "6", "records": "1000", "acks": "all",
			"compression": "zstd", "linger": "5ms", "batch_bytes": "1048576", "max_in_flight": "5",
		},
		AvgRecordBytes: 161.4, ApacheRate: 400_000, TradestreamRate: 500_000, Ratio: 1.25,
		ApachePeakRSSMiB: 612.4, TradestreamPeakRSSMiB: 101.6,
		Differences: []string{"keys and headers: one", "partitioning: two"},
	}
	var buf bytes.Buffer
	printProduce(&buf, res)
	got := buf.String()
	for _, want := range []string{
		"both sides: topic bench.1.produce (6 partitions), 1000 records a run, 161 bytes a value on average",
		"acks=all, idempotent, compression zstd, linger 5ms, batch 1048576 bytes, 5 requests in flight",
		"ratio                            125.0%",
		"peak RSS  612 MiB (its JVM, -Xmx1g)",
		"peak RSS  102 MiB (the benchmark process)",
		"differences:\n  - keys and headers: one\n  - partitioning: two\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got output\n%s\nwant it to contain %q", got, want)
		}
	}
}
