package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
)

// Short topic names, used in Record.Topic and as metric labels.
const (
	topicUsers  = "users"
	topicPrices = "prices"
	topicTrades = "trades"
	topicAlerts = "alerts"
)

// topicPartition names one partition of one (full-named) topic.
type topicPartition struct {
	topic     string
	partition int32
}

// offsetRange is the part of one partition a batch covers: from is the
// stored position the batch starts at (-1 when the sink has never
// committed the partition), to the position after its last record.
type offsetRange struct {
	from, to int64
	epoch    int32 // leader epoch of the last record, for the Kafka commit
}

// Rows keep the record they came from: its partition and offset go into
// the row, and it becomes the dead letter if PostgreSQL refuses the row.

type tickRow struct {
	ev  event.Price
	src *kgo.Record
}

type tradeRow struct {
	ev      event.Trade
	version int16
	src     *kgo.Record
}

// userRow is a profile, or a tombstone (deleted: the key's user is gone).
type userRow struct {
	ev      event.User
	id      int64
	deleted bool
	src     *kgo.Record
}

type alertRow struct {
	ev  event.Alert
	src *kgo.Record
}

// deadLetter is a record that can never be loaded, and why.
type deadLetter struct {
	src    *kgo.Record
	reason string
	err    string
}

// batch is the unit the sink loads in one transaction: decoded rows per
// table, dead letters, and the offset range of every partition it covers.
// Memory is bounded by the batch size.
type batch struct {
	ticks  []tickRow
	trades []tradeRow
	users  []userRow
	alerts []alertRow
	dead   []deadLetter
	ranges map[topicPartition]*offsetRange
	// produced holds each loaded record's produced_at (Unix nanoseconds),
	// for the end-to-end latency metric.
	produced []int64
	// perTopic counts the records consumed per short topic name.
	perTopic map[string]int
	records  int
	bytes    int // keys and values of the records
	started  time.Time
	// dlqSent is how many of dead have gone to the deadletter topic, so a
	// retried batch does not send them again.
	dlqSent int
	// dedupe loads ticks and trades through staging tables, skipping the
	// copies of events already stored (set once a plain COPY met one);
	// dups are those copies, found by the latest attempt, stored as dead
	// letters in the same transaction (not sent to the deadletter topic).
	dedupe   bool
	dups     []deadLetter
	dupTicks int // how many of dups are ticks (the rest are trades)
}

func newBatch() *batch {
	return &batch{ranges: map[topicPartition]*offsetRange{}, perTopic: map[string]int{}}
}

// empty reports whether b covers no offset (not even a transaction
// marker's).
func (b *batch) empty() bool { return len(b.ranges) == 0 }

// builder decodes records into a batch: the decode and transform stage.
// It is used by the consuming goroutine only.
type builder struct {
	topics     map[string]string // full topic name -> short name
	transforms []Transform
	rec        Record // scratch passed to transforms
	// dec reads the schema-registry formats (nil: JSON only); a record's
	// schema is resolved (fetched and cached) before the record joins a
	// batch, so add does not wait on the registry.
	dec *format.Decoder
}

// newBuilder returns the builder of a sink with opts (defaults set).
func newBuilder(opts Options) builder {
	t := opts.Topics
	return builder{
		topics:     map[string]string{t.Users: topicUsers, t.Prices: topicPrices, t.Trades: topicTrades, t.Alerts: topicAlerts},
		transforms: opts.Transforms,
		dec:        opts.Decoder,
	}
}

// addPartition adds one partition's records from a poll to b, skipping
// any below the partition's position (a redelivery after a crash or a
// resync), and returns how many it skipped. pos is the partition's stored
// position, consulted when b does not cover the partition yet.
func (bl *builder) addPartition(ctx context.Context, b *batch, topic string, partition int32, recs []*kgo.Record, pos func(topicPartition) int64, now time.Time) (skipped int) {
	tp := topicPartition{topic, partition}
	r := b.ranges[tp]
	if r == nil {
		p := pos(tp)
		r = &offsetRange{from: p, to: p}
	}
	short := bl.topics[topic]
	for _, rec := range recs {
		if rec.Offset < r.to {
			skipped++
			continue
		}
		if err := bl.dec.Resolve(ctx, rec.Value); err != nil {
			// ctx ended while the registry was unreachable: the batch
			// ends before this record, which is consumed again next time.
			break
		}
		if b.started.IsZero() {
			b.started = now
		}
		r.to, r.epoch = rec.Offset+1, rec.LeaderEpoch
		if rec.Attrs.IsControl() {
			// A transaction marker: nothing to load, but the position
			// moves past it, so a caught-up partition reaches its end.
			continue
		}
		b.records++
		b.bytes += len(rec.Key) + len(rec.Value)
		b.perTopic[short]++
		bl.add(b, short, rec)
	}
	if r.to != r.from {
		b.ranges[tp] = r
	}
	return skipped
}

// add decodes one record, runs the transforms and files the result as a
// row or a dead letter.
func (bl *builder) add(b *batch, short string, rec *kgo.Record) {
	h := event.ReadHeaders(rec.Headers)
	schema, producedAt := h.Schema, h.ProducedAt
	dead := func(reason string, err error) {
		b.dead = append(b.dead, newDeadLetter(rec, reason, err))
	}
	s := string(schema)
	// A value in a registry's wire format names its event and version by
	// its schema id, whatever the header says.
	var framed any
	var err error
	if format.Framed(rec.Value) {
		s, framed, err = bl.dec.Decode(context.Background(), nil, rec.Value)
		if err != nil {
			dead(rejectionReason(err), err)
			return
		}
	}
	bl.rec = Record{Topic: short, Partition: rec.Partition, Offset: rec.Offset, Schema: s, Key: rec.Key}
	switch short {
	case topicUsers:
		if rec.Value == nil { // a tombstone: the user is deleted
			id, perr := strconv.ParseInt(string(rec.Key), 10, 64)
			if perr != nil || id <= 0 {
				dead(string(event.ReasonInvalidField), Reject(string(event.ReasonInvalidField), "tombstone key %q is not a user id", rec.Key))
				return
			}
			b.users = append(b.users, userRow{id: id, deleted: true, src: rec})
			b.observe(producedAt)
			return
		}
		if err = expectSchema(s, short, event.SchemaUserV1); err != nil {
			break
		}
		b.users = append(b.users, userRow{src: rec})
		u := &b.users[len(b.users)-1]
		if u.ev, err = decoded(framed, event.DecodeUser, rec.Value); err == nil {
			bl.rec.User = &u.ev
			err = bl.transform()
			u.id = u.ev.ID
		}
		if err != nil {
			b.users = b.users[:len(b.users)-1]
		}
	case topicPrices:
		if err = expectSchema(s, short, event.SchemaPriceV1); err != nil {
			break
		}
		b.ticks = append(b.ticks, tickRow{src: rec})
		t := &b.ticks[len(b.ticks)-1]
		if t.ev, err = decoded(framed, event.DecodePrice, rec.Value); err == nil {
			bl.rec.Price = &t.ev
			err = bl.transform()
		}
		if err != nil {
			b.ticks = b.ticks[:len(b.ticks)-1]
		}
	case topicTrades:
		if err = expectSchema(s, short, event.SchemaTradeV1, event.SchemaTradeV2); err != nil {
			break
		}
		version := int16(1)
		if s == event.SchemaTradeV2 {
			version = 2
		}
		b.trades = append(b.trades, tradeRow{version: version, src: rec})
		t := &b.trades[len(b.trades)-1]
		if t.ev, err = decoded(framed, func(v []byte) (event.Trade, error) { return event.DecodeTrade(s, v) }, rec.Value); err == nil {
			bl.rec.Trade = &t.ev
			err = bl.transform()
		}
		if err != nil {
			b.trades = b.trades[:len(b.trades)-1]
		}
	case topicAlerts:
		if err = expectSchema(s, short, event.SchemaAlertV1); err != nil {
			break
		}
		b.alerts = append(b.alerts, alertRow{src: rec})
		a := &b.alerts[len(b.alerts)-1]
		if a.ev, err = decoded(framed, event.DecodeAlert, rec.Value); err == nil {
			bl.rec.Alert = &a.ev
			err = bl.transform()
		}
		if err != nil {
			b.alerts = b.alerts[:len(b.alerts)-1]
		}
	}
	bl.rec = Record{}
	if errors.Is(err, ErrDrop) {
		return // filtered out: neither a row nor a dead letter
	}
	if err != nil {
		dead(rejectionReason(err), err)
		return
	}
	b.observe(producedAt)
}

// decoded returns the event a framed value decoded to, or decodes the
// JSON value with decode.
func decoded[T any](framed any, decode func([]byte) (T, error), value []byte) (T, error) {
	if v, ok := framed.(*T); ok {
		return *v, nil
	}
	if framed != nil {
		var zero T
		return zero, &event.Error{Reason: event.ReasonUnknownSchema, Msg: fmt.Sprintf("a %T is not this topic's event", framed)}
	}
	return decode(value)
}

func (bl *builder) transform() error {
	for _, t := range bl.transforms {
		if err := t.Apply(&bl.rec); err != nil {
			return err
		}
	}
	return nil
}

// observe records a loaded record's produced_at header for the latency
// metric; a missing or unparsable header is simply not measured.
func (b *batch) observe(producedAt []byte) {
	t, ok := event.ParseTime(producedAt)
	if !ok {
		return
	}
	b.produced = append(b.produced, t.UnixNano())
}

// expectSchema checks a record's schema header against the versions its
// topic carries: an unknown version is event.ReasonUnknownSchema, a known
// one on the wrong topic ReasonUnexpectedSchema.
func expectSchema(schema, topic string, accepted ...string) error {
	for _, a := range accepted {
		if schema == a {
			return nil
		}
	}
	if !event.KnownSchema(schema) {
		return &event.Error{Reason: event.ReasonUnknownSchema, Schema: schema, Msg: "unknown schema version"}
	}
	return Reject(ReasonUnexpectedSchema, "schema %s is not carried by the %s topic", schema, topic)
}
