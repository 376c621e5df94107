package alert

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/store"
)

// reloadRules reads the rules and hands them to the evaluator.
func (e *Engine) reloadRules(ctx context.Context) error {
	rules, err := e.store.List(ctx)
	if err != nil {
		return err
	}
	counts := map[Kind]int{}
	for _, r := range rules {
		if r.Enabled {
			counts[r.Kind]++
		}
	}
	e.mu.Lock()
	e.ev.setRules(rules)
	e.loadedAt = time.Now()
	e.mu.Unlock()
	for _, k := range Kinds {
		e.metrics.rules.WithLabelValues(string(k)).Set(float64(counts[k]))
	}
	return nil
}

func (e *Engine) maybeReloadRules(ctx context.Context) error {
	e.mu.Lock()
	due := time.Since(e.loadedAt) >= e.opts.RulesRefresh
	e.mu.Unlock()
	if !due {
		return nil
	}
	return e.reloadRules(ctx)
}

// assigned is the group's AdjustFetchOffsetsFn: for newly assigned
// partitions it loads the stored position and rule state from PostgreSQL,
// produces whatever a previous owner left in the outbox, and starts
// consuming at the stored offsets (partitions never seen start at the
// configured end).
func (e *Engine) assigned(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var parts []partitionKey
	for topic, ps := range offsets {
		for p := range ps {
			parts = append(parts, partitionKey{e.short(topic), p})
		}
	}
	var pos positions
	err := e.retry(ctx, "load alert positions", func() (err error) {
		pos, err = e.persist.load(ctx, parts)
		return err
	})
	if err != nil {
		e.log.Error("load alert positions", "err", err)
		return nil, err
	}
	if err := e.retry(ctx, "check the assigned topics' ids against the ones last assigned", func() error { return e.rewindRecreated(ctx, parts, &pos) }); err != nil {
		e.log.Error("check the assigned topics' ids against the ones last assigned", "err", err)
		return nil, err
	}
	if err := e.retry(ctx, "check the stored alert offsets against the partitions' ends", func() error { return e.rewindPastEnd(ctx, &pos) }); err != nil {
		e.log.Error("check the stored alert offsets against the partitions' ends", "err", err)
		return nil, err
	}
	e.mu.Lock()
	for _, k := range parts {
		e.ev.dropPartition(k.topic, k.partition)
		delete(e.stored, k)
	}
	maps.Copy(e.stored, pos.offsets)
	for k, st := range pos.states {
		if _, ok := e.ev.rules[k.rule]; ok {
			e.ev.states[k] = st
		}
	}
	e.mu.Unlock()
	if err := e.retry(ctx, "recover alert outbox", func() error { return e.recover(ctx, parts) }); err != nil {
		e.log.Error("recover alert outbox", "err", err)
		return nil, err
	}
	if err := e.retry(ctx, "read alerts fired past the checkpoint", func() error { return e.firedPast(ctx, parts, pos.offsets) }); err != nil {
		e.log.Error("read alerts fired past the checkpoint", "err", err)
		return nil, err
	}
	reset := kgo.NewOffset().AtEnd()
	if e.opts.FromStart {
		reset = kgo.NewOffset().AtStart()
	}
	out := make(map[string]map[int32]kgo.Offset, len(offsets))
	for topic, ps := range offsets {
		out[topic] = make(map[int32]kgo.Offset, len(ps))
		for p := range ps {
			if off, ok := pos.offsets[partitionKey{e.short(topic), p}]; ok {
				out[topic][p] = kgo.NewOffset().At(off).WithEpoch(-1)
			} else {
				out[topic][p] = reset
			}
		}
	}
	e.log.Info("partitions assigned", "partitions", len(parts), "resumed", len(pos.offsets), "states", len(pos.states))
	return out, nil
}

// rewindRecreated records the topic id of each of parts (see
// store.RecordTopicIDs) and evaluates again from its start each partition
// of pos whose topic had another id when the group was last assigned it:
// the topic was deleted and created again meanwhile, however far the new
// one has grown. As in rewindPastEnd, its stored offset moves to 0 and
// its states are deleted.
func (e *Engine) rewindRecreated(ctx context.Context, parts []partitionKey, pos *positions) error {
	var topics []string
	for _, k := range parts {
		if t := e.full(k.topic); !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	ids, err := kafka.TopicIDs(ctx, e.prod, topics...)
	if err != nil {
		return err
	}
	byPart := map[store.TopicPartition][16]byte{}
	for _, k := range parts {
		if id, ok := ids[e.full(k.topic)]; ok {
			byPart[store.TopicPartition{Topic: k.topic, Partition: k.partition}] = id
		}
	}
	changed, err := store.RecordTopicIDs(ctx, e.persist.pool, e.opts.Group, byPart)
	if err != nil {
		return err
	}
	from := map[partitionKey]int64{}
	for _, c := range changed {
		k := partitionKey{c.Topic, c.Partition}
		if off, ok := pos.offsets[k]; ok && off > 0 {
			from[k] = off
		}
	}
	return e.rewindAssigned(ctx, pos, from, e.metrics.recreatedAtAssign, func(k partitionKey) {
		e.log.Warn("the partition's topic has another id than when the group last was assigned it: the topic was deleted and created again; evaluating the partition again from its start",
			"topic", e.full(k.topic), "partition", k.partition, "stored", from[k])
	})
}

// rewindAssigned moves the partitions of from (newly assigned, each
// stored at the offset given) back to 0 (see persister.rewind), and for
// each it moved calls logMoved, drops it from pos and counts it in counted.
func (e *Engine) rewindAssigned(ctx context.Context, pos *positions, from map[partitionKey]int64, counted prometheus.Counter, logMoved func(partitionKey)) error {
	if len(from) == 0 {
		return nil
	}
	moved, err := e.persist.rewind(ctx, from)
	if err != nil {
		return err
	}
	for k := range moved {
		logMoved(k)
		pos.dropPartition(k)
	}
	counted.Add(float64(len(moved)))
	return nil
}

// rewindPastEnd evaluates again from its start each partition of pos
// whose stored offset is past the partition's end (see kafka.PastEnd):
// the records the offset counts are not in this log, and resuming there
// would skip every record the new log gets below it (franz-go resets an
// offset out of range to the configured end). Its stored offset moves to
// 0 and its states, which describe the old log's symbols, are deleted.
// The new log's records are other records than the old one's at the same
// offsets, and the topic's new id keeps their alerts' ids apart (see
// AlertID).
func (e *Engine) rewindPastEnd(ctx context.Context, pos *positions) error {
	at := map[string]map[int32]int64{}
	for k, off := range pos.offsets {
		topic := e.full(k.topic)
		if at[topic] == nil {
			at[topic] = map[int32]int64{}
		}
		at[topic][k.partition] = off
	}
	past, err := kafka.PastEnd(ctx, e.prod, at)
	if err != nil || len(past) == 0 {
		return err
	}
	from := map[partitionKey]int64{}
	for topic, parts := range past {
		for p := range parts {
			k := partitionKey{e.short(topic), p}
			from[k] = pos.offsets[k]
		}
	}
	return e.rewindAssigned(ctx, pos, from, e.metrics.pastEnd, func(k partitionKey) {
		e.log.Warn("the stored offset is past the partition's end: the topic was recreated, the cluster replaced or the log truncated; evaluating the partition again from its start",
			"topic", e.full(k.topic), "partition", k.partition, "stored", from[k], "end", past[e.full(k.topic)][k.partition])
	})
}

// revoked forgets the state of partitions the engine no longer owns. It is
// called between batches (rebalances are blocked while one is handled), so
// everything about them is already committed.
func (e *Engine) revoked(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for topic, ps := range lost {
		for _, p := range ps {
			e.ev.dropPartition(e.short(topic), p)
			delete(e.stored, partitionKey{e.short(topic), p})
		}
	}
}

// recover produces the outbox of the given partitions: alerts committed
// to PostgreSQL whose Kafka transaction may or may not have committed
// before the previous owner died. It reads the alerts topic (read
// committed, after the producer id was initialised, which aborts a
// previous incarnation's open transaction) and produces only the alerts
// not found there.
func (e *Engine) recover(ctx context.Context, parts []partitionKey) error {
	todo, err := e.persist.outbox(ctx, parts)
	if err != nil || len(todo.alerts) == 0 {
		return err
	}
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	// A batch of this engine may have left a transaction of the same
	// producer unresolved (a rebalance during a Kafka outage): resolve it
	// before looking for its alerts.
	if err := e.settleLocked(ctx); err != nil {
		return err
	}
	// Records carry the producer's clock, the outbox PostgreSQL's: allow
	// for skew between them.
	missing, err := e.missing(ctx, todo.oldest.Add(-5*time.Minute), todo.alerts)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if err := e.produceLocked(ctx, missing); err != nil {
			return err
		}
		e.metrics.resent.Add(float64(len(missing)))
	}
	e.log.Info("alert outbox recovered", "pending", len(todo.alerts), "already_in_topic", len(todo.alerts)-len(missing),
		"produced", len(missing))
	return e.persist.done(ctx, ids(todo.alerts))
}

// firedPast finds the alerts the committed alerts topic already holds
// from records of parts at or past their stored offsets, which the engine
// is about to evaluate again. That happens only when PostgreSQL lost
// checkpoints whose alerts had been produced (a failover to a replica
// that had not received them, a restore from a backup); the engine then
// skips them as it fires them again (see handle), so that each is in the
// topic once. The topic is read from the group's last checkpoint, less
// the allowance for clock skew: alerts of a lost checkpoint were
// produced after every checkpoint the database kept.
func (e *Engine) firedPast(ctx context.Context, parts []partitionKey, stored map[partitionKey]int64) error {
	mine := make(map[partitionKey]bool, len(parts))
	for _, k := range parts {
		mine[k] = true
	}
	e.mu.Lock()
	for id := range e.past {
		if src, ok := alertSource(id); !ok || mine[partitionKey{src.Topic, src.Partition}] {
			delete(e.past, id)
		}
	}
	e.mu.Unlock()
	last, ok, err := e.persist.lastCheckpoint(ctx)
	if err != nil || !ok {
		return err // never checkpointed: nothing of the group was produced
	}
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	found, err := e.scanAlerts(ctx, last.Add(-5*time.Minute), func(id string) bool {
		src, ok := alertSource(id)
		k := partitionKey{src.Topic, src.Partition}
		return ok && mine[k] && src.Offset >= stored[k] // a partition never stored is evaluated from 0 or its end
	})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return nil
	}
	e.mu.Lock()
	if e.past == nil {
		e.past = map[string]bool{}
	}
	for id := range found {
		e.past[id] = true
	}
	e.mu.Unlock()
	e.log.Warn("the alerts topic holds alerts of records past the stored checkpoint (the database lost checkpoints: a failover or a restore); they are not produced again",
		"alerts", len(found))
	return nil
}

// unfired returns the alerts not in e.past (which loses those it returns
// of it).
func (e *Engine) unfired(alerts []Fired) []Fired {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.past) == 0 {
		return alerts
	}
	out := make([]Fired, 0, len(alerts))
	for _, a := range alerts {
		if e.past[a.ID] {
			delete(e.past, a.ID)
			continue
		}
		// An alert fired before alert ids carried the topic's id.
		if i := strings.LastIndexByte(a.ID, '-'); strings.Count(a.ID, "-") == 4 && e.past[a.ID[:i]] {
			delete(e.past, a.ID[:i])
			continue
		}
		out = append(out, a)
	}
	return out
}

// missing returns the alerts not in the committed alerts topic, reading it
// from the first records written at or after since.
func (e *Engine) missing(ctx context.Context, since time.Time, alerts []Fired) ([]Fired, error) {
	want := make(map[string]bool, len(alerts))
	for _, a := range alerts {
		want[a.ID] = true
	}
	present, err := e.scanAlerts(ctx, since, func(id string) bool { return want[id] })
	if err != nil {
		return nil, err
	}
	var out []Fired
	for _, a := range alerts {
		if !present[a.ID] {
			out = append(out, a)
		}
	}
	return out, nil
}

// settled waits until every transaction on topic that was open when its
// end offsets high were listed has been resolved (its markers written), and returns the last
// stable offsets then. A committed or aborted transaction's markers are
// written after EndTxn answers, and another instance's open transaction
// holds the last stable offset back, so reading right away could miss
// records that did commit. A dead producer's open transaction is aborted
// by the coordinator within its timeout (30 s); if the offsets are still
// not stable after 45 s, settled returns an error, which the caller
// retries: scanning short of them could produce an alert a second time.
func (e *Engine) settled(ctx context.Context, adm *kadm.Client, topic string, high kadm.ListedOffsets) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(45 * time.Second)
	for {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return nil, err
		}
		var behind []int32
		high.Each(func(h kadm.ListedOffset) {
			if s, ok := stable.Lookup(topic, h.Partition); !ok || s.Err != nil || s.Offset < h.Offset {
				behind = append(behind, h.Partition)
			}
		})
		if len(behind) == 0 {
			return stable, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("alerts topic: transactions still open on partitions %v after 45s", behind)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// scanAlerts reads the alerts topic from the first offsets at or after
// since up to the last stable offsets, read committed, and returns the
// alert ids it holds that want accepts.
func (e *Engine) scanAlerts(ctx context.Context, since time.Time, want func(id string) bool) (map[string]bool, error) {
	adm := kadm.NewClient(e.prod)
	topic := e.opts.Topics.Alerts
	starts, err := adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
	if err != nil {
		return nil, fmt.Errorf("scan alerts topic: %w", err)
	}
	high, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = high.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("scan alerts topic: %w", err)
	}
	// Nothing written since (committed or not; a partition without a
	// record since lists its end offset): nothing to read, and no
	// transaction to wait for.
	if starts.Error() == nil {
		empty := true
		high.Each(func(h kadm.ListedOffset) {
			if s, ok := starts.Lookup(topic, h.Partition); !ok || s.Offset < h.Offset {
				empty = false
			}
		})
		if empty {
			return map[string]bool{}, nil
		}
	}
	ends, err := e.settled(ctx, adm, topic, high)
	if err != nil {
		return nil, fmt.Errorf("scan alerts topic: %w", err)
	}
	from := map[int32]kgo.Offset{}
	last := map[int32]int64{} // offset of the last record to reach, per partition
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Topic != topic {
			return
		}
		s, ok := starts.Lookup(topic, o.Partition)
		if !ok || s.Err != nil || s.Offset < 0 || s.Offset >= o.Offset {
			return
		}
		from[o.Partition] = kgo.NewOffset().At(s.Offset)
		last[o.Partition] = o.Offset - 1
	})
	found := map[string]bool{}
	if len(from) == 0 {
		return found, nil
	}
	cl, err := kafka.NewClient(ctx, e.kcfg, e.log,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return nil, fmt.Errorf("scan alerts topic: %w", err)
	}
	defer cl.Close()
	// Aborted records are never returned; a partition whose last records
	// were aborted is complete once fetches stop bringing anything new.
	deadline := time.Now().Add(30 * time.Second)
	idle := 0
	for len(last) > 0 && time.Now().Before(deadline) && idle < 3 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if fs.NumRecords() == 0 {
			idle++
			continue
		}
		idle = 0
		var failed error
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := last[r.Partition]; ok && r.Offset >= end {
				delete(last, r.Partition)
			}
			if r.Attrs.IsControl() || failed != nil {
				return
			}
			id, err := e.alertID(ctx, r)
			if err != nil {
				failed = err
			} else if id != "" && want(id) {
				found[id] = true
			}
		})
		if failed != nil {
			return nil, fmt.Errorf("scan alerts topic: %w", failed)
		}
	}
	if len(last) > 0 {
		e.log.Warn("alerts topic scan ended before the end of some partitions", "partitions", len(last))
	}
	return found, nil
}

// alertID returns the id of the alert in r, in any format the Decoder
// reads, or "" for a record that holds no alert (another producer's, a
// broken one): it cannot be one of the engine's. A record it cannot tell
// yet (ctx ended while the schema registry was unreachable) is an error,
// not a missing alert, so that a scan never reports a committed alert as
// absent.
func (e *Engine) alertID(ctx context.Context, r *kgo.Record) (string, error) {
	if !format.Framed(r.Value) {
		a, err := event.DecodeAlert(r.Value)
		if err != nil {
			return "", nil
		}
		return a.ID, nil
	}
	_, v, err := e.opts.Decoder.Decode(ctx, event.ReadHeaders(r.Headers).Schema, r.Value)
	if err != nil {
		var ee *event.Error
		if errors.As(err, &ee) {
			return "", nil
		}
		return "", err
	}
	if a, ok := v.(*event.Alert); ok {
		return a.ID, nil
	}
	return "", nil
}
