// Package sink loads tradestream's topics into PostgreSQL, effectively
// once: no row is lost and none duplicated, even when the sink is killed
// mid-batch or PostgreSQL goes away.
//
// # Flow
//
// A franz-go consumer group reads the users, prices, trades and alerts
// topics. Records are batched by count (Options.BatchSize) and time
// (Options.BatchTimeout); each is decoded (internal/event: strict JSON,
// decimals, ranges, schema versions), passed through the Transform stage
// and filed as a row or a dead letter. A batch is loaded in one
// transaction: price ticks and trades by binary COPY straight into the
// daily-partitioned tables; users and the account balances they and the
// trades state through per-session staging tables and INSERT ... ON
// CONFLICT (latest state wins, see below); alerts likewise, once per
// alert id; dead letters into dead_letters; and, last, the position after
// the batch of every partition it covers into sink_offsets.
//
// # Effectively once
//
// The offsets stored in PostgreSQL are authoritative. On assignment
// (franz-go's AdjustFetchOffsetsFn) consumption starts at the stored
// offset, or at the start of the partition when none is stored; the copy
// committed to Kafka after each batch is only for lag tools. Records below
// a partition's stored position (a redelivery) are skipped. BlockRebalanceOnPoll
// keeps a rebalance from revoking a partition between poll and commit, so
// a batch is never half-applied. And each batch's offset update is
// conditional on the stored offset still being where the batch started: a
// zombie instance (one that lost its partitions while stuck) cannot commit
// over the new owner's work. Its batch is "fenced": rolled back, and
// consumption re-reads from the stored offsets.
//
// # Latest state
//
// users: the last record of a key in Kafka order wins (what compaction
// keeps); a tombstone deletes the user. accounts: opened by a profile or a
// first trade; the balance follows the newest event that states one — a
// trade's balance_after or a profile's account balance — compared on event
// time (a trade wins a tie, trade id breaks ties between trades), so a
// late or replayed event never moves a balance backwards.
//
// # Failures
//
// Errors are classified (see errorClass). What can pass — connection
// loss, a server shutting down or starting, deadlocks, timeouts — is
// retried with capped exponential backoff while fetching is paused; a
// good record is never dead-lettered because the database was down. A
// record that can never load goes to the deadletter topic (headers: reason,
// error, source topic, partition and offset, original schema) and to the
// dead_letters table: malformed JSON, an unknown or misplaced schema
// version, missing, mistyped or out-of-range fields, and rows PostgreSQL
// itself refuses (found by loading the rows one by one under savepoints).
// The deadletter topic is written before the transaction commits, so a
// crash can repeat a dead letter there (deduplicate on the source
// headers) but never lose one; the table holds each once.
//
// # Partitions and retention
//
// The sink creates any missing daily partition a batch needs before its
// transaction, in a short one of its own, so a record dated on a new day
// never aborts a batch. An upkeep loop keeps Database.PartitionsAhead days
// created and, with Database.RetentionDays, drops older days. A price or
// trade dated before the retention window is a dead letter with reason
// "outside_retention" (its partition would be dropped at once), and one
// dated more than Options.MaxAhead ahead is "future_time", which keeps a
// corrupt timestamp from creating partitions for far years.
//
// # Resources
//
// Memory is bounded by two batches (the one loading and the one being
// filled, each at most Options.BatchSize records and Options.BatchBytes
// bytes) plus franz-go's fetch buffers (Options.FetchMaxBytes per broker).
// The consuming goroutine fetches and decodes; a loading goroutine commits
// one batch at a time meanwhile (pipeline.go). Run owns both, the partition
// upkeep goroutine and the Kafka client, and all are gone when Run returns. Metrics are
// tradestream_sink_* on the Prometheus registerer given to New.
package sink
