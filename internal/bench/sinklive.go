package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tradestream/tradestream/internal/clock"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/rate"
	"github.com/tradestream/tradestream/internal/sink"
)

// `bench sink --live` runs the generator at a steady rate into fresh
// topics while the sink, as its own process, loads them, and measures what
// a live pipeline needs: that lag stays flat and how long a record takes
// from its produced_at header to the commit of its row (the sink's own
// histogram, read before and after the measurement).

// LiveOptions configures SinkLive; Sink's options give the services, the
// command and the batch size.
type LiveOptions struct {
	SinkOptions
	// Rate is the generator's events per second.
	Rate float64
	// Warmup and Measure: how long the pipeline runs before and during the
	// measurement.
	Warmup, Measure time.Duration
	Gen             config.Gen
}

// SinkLiveResult is what `bench sink --live --json` prints.
type SinkLiveResult struct {
	TargetRate   float64 `json:"target_rate"`
	ProducedRate float64 `json:"produced_rate"`
	// LoadedRate is the records the sink committed per second during the
	// measurement.
	LoadedRate float64 `json:"loaded_rate"`
	BatchSize  int     `json:"batch_size"`
	Partitions int     `json:"partitions"`
	Seconds    float64 `json:"measure_seconds"`
	// Lag in records, sampled every second of the measurement; its slope
	// is the least-squares growth per second (flat: near 0).
	LagFirst int64   `json:"lag_first"`
	LagLast  int64   `json:"lag_last"`
	LagMax   int64   `json:"lag_max"`
	LagSlope float64 `json:"lag_slope_per_sec"`
	LagFlat  bool    `json:"lag_flat"`
	// Latency from produced_at to the commit, over the records committed
	// during the measurement, in milliseconds (interpolated within the
	// sink's histogram buckets).
	Latency     LatencyQuantiles `json:"latency_ms"`
	Target99ms  float64          `json:"target_p99_ms"`
	PeakRSSByte int64            `json:"sink_peak_rss_bytes"`
}

// LatencyQuantiles are latency quantiles in milliseconds.
type LatencyQuantiles struct {
	Samples       float64 `json:"samples"`
	P50, P90, P99 float64
}

// SinkLive runs the live measurement.
func SinkLive(ctx context.Context, o LiveOptions) (*SinkLiveResult, error) {
	sb, cl, err := openSinkBench(ctx, &o.SinkOptions, "bench_live_")
	if err != nil {
		return nil, err
	}
	defer sb.db.close()
	defer cl.Close()
	tc := o.Topics
	tc.Prefix, tc.Partitions = "bench.live."+sb.suffix+".", o.Partitions
	sb.prefix, sb.topics = tc.Prefix, kafka.TopicNames(tc.Prefix)
	if err := ensureTopics(ctx, cl, tc); err != nil {
		return nil, err
	}
	defer sb.deleteTopics(ctx, cl)

	maddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	group := "bench-live-" + sb.suffix
	proc, err := sb.startSinkProcess(ctx, group, "--metrics-addr", maddr)
	if err != nil {
		return nil, err
	}
	defer func() { _, _ = proc.stop() }()
	// On a busy machine the process may take longer than the warm-up to
	// serve its metrics: measure from when it does.
	if err := proc.awaitReady(ctx, "http://"+maddr+"/readyz", time.Minute); err != nil {
		return nil, err
	}
	g := o.Gen
	g.Rate = rate.Of(o.Rate)
	gctx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	genDone, err := startGenerator(gctx, g, cl, sb.topics)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "bench sink --live: generator at %.0f events/s, sink pid %d, warm-up %v, measuring %v\n",
		o.Rate, proc.cmd.Process.Pid, o.Warmup, o.Measure)
	if err := clock.Sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}
	res := &SinkLiveResult{TargetRate: o.Rate, BatchSize: o.BatchSize, Partitions: o.Partitions, Target99ms: 500}
	metricsURL := "http://" + maddr + "/metrics"
	before, err := latencyBucketsOf(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	var lags []int64
	var storedStart, storedEnd int64
	start := time.Now()
	for i := 0; time.Since(start) < o.Measure; i++ {
		lag, stored, err := sb.lag(ctx, adm, group)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			storedStart = stored
		}
		storedEnd = stored
		lags = append(lags, lag)
		fmt.Fprintf(o.Progress, "  %3ds: lag %d records\n", i, lag)
		if err := clock.Sleep(ctx, time.Second); err != nil {
			return nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	after, err := latencyBucketsOf(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	stopGen()
	gen := <-genDone
	run, err := proc.stop()
	if err != nil {
		return nil, err
	}
	res.ProducedRate = gen.sum.Rate
	res.LoadedRate = float64(storedEnd-storedStart) / res.Seconds
	res.PeakRSSByte = run.peakRSS
	res.summarizeLag(lags)
	res.Latency = quantiles(before, after)
	return res, gen.err
}

// lag returns the records produced but not yet committed by group, over
// the data topics, and the records committed.
func (sb *sinkBench) lag(ctx context.Context, adm *kadm.Client, group string) (lag, stored int64, err error) {
	ends, err := adm.ListEndOffsets(ctx, sb.topics.Users, sb.topics.Prices, sb.topics.Trades)
	if err != nil {
		return 0, 0, err
	}
	var end int64
	ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	err = sb.db.pool.QueryRow(ctx, `SELECT coalesce(sum(next_offset), 0) FROM sink_offsets WHERE group_id = $1`, group).Scan(&stored)
	return end - stored, stored, err
}

// summarizeLag sets the lag figures from samples a second apart. Lag is
// flat when it grows by less than 1% of the target rate per second: what
// it holds is a batch or two in flight, not a backlog.
func (res *SinkLiveResult) summarizeLag(lags []int64) {
	if len(lags) == 0 {
		return
	}
	res.LagFirst, res.LagLast = lags[0], lags[len(lags)-1]
	var sx, sy, sxx, sxy float64
	for i, l := range lags {
		res.LagMax = max(res.LagMax, l)
		x, y := float64(i), float64(l)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if n := float64(len(lags)); n > 1 {
		res.LagSlope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	}
	res.LagFlat = math.Abs(res.LagSlope) < 0.01*res.TargetRate
}

// latencyBucketsOf reads the sink's latency histogram: cumulative counts
// by upper bound.
func latencyBucketsOf(ctx context.Context, url string) (map[float64]float64, error) {
	resp, err := get(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("sink metrics: %w", err)
	}
	defer resp.Body.Close()
	raw, err := parseLabelled(bufio.NewScanner(resp.Body), sink.LatencyMetric+"_bucket", "le")
	if err != nil {
		return nil, fmt.Errorf("sink metrics: %w", err)
	}
	out := make(map[float64]float64, len(raw))
	for le, n := range raw {
		b, err := strconv.ParseFloat(le, 64) // +Inf parses too
		if err != nil {
			return nil, fmt.Errorf("sink metrics: bucket %q: %w", le, err)
		}
		out[b] = n
	}
	return out, nil
}

// quantiles returns the p50, p90 and p99 of the observations between two
// readings of a histogram, interpolating linearly within a bucket as
// Prometheus's histogram_quantile does.
func quantiles(before, after map[float64]float64) LatencyQuantiles {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	counts := make([]float64, len(bounds))
	for i, b := range bounds {
		counts[i] = after[b] - before[b]
	}
	var q LatencyQuantiles
	if len(counts) == 0 || counts[len(counts)-1] <= 0 {
		return q
	}
	total := counts[len(counts)-1]
	q.Samples = total
	at := func(p float64) float64 {
		rank := p * total
		for i, c := range counts {
			if c < rank {
				continue
			}
			lo, prev := 0.0, 0.0
			if i > 0 {
				lo, prev = bounds[i-1], counts[i-1]
			}
			hi := bounds[i]
			if math.IsInf(hi, 1) {
				return lo * 1000
			}
			if c == prev {
				return hi * 1000
			}
			return (lo + (hi-lo)*(rank-prev)/(c-prev)) * 1000
		}
		return bounds[len(bounds)-1] * 1000
	}
	q.P50, q.P90, q.P99 = at(0.5), at(0.9), at(0.99)
	return q
}
