package alert

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
)

// produceLocked produces alerts in one Kafka transaction and commits it.
// The caller holds txnMu.
func (e *Engine) produceLocked(ctx context.Context, alerts []Fired) error {
	if len(alerts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	recs := make([]*kgo.Record, len(alerts))
	for i, a := range alerts {
		var err error
		if recs[i], err = e.record(a); err != nil {
			return err
		}
	}
	if err := e.at("txn-begin", len(alerts)); err != nil {
		return err
	}
	if err := e.prod.BeginTransaction(); err != nil {
		return fmt.Errorf("begin alerts transaction: %w", err)
	}
	var mu sync.Mutex
	var first error
	for _, rec := range recs {
		e.prod.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	if err := e.prod.Flush(ctx); err != nil && first == nil {
		first = err
	}
	if first != nil {
		if err := e.prod.EndTransaction(ctx, kgo.TryAbort); err != nil {
			return fmt.Errorf("abort alerts transaction after %v: %w", first, err)
		}
		return fmt.Errorf("produce alerts: %w", first)
	}
	if err := e.prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit alerts transaction: %w", err)
	}
	if err := e.at("txn-committed", len(alerts)); err != nil {
		return err
	}
	e.metrics.txn.Observe(time.Since(start).Seconds())
	e.metrics.produced.Add(float64(len(alerts)))
	return nil
}

// record encodes one alert as an alert/1 record: tradestream's JSON with
// the schema header, or the Encoder's registry format (framed with the
// schema id, no schema header).
func (e *Engine) record(a Fired) (*kgo.Record, error) {
	h := event.Headers{
		ProducedAt: event.AppendTime(nil, e.opts.Now()),
		RunID:      []byte(e.opts.Group + "/" + e.opts.Instance),
	}
	var value []byte
	if e.opts.Encoder != nil {
		var err error
		if value, err = e.opts.Encoder.Append(nil, event.SchemaAlertV1, &a.Alert); err != nil {
			return nil, fmt.Errorf("encode alert %s: %w", a.ID, err)
		}
	} else {
		h.Schema = []byte(event.SchemaAlertV1)
		value = a.AppendJSON(nil)
	}
	return &kgo.Record{Topic: e.opts.Topics.Alerts, Key: a.AppendKey(nil), Value: value, Headers: h.Records()}, nil
}

// commitKafka commits the polled offsets to Kafka for visibility (lag
// tools, `tradestream status`). PostgreSQL holds the real position, so a
// failure here is only logged.
func (e *Engine) commitKafka(ctx context.Context, cons *kgo.Client) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		e.log.Debug("commit offsets to kafka", "err", err)
	}
}

// retry runs step until it succeeds, fails permanently or ctx ends,
// waiting between attempts with capped exponential backoff.
func (e *Engine) retry(ctx context.Context, what string, step func() error) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil {
			if attempt > 1 {
				e.log.Info(what+" succeeded again", "attempts", attempt)
			}
			return nil
		}
		if permanent(err) {
			return err
		}
		e.log.Warn(what+" failed; retrying", "attempt", attempt, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// abortedError is a produce that failed with INVALID_PRODUCER_EPOCH: the
// transaction coordinator aborted the transaction and bumped the producer
// epoch, which it does when the transaction outlives its timeout (during a
// broker outage, or with the quorum for min.insync.replicas lost). Under
// Kafka's transaction.version 2 franz-go cannot recover that client, so the
// engine replaces it with a new producer of the same transactional id
// (settleLocked) and produces again what the committed topic lacks; it is
// not permanent.
type abortedError struct{ err error }

func (a *abortedError) Error() string {
	return fmt.Sprintf("%v (transaction aborted by the coordinator; a new producer takes over)", a.err)
}

func (a *abortedError) Unwrap() error { return a.err }

// settleLocked returns once the producer's last transaction is resolved
// for good, committed or aborted, with its markers written, so that a
// read-committed scan of the alerts topic tells which of its alerts are
// there. After a commit whose outcome is unknown (a lost reply, a broker
// or the quorum gone mid-commit), franz-go's abort only marks the producer
// id for reloading; the reload is an InitProducerID, which the
// coordinator answers only once it has completed whatever transaction of
// this transactional id was open or half-committed. So the abort is
// followed by loading the producer id, and an error in either is an error
// here (retried), never a guess. A producer whose epoch the coordinator
// bumped is replaced by a new one of the same transactional id, whose
// InitProducerID waits the same way. Under transaction.version 2 that
// includes a commit the coordinator completed while its reply was lost
// (its leader killed mid-commit): the commit bumped the epoch, and the
// reload with the epoch this producer still holds is answered
// PRODUCER_FENCED. Settling only ever follows this producer's own
// unresolved transaction, so that too is answered by a new producer
// rather than by stopping the engine. The caller holds txnMu.
func (e *Engine) settleLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := e.prod.EndTransaction(ctx, kgo.TryAbort)
	if err == nil {
		_, _, err = e.prod.ProducerID(ctx)
	}
	if errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState) || errors.Is(err, kerr.ProducerFenced) {
		return e.renewProducerLocked(ctx)
	}
	if err != nil {
		return fmt.Errorf("resolve the last alerts transaction: %w", err)
	}
	return nil
}

// renewProducerLocked replaces the producer with a new one of the same
// transactional id. The caller holds txnMu.
func (e *Engine) renewProducerLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	prod, err := e.newProducer(ctx)
	if err != nil {
		return err
	}
	e.prod.Close()
	e.prod = prod
	e.log.Warn("alerts producer replaced by a new one of the same transactional id (the coordinator aborted its transaction or bumped its epoch)")
	e.metrics.renewed.Inc()
	return nil
}

// permanent reports errors no retry fixes: a schema without the engine's
// tables or privileges, bad credentials, a missing Kafka ACL, and a
// producer fenced by another instance with the same transactional id.
func permanent(err error) bool {
	var aborted *abortedError
	if errors.As(err, &aborted) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code[:2] {
		case "28", "3F", "42", "0A":
			return true
		}
		return false
	}
	return errors.Is(err, errFenced) || kafka.IsDenied(err) || errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}
