// Package archive is the file format of `tradestream topics export` and
// `topics import`: Kafka records, losslessly, one JSON value per line in
// a zstd stream.
//
// The first line is the Header: the format name and version, the topic
// prefix the records came from and, per topic, the offset range of each
// partition the export covered. Then one line per record:
//
//	{"topic":"trades","partition":2,"offset":4711,"timestamp":1718900000123,
//	 "key":"NDI=","value":"eyJ0cmFkZV9pZCI6...","headers":[{"key":"schema","value":"dHJhZGUvMg=="}]}
//
// Topic names are relative to the header's prefix, so that a file can be
// imported under another prefix. Keys, values and header values are
// base64 (standard alphabet); null is an absent key or value (a tombstone),
// "" an empty one. A header key that is not valid UTF-8 is written as
// "key64" (base64) instead of "key". The timestamp is the record's Kafka
// timestamp in milliseconds since the Unix epoch, Kafka's own precision.
//
// The last line is the trailer, {"end":{"records":N}}: a file without it
// was cut short. The Reader checks every line as it goes (JSON, known
// topic, partition in range, offsets increasing per partition, the
// trailer's count) and reports the first problem with its line number; it
// never holds more than one line in memory, and a line is at most MaxLine
// bytes.
package archive
