package format

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tradestream/tradestream/internal/event"
)

// kind is the event a writer's schema describes.
type kind int

const (
	kindUnknown kind = iota
	kindUser
	kindPrice
	kindTrade
	kindAlert
)

// Framed reports whether value is in the Confluent wire format (its first
// byte is the zero magic byte); tradestream's JSON values start with '{'.
func Framed(value []byte) bool { return len(value) > 0 && value[0] == 0 }

// A Decoder decodes record values of every format. It is safe for
// concurrent use; the schemas it fetches are cached for its lifetime. A nil
// *Decoder reads JSON and dead-letters the wire format as of an unknown
// schema, as one without a registry does.
type Decoder struct {
	reg *Registry
	log *slog.Logger

	mu      sync.RWMutex
	writers map[int]*writer

	// Waits counts the registry requests that failed and were retried:
	// outages, refusals, timeouts.
	Waits atomic.Int64
}

// writer is what a schema id names: the event and version it describes,
// or why it cannot be read.
type writer struct {
	f       Format
	kind    kind
	version string
	avro    *avro.RecordSchema
	// protoKinds are a .proto file's top-level messages by index; a
	// record's message index picks one.
	protoKinds    []kind
	protoVersions []string
	// json validates a foreign JSON Schema writer's payloads (nil for the
	// embedded schemas, whose rules the strict decoder enforces).
	json *jsonschema.Schema
	err  error
	at   time.Time
}

// NewDecoder returns a Decoder fetching schemas from reg; with a nil reg,
// values in the wire format are dead-lettered as of an unknown schema.
func NewDecoder(reg *Registry, log *slog.Logger) *Decoder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Decoder{reg: reg, log: log, writers: map[int]*writer{}}
}

// Cached returns how many schema ids the decoder holds.
func (d *Decoder) Cached() int {
	if d == nil {
		return 0
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.writers)
}

// unknownRetry is how long a schema id the registry did not know stays
// unknown before it is asked again.
const unknownRetry = time.Minute

// Decode decodes one record value and returns its event version (user/1,
// price/1, trade/1, trade/2, alert/1) and the event (*event.User,
// *event.Price, *event.Trade, *event.Alert). A JSON value is decoded as
// the version in schemaHeader; a framed value as the schema its id names.
//
// Errors are *event.Error with the dead letter's reason (unknown_schema
// for an id the registry does not have or a schema that is no tradestream
// event, schema_mismatch for a payload its schema does not read, the
// usual reasons for a value that breaks the event's rules), except when
// ctx ends while the registry is unreachable: then the error wraps
// ctx.Err() and the record must be neither loaded nor dead-lettered.
func (d *Decoder) Decode(ctx context.Context, schemaHeader, value []byte) (string, any, error) {
	if !Framed(value) {
		s := string(schemaHeader)
		v, err := event.Decode(s, value)
		return s, v, err
	}
	id, rest, err := (*sr.ConfluentHeader)(nil).DecodeID(value)
	if err != nil {
		return "", nil, mismatch(err)
	}
	w, err := d.writer(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if w.err != nil {
		return "", nil, w.err
	}
	k, version := w.kind, w.version
	if w.f == Protobuf {
		index, payload, err := (*sr.ConfluentHeader)(nil).DecodeIndex(rest, 8)
		if err != nil {
			return "", nil, mismatch(fmt.Errorf("message index: %w", err))
		}
		if len(index) != 1 || index[0] < 0 || index[0] >= len(w.protoKinds) || w.protoKinds[index[0]] == kindUnknown {
			return "", nil, &event.Error{Reason: event.ReasonUnknownSchema,
				Msg: fmt.Sprintf("schema id %d: message index %v names no tradestream event", id, index)}
		}
		k, version, rest = w.protoKinds[index[0]], w.protoVersions[index[0]], payload
	}
	var v any
	switch w.f {
	case Avro:
		v, err = decodeAvro(k, w.avro, rest)
	case Protobuf:
		v, err = decodeProto(k, rest)
	case JSONSchema:
		if w.json != nil {
			if err = validateJSON(w.json, rest); err != nil {
				return version, nil, withVersion(err, version)
			}
		}
		v, err = event.Decode(version, rest)
		return version, v, err
	}
	if err != nil {
		return version, nil, withVersion(err, version)
	}
	return version, v, withVersion(validate(v, version), version)
}

// validate applies the event's own rules, as its JSON decoder does.
func validate(v any, version string) error {
	switch v := v.(type) {
	case *event.User:
		if v.Sectors == nil {
			v.Sectors = []string{}
		}
		return v.Validate()
	case *event.Price:
		return v.Validate()
	case *event.Trade:
		return v.ValidateVersion(version)
	case *event.Alert:
		return v.Validate()
	}
	return nil
}

func withVersion(err error, version string) error {
	var e *event.Error
	if errors.As(err, &e) && e.Schema == "" {
		e.Schema = version
	}
	return err
}

func validateJSON(s *jsonschema.Schema, payload []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return &event.Error{Reason: event.ReasonMalformedJSON, Msg: "the value is not JSON", Err: err}
	}
	if err := s.Validate(inst); err != nil {
		return &event.Error{Reason: event.ReasonSchemaMismatch, Msg: "the value breaks its JSON Schema", Err: err}
	}
	return nil
}

// Resolve makes sure the schema of a framed value is known (fetched and
// cached), waiting while the registry cannot be reached. It returns an
// error only when ctx ends first; an id the registry does not have is no
// error here (Decode dead-letters the record).
func (d *Decoder) Resolve(ctx context.Context, value []byte) error {
	if !Framed(value) || len(value) < 5 {
		return nil
	}
	_, err := d.writer(ctx, int(binary.BigEndian.Uint32(value[1:5])))
	return err
}

// writer returns the cached writer of id, fetching it on a miss and
// retrying, with a growing pause up to 5 s, while the registry is
// unreachable.
func (d *Decoder) writer(ctx context.Context, id int) (*writer, error) {
	if d == nil {
		return &writer{err: noRegistry(id)}, nil
	}
	d.mu.RLock()
	w := d.writers[id]
	d.mu.RUnlock()
	if w != nil && (w.err == nil || time.Since(w.at) < unknownRetry) {
		return w, nil
	}
	if d.reg == nil {
		return d.store(id, &writer{err: noRegistry(id)}), nil
	}
	pause := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		s, err := d.reg.schemaByID(ctx, id)
		switch {
		case err == nil:
			return d.store(id, parseWriter(id, s)), nil
		case errors.Is(err, errNotFound):
			return d.store(id, &writer{err: &event.Error{Reason: event.ReasonUnknownSchema,
				Msg: fmt.Sprintf("schema id %d is not in the schema registry at %s", id, d.reg.url)}}), nil
		}
		if ctx.Err() == nil {
			d.Waits.Add(1)
			d.log.Warn("schema registry unreachable, retrying", "registry", d.reg.url, "schema_id", id, "attempt", attempt, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("schema id %d: the schema registry at %s: %w (last error: %v)", id, d.reg.url, ctx.Err(), err)
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// noRegistry is the dead letter's error of a framed value read without a
// registry.
func noRegistry(id int) error {
	return &event.Error{Reason: event.ReasonUnknownSchema,
		Msg: fmt.Sprintf("schema id %d: the value is in a schema registry's wire format and no registry is configured (--schema-registry-url)", id)}
}

func (d *Decoder) store(id int, w *writer) *writer {
	w.at = time.Now()
	d.mu.Lock()
	d.writers[id] = w
	d.mu.Unlock()
	return w
}

// parseWriter works out which event a registered schema describes.
func parseWriter(id int, s sr.Schema) *writer {
	unknown := func(format string, args ...any) *writer {
		return &writer{err: &event.Error{Reason: event.ReasonUnknownSchema,
			Msg: fmt.Sprintf("schema id %d: ", id) + fmt.Sprintf(format, args...)}}
	}
	switch s.Type {
	case sr.TypeAvro:
		parsed, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
		if err != nil {
			return unknown("the registry's Avro schema does not parse: %v", err)
		}
		rs, ok := parsed.(*avro.RecordSchema)
		if !ok {
			return unknown("an Avro %s is no tradestream event", parsed.Type())
		}
		k := kindOf(rs.Name())
		if k == kindUnknown {
			return unknown("Avro record %s is no tradestream event (User, Price, Trade or Alert)", rs.FullName())
		}
		version := versionOf(k, func(name string) bool {
			for _, f := range rs.Fields() {
				if f.Name() == name {
					return true
				}
			}
			return false
		})
		return &writer{f: Avro, kind: k, version: version, avro: rs}
	case sr.TypeProtobuf:
		msgs := protoMessages(s.Schema)
		if len(msgs) == 0 {
			return unknown("the registry's Protobuf schema has no message")
		}
		w := &writer{f: Protobuf}
		for _, m := range msgs {
			k := kindOf(m.name)
			w.protoKinds = append(w.protoKinds, k)
			w.protoVersions = append(w.protoVersions, versionOf(k, func(name string) bool { return strings.Contains(m.body, name) }))
		}
		return w
	case sr.TypeJSON:
		var doc struct {
			Title      string                     `json:"title"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal([]byte(s.Schema), &doc); err != nil {
			return unknown("the registry's JSON Schema does not parse: %v", err)
		}
		k := kindOf(doc.Title)
		if k == kindUnknown {
			return unknown("JSON Schema %q is no tradestream event (title User, Price, Trade or Alert)", doc.Title)
		}
		version := versionOf(k, func(name string) bool { _, ok := doc.Properties[name]; return ok })
		w := &writer{f: JSONSchema, kind: k, version: version}
		if own, _ := Schema(JSONSchema, version); own != s.Schema {
			c := jsonschema.NewCompiler()
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(s.Schema))
			if err == nil {
				err = c.AddResource("registry.json", inst)
			}
			if err == nil {
				w.json, err = c.Compile("registry.json")
			}
			if err != nil {
				return unknown("the registry's JSON Schema does not compile: %v", err)
			}
		}
		return w
	}
	return unknown("schema type %s", s.Type)
}

func kindOf(name string) kind {
	switch strings.ToLower(name) {
	case "user":
		return kindUser
	case "price":
		return kindPrice
	case "trade":
		return kindTrade
	case "alert":
		return kindAlert
	}
	return kindUnknown
}

// versionOf is the event version of a schema of kind k; has reports
// whether the schema has a field.
func versionOf(k kind, has func(string) bool) string {
	switch k {
	case kindUser:
		return event.SchemaUserV1
	case kindPrice:
		return event.SchemaPriceV1
	case kindTrade:
		if has("order_type") {
			return event.SchemaTradeV2
		}
		return event.SchemaTradeV1
	case kindAlert:
		return event.SchemaAlertV1
	}
	return ""
}

type protoMessage struct{ name, body string }

var protoMessageRE = regexp.MustCompile(`(?m)^message\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{`)

// protoMessages lists a .proto file's top-level messages in order with
// their text up to the next one: a message index counts them in this
// order. Comments are dropped first.
func protoMessages(text string) []protoMessage {
	text = stripProtoComments(text)
	locs := protoMessageRE.FindAllStringSubmatchIndex(text, -1)
	out := make([]protoMessage, 0, len(locs))
	for i, l := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out = append(out, protoMessage{name: text[l[2]:l[3]], body: text[l[1]:end]})
	}
	return out
}

func stripProtoComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
