package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
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

	// mu guards ev, loadedAt and past; the poll loop and the group's
	// assignment callbacks both use them.
	mu       sync.Mutex
	ev       *evaluator
	loadedAt time.Time
	// past holds the ids of alerts already in the alerts topic from
	// records past the stored checkpoint (firedPast), until fired again.
	past map[string]bool
	// stored is the offset each assigned partition has in alert_offsets
	// as this engine last read or wrote it (absent: none stored); a
	// checkpoint moves it only from there.
	stored map[partitionKey]int64

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
		stored:  map[partitionKey]int64{},
	}, nil
}

// Run evaluates until ctx ends, then finishes the batch in hand, leaves
// the group and returns nil. Any other return is a failure after which
// the engine must be restarted (from its stored position, losing nothing).
// Run owns both Kafka clients it creates and closes them before returning;
// franz-go's own goroutines end with them. Run may be called once.
func (e *Engine) Run(ctx context.Context) error {
	cons, err := e.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer func() {
		if cons != nil {
			cons.Close()
		}
		e.txnMu.Lock()
		defer e.txnMu.Unlock()
		e.prod.Close()
	}()
	checked := time.Now()
	recreated := kafka.NewRecreated()
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
		fresh := recreated.Note(fs)
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if errors.Is(err, kerr.UnknownTopicID) && !slices.Contains(fresh, topic) {
				return // logged when first refused
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
		moved := false
		if err == nil {
			if renew := e.renewRecreated(ctx, recreated); len(renew) > 0 {
				// The new topics are evaluated from their start, by a
				// new consumer, which learns their ids.
				moved = true
			}
		}
		if err == nil && !moved && time.Since(checked) >= e.opts.StoredCheck {
			checked = time.Now()
			if moved = e.storedMoved(ctx); moved {
				// As below, but found between checkpoints: partitions
				// that get no record would otherwise keep states the
				// database no longer has until their next record.
				e.metrics.followed.Inc()
				e.log.Warn("the stored offsets moved under the engine (a failover or a restore?); resuming from them")
				_ = e.at("moved", 0)
			}
		}
		if errors.Is(err, errFenced) {
			// The database lost checkpoints (or another instance moved
			// the offsets): leave the group and join it again, which
			// resumes every partition from the stored checkpoint as a
			// restart does (see assigned), and drops this batch.
			e.metrics.fenced.Inc()
			e.log.Warn("checkpoint fenced off: the stored offsets are not where this engine stored them (a failover or a restore lost checkpoints); resuming from the stored checkpoint")
			_ = e.at("fenced", 0)
			moved = true
		}
		if moved {
			cons.Close()
			if cons, err = e.newConsumer(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while retrying: the batch is evaluated again next time
			}
			return e.explainFenced(err)
		}
	}
}

// explainFenced says what a producer fenced in the middle of producing
// means: a newer producer initialised the engine's transactional id, which
// a dead incarnation cannot do, so another engine of the group runs under
// the same instance name. That one goes on (with this one's partitions,
// once it has left the group); this one stops rather than fence it back.
func (e *Engine) explainFenced(err error) error {
	if !errors.Is(err, kerr.ProducerFenced) {
		return err
	}
	return fmt.Errorf("another alerts engine took over transactional id %q: it runs in group %q under the same instance name %q "+
		"(the default is the host name); this one stops and the other goes on with its partitions. "+
		"To run several engines on one host, give each its own --instance (tradestream up: --alerts-instance): %w",
		e.opts.Group+"/"+e.opts.Instance, e.opts.Group, e.opts.Instance, err)
}

// renewRecreated returns the topics deleted and created again under the
// running engine (see kafka.Recreated), with their stored offsets moved
// to 0 and their states deleted.
func (e *Engine) renewRecreated(ctx context.Context, r *kafka.Recreated) []string {
	if !r.Pending() {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	renew := r.Check(lctx, e.prod)
	if len(renew) == 0 {
		return nil
	}
	e.metrics.recreated.Inc()
	e.log.Warn("the brokers list a topic the engine consumes under a new id: the topic was deleted and created again; evaluating the new topic from its start",
		"topics", renew)
	if err := e.rewindTopics(ctx, renew); err != nil {
		e.log.Warn("rewind the stored offsets of a recreated topic", "err", err)
	}
	return renew
}

// rewindTopics moves to 0 the stored offsets of the partitions of topics
// this engine holds, and deletes their states (see persister.rewind).
func (e *Engine) rewindTopics(ctx context.Context, topics []string) error {
	from := map[partitionKey]int64{}
	e.mu.Lock()
	for k, off := range e.stored {
		if off > 0 && slices.Contains(topics, e.full(k.topic)) {
			from[k] = off
		}
	}
	e.mu.Unlock()
	if len(from) == 0 {
		return nil
	}
	_, err := e.persist.rewind(ctx, from)
	return err
}

// storedMoved reports whether a partition's offset in alert_offsets is not
// where this engine last read or wrote it. A partition the group's
// rebalance moved meanwhile is not counted; an unreadable database is
// logged and counts as unmoved (the next checkpoint is fenced anyway).
func (e *Engine) storedMoved(ctx context.Context) bool {
	e.mu.Lock()
	want := maps.Clone(e.stored)
	e.mu.Unlock()
	if len(want) == 0 {
		return false
	}
	got, err := e.persist.offsets(ctx, slices.Collect(maps.Keys(want)))
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("compare the stored alert offsets", "err", err)
		}
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, off := range want {
		now, ok := e.stored[k]
		if !ok || now != off {
			continue // reassigned or checkpointed meanwhile
		}
		if stored, ok := got[k]; !ok || stored != off {
			return true
		}
	}
	return false
}

// start loads the rules and creates the producer (fencing a previous
// incarnation) and the group consumer. Run closes both.
func (e *Engine) start(ctx context.Context) (*kgo.Client, error) {
	if err := e.reloadRules(ctx); err != nil {
		return nil, err
	}
	prod, err := e.newProducer(ctx)
	if err != nil {
		return nil, err
	}
	e.prod = prod
	cons, err := e.newConsumer(ctx)
	if err != nil {
		prod.Close()
		return nil, err
	}
	f := "json"
	if e.opts.Encoder != nil {
		f = fmt.Sprintf("%s (alert/1 schema id %d)", e.opts.Encoder.Format(), e.opts.Encoder.ID(event.SchemaAlertV1))
	}
	e.log.Info("alerts engine running", "prices", e.opts.Topics.Prices, "trades", e.opts.Topics.Trades,
		"alerts", e.opts.Topics.Alerts, "format", f, "instance", e.opts.Instance)
	return cons, nil
}

// newConsumer creates the group consumer; partitions resume from the
// stored checkpoint as they are assigned.
func (e *Engine) newConsumer(ctx context.Context) (*kgo.Client, error) {
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
		return nil, fmt.Errorf("alerts consumer: %w", err)
	}
	return cons, nil
}

// newProducer creates the transactional producer and gets its producer id,
// which fences a previous incarnation: its open transaction is aborted
// before anything reads the alerts topic.
func (e *Engine) newProducer(ctx context.Context) (*kgo.Client, error) {
	prod, err := kafka.NewClient(ctx, e.kcfg, e.log, append(kafka.ProducerOptions(e.kcfg),
		kgo.TransactionalID(e.opts.Group+"/"+e.opts.Instance),
		kgo.TransactionTimeout(30*time.Second),
		metrics.KafkaHooks(e.opts.Registerer, "alerts-producer"),
	)...)
	if err != nil {
		return nil, fmt.Errorf("alerts producer: %w", err)
	}
	// The brokers answered NewClient; a failed InitProducerID is then a
	// broker going away meanwhile or a coordinator moving or loading,
	// tried again until it answers (the id's rights and a fenced id are
	// permanent).
	err = e.retry(ctx, "initialise the alerts producer id", func() error {
		if err := e.at("producer-id", 0); err != nil {
			return err
		}
		_, _, err := prod.ProducerID(ctx)
		return kafka.Denied(err, kafka.Principal(e.kcfg), "WRITE", "transactional-id "+e.opts.Group+"/"+e.opts.Instance)
	})
	if err != nil {
		prod.Close()
		return nil, fmt.Errorf("alerts producer id: %w", err)
	}
	return prod, nil
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
	work := context.WithoutCancel(ctx) // a started step finishes; waits end with ctx
	var unresolved error
	fs.EachRecord(func(r *kgo.Record) {
		if unresolved == nil {
			// Schemas are fetched before evaluating, waiting out a
			// registry outage; a stop meanwhile evaluates the batch again
			// next time.
			unresolved = e.opts.Decoder.Resolve(ctx, r.Value)
		}
	})
	if unresolved != nil {
		return unresolved
	}
	recs := e.decode(fs)
	if err := e.readDonors(ctx, work, recs); err != nil {
		return err
	}
	cp, latency := e.evaluate(recs)
	e.mu.Lock()
	cp.from = make(map[partitionKey]int64, len(cp.offsets))
	for k := range cp.offsets {
		if off, ok := e.stored[k]; ok {
			cp.from[k] = off
		}
	}
	e.mu.Unlock()
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
	e.mu.Lock()
	maps.Copy(e.stored, cp.offsets)
	e.mu.Unlock()
	e.metrics.commit.Observe(time.Since(start).Seconds())
	e.metrics.batch.Observe(float64(fs.NumRecords()))
	_ = e.at("checkpointed", len(cp.alerts))
	if len(cp.alerts) == 0 {
		return nil
	}
	for _, a := range cp.alerts {
		e.metrics.fired.WithLabelValues(a.Kind).Inc()
	}
	fresh := e.unfired(cp.alerts) // the outbox below is cleared of all of them
	if len(fresh) == 0 {
		return e.retry(ctx, "clear alert outbox", func() error { return e.persist.done(work, ids(cp.alerts)) })
	}
	again, renew := false, false
	err = e.retry(ctx, "produce alerts", func() error {
		e.txnMu.Lock()
		defer e.txnMu.Unlock()
		if renew {
			if err := e.renewProducerLocked(work); err != nil {
				return err
			}
			renew = false
		}
		todo := fresh
		if again {
			// The previous attempt may have committed without saying so:
			// wait until its transaction is resolved, then produce only
			// what the committed topic lacks.
			if err := e.settleLocked(work); err != nil {
				return err
			}
			var err error
			if todo, err = e.missing(work, start.Add(-5*time.Minute), fresh); err != nil {
				return err
			}
		}
		again = true
		err := e.produceLocked(work, todo)
		if errors.Is(err, kerr.InvalidProducerEpoch) {
			// Under transaction.version 2 the client cannot recover
			// from this itself: a new producer takes over.
			renew = true
			return &abortedError{err}
		}
		return err
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

// decoded is one polled record, decoded.
type decoded struct {
	src        Source
	v          any // *event.Price or *event.Trade; nil when not evaluated
	producedAt []byte
}

// decode decodes the batch's records and counts them. Records that do not
// decode are skipped (the sink dead-letters them), as are events of a
// kind their topic does not carry; their offsets still advance.
func (e *Engine) decode(fs kgo.Fetches) []decoded {
	out := make([]decoded, 0, fs.NumRecords())
	// As fs.EachRecord, with each fetched topic's id.
	for _, f := range fs {
		for _, t := range f.Topics {
			for _, p := range t.Partitions {
				for _, r := range p.Records {
					out = append(out, e.decodeRecord(r, t.TopicID))
				}
			}
		}
	}
	return out
}

// decodeRecord decodes one record of the topic of id topicID.
func (e *Engine) decodeRecord(r *kgo.Record, topicID [16]byte) decoded {
	short := e.short(r.Topic)
	e.metrics.records.WithLabelValues(short).Inc()
	e.metrics.bytes.WithLabelValues(short).Add(float64(len(r.Value)))
	d := decoded{src: Source{Topic: short, Partition: r.Partition, Offset: r.Offset, TopicID: topicID}}
	h := event.ReadHeaders(r.Headers)
	_, v, err := e.opts.Decoder.Decode(context.Background(), h.Schema, r.Value)
	if err != nil {
		e.metrics.skipped.WithLabelValues(string(event.ReasonOf(err))).Inc()
		v = nil
	}
	switch ev := v.(type) {
	case *event.Price:
		if short == "prices" {
			d.v = ev
		}
	case *event.Trade:
		if short == "trades" {
			d.v = ev
		}
	}
	d.producedAt = h.ProducedAt
	return d
}

// readDonors reads the stored states the batch's price ticks may inherit:
// those of symbols that an enabled rule has no state for yet in the tick's
// partition (a symbol the engine has not seen there, or one that moved
// there from another partition when the topic grew). Most batches need
// none and read nothing.
func (e *Engine) readDonors(ctx, work context.Context, recs []decoded) error {
	byPart := map[int32]map[string]bool{}
	for _, d := range recs {
		if p, ok := d.v.(*event.Price); ok {
			if byPart[d.src.Partition] == nil {
				byPart[d.src.Partition] = map[string]bool{}
			}
			byPart[d.src.Partition][p.Symbol] = true
		}
	}
	need := map[string]bool{}
	e.mu.Lock()
	for part, syms := range byPart {
		for _, s := range e.ev.strangers(part, syms) {
			need[s] = true
		}
	}
	e.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	var donors map[donorKey]donor
	err := e.retry(ctx, "read stored alert states", func() (err error) {
		donors, err = e.persist.donors(work, "prices", keys(need))
		return err
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.ev.donors = donors
	e.mu.Unlock()
	return nil
}

// evaluate runs the rules over the batch and returns its checkpoint, with
// the produced_at time of each alert's source record.
func (e *Engine) evaluate(recs []decoded) (checkpoint, map[string]time.Time) {
	cp := checkpoint{offsets: map[partitionKey]int64{}}
	produced := map[string]time.Time{}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range recs {
		cp.offsets[partitionKey{d.src.Topic, d.src.Partition}] = d.src.Offset + 1
		var out []Fired
		switch ev := d.v.(type) {
		case *event.Price:
			out = e.ev.price(d.src, ev)
		case *event.Trade:
			out = e.ev.trade(d.src, ev)
		}
		if len(out) == 0 {
			continue
		}
		if at, ok := event.ParseTime(d.producedAt); ok {
			for _, f := range out {
				produced[f.ID] = at
			}
		}
		cp.alerts = append(cp.alerts, out...)
	}
	e.ev.donors = nil
	for _, m := range e.ev.takeMoves() {
		e.metrics.moved.Inc()
		e.log.Info("alert state moved with its symbol to another partition", "rule", m.rule, "symbol", m.symbol,
			"from_partition", m.from, "to_partition", m.to)
	}
	cp.states = e.ev.takeDirty()
	// Copy now, under the lock: the loop goes on mutating the states.
	for k, st := range cp.states {
		cp.states[k] = st.clone()
	}
	return cp, produced
}

// keys returns the members of a set, in no order.
func keys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
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

// full is the topic name of the short name short.
func (e *Engine) full(short string) string {
	switch short {
	case "prices":
		return e.opts.Topics.Prices
	case "trades":
		return e.opts.Topics.Trades
	}
	return short
}

func ids(alerts []Fired) []string {
	out := make([]string, len(alerts))
	for i, a := range alerts {
		out[i] = a.ID
	}
	return out
}
