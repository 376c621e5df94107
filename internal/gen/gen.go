// Package gen is the generator service: it draws events from the synthetic
// market, paces them at a target rate, and sends them to Kafka through an
// idempotent acks=all producer with a bounded buffer (or, in a dry run,
// writes them to a writer), reporting progress as it goes.
package gen

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/rate"
)

// Source yields events already encoded as records.
type Source interface {
	// Next fills r (topic, key, value and the schema header), reusing its
	// buffers, and reports false when the source has no more events.
	Next(r *kgo.Record) bool
}

// Options configures one generator run.
type Options struct {
	// Client produces to Kafka; it must be nil when DryRun is set.
	Client *kgo.Client
	// DryRun, when not nil, receives one JSON value per line instead.
	DryRun io.Writer
	// Rate is the target events per second; 0 means as fast as possible.
	// Shape, when set, replaces it.
	Rate float64
	// Shape, when set (IsSet), is the target rate as a function of the
	// time since the start (package rate); a byte shape (Bytes) paces the
	// value bytes sent instead of the events.
	Shape rate.Shape
	// Inject, when not nil, sends deliberate faults and writes their
	// manifest at the end (see Injection).
	Inject *Injection
	// Count stops the run after this many events; 0 means no limit.
	Count int64
	// Duration stops the run after this long; 0 means no limit.
	Duration time.Duration
	// RunID is sent in every record's run_id header.
	RunID string
	// Report receives progress: a bar on a terminal when Count is set,
	// otherwise a line every ReportInterval. Nil disables reporting.
	Report io.Writer
	// Terminal says Report is an interactive terminal.
	Terminal bool
	// ReportInterval is the time between reports.
	ReportInterval time.Duration
	// Extra, when set, is asked for text to end each rate line with (`up`
	// adds the pipeline's lag and dead letters); "" adds nothing.
	Extra func() string
	// FlushTimeout bounds the final flush after the run stops.
	FlushTimeout time.Duration
	// Now is the clock.
	Now func() time.Time
	// Metrics, when not nil, counts delivered and failed events and
	// follows the producer's buffer.
	Metrics *Metrics
	// Watch, when not nil, is the producer's hook (kgo.WithHooks) that
	// finds stalled partitions: the rate line names them, and Log gets a
	// warning when a stall starts and a line when it ends.
	Watch *Watch
	// Log receives the stall warnings; nil discards them.
	Log *slog.Logger
}

// Run sends events from src until Count or Duration is reached, the source
// ends or ctx is cancelled, then flushes everything already accepted and
// returns the run's summary. A cancelled ctx is a graceful stop, not an
// error. Run owns and ends the reporting goroutine it starts.
func Run(ctx context.Context, opts Options, src Source) (Summary, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 30 * time.Second
	}
	stats := &Stats{}
	recs := &pool{}
	var out Output
	if opts.DryRun != nil {
		out = newWriterOutput(opts.DryRun, stats, recs)
	} else {
		out = newKafkaOutput(opts.Client, stats, recs, opts.Metrics, opts.Now)
	}

	shape := opts.Shape
	if !shape.IsSet() {
		shape = rate.Of(opts.Rate)
	}
	byBytes := shape.Bytes()
	start := opts.Now()
	rep := &reporter{w: opts.Report, terminal: opts.Terminal, count: opts.Count, shape: shape, dryRun: opts.DryRun != nil, extra: opts.Extra}
	if opts.Watch != nil && opts.DryRun == nil {
		rep.stall, rep.buffered = opts.Watch.Stall, opts.Client.BufferedProduceRecords
	}
	stopReport := startReporting(rep, stats, opts, start)
	stopMonitor := startMonitor(opts)

	runID := []byte(opts.RunID)
	pace := newPacer(shape, opts.Now)
	send := out.Send
	var inj *injector
	if opts.Inject != nil {
		inj = newInjector(out, *opts.Inject, recs, opts.RunID)
		send = inj.Send
	}
	// Records are produced under a context that outlives a cancelled ctx,
	// so that a stop flushes what was accepted instead of failing it.
	produceCtx := context.WithoutCancel(ctx)
	// With a rate and a duration, the run sends exactly the events due
	// within the duration; the wall-clock deadline (with a second's grace
	// when paced) only stops a run that has fallen behind its schedule.
	var deadline time.Time
	paced := shape.Paced()
	due := math.Inf(1) // units (events or bytes) due within the duration
	if opts.Duration > 0 {
		deadline = start.Add(opts.Duration)
		if paced {
			deadline = deadline.Add(time.Second)
			due = shape.Count(opts.Duration)
		}
	}
	var sendErr error
	units := 0.0 // events, or value bytes, sent so far
	for n := int64(0); opts.Count == 0 || n < opts.Count; n++ {
		if ctx.Err() != nil || units >= due {
			break
		}
		if !deadline.IsZero() && (paced || n&255 == 0) && !opts.Now().Before(deadline) {
			break
		}
		if err := pace.wait(ctx, units); err != nil {
			break // cancelled while waiting
		}
		if opts.Metrics != nil && n&1023 == 0 {
			opts.Metrics.target.Set(shape.At(opts.Now().Sub(start)))
		}
		r := recs.get()
		if !src.Next(r) {
			recs.put(r)
			break
		}
		r.Headers = event.Headers{RunID: runID}.Append(r.Headers)
		if inj != nil {
			inj.at = faultTime(src, shape, units, opts.Now().Sub(start))
		}
		if byBytes {
			units += float64(len(r.Value))
		} else {
			units++
		}
		if sendErr = send(produceCtx, r); sendErr != nil {
			break
		}
	}
	if inj != nil && sendErr == nil {
		sendErr = inj.release(produceCtx)
	}

	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.FlushTimeout)
	defer cancel()
	flushErr := out.Flush(flushCtx)
	sum := stats.summary(opts.Now().Sub(start), opts.DryRun != nil)
	stopMonitor()
	stopReport()
	if rep.w != nil {
		rep.final(sum)
	}
	var manifestErr error
	if inj != nil {
		manifestErr = inj.writeManifest(opts.Report)
	}
	return sum, errors.Join(sendErr, flushErr, manifestErr)
}

// startReporting runs the periodic reporter until the returned function is
// called; that function waits for the goroutine to end.
func startReporting(rep *reporter, stats *Stats, opts Options, start time.Time) func() {
	if rep.w == nil {
		return func() {}
	}
	every := opts.ReportInterval
	if rep.bar() {
		every = 200 * time.Millisecond
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rep.tick(stats.summary(opts.Now().Sub(start), rep.dryRun))
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
