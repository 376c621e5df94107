package gen

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
)

// MarketSource draws events of the chosen kinds from a simulated market and
// encodes them, without allocating per event, into records for the topics.
type MarketSource struct {
	sim     *market.Sim
	kinds   market.Kind
	topics  kafka.Topics
	schemas map[string][]byte
	enc     *format.Encoder
}

// Encode makes the source write values with enc (a schema-registry
// format) instead of JSON; it returns m.
func (m *MarketSource) Encode(enc *format.Encoder) *MarketSource {
	m.enc = enc
	return m
}

// NewMarketSource returns a Source of sim's events of the given kinds.
func NewMarketSource(sim *market.Sim, kinds market.Kind, topics kafka.Topics) *MarketSource {
	return &MarketSource{sim: sim, kinds: kinds, topics: topics, schemas: map[string][]byte{}}
}

// Next implements Source.
func (m *MarketSource) Next(r *kgo.Record) bool {
	e := m.sim.NextOf(m.kinds)
	switch e.Kind {
	case market.KindUser:
		r.Topic = m.topics.Users
	case market.KindPrice:
		r.Topic = m.topics.Prices
	case market.KindTrade:
		r.Topic = m.topics.Trades
	default:
		return false
	}
	r.Key = e.AppendKey(r.Key[:0])
	if m.enc == nil {
		r.Value = e.AppendJSON(r.Value[:0])
	} else {
		var err error
		// The encoder holds a schema for every version the simulator
		// was configured to write (RegistrationsFor), so this cannot fail
		// but by a programming error.
		if r.Value, err = m.enc.Append(r.Value[:0], e.Schema, e.Value()); err != nil {
			panic(fmt.Sprintf("gen: %v", err))
		}
	}
	if m.enc != nil {
		// A record in the wire format names its schema by its id: no
		// schema header, as other registry producers write them.
		return true
	}
	schema, ok := m.schemas[e.Schema]
	if !ok {
		schema = []byte(e.Schema)
		m.schemas[e.Schema] = schema
	}
	r.Headers = event.Headers{Schema: schema}.Append(r.Headers)
	return true
}

// RegistrationsFor lists the schemas a source of kinds writing trades as
// tradeSchema registers: each kind's event version under its topic.
func RegistrationsFor(kinds market.Kind, topics kafka.Topics, tradeSchema string) []format.Registration {
	var regs []format.Registration
	if kinds&market.KindUser != 0 {
		regs = append(regs, format.Registration{Version: event.SchemaUserV1, Topic: topics.Users})
	}
	if kinds&market.KindPrice != 0 {
		regs = append(regs, format.Registration{Version: event.SchemaPriceV1, Topic: topics.Prices})
	}
	if kinds&market.KindTrade != 0 {
		if tradeSchema == "" {
			tradeSchema = event.SchemaTradeLatest
		}
		regs = append(regs, format.Registration{Version: tradeSchema, Topic: topics.Trades})
	}
	return regs
}

// EventTime implements EventTimer: the simulated market's clock.
func (m *MarketSource) EventTime() time.Time { return m.sim.Now() }

// Kinds parses the gen subcommand's target: users, prices, trades or all.
func Kinds(target string) (market.Kind, bool) {
	switch target {
	case "users":
		return market.KindUser, true
	case "prices":
		return market.KindPrice, true
	case "trades":
		return market.KindTrade, true
	case "all":
		return market.KindAll, true
	}
	return 0, false
}
