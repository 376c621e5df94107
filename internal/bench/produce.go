package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
)

// ProduceOptions configures `tradestream bench produce`.
type ProduceOptions struct {
	Kafka config.Kafka
	// Topics is the topic layout (replication, retention); the prefix and
	// partition count are the benchmark's own.
	Topics config.Topics
	Gen    config.Gen
	Jars   string // Kafka jars, for ProducerPerformance
	Log4j  string // optional log4j2 config for the Java tool
	Record int64  // records per run
	Rounds int    // runs of each side, alternating; the best of each is compared
	// Partitions of the benchmark topic.
	Partitions int
	// Prefix of the benchmark topic's name; empty: "bench.<unix ns>.".
	Prefix string
	// KeepTopic leaves the benchmark topic in place at the end, for a
	// caller (a test) to read back; otherwise it is deleted.
	KeepTopic bool
	// Registry, for a registry --format (Gen.Format), is where the
	// generator registers its schemas.
	Registry *format.Registry
	Log      *slog.Logger
	Progress io.Writer
}

// ProduceRun is one run of tradestream's generator. MBPerSec counts
// record value bytes only, in MiB (1024*1024 bytes) per second, as
// ProducerPerformance does.
type ProduceRun struct {
	Records        int64   `json:"records"`
	Seconds        float64 `json:"seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"`
	AvgRecordBytes float64 `json:"avg_record_bytes"`
	PeakHeapMiB    float64 `json:"peak_heap_mib"`
	// PeakRSSMiB is the benchmark process's peak resident memory during
	// the run (VmHWM, reset before it): the generator runs in it.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Written    Written `json:"written"`
}

// ApacheRun is one run of ProducerPerformance: its summary line and what
// the broker shows it wrote.
type ApacheRun struct {
	ApacheProducerResult
	Written Written `json:"written"`
}

// maxPayloads bounds the payload file, which the Java tool holds in its
// 1 GiB heap: runs of more records than this send a sample of them.
const maxPayloads = 2_000_000

// ProduceResult is what `bench produce --json` prints.
type ProduceResult struct {
	Machine Machine `json:"machine"`
	// Settings are those both sides run with (topic, partitions, acks,
	// idempotence, compression, linger, batch size, in-flight requests).
	Settings map[string]string `json:"settings"`
	// ApacheProps are the producer properties ProducerPerformance was
	// given, each set explicitly to the generator's setting.
	ApacheProps map[string]string `json:"apache_producer_props"`
	// AvgRecordBytes is the mean value size of the payload file: the
	// generator's own records, the same ones a run of it produces (up to
	// maxPayloads), which the Java tool sends in random order.
	AvgRecordBytes float64      `json:"avg_record_bytes"`
	Tradestream    []ProduceRun `json:"tradestream_runs"`
	Apache         []ApacheRun  `json:"apache_runs"`
	// Best records/s of each side and their ratio (tradestream / Apache).
	TradestreamRate float64 `json:"tradestream_records_per_sec"`
	ApacheRate      float64 `json:"apache_records_per_sec"`
	Ratio           float64 `json:"ratio"`
	// MiB of record values per second of the same best runs, as both
	// tools count them.
	TradestreamMBPerSec float64 `json:"tradestream_mb_per_sec"`
	ApacheMBPerSec      float64 `json:"apache_mb_per_sec"`
	// The largest peak RSS of any run of each side, in MiB.
	TradestreamPeakRSSMiB float64 `json:"tradestream_peak_rss_mib"`
	ApachePeakRSSMiB      float64 `json:"apache_peak_rss_mib"`
	// Differences are what still differs between the two sides.
	Differences []string `json:"differences"`
}

// Produce measures the generator (market simulation and encoding included)
// against Apache Kafka's ProducerPerformance on the same broker and topic
// (one topic, written by both), record values, acks, idempotence, linger,
// batch size and compression, alternating runs; what still differs is
// listed in the result.
func Produce(ctx context.Context, o ProduceOptions) (ProduceResult, error) {
	res := ProduceResult{Machine: Describe(o.Jars)}
	tc := o.Topics
	tc.Prefix, tc.Partitions = o.Prefix, o.Partitions
	if tc.Prefix == "" {
		tc.Prefix = fmt.Sprintf("bench.%d.", time.Now().UnixNano())
	}
	spec := produceTopic(tc)

	cl, err := kafka.NewClient(ctx, o.Kafka, o.Log)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := kafka.EnsureTopics(ctx, cl, []kafka.TopicSpec{spec}); err != nil {
		return res, err
	}
	if !o.KeepTopic {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_, _ = adm.DeleteTopics(dctx, spec.Name)
		}()
	}

	dir, err := os.MkdirTemp("", "tradestream-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	enc, err := benchEncoder(ctx, o, spec.Name)
	if err != nil {
		return res, err
	}
	payloads := filepath.Join(dir, "payloads.jsonl")
	apache := ApacheProducer{Jars: o.Jars, Log4jConfig: o.Log4j}
	if enc == nil {
		if res.AvgRecordBytes, err = writePayloads(ctx, o.Gen, payloads, min(o.Record, maxPayloads), nil, nil); err != nil {
			return res, err
		}
	} else {
		// ProducerPerformance reads its payload file as UTF-8 text, which
		// binary records are not: it sends records of their mean size.
		if res.AvgRecordBytes, err = writePayloads(ctx, o.Gen, "", min(o.Record, maxPayloads), enc, io.Discard); err != nil {
			return res, err
		}
		payloads, apache.RecordSize = "", int(res.AvgRecordBytes+0.5)
	}

	res.Settings, res.ApacheProps = produceSettings(o, spec.Name), apacheProps(o.Kafka)
	for round := 1; round <= o.Rounds; round++ {
		fmt.Fprintf(o.Progress, "round %d/%d: Apache ProducerPerformance, %d records...\n", round, o.Rounds, o.Record)
		var a ApacheRun
		a.Written, err = measureWrites(ctx, adm, spec.Name, "ProducerPerformance", o.Record, func() (err error) {
			a.ApacheProducerResult, err = apache.Run(ctx, strings.Join(o.Kafka.Brokers, ","), spec.Name, o.Record, payloads, res.ApacheProps, nil)
			return err
		})
		if err != nil {
			return res, err
		}
		res.Apache = append(res.Apache, a)
		res.ApachePeakRSSMiB = max(res.ApachePeakRSSMiB, a.PeakRSSMiB)
		if a.RecordsPerSec > res.ApacheRate {
			res.ApacheRate, res.ApacheMBPerSec = a.RecordsPerSec, a.MBPerSec
		}
		fmt.Fprintf(o.Progress, "  %.0f records/s\n", a.RecordsPerSec)

		fmt.Fprintf(o.Progress, "round %d/%d: tradestream gen, %d records...\n", round, o.Rounds, o.Record)
		var t ProduceRun
		written, err := measureWrites(ctx, adm, spec.Name, "the generator", o.Record, func() (err error) {
			t, err = runGen(ctx, o, spec.Name, enc)
			return err
		})
		if err != nil {
			return res, err
		}
		t.Written = written
		res.Tradestream = append(res.Tradestream, t)
		res.TradestreamPeakRSSMiB = max(res.TradestreamPeakRSSMiB, t.PeakRSSMiB)
		if t.RecordsPerSec > res.TradestreamRate {
			res.TradestreamRate, res.TradestreamMBPerSec = t.RecordsPerSec, t.MBPerSec
		}
		fmt.Fprintf(o.Progress, "  %.0f records/s\n", t.RecordsPerSec)
	}
	if res.ApacheRate > 0 {
		res.Ratio = res.TradestreamRate / res.ApacheRate
	}
	res.Differences = produceDifferences(o, res)
	return res, nil
}

// runGen runs the generator once, as `tradestream gen all` does (a new
// client with the producer options every service uses, the Watch hook
// that finds stalled partitions and the generator's metrics), with all
// three kinds of record sent to topic.
func runGen(ctx context.Context, o ProduceOptions, topic string, enc *format.Encoder) (ProduceRun, error) {
	watch := gen.NewWatch(nil)
	cl, err := kafka.NewClient(ctx, o.Kafka, o.Log, append(kafka.ProducerOptions(o.Kafka), kgo.WithHooks(watch))...)
	if err != nil {
		return ProduceRun{}, err
	}
	defer cl.Close()
	sim, _, err := gen.NewSim(o.Gen, time.Now())
	if err != nil {
		return ProduceRun{}, err
	}
	resetPeakRSS()
	stop := sampleHeap()
	sum, err := gen.Run(ctx, gen.Options{Client: cl, Count: o.Record, RunID: "bench", Watch: watch, Metrics: gen.NewMetrics(prometheus.NewRegistry())},
		gen.NewMarketSource(sim, market.KindAll, oneTopic(topic)).Encode(enc))
	peak := stop()
	rss, _ := procStatusKiB(os.Getpid(), "VmHWM")
	if err != nil {
		return ProduceRun{}, err
	}
	if sum.Delivered != o.Record {
		return ProduceRun{}, fmt.Errorf("generator delivered %d of %d records", sum.Delivered, o.Record)
	}
	sec := sum.Elapsed.Seconds()
	return ProduceRun{
		Records: sum.Delivered, Seconds: sec, RecordsPerSec: float64(sum.Delivered) / sec,
		MBPerSec: float64(sum.Bytes) / sec / (1 << 20), AvgRecordBytes: float64(sum.Bytes) / float64(sum.Sent),
		PeakHeapMiB: peak, PeakRSSMiB: rss / 1024,
	}, nil
}

// writePayloads writes the generator's first n records, one per line, for
// the Java tool to send, and returns their mean size. With the run's seed
// and count they are the very records a run of the generator produces, so
// both sides send values of the same mean size (the mix of users, prices
// and trades shifts over a run: a shorter sample would be heavier in
// users, whose records are larger).
//
// With enc, the records are encoded with it and written to out instead
// (path unused): the mean size of the generator's records in that format.
func writePayloads(ctx context.Context, g config.Gen, path string, n int64, enc *format.Encoder, out io.Writer) (float64, error) {
	if out == nil {
		f, err := os.Create(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		out = f
	}
	w := bufio.NewWriter(out)
	sim, _, err := gen.NewSim(g, time.Now())
	if err != nil {
		return 0, err
	}
	sum, err := gen.Run(ctx, gen.Options{DryRun: w, Count: n}, gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames("")).Encode(enc))
	if err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return float64(sum.Bytes) / float64(sum.Sent), nil
}

// benchEncoder registers the generator's schemas for a registry format,
// one subject per event (<topic>-user-value, ...: a subject holds one
// event's versions, and all of them go to the one benchmark topic); nil
// for JSON.
func benchEncoder(ctx context.Context, o ProduceOptions, topic string) (*format.Encoder, error) {
	f, err := format.Parse(o.Gen.Format)
	if err != nil || !f.Registered() {
		return nil, err
	}
	if o.Registry == nil {
		return nil, fmt.Errorf("--format %s needs a schema registry: set --schema-registry-url", f)
	}
	var regs []format.Registration
	for _, r := range gen.RegistrationsFor(market.KindAll, oneTopic(topic), o.Gen.TradeSchema) {
		r.Subject = topic + "-" + strings.SplitN(r.Version, "/", 2)[0] + "-value"
		regs = append(regs, r)
	}
	return format.NewEncoder(ctx, o.Registry, f, regs)
}

// sampleHeap samples the heap in use every 50 ms until the returned
// function is called, which returns the peak in MiB.
func sampleHeap() func() float64 {
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		var ms runtime.MemStats
		var max uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max {
				max = ms.HeapInuse
			}
			select {
			case <-done:
				peak <- float64(max) / (1 << 20)
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 { close(done); return <-peak }
}

// resetPeakRSS resets this process's VmHWM to its current resident size
// (Linux's clear_refs 5), so that a later read is the peak since.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// samplePeakRSS samples process pid's VmHWM every 50 ms until the returned
// function is called, which returns the largest in MiB (0 when it could
// not be read). Call it before the process is reaped.
func samplePeakRSS(pid int) func() float64 {
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		var max float64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, err := procStatusKiB(pid, "VmHWM"); err == nil && kb > max {
				max = kb
			}
			select {
			case <-done:
				peak <- max / 1024
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 { close(done); return <-peak }
}
