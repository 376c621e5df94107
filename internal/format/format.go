// Package format is how tradestream's record values are written and read
// in each format: its own JSON (the event package's encoding, with the
// schema version in the record's "schema" header) and the schema-registry
// formats Avro, Protobuf and JSON Schema, in the Confluent wire format: a
// zero magic byte, the 4-byte big-endian id of the writer's schema in the
// registry, for Protobuf the message-index array, then the payload.
//
// Producers register the embedded schema of each event version (files
// schemas/*.avsc, *.proto, *.schema.json) under the TopicNameStrategy
// subject "<topic>-value" and encode with an Encoder, without allocating
// per event. Consumers read every format on the same topics with a
// Decoder: a value's first byte tells JSON (an object, '{') from the wire
// format (0), and the schema its id names, fetched once from the registry
// and cached, tells which event and version it holds. Decoded events are
// the event package's types, validated by the same rules as JSON, so a
// record reaches the database the same whatever its format.
//
// Money stays exact: Avro carries it as the decimal logical type (bytes,
// scale 4), Protobuf as a fixed-scale integer (field suffix _e4: the
// amount times 10^4), JSON Schema as tradestream's four-decimal string.
// Times are microseconds since the Unix epoch (Avro timestamp-micros,
// Protobuf fields with the suffix _micros), PostgreSQL's precision.
package format

import (
	"fmt"
	"strings"
)

// Format is the encoding of record values.
type Format int

// The formats, JSON first (the default).
const (
	JSON Format = iota
	Avro
	Protobuf
	JSONSchema
)

// Names lists the formats by the names Parse accepts.
var Names = []string{"json", "avro", "protobuf", "jsonschema"}

// Parse returns the format named s: json, avro, protobuf or jsonschema.
func Parse(s string) (Format, error) {
	for i, n := range Names {
		if strings.EqualFold(s, n) {
			return Format(i), nil
		}
	}
	return JSON, fmt.Errorf("unknown format %q: want one of %s", s, strings.Join(Names, ", "))
}

// String returns the format's name.
func (f Format) String() string {
	if f >= 0 && int(f) < len(Names) {
		return Names[f]
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// Registered reports whether values of f travel in the Confluent wire
// format with their schema in a registry.
func (f Format) Registered() bool { return f != JSON }

// ext is the file extension of f's schemas.
func (f Format) ext() string {
	switch f {
	case Avro:
		return ".avsc"
	case Protobuf:
		return ".proto"
	case JSONSchema:
		return ".schema.json"
	}
	return ""
}

// schemaFileNames maps each event version to its schema files' base name.
var schemaFileNames = map[string]string{
	"user/1":  "user",
	"price/1": "price",
	"trade/1": "trade_v1",
	"trade/2": "trade_v2",
	"alert/1": "alert",
}

// Subject returns the TopicNameStrategy subject of a topic's values.
func Subject(topic string) string { return topic + "-value" }
