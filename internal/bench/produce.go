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
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
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
	Log        *slog.Logger
	Progress   io.Writer
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
}

// maxPayloads bounds the payload file, which the Java tool holds in its
// 1 GiB heap: runs of more records than this send a sample of them.
const maxPayloads = 2_000_000

// ProduceResult is what `bench produce --json` prints.
type ProduceResult struct {
	Machine  Machine           `json:"machine"`
	Settings map[string]string `json:"settings"`
	// AvgRecordBytes is the mean value size of the payload file: the
	// generator's own records, the same ones a run of it produces (up to
	// maxPayloads), which the Java tool sends in random order.
	AvgRecordBytes float64                `json:"avg_record_bytes"`
	Tradestream    []ProduceRun           `json:"tradestream_runs"`
	Apache         []ApacheProducerResult `json:"apache_runs"`
	// Best records/s of each side and their ratio (tradestream / Apache).
	TradestreamRate float64 `json:"tradestream_records_per_sec"`
	ApacheRate      float64 `json:"apache_records_per_sec"`
	Ratio           float64 `json:"ratio"`
	// MiB of record values per second of the same best runs, as both
	// tools count them.
	TradestreamMBPerSec float64 `json:"tradestream_mb_per_sec"`
	ApacheMBPerSec      float64 `json:"apache_mb_per_sec"`
}

// Produce measures the generator (market simulation and encoding included)
// against Apache Kafka's ProducerPerformance on the same broker, topic
// layout, record bytes, acks and compression, alternating runs.
func Produce(ctx context.Context, o ProduceOptions) (ProduceResult, error) {
	res := ProduceResult{Machine: Describe(o.Jars)}
	prefix := fmt.Sprintf("bench.%d.", time.Now().UnixNano())
	topics := kafka.TopicNames(prefix)
	tc := o.Topics
	tc.Prefix, tc.Partitions = prefix, o.Partitions

	cl, err := kafka.NewClient(ctx, o.Kafka, o.Log, kafka.ProducerOptions(o.Kafka)...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc)); err != nil {
		return res, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, topics.All()...)
	}()

	dir, err := os.MkdirTemp("", "tradestream-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	payloads := filepath.Join(dir, "payloads.jsonl")
	if res.AvgRecordBytes, err = writePayloads(ctx, o.Gen, payloads, min(o.Record, maxPayloads)); err != nil {
		return res, err
	}

	res.Settings = map[string]string{
		"records": strconv.FormatInt(o.Record, 10), "partitions": strconv.Itoa(o.Partitions),
		"acks": "all", "idempotent": "true", "compression": o.Kafka.Compression,
		"linger": o.Kafka.Linger.String(), "batch_bytes": strconv.Itoa(o.Kafka.BatchBytes),
		"brokers": strings.Join(o.Kafka.Brokers, ","), "users": strconv.Itoa(o.Gen.Users),
	}
	props := map[string]string{
		"acks": "all", "enable.idempotence": "true", "compression.type": o.Kafka.Compression,
		"linger.ms":  strconv.FormatInt(o.Kafka.Linger.Milliseconds(), 10),
		"batch.size": strconv.Itoa(o.Kafka.BatchBytes), "client.id": "bench-apache",
	}
	apache := ApacheProducer{Jars: o.Jars, Log4jConfig: o.Log4j}
	for round := 1; round <= o.Rounds; round++ {
		fmt.Fprintf(o.Progress, "round %d/%d: Apache ProducerPerformance, %d records...\n", round, o.Rounds, o.Record)
		a, err := apache.Run(ctx, strings.Join(o.Kafka.Brokers, ","), topics.Trades, o.Record, payloads, props, nil)
		if err != nil {
			return res, err
		}
		res.Apache = append(res.Apache, a)
		if a.RecordsPerSec > res.ApacheRate {
			res.ApacheRate, res.ApacheMBPerSec = a.RecordsPerSec, a.MBPerSec
		}
		fmt.Fprintf(o.Progress, "  %.0f records/s\n", a.RecordsPerSec)

		fmt.Fprintf(o.Progress, "round %d/%d: tradestream gen, %d records...\n", round, o.Rounds, o.Record)
		t, err := runGen(ctx, o, cl, topics)
		if err != nil {
			return res, err
		}
		res.Tradestream = append(res.Tradestream, t)
		if t.RecordsPerSec > res.TradestreamRate {
			res.TradestreamRate, res.TradestreamMBPerSec = t.RecordsPerSec, t.MBPerSec
		}
		fmt.Fprintf(o.Progress, "  %.0f records/s\n", t.RecordsPerSec)
	}
	if res.ApacheRate > 0 {
		res.Ratio = res.TradestreamRate / res.ApacheRate
	}
	return res, nil
}

func runGen(ctx context.Context, o ProduceOptions, cl *kgo.Client, topics kafka.Topics) (ProduceRun, error) {
	sim, _, err := gen.NewSim(o.Gen, time.Now())
	if err != nil {
		return ProduceRun{}, err
	}
	stop := sampleHeap()
	sum, err := gen.Run(ctx, gen.Options{Client: cl, Count: o.Record, RunID: "bench"}, gen.NewMarketSource(sim, market.KindAll, topics))
	peak := stop()
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
		PeakHeapMiB: peak,
	}, nil
}

// writePayloads writes the generator's first n records, one per line, for
// the Java tool to send, and returns their mean size. With the run's seed
// and count they are the very records a run of the generator produces, so
// both sides send values of the same mean size (the mix of users, prices
// and trades shifts over a run: a shorter sample would be heavier in
// users, whose records are larger).
func writePayloads(ctx context.Context, g config.Gen, path string, n int64) (float64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	sim, _, err := gen.NewSim(g, time.Now())
	if err != nil {
		return 0, err
	}
	sum, err := gen.Run(ctx, gen.Options{DryRun: w, Count: n}, gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames("")))
	if err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return float64(sum.Bytes) / float64(sum.Sent), nil
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
