// Package status is the one sampler of the pipeline's health, read by
// `tradestream status`, the dashboard's health panel and every service's
// /metrics (internal/metrics' LagCollector and TableCollector), so that
// they never disagree: brokers, topics (partitions, replication,
// under-replicated and offline partitions, records, start and end offsets),
// consumer groups with lag per partition in records and seconds and a
// verdict per group, tables (row counts, sizes, insert and update counters,
// partition sizes), and dead letters.
//
// A group's committed offset is the larger of what it committed to Kafka
// and what it stored in PostgreSQL (sink_offsets, alert_offsets): the sink
// and the alerts engine commit their offsets with their rows first and to
// Kafka afterwards, and resume from PostgreSQL's.
//
// Lag is what Apache Kafka's ConsumerGroupCommand --describe reports: per
// partition, the log end offset (high watermark) minus the group's
// committed offset, both read through the admin API at the same moment;
// a partition without a commit has no lag ("-"). Lag in seconds is the age
// of the record at the committed offset (the oldest record the group has
// not consumed): now minus its timestamp, read through one client the
// sampler keeps and remembered while the commit stays on that offset.
//
// Verdicts follow LinkedIn Burrow's consumer lag evaluation rules (see
// evaluate) over a sliding window of commits per partition. Burrow reads
// every offset commit from __consumer_offsets; a Sampler instead samples
// committed offsets on a timer and records one window entry per sample
// while the group has members (a live consumer commits, even the same
// offset when it is stuck) and none while the group is empty unless the
// offset moved (nobody commits). So a consumer that is alive but not
// progressing fills its window with one offset and lag: STALL; one that
// is gone lets its window age until the last commit is older than the
// window spans: STOP; committing slower than the log grows: WARN; an
// offset reset backwards: REWIND. The group's verdict is its worst
// partition's, in Burrow's order OK < WARN < STOP < STALL < REWIND.
package status
