// Package dashboard is tradestream's web dashboard: an HTTP server that
// serves the page built from web/ (embedded from dist/), pushes live data
// over Server-Sent Events and answers history queries from PostgreSQL.
//
// Live data comes from a franz-go client that reads the prices, trades,
// alerts and deadletter topics from their latest offsets without a consumer
// group, so any number of dashboards can run side by side without stealing
// partitions from each other or from the sink. Price ticks are aggregated
// into OHLCV candles (1 s, 1 m, 5 m) in memory, in rings of bounded size.
//
// A Hub coalesces the stream into at most one frame per client every
// FrameInterval (100 ms by default). Every client has a small bounded
// queue: a frame that does not fit is skipped for that client, and a client
// that stays stalled is disconnected; a slow browser never slows the Kafka
// reader. Frames carry snapshots (latest candles, last prices) rather than
// deltas wherever possible, so a skipped frame loses nothing but tape rows.
//
// Pipeline health comes from the status sampler's snapshots
// (Options.Health), read once a second: end offsets of every topic, the
// sink group's position (the larger of its Kafka commit and its
// sink_offsets row), lag per partition and in seconds, dead letters and the
// tables' write counters, with produce, consume and row rates derived from
// successive snapshots; the dashboard itself never queries Kafka or
// PostgreSQL for health. End-to-end latency is measured from the
// produced_at header of the records the dashboard itself reads, to when
// they are received and to when a frame holding them has been written to a
// client.
//
// Writes (alert rules) go through a small token-protected API backed by a
// RuleStore; without one the alert endpoints answer 503 and the page says
// that the alerts engine is not running.
package dashboard
