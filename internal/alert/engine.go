package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/metrics"
)

// Engine evaluates the alert rules on the price and trade streams and
// produces alerts to the alerts topic, exactly once per crossing across
// restarts (see the package documentation).
type Engine struct {
	kcfg    config.Kafka
	opts    Options
	store   *Store
	persist *persister
	metrics *engineMetrics
	log     *slog.Logger

	// mu guards ev and loadedAt; the poll loop and the group's assignment
	// callbacks both use them.
	mu       sync.Mutex
	ev       *evaluator
	loadedAt time.Time

	// txnMu serialises Kafka transactions of the loop and of recovery.
	txnMu sync.Mutex
	prod  *kgo.Client

	// hook, when set (tests), is called at named points of a checkpoint
	// with the number of alerts in hand; an error it returns at
	// "txn-begin" or "txn-committed" fails that produce attempt (as a
	// broker error or a lost commit acknowledgement would).
	hook func(stage string, alerts int) error
}

// New returns an engine reading and writing through brokers in kcfg and
// the database in pool. It connects nothing until Run.
func New(kcfg config.Kafka, pool *pgxpool.Pool, opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	return &Engine{
		kcfg: kcfg, opts: opts,
		store:   NewStore(pool),
		persist: &persister{pool: pool, group: opts.Group},
		metrics: newEngineMetrics(opts.Registerer),
		log:     opts.Log.With("component", "alerts", "group", opts.Group),
		ev:      newEvaluator(),
	}, nil
}

// Run evaluates until ctx ends, then finishes the batch in hand, leaves
// the group and returns nil. Any other return is a failure after which
// the engine must be restarted (from its stored position, losing nothing).
// Run owns both Kafka clients it creates and closes them before returning;
// franz-go's own goroutines end with them. Run may be called once.
func (e *Engine) Run(ctx context.Context) error {
	cons, closeClients, err := e.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer closeClients()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if err := e.maybeReloadRules(ctx); err != nil {
			e.log.Warn("reload alert rules", "err", err)
		}
		pollCtx, cancel := context.WithTimeout(ctx, e.opts.RulesRefresh)
		fs := cons.PollRecords(pollCtx, e.opts.BatchSize)
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		var fatal error
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			e.log.Warn("fetch", "topic", topic, "partition", p, "err", err)
			if isFatal(err) {
				if topic == "" {
					fatal = kafka.Denied(err, kafka.Principal(e.kcfg), "READ", "group "+e.opts.Group)
				} else {
					fatal = kafka.Denied(err, kafka.Principal(e.kcfg), "READ", "topic "+topic)
				}
			}
		})
		if fatal != nil {
			cons.AllowRebalance()
			return fmt.Errorf("alerts consumer: %w", fatal)
		}
		err := e.handle(ctx, fs)
		if err == nil && !fs.Empty() {
			e.commitKafka(ctx, cons)
		}
		cons.AllowRebalance()
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while retrying: the batch is evaluated again next time
			}
			return err
		}
	}
}

// start loads the rules and creates the producer (fencing a previous
// incarnation) and the group consumer; the returned function closes both.
func (e *Engine) start(ctx context.Context) (*kgo.Client, func(), error) {
	if err := e.reloadRules(ctx); err != nil {
		return nil, nil, err
	}
	prod, err := kafka.NewClient(ctx, e.kcfg, e.log, append(kafka.ProducerOptions(e.kcfg),
		kgo.TransactionalID(e.opts.Group+"/"+e.opts.Instance),
		kgo.TransactionTimeout(30*time.Second),
		metrics.KafkaHooks(e.opts.Registerer, "alerts-producer"),
	)...)
	if err != nil {
		return nil, nil, fmt.Errorf("alerts producer: %w", err)
	}
	e.prod = prod
	// Fence a previous incarnation now: its open transaction is aborted
	// before anything reads the alerts topic.
	if _, _, err := prod.ProducerID(ctx); err != nil {
		prod.Close()
		return nil, nil, fmt.Errorf("alerts producer id: %w",
			kafka.Denied(err, kafka.Principal(e.kcfg), "WRITE", "transactional-id "+e.opts.Group+"/"+e.opts.Instance))
	}
	reset := kgo.NewOffset().AtEnd()
	if e.opts.FromStart {
		reset = kgo.NewOffset().AtStart()
	}
	var session []kgo.Opt
	if e.opts.SessionTimeout > 0 {
		session = append(session, kgo.SessionTimeout(e.opts.SessionTimeout))
	}
	cons, err := kafka.NewClient(ctx, e.kcfg, e.log, append(session,
		kgo.ConsumerGroup(e.opts.Group),
		kgo.ConsumeTopics(e.opts.Topics.Prices, e.opts.Topics.Trades),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(e.assigned),
		kgo.OnPartitionsRevoked(e.revoked),
		kgo.OnPartitionsLost(e.revoked),
		metrics.KafkaHooks(e.opts.Registerer, "alerts-consumer"),
	)...)
	if err != nil {
		prod.Close()
		return nil, nil, fmt.Errorf("alerts consumer: %w", err)
	}
	e.log.Info("alerts engine running", "prices", e.opts.Topics.Prices, "trades", e.opts.Topics.Trades,
		"alerts", e.opts.Topics.Alerts, "instance", e.opts.Instance)
	return cons, func() { cons.Close(); prod.Close() }, nil
}

// isFatal reports fetch errors after which the engine cannot go on:
// missing authorisation. Everything else franz-go retries on its own.
func isFatal(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// handle evaluates one polled batch and checkpoints it: offsets, state and
// outbox to PostgreSQL in one transaction, then the alerts to Kafka in one
// transaction, then the outbox cleared. Each step is idempotent and is
// retried with backoff while PostgreSQL or Kafka is unavailable (the
// batch's partitions cannot be rebalanced away meanwhile); it returns an
// error only for what no retry fixes, or ctx's error once ctx ends.
func (e *Engine) handle(ctx context.Context, fs kgo.Fetches) error {
	if fs.NumRecords() == 0 {
		return nil
	}
	cp, latency := e.evaluate(fs)
	work := context.WithoutCancel(ctx) // a started step finishes; waits end with ctx
	start := time.Now()
	err := e.retry(ctx, "checkpoint to PostgreSQL", func() error {
		err := e.persist.commit(work, cp)
		if errors.Is(err, errRuleGone) {
			// A rule was deleted under the batch: drop its state and retry.
			if rerr := e.reloadRules(work); rerr != nil {
				return rerr
			}
			e.mu.Lock()
			for k := range cp.states {
				if _, ok := e.ev.rules[k.rule]; !ok {
					delete(cp.states, k)
				}
			}
			e.mu.Unlock()
			err = e.persist.commit(work, cp)
		}
		return err
	})
	if err != nil {
		return err
	}
	e.metrics.commit.Observe(time.Since(start).Seconds())
	e.metrics.batch.Observe(float64(fs.NumRecords()))
	_ = e.at("checkpointed", len(cp.alerts))
	if len(cp.alerts) == 0 {
		return nil
	}
	for _, a := range cp.alerts {
		e.metrics.fired.WithLabelValues(a.Kind).Inc()
	}
	again := false
	err = e.retry(ctx, "produce alerts", func() error {
		e.txnMu.Lock()
		defer e.txnMu.Unlock()
		todo := cp.alerts
		if again {
			// The previous attempt may have committed without saying so:
			// end whatever it left open, then produce only what the
			// committed topic lacks.
			if err := e.prod.EndTransaction(work, kgo.TryAbort); err != nil {
				return fmt.Errorf("abort alerts transaction: %w", err)
			}
			var err error
			if todo, err = e.missing(work, start.Add(-5*time.Minute), cp.alerts); err != nil {
				return err
			}
		}
		again = true
		return e.produceLocked(work, todo)
	})
	if err != nil {
		return err
	}
	_ = e.at("produced", len(cp.alerts))
	now := e.opts.Now()
	for _, a := range cp.alerts {
		if t, ok := latency[a.ID]; ok {
			e.metrics.e2e.WithLabelValues(a.Kind).Observe(now.Sub(t).Seconds())
		}
	}
	return e.retry(ctx, "clear alert outbox", func() error { return e.persist.done(work, ids(cp.alerts)) })
}

// evaluate runs the rules over the batch and returns its checkpoint, with
// the produced_at time of each alert's source record.
func (e *Engine) evaluate(fs kgo.Fetches) (checkpoint, map[string]time.Time) {
	cp := checkpoint{offsets: map[partitionKey]int64{}}
	produced := map[string]time.Time{}
	e.mu.Lock()
	defer e.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) {
		short := e.short(r.Topic)
		cp.offsets[partitionKey{short, r.Partition}] = r.Offset + 1
		e.metrics.records.WithLabelValues(short).Inc()
		e.metrics.bytes.WithLabelValues(short).Add(float64(len(r.Value)))
		h := event.ReadHeaders(r.Headers)
		v, err := event.Decode(string(h.Schema), r.Value)
		if err != nil {
			e.metrics.skipped.WithLabelValues(string(event.ReasonOf(err))).Inc()
			return
		}
		src := Source{Topic: short, Partition: r.Partition, Offset: r.Offset}
		var out []Fired
		switch ev := v.(type) {
		case *event.Price:
			if short == "prices" {
				out = e.ev.price(src, ev)
			}
		case *event.Trade:
			if short == "trades" {
				out = e.ev.trade(src, ev)
			}
		}
		if len(out) == 0 {
			return
		}
		if at, ok := event.ParseTime(h.ProducedAt); ok {
			for _, f := range out {
				produced[f.ID] = at
			}
		}
		cp.alerts = append(cp.alerts, out...)
	})
	cp.states = e.ev.takeDirty()
	// Encode now, under the lock: the loop goes on mutating the states.
	for k, st := range cp.states {
		c := *st
		c.Lows = append([][2]int64(nil), st.Lows...)
		c.Highs = append([][2]int64(nil), st.Highs...)
		cp.states[k] = &c
	}
	return cp, produced
}

// at calls the test hook.
func (e *Engine) at(stage string, alerts int) error {
	if e.hook != nil {
		return e.hook(stage, alerts)
	}
	return nil
}

// short returns the short name of a source topic.
func (e *Engine) short(topic string) string {
	switch topic {
	case e.opts.Topics.Prices:
		return "prices"
	case e.opts.Topics.Trades:
		return "trades"
	}
	return topic
}

func ids(alerts []Fired) []string {
	out := make([]string, len(alerts))
	for i, a := range alerts {
		out[i] = a.ID
	}
	return out
}
