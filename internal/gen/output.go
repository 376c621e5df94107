package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
)

// Output is where generated records go. Send may block to apply
// backpressure; Flush waits until everything sent is settled.
type Output interface {
	Send(ctx context.Context, r *kgo.Record) error
	Flush(ctx context.Context) error
}

// pool recycles records and their buffers once the output is done with
// them, so a long run allocates almost nothing per event.
type pool struct{ p sync.Pool }

func (p *pool) get() *kgo.Record {
	if r, ok := p.p.Get().(*kgo.Record); ok {
		return r
	}
	return &kgo.Record{Headers: make([]kgo.RecordHeader, 0, 3)}
}

func (p *pool) put(r *kgo.Record) {
	if cap(r.Value) > 64<<10 {
		return // let an outsized buffer go
	}
	*r = kgo.Record{Key: r.Key[:0], Value: r.Value[:0], Headers: r.Headers[:0]}
	p.p.Put(r)
}

// kafkaOutput produces to Kafka through an idempotent, acks=all producer
// whose buffer is bounded (kgo.MaxBufferedRecords): Send blocks when the
// buffer is full, so memory does not grow with the rate.
type kafkaOutput struct {
	cl      *kgo.Client
	stats   *Stats
	pool    *pool
	metrics *Metrics
	now     func() time.Time

	mu       sync.Mutex
	firstErr error
}

func newKafkaOutput(cl *kgo.Client, stats *Stats, pool *pool, metrics *Metrics, now func() time.Time) *kafkaOutput {
	return &kafkaOutput{cl: cl, stats: stats, pool: pool, metrics: metrics, now: now}
}

func (k *kafkaOutput) Send(ctx context.Context, r *kgo.Record) error {
	stampProducedAt(r, k.now())
	k.stats.Sent.Add(1)
	k.stats.Bytes.Add(int64(len(r.Value)))
	k.cl.Produce(ctx, r, k.promise)
	return k.err()
}

// stampProducedAt adds the produced_at header, the time r is handed to
// the producer.
func stampProducedAt(r *kgo.Record, now time.Time) {
	stamp := event.AppendTime(make([]byte, 0, 32), now)
	r.Headers = event.Headers{ProducedAt: stamp}.Append(r.Headers)
}

func (k *kafkaOutput) promise(r *kgo.Record, err error) {
	if err != nil {
		k.stats.Failed.Add(1)
		k.metrics.fail(r.Topic)
		k.mu.Lock()
		if k.firstErr == nil {
			// An idempotent producer without WRITE on any topic is
			// refused its producer id with CLUSTER_AUTHORIZATION_FAILED.
			k.firstErr = fmt.Errorf("produce to %s: %w", r.Topic, kafka.Denied(err, "", "WRITE", "topic "+r.Topic))
			if errors.Is(err, kerr.UnknownTopicID) {
				// franz-go keeps the id a topic had when first produced to.
				k.firstErr = fmt.Errorf("produce to %s: %w (the topic was deleted and created again under the generator: start it again)", r.Topic, err)
			}
		}
		k.mu.Unlock()
	} else {
		k.stats.Delivered.Add(1)
		k.metrics.delivered(r.Topic, len(r.Value))
	}
	k.pool.put(r)
}

func (k *kafkaOutput) err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.firstErr
}

func (k *kafkaOutput) Flush(ctx context.Context) error {
	if err := k.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return k.err()
}

// writerOutput writes each record's value as one line: the --dry-run
// output, exactly the bytes that would be sent to Kafka.
type writerOutput struct {
	w     *bufio.Writer
	stats *Stats
	pool  *pool
}

func newWriterOutput(w io.Writer, stats *Stats, pool *pool) *writerOutput {
	return &writerOutput{w: bufio.NewWriterSize(w, 256<<10), stats: stats, pool: pool}
}

func (o *writerOutput) Send(_ context.Context, r *kgo.Record) error {
	defer o.pool.put(r)
	o.stats.Sent.Add(1)
	o.stats.Delivered.Add(1)
	o.stats.Bytes.Add(int64(len(r.Value)))
	if _, err := o.w.Write(r.Value); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return o.w.WriteByte('\n')
}

func (o *writerOutput) Flush(context.Context) error { return o.w.Flush() }
