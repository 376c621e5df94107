package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// TestSinkBenchMeasuresEverySideOnTheSameRows runs `bench sink` small on
// the real services: the ceiling, the sink process and the writer each
// load every row of the feed, and the report holds their rates, the
// ratios and the sink process's own peak RSS.
func TestSinkBenchMeasuresEverySideOnTheSameRows(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and PostgreSQL")
	}
	brokers := kafkatest.Brokers(t)
	url := pgtest.URL(t)
	bin := filepath.Join(t.TempDir(), "tradestream")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tradestream/tradestream/cmd/tradestream").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	res, err := Sink(context.Background(), SinkOptions{
		Kafka: kafkatest.Config(brokers), Topics: config.Default().Topics, DatabaseURL: url,
		Command: []string{bin, "sink"}, Env: []string{"TRADESTREAM_METRICS_ADDR="},
		Partitions: 3, Events: 20_000, Users: 200, BatchSize: 2_000, Rounds: 1, NaiveRecords: 100, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	byTable := res.RowsByTable["price_ticks"] + res.RowsByTable["trades"] + res.RowsByTable["users"]
	if res.Rows != 20_000 || byTable != res.Rows || res.ValueBytes == 0 {
		t.Fatalf("got %d rows (%v by table), %d value bytes; want the 20,000 events as rows", res.Rows, res.RowsByTable, res.ValueBytes)
	}
	for side, runs := range map[string][]SinkRun{"ceiling": res.Ceiling, "sink": res.Sink, "writer": res.Writer} {
		if len(runs) != 1 || runs[0].Rows != res.Rows || runs[0].RowsPerSec <= 0 || runs[0].MBPerSec <= 0 {
			t.Errorf("%s: got runs %+v, want one run of %d rows", side, runs, res.Rows)
		}
	}
	if res.SinkPeakRSSBytes < 1<<20 || res.SinkPeakRSSBytes > 1<<30 {
		t.Errorf("sink peak RSS: got %d bytes, want the sink process's own (1 MiB to 1 GiB)", res.SinkPeakRSSBytes)
	}
	if res.Ratio != res.SinkRate/res.CeilingRate || res.WriterRatio != res.WriterRate/res.CeilingRate || res.Target != 0.75 {
		t.Errorf("ratios: got sink %v, writer %v, target %v; want the rates over the ceiling's", res.Ratio, res.WriterRatio, res.Target)
	}
	if res.Naive.Rows != 100 || len(res.Differences) == 0 {
		t.Errorf("got naive run %+v, differences %q", res.Naive, res.Differences)
	}
}
