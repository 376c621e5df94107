// Package status reads the pipeline's state for `tradestream status` and
// the dashboard's health panel: brokers, topics (partitions, replication,
// under-replicated and offline partitions, records), consumer groups with
// lag per partition in records and seconds and a verdict per group, table
// row counts and sizes, and dead letters.
//
// Lag is what Apache Kafka's ConsumerGroupCommand --describe reports: per
// partition, the log end offset (high watermark) minus the group's
// committed offset, both read through the admin API at the same moment;
// a partition without a commit has no lag ("-"). Lag in seconds is the age
// of the record at the committed offset (the oldest record the group has
// not consumed): now minus its timestamp.
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
