package format

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tradestream/tradestream/internal/event"
)

// An Encoder writes events in one registry format, framed with the ids of
// the schemas it registered. Append does not allocate beyond growing dst;
// an Encoder is safe for concurrent use once built.
type Encoder struct {
	f   Format
	ids map[string]int // event version -> schema id
}

// Registration is one schema to register: an event version's schema
// under the subject of the topic it is written to.
type Registration struct {
	Version string // user/1, price/1, trade/1, trade/2 or alert/1
	Topic   string
	// Subject, when set, replaces the topic's subject (<topic>-value): a
	// subject holds schemas of one format, so another format written to
	// the same topic registers under a subject of its own.
	Subject string
}

// NewEncoder registers the embedded schema of each registration's version
// in format f under its topic's subject (<topic>-value) and returns an
// Encoder for them. A schema the registry refuses as incompatible is an
// *IncompatibleError.
func NewEncoder(ctx context.Context, reg *Registry, f Format, regs []Registration) (*Encoder, error) {
	if !f.Registered() {
		return nil, fmt.Errorf("format %s has no registry schemas", f)
	}
	e := &Encoder{f: f, ids: map[string]int{}}
	for _, r := range regs {
		text, err := Schema(f, r.Version)
		if err != nil {
			return nil, err
		}
		subject := r.Subject
		if subject == "" {
			subject = Subject(r.Topic)
		}
		id, err := reg.Register(ctx, subject, f, text)
		if err != nil {
			return nil, fmt.Errorf("register %s as %s: %w", r.Version, f, err)
		}
		e.ids[r.Version] = id
	}
	return e, nil
}

// Format returns the encoder's format.
func (e *Encoder) Format() Format { return e.f }

// ID returns the registry id of version's schema, 0 if not registered.
func (e *Encoder) ID(version string) int { return e.ids[version] }

// IDs lists the registered schemas as "version=id" pairs, in version
// order, e.g. "price/1=3 trade/2=5 user/1=2".
func (e *Encoder) IDs() string {
	vs := make([]string, 0, len(e.ids))
	for v, id := range e.ids {
		vs = append(vs, fmt.Sprintf("%s=%d", v, id))
	}
	slices.Sort(vs)
	return strings.Join(vs, " ")
}

// Append appends the framed encoding of ev (*event.User, *event.Price,
// *event.Trade or *event.Alert) as version to dst. An event or version
// the Encoder has no schema for is an error.
func (e *Encoder) Append(dst []byte, version string, ev any) ([]byte, error) {
	id, ok := e.ids[version]
	if !ok {
		return dst, fmt.Errorf("no %s schema registered for %s", e.f, version)
	}
	dst = append(dst, 0, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	if e.f == Protobuf {
		dst = append(dst, 0) // message index [0]: the file's first message
	}
	switch ev := ev.(type) {
	case *event.User:
		switch e.f {
		case Avro:
			return appendAvroUser(dst, ev), nil
		case Protobuf:
			return appendProtoUser(dst, ev), nil
		default:
			return ev.AppendJSON(dst), nil
		}
	case *event.Price:
		switch e.f {
		case Avro:
			return appendAvroPrice(dst, ev), nil
		case Protobuf:
			return appendProtoPrice(dst, ev), nil
		default:
			return ev.AppendJSON(dst), nil
		}
	case *event.Trade:
		switch e.f {
		case Avro:
			return appendAvroTrade(dst, ev, version), nil
		case Protobuf:
			return appendProtoTrade(dst, ev, version), nil
		default:
			return ev.AppendJSONVersion(dst, version), nil
		}
	case *event.Alert:
		switch e.f {
		case Avro:
			return appendAvroAlert(dst, ev), nil
		case Protobuf:
			return appendProtoAlert(dst, ev), nil
		default:
			return ev.AppendJSON(dst), nil
		}
	}
	return dst, fmt.Errorf("cannot encode %T as %s", ev, e.f)
}
