package bench

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
	bin := buildBinary(t)
	res, err := Sink(context.Background(), SinkOptions{
		Kafka: kafkatest.Config(brokers), Topics: config.Default().Topics, DatabaseURL: url,
		Command: []string{bin, "sink"}, Env: []string{"TRADESTREAM_METRICS_ADDR="},
		Partitions: 3, Events: 20_000, Users: 200, BatchSize: 2_000, Rounds: 1, NaiveRecords: 100, Seed: 7,
		Instances: []int{2},
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
	if len(res.ScaleOut) != 1 || res.ScaleOut[0].Instances != 2 || len(res.ScaleOut[0].Records) != 2 ||
		res.ScaleOut[0].Records[0]+res.ScaleOut[0].Records[1] < res.Rows || res.ScaleOut[0].RowsPerSec <= 0 {
		t.Errorf("scale-out: got %+v, want two instances that loaded every record between them", res.ScaleOut)
	}
	if res.Naive.Rows != 100 || len(res.Differences) == 0 {
		t.Errorf("got naive run %+v, differences %q", res.Naive, res.Differences)
	}
}

// TestSinkLiveMeasuresLagAndLatency runs `bench sink --live` briefly: the
// sink process commits what the generator produces, and the report holds
// lag samples and latency quantiles from the sink's histogram.
func TestSinkLiveMeasuresLagAndLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and PostgreSQL")
	}
	brokers := kafkatest.Brokers(t)
	bin := buildBinary(t)
	res, err := SinkLive(context.Background(), LiveOptions{
		SinkOptions: SinkOptions{
			Kafka: kafkatest.Config(brokers), Topics: config.Default().Topics, DatabaseURL: pgtest.URL(t),
			Command: []string{bin, "sink"}, Partitions: 3, BatchSize: 2_000,
		},
		Rate: 2_000, Warmup: 2 * time.Second, Measure: 3 * time.Second, Gen: config.Default().Gen,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProducedRate <= 0 || res.LoadedRate <= 0 || res.Seconds < 3 {
		t.Errorf("got produced %.0f/s, loaded %.0f/s over %.1fs; want both measured", res.ProducedRate, res.LoadedRate, res.Seconds)
	}
	q := res.Latency
	if q.Samples <= 0 || q.P50 <= 0 || q.P50 > q.P90 || q.P90 > q.P99 {
		t.Errorf("latency: got %+v, want quantiles of the records committed", q)
	}
	if res.LagMax < res.LagFirst || res.LagMax < res.LagLast || res.PeakRSSByte <= 0 {
		t.Errorf("got lag first %d, last %d, max %d, peak RSS %d", res.LagFirst, res.LagLast, res.LagMax, res.PeakRSSByte)
	}
}

func TestQuantilesInterpolateWithinBuckets(t *testing.T) {
	before := map[float64]float64{0.1: 0, 0.2: 0, 0.5: 0, math.Inf(1): 0}
	after := map[float64]float64{0.1: 50, 0.2: 90, 0.5: 100, math.Inf(1): 100}
	q := quantiles(before, after)
	if q.Samples != 100 || q.P50 != 100 || q.P90 != 200 || math.Abs(q.P99-470) > 1e-9 {
		t.Errorf("got %+v, want 100 samples, p50 100 ms, p90 200 ms, p99 470 ms", q)
	}
}

// buildBinary builds the tradestream command for the test's sink processes.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tradestream")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tradestream/tradestream/cmd/tradestream").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
