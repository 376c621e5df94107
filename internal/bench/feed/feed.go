// Package feed produces the sink's test and benchmark input: a seeded
// synthetic market stream (internal/market) written to the users, prices
// and trades topics with the wire contract's headers, with malformed
// records mixed in at a fixed rate, and the counts and final balances a
// correct load must end with.
//
// Trades switch schema part-way, as after a producer upgrade: the first
// V1Share of them are written as trade/1, the rest as trade/2, so both
// versions flow through one topic into one table.
package feed

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
	"github.com/tradestream/tradestream/internal/store"
)

// Config says what to generate.
type Config struct {
	// Seed seeds the market (and the choice of malformed records).
	Seed uint64
	// Users is the number of synthetic users (default 500).
	Users int
	// Events is the number of valid events: every user once, then prices
	// and trades.
	Events int
	// MalformedEvery inserts one malformed record after every n valid
	// events; 0 inserts none.
	MalformedEvery int
	// V1Share is the fraction of trades written as trade/1 (the rest are
	// trade/2).
	V1Share float64
	// Start is the simulated start (default 2025-06-02 13:30 UTC, a
	// Monday's open in New York).
	Start time.Time
	// RunID goes into every record's run_id header.
	RunID string
}

func (c *Config) setDefaults() {
	if c.Users <= 0 {
		c.Users = 500
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 6, 2, 13, 30, 0, 0, time.UTC)
	}
	if c.RunID == "" {
		c.RunID = "feed-" + strconv.FormatUint(c.Seed, 10)
	}
}

// Topic says which data topic a record belongs on.
type Topic int

// The data topics.
const (
	Users Topic = iota
	Prices
	Trades
)

// Record is one record to produce.
type Record struct {
	Topic  Topic
	Key    []byte
	Value  []byte
	Schema string
	// Valid is false for the malformed records.
	Valid bool
	// Day is the UTC day of a valid price's or trade's event time.
	Day time.Time
}

// Expect is what a correct load of the stream ends with.
type Expect struct {
	Users, Prices, Trades, TradesV1, TradesV2 int
	// Malformed counts the malformed records, by the dead-letter reason
	// they must get.
	Malformed map[string]int
	// Balances holds each account's final balance, by account id.
	Balances map[int64]event.Decimal
	// Days lists the UTC days the prices and trades fall on.
	Days map[time.Time]int
}

// MalformedTotal returns the number of malformed records.
func (e Expect) MalformedTotal() int {
	n := 0
	for _, v := range e.Malformed {
		n += v
	}
	return n
}

// Generate calls emit with every record of the stream, in order, and
// returns what a correct load ends with. Values passed to emit are fresh
// slices emit may keep.
func Generate(cfg Config, emit func(Record) error) (Expect, error) {
	cfg.setDefaults()
	sim, err := market.New(market.Config{
		Seed: cfg.Seed, Users: cfg.Users, Universe: market.DefaultUniverse(), Start: cfg.Start,
		TradeSchema: event.SchemaTradeV2,
	})
	if err != nil {
		return Expect{}, err
	}
	exp := Expect{Malformed: map[string]int{}, Balances: map[int64]event.Decimal{}, Days: map[time.Time]int{}}
	// Trades per valid event are about a constant share, so the switch to
	// trade/2 lands at V1Share of the trades give or take a little.
	v1Events := int(float64(cfg.Events) * cfg.V1Share)
	bad := malformer{seed: cfg.Seed}
	for i := 0; i < cfg.Events; i++ {
		ev := sim.Next()
		rec := Record{Valid: true, Schema: ev.Schema, Key: ev.AppendKey(nil)}
		switch ev.Kind {
		case market.KindUser:
			rec.Topic = Users
			rec.Value = ev.User.AppendJSON(nil)
			exp.Users++
		case market.KindPrice:
			rec.Topic = Prices
			rec.Value = ev.Price.AppendJSON(nil)
			rec.Day = store.Day(ev.Price.Time)
			exp.Prices++
		case market.KindTrade:
			rec.Topic = Trades
			if i < v1Events {
				rec.Schema = event.SchemaTradeV1
				exp.TradesV1++
			} else {
				exp.TradesV2++
			}
			rec.Value = ev.Trade.AppendJSONVersion(nil, rec.Schema)
			rec.Day = store.Day(ev.Trade.Time)
			exp.Trades++
		default:
			return exp, fmt.Errorf("market ended after %d events", i)
		}
		if rec.Topic != Users {
			exp.Days[rec.Day]++
		}
		if err := emit(rec); err != nil {
			return exp, err
		}
		if cfg.MalformedEvery > 0 && (i+1)%cfg.MalformedEvery == 0 {
			m, reason := bad.next(rec)
			exp.Malformed[reason]++
			if err := emit(m); err != nil {
				return exp, err
			}
		}
	}
	for _, u := range sim.Users() {
		if b, ok := sim.Balance(u.ID); ok {
			exp.Balances[u.Account.ID] = b
		}
	}
	return exp, nil
}

// Produce writes the stream to the topics with cl and waits until the
// brokers have every record. Every record carries the schema, produced_at
// and run_id headers (a malformed record's schema header may itself be
// the fault).
func Produce(ctx context.Context, cl *kgo.Client, topics kafka.Topics, cfg Config) (Expect, error) {
	cfg.setDefaults()
	p := newProducer(ctx, cl, topics, cfg.RunID)
	exp, err := Generate(cfg, p.send)
	if ferr := p.flush(); err == nil {
		err = ferr
	}
	return exp, err
}

// ProduceRecords writes recs (from Generate) to the topics with cl, with
// runID in their headers, and waits until the brokers have them all.
func ProduceRecords(ctx context.Context, cl *kgo.Client, topics kafka.Topics, recs []Record, runID string) error {
	p := newProducer(ctx, cl, topics, runID)
	for _, r := range recs {
		if err := p.send(r); err != nil {
			break
		}
	}
	return p.flush()
}

// producer sends records asynchronously and keeps the first failure.
type producer struct {
	ctx   context.Context
	cl    *kgo.Client
	names map[Topic]string
	runID []byte
	mu    sync.Mutex
	err   error
}

func newProducer(ctx context.Context, cl *kgo.Client, topics kafka.Topics, runID string) *producer {
	return &producer{ctx: ctx, cl: cl, runID: []byte(runID),
		names: map[Topic]string{Users: topics.Users, Prices: topics.Prices, Trades: topics.Trades}}
}

func (p *producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *producer) send(r Record) error {
	if err := p.failed(); err != nil {
		return err
	}
	rec := &kgo.Record{Topic: p.names[r.Topic], Key: r.Key, Value: r.Value, Headers: event.Headers{
		Schema:     []byte(r.Schema),
		ProducedAt: event.AppendTime(nil, time.Now()),
		RunID:      p.runID,
	}.Records()}
	p.cl.Produce(p.ctx, rec, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = err
			}
			p.mu.Unlock()
		}
	})
	return nil
}

func (p *producer) flush() error {
	if err := p.cl.Flush(p.ctx); err != nil {
		return fmt.Errorf("produce feed: %w", err)
	}
	if err := p.failed(); err != nil {
		return fmt.Errorf("produce feed: %w", err)
	}
	return nil
}
