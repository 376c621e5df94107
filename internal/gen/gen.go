// Package gen is the generator service: it draws events from the synthetic
// market, paces them at a target rate, and sends them to Kafka through an
// idempotent acks=all producer with a bounded buffer (or, in a dry run,
// writes them to a writer), reporting progress as it goes.
package gen

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
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
	Rate float64
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
	// FlushTimeout bounds the final flush after the run stops.
	FlushTimeout time.Duration
	// Now is the clock.
	Now func() time.Time
	// Metrics, when not nil, counts delivered and failed events.
	Metrics *Metrics
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

	if opts.Metrics != nil {
		opts.Metrics.target.Set(opts.Rate)
	}
	start := opts.Now()
	rep := &reporter{w: opts.Report, terminal: opts.Terminal, count: opts.Count, target: opts.Rate, dryRun: opts.DryRun != nil}
	stopReport := startReporting(rep, stats, opts, start)

	runID := []byte(opts.RunID)
	pace := newPacer(opts.Rate, opts.Now)
	// Records are produced under a context that outlives a cancelled ctx,
	// so that a stop flushes what was accepted instead of failing it.
	produceCtx := context.WithoutCancel(ctx)
	// With a rate and a duration, the run sends exactly the events due
	// within the duration; the wall-clock deadline (with a second's grace
	// when paced) only stops a run that has fallen behind its schedule.
	var deadline time.Time
	limit := opts.Count
	if opts.Duration > 0 {
		deadline = start.Add(opts.Duration)
		if opts.Rate > 0 {
			deadline = deadline.Add(time.Second)
			if due := int64(opts.Rate * opts.Duration.Seconds()); limit == 0 || due < limit {
				limit = due
			}
		}
	}
	var sendErr error
	for n := int64(0); limit == 0 || n < limit; n++ {
		if ctx.Err() != nil {
			break
		}
		if !deadline.IsZero() && (opts.Rate > 0 || n&255 == 0) && !opts.Now().Before(deadline) {
			break
		}
		if err := pace.wait(ctx, n); err != nil {
			break // cancelled while waiting
		}
		r := recs.get()
		if !src.Next(r) {
			recs.put(r)
			break
		}
		r.Headers = event.Headers{RunID: runID}.Append(r.Headers)
		if sendErr = out.Send(produceCtx, r); sendErr != nil {
			break
		}
	}

	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.FlushTimeout)
	defer cancel()
	flushErr := out.Flush(flushCtx)
	sum := stats.summary(opts.Now().Sub(start), opts.DryRun != nil)
	stopReport()
	if rep.w != nil {
		rep.final(sum)
	}
	return sum, errors.Join(sendErr, flushErr)
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
