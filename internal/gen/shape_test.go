package gen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
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

// TestInjectDryRunDeterministic: with a seed, an unpaced dry run with
// faults writes the same bytes twice, and another seed differs. Late
// records are timed on the market's event time, not the wall clock: they
// come out within the run (a 2 s delay is a few hundred events of event
// time), not all at its end, as they would if the delay were wall time in
// a run that takes a fraction of a second.
func TestInjectDryRunDeterministic(t *testing.T) {
	rates := config.Inject{Duplicates: 0.01, Late: 0.02, LateDelay: 2 * time.Second,
		Malformed: 0.004, Oversized: 0.0005, UnknownSchema: 0.002}
	run := func(seed uint64) []byte {
		var out bytes.Buffer
		in := &gen.Injection{Rates: rates, Seed: seed, ManifestPath: filepath.Join(t.TempDir(), "m.json")}
		if _, err := gen.Run(context.Background(), gen.Options{DryRun: &out, Count: 30000, Inject: in},
			newSource(t, seed, 300, market.KindAll, kafka.TopicNames("x."))); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	a, b, c := run(3), run(3), run(4)
	if !bytes.Equal(a, b) {
		t.Error("seed 3 twice with faults: outputs differ, want byte-identical")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 3 and 4: outputs identical")
	}
	// Ticks out of sequence order for their symbol are late ones.
	lines := bytes.Split(bytes.TrimSpace(a), []byte("\n"))
	last := map[string]int64{}
	var early, late int
	for i, l := range lines {
		var tk struct {
			Symbol string `json:"symbol"`
			Seq    *int64 `json:"seq"`
		}
		if json.Unmarshal(l, &tk) != nil || tk.Seq == nil {
			continue
		}
		if *tk.Seq < last[tk.Symbol] {
			late++
			if i < len(lines)*9/10 {
				early++
			}
		}
		last[tk.Symbol] = max(last[tk.Symbol], *tk.Seq)
	}
	if late == 0 || early < late/2 {
		t.Errorf("%d ticks out of order, %d of them before the last tenth of the run: want late ticks released along the run", late, early)
	}
}
