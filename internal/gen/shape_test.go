package gen_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/rate"
)

// TestShapesAgainstBroker runs the generator for a few seconds per shape
// against the real broker and compares the events Kafka holds (from the
// end offsets) with the integral of the shape over the run: within 2 %.
// The rates are modest so that a loaded machine keeps up; the check is a
// count, not a timing.
func TestShapesAgainstBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 20 s")
	}
	brokers := kafkatest.Brokers(t)
	kc := kafkatest.Config(brokers)
	cl := kafkatest.Client(t, brokers, kafka.ProducerOptions(kc)...)
	const run = 3 * time.Second
	for _, text := range []string{
		"2000",
		"ramp:500..4000/3s",
		"steps:500,3000,1500/1s",
		"burst:500,5000/500ms/1500ms",
		"daily:2000/3s",
	} {
		t.Run(text, func(t *testing.T) {
			shape, err := rate.Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			tc := kafkatest.Topics(t, brokers, 3, 1)
			topics := kafka.TopicNames(tc.Prefix)
			opts := gen.Options{Client: cl, Shape: shape, Duration: run, RunID: "shape-test"}
			sum, err := gen.Run(context.Background(), opts, newSource(t, 11, 200, market.KindAll, topics))
			if err != nil {
				t.Fatal(err)
			}
			inKafka := endOffsets(t, brokers, topics)
			want := shape.Count(run)
			off := (float64(inKafka) - want) / want
			t.Logf("%s over %v: Kafka holds %d events, the shape's integral is %.1f (%+.3f%%)", text, run, inKafka, want, 100*off)
			if math.Abs(off) > 0.02 {
				t.Errorf("Kafka holds %d events, want within 2%% of %.1f", inKafka, want)
			}
			// The count alone is capped by the duration; a pacer running
			// ahead of the shape would also finish early. (Only a lower
			// bound: a loaded machine makes runs longer, never shorter.)
			if sum.Elapsed < run*98/100 {
				t.Errorf("the run took %v, want at least %v: the pacer ran ahead of the shape", sum.Elapsed, run*98/100)
			}
			if inKafka != sum.Delivered {
				t.Errorf("Kafka holds %d events, the generator says %d delivered", inKafka, sum.Delivered)
			}
		})
	}
}

// TestRateBytes paces a dry run by value bytes: the bytes written over
// the run match the byte shape's integral within 2 %.
func TestRateBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 4 s")
	}
	for _, tt := range []struct{ text, target string }{
		{"400KB", "target 400.0 KB/s ("},
		{"ramp:100KB..600KB/2s", " KB/s ("},
	} {
		text := tt.text
		shape, err := rate.ParseBytes(text)
		if err != nil {
			t.Fatal(err)
		}
		const run = 2 * time.Second
		var out, report bytes.Buffer
		sum, err := gen.Run(context.Background(), gen.Options{DryRun: &out, Shape: shape, Duration: run, Report: &report},
			newSource(t, 5, 200, market.KindAll, kafka.TopicNames("x.")))
		if err != nil {
			t.Fatal(err)
		}
		got := float64(out.Len() - bytes.Count(out.Bytes(), []byte("\n")))
		want := shape.Count(run)
		t.Logf("%s over %v: wrote %.0f value bytes in %d events, the shape's integral is %.0f", text, run, got, sum.Sent, want)
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("%s: wrote %.0f value bytes, want within 2%% of %.0f", text, got, want)
		}
		if sum.Elapsed < run*98/100 {
			t.Errorf("%s: the run took %v, want at least %v", text, sum.Elapsed, run*98/100)
		}
		// The report states the target in the units --rate-bytes reads
		// (the mean over the run, which a flush can lengthen).
		if rep := report.String(); !strings.Contains(rep, "gen: wrote ") || !strings.Contains(rep, tt.target) {
			t.Errorf("%s: report %q, want a final line with %q", text, rep, tt.target)
		}
	}
}
