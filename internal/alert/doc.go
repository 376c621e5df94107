// Package alert is tradestream's streaming alerts engine: rules kept in
// PostgreSQL (table alert_rules), evaluated on the prices and trades
// topics, firing alert/1 events to the alerts topic.
//
// # Rules
//
// A Rule watches one condition for one symbol (or, except for price
// levels, every symbol):
//
//	price_above   last price crosses above the threshold
//	price_below   last price crosses below the threshold
//	pct_move      last price moves more than threshold % (up from the window's
//	              low or down from its high) within the window
//	volume_spike  a tick's volume exceeds threshold x the rolling baseline
//	              (running mean, then an exponentially weighted mean with the
//	              window as time constant; 10 ticks of warm-up)
//	big_trade     one trade's notional (price x quantity) exceeds the threshold
//
// Conditions are edge-triggered: an alert fires when the condition turns
// from false to true, so a price that crosses a level and stays beyond it
// fires once, and fires again only after it has come back and crossed
// anew. The first event a rule sees only establishes the side (a rule
// created while the price is already above its level does not fire until
// the next crossing). big_trade fires for every qualifying trade. A rule's
// cooldown suppresses alerts (crossings included) for that long after the
// previous alert of the same rule and symbol; it is measured in event time,
// so a replay makes the same decisions.
//
// State is kept per rule, source partition and symbol. Prices are keyed by
// symbol, so one symbol's ticks are all in one partition and its state
// moves with the partition between engine instances of the group. When
// the prices topic grows, symbols move to other partitions: a price rule
// with no state for a symbol in a partition takes over the newest state
// of that rule and symbol in another partition (held in memory, or stored
// in alert_state by the instance owning it), so windows, baselines, sides
// and cooldowns carry on. Trades are keyed by user, so a big_trade rule's
// cooldown applies per source partition.
//
// # Exactly once across restarts
//
// Every alert has a deterministic id,
// "r<rule>-<topic>-<partition>-<offset>-<topic id>" of the rule and the
// record that fired it (the first half of the topic's id in hex, which
// keeps apart the records of a topic deleted and created again; brokers
// that give no topic id leave it out), and the engine's only memory is
// PostgreSQL. Each polled batch is checkpointed like this:
//
//  1. Evaluate the batch in memory.
//  2. In one PostgreSQL transaction: the next offset of every partition
//     read (alert_offsets), the rule states the batch changed (alert_state)
//     and the alerts it fired (alert_outbox).
//  3. Produce those alerts in one Kafka transaction (transactional id
//     <group>/<instance>) and commit it.
//  4. Delete them from the outbox; commit the offsets to Kafka as well, for
//     lag tools only.
//
// On partition assignment (start, restart, rebalance) the engine resumes
// each partition at its stored offset with its stored state, which belong
// together because step 2 wrote them together: no record is evaluated
// twice against a state that already includes it, and none is skipped, so
// a crossing is neither missed nor alerted twice. What may be unfinished
// is step 3: before consuming, the engine initialises its transactional
// producer, which aborts the open transaction of a killed predecessor with
// the same id, then reads the alerts topic read-committed from a little
// before the oldest outbox entry and produces, in a new transaction, only
// the outbox alerts not found there. A kill -9 at any point therefore
// leaves each alert exactly once in the committed alerts topic.
//
// A database that lost checkpoints whose alerts had been produced (a
// failover to a replica that never received them, a restore from a
// backup) is behind the alerts topic: the engine resumes at the older
// offsets and fires those alerts again. So on assignment it also reads
// the alerts topic (read committed, from a little before the group's last
// stored checkpoint: alerts of a lost checkpoint were produced after
// every checkpoint the database kept) for alerts of records at or past
// the stored offsets, and skips them when it fires them again.
//
// An engine that runs on across such a loss notices it at its next
// checkpoint, which is fenced as the sink's batches are: a partition's
// offset moves only from where this engine stored it last (or is created
// if it stored none), so a checkpoint finding the stored offsets
// elsewhere writes nothing. The engine then drops the batch, leaves the
// group and joins it again, which resumes every partition from the
// stored checkpoint exactly as a restart does; the rule states in
// memory, newer than the stored offsets, are dropped with it. A
// checkpoint whose commit was acknowledged to PostgreSQL but not to the
// engine (a connection lost at COMMIT) is found the same way.
//
// A commit whose outcome the engine did not hear (a broker or the
// controller quorum gone mid-commit) is retried the same way, but only
// once the transaction is resolved for good: the engine aborts, then
// initialises its producer id again, which the coordinator answers only
// after completing the half-done commit or abort, then waits until the
// alerts topic's last stable offsets reach its end, and only then reads
// which alerts are there. Any step that cannot finish is an error retried
// with backoff (the batch's partitions stay with the engine meanwhile),
// never a scan that could miss a committed alert.
//
// Consumers should read the alerts topic with isolation level
// read_committed; a read_uncommitted reader may also see the records of an
// aborted transaction, which carry the same alert ids as the ones produced
// again, so deduplicating on alert_id (the alerts table's primary key)
// is enough there too. If several engine instances share a group and one
// dies, the instance taking over its partitions cannot fence the dead
// one's transaction (different transactional id) until it times out
// (30 s); it produces the outbox alerts it cannot see yet, and the dead
// transaction is aborted later. Only a paused-then-resumed zombie could
// still commit one, which the downstream alert_id dedupe absorbs.
//
// Two live engines of a group under one instance name share the
// transactional id: the newer one's producer fences the older one, which
// stops at its next produce with an error naming --instance instead of
// fencing it back (a dead incarnation never initialises the id, so a fence
// there means a live twin), and the other takes its partitions over and
// recovers its outbox. (An older engine settling its outbox at an
// assignment replaces its producer once, as after a lost commit reply;
// the newer one is then the one that stops.)
//
// # Metrics
//
// tradestream_alerts_* on the injected registerer: records and bytes
// consumed per topic, records skipped, alerts fired per kind, alerts
// produced and recovered, enabled rules, batch sizes, checkpoint and
// transaction durations and the end-to-end latency from the source
// record's produced_at to the alert committed; plus tradestream_kafka_*
// of its two Kafka clients (client="alerts-consumer", "alerts-producer").
package alert
