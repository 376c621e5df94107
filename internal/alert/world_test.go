package alert

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// world is a scripted market on real topics and a migrated schema, with
// the alerts the rules must fire on it.
type world struct {
	brokers []string
	topics  kafka.Topics
	prefix  string
	pool    *pgxpool.Pool
	db      config.Database
	rules   []Rule
	// want lists the expected alert ids in firing order per source partition.
	want []string
	ends map[string]map[int32]int64 // end offsets of prices and trades after the script
	// dec reads the formats of a mixed world (nil: JSON only).
	dec *format.Decoder
	// enc, when set, is the engines' alerts format (writeAlertsAs).
	enc *format.Encoder
	// ids holds the cluster's id of each topic, by short name.
	ids map[string][16]byte
	tc  config.Topics
}

// src is the Source of rec, a record of the topic of short name short.
func (w *world) src(short string, rec *kgo.Record) Source {
	return Source{Topic: short, Partition: rec.Partition, Offset: rec.Offset, TopicID: w.ids[short]}
}

// topicIDs returns the cluster's id of each of topics, by short name.
func topicIDs(t *testing.T, brokers []string, topics kafka.Topics) map[string][16]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := kafkatest.Admin(t, brokers).ListTopics(ctx, topics.Prices, topics.Trades)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][16]byte{}
	for short, name := range map[string]string{"prices": topics.Prices, "trades": topics.Trades} {
		d, ok := listed[name]
		if !ok || d.Err != nil || d.ID == ([16]byte{}) {
			t.Fatalf("topic %s: no id listed (%v)", name, d.Err)
		}
		ids[short] = d.ID
	}
	return ids
}

// newMixedWorld is newWorld with its records written in every format in
// turn (JSON, Avro, Protobuf, JSON Schema) through the test registry.
func newMixedWorld(t *testing.T) *world {
	t.Helper()
	reg, err := format.NewRegistry(format.RegistryConfig{URL: kafkatest.Registry(t)})
	if err != nil {
		t.Fatal(err)
	}
	return buildWorld(t, reg)
}

// newWorld creates the topics and the schema, stores the rules and
// produces the scripted path: 240 ticks each of AAPL and MSFT along two
// sine waves that cross the rule levels again and again, and 80 trades of
// varying notional.
func newWorld(t *testing.T) *world {
	t.Helper()
	return buildWorld(t, nil)
}

// buildWorld builds the world, in every format through reg when reg is set.
func buildWorld(t *testing.T, reg *format.Registry) *world {
	t.Helper()
	w := &world{brokers: kafkatest.Brokers(t)}
	tc := kafkatest.Topics(t, w.brokers, 3, 1)
	w.prefix, w.tc = tc.Prefix, tc
	w.topics = kafka.TopicNames(tc.Prefix)
	w.ids = topicIDs(t, w.brokers, w.topics)
	w.pool, w.db = pgtest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := NewStore(w.pool)
	for _, r := range []Rule{
		{Kind: KindPriceAbove, Symbol: "AAPL", Threshold: event.MustParseDecimal("101")},
		{Kind: KindPriceBelow, Symbol: "AAPL", Threshold: event.MustParseDecimal("99")},
		{Kind: KindPriceAbove, Symbol: "MSFT", Threshold: event.MustParseDecimal("301.5")},
		{Kind: KindBigTrade, Threshold: event.FromInt(scriptedBigNotional)},
	} {
		added, err := st.Add(ctx, r)
		if err != nil {
			t.Fatalf("add rule: %v", err)
		}
		w.rules = append(w.rules, added)
	}

	w.play(t, reg)
	return w
}

// play produces the scripted path to the world's topics (in every
// format through reg when reg is set) and sets the alerts it must fire
// and the topics' end offsets after it.
func (w *world) play(t *testing.T, reg *format.Registry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w.want = nil
	prod := kafkatest.Client(t, w.brokers, kafka.ProducerOptions(kafkatest.Config(w.brokers))...)
	var encoders []*format.Encoder
	if reg != nil {
		if w.dec == nil {
			w.dec = format.NewDecoder(reg, nil)
		}
		for _, f := range []format.Format{format.Avro, format.Protobuf, format.JSONSchema} {
			// A subject holds one format: each registers under its own.
			enc, err := format.NewEncoder(ctx, reg, f, []format.Registration{
				{Version: event.SchemaPriceV1, Subject: w.topics.Prices + "-" + f.String() + "-value"},
				{Version: event.SchemaTradeV2, Subject: w.topics.Trades + "-" + f.String() + "-value"}})
			if err != nil {
				t.Fatal(err)
			}
			encoders = append(encoders, enc)
		}
	}
	n := 0
	// encode returns ev's value in the next format of the rotation.
	encode := func(schema string, ev any, json []byte) []byte {
		n++
		if len(encoders) == 0 || n%4 == 0 {
			return json
		}
		b, err := encoders[n%4-1].Append(nil, schema, ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	produce := func(topic, schema string, key, value []byte) *kgo.Record {
		rec := &kgo.Record{Topic: topic, Key: key, Value: value, Headers: []kgo.RecordHeader{
			{Key: event.HeaderSchema, Value: []byte(schema)},
			{Key: event.HeaderProducedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
			{Key: event.HeaderRunID, Value: []byte("test")},
		}}
		if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		return rec
	}
	type level struct {
		rule  Rule
		above bool
	}
	levels := map[string][]level{
		"AAPL": {{w.rules[0], true}, {w.rules[1], false}},
		"MSFT": {{w.rules[2], true}},
	}
	prev := map[int64]int{} // rule id -> last condition (-1/+1)
	for i := 0; i < scriptedTicks; i++ {
		for _, sym := range []string{"AAPL", "MSFT"} {
			base := scriptedBase[sym]
			last := event.FromFloat(scriptedPrice(base, i))
			p := event.Price{Symbol: sym, Sector: "Technology", Seq: int64(i), Time: t0.Add(time.Duration(i) * 250 * time.Millisecond),
				Bid: last - 100, Ask: last + 100, Last: last, Volume: 100}
			rec := produce(w.topics.Prices, event.SchemaPriceV1, p.AppendKey(nil), encode(event.SchemaPriceV1, &p, p.AppendJSON(nil)))
			for _, l := range levels[sym] {
				cond := last > l.rule.Threshold
				if !l.above {
					cond = last < l.rule.Threshold
				}
				c := -1
				if cond {
					c = 1
				}
				if prev[l.rule.ID] == -1 && c == 1 {
					w.want = append(w.want, AlertID(l.rule.ID, w.src("prices", rec)))
				}
				prev[l.rule.ID] = c
			}
		}
	}
	for i := 0; i < scriptedTrades; i++ {
		qty := scriptedQuantity(i)
		tr := event.Trade{ID: int64(i + 1), UserID: int64(1 + i%13), AccountID: int64(1 + i%13), Symbol: "AAPL",
			Side: event.SideBuy, Quantity: qty, Price: event.FromFloat(scriptedTradePrice), Fee: event.Unit,
			Time: t0.Add(time.Duration(i) * time.Second), BalanceAfter: event.FromInt(1_000_000), OrderType: event.OrderMarket}
		rec := produce(w.topics.Trades, event.SchemaTradeV2, tr.AppendKey(nil), encode(event.SchemaTradeV2, &tr, tr.AppendJSON(nil)))
		if tr.Notional() > w.rules[3].Threshold {
			w.want = append(w.want, AlertID(w.rules[3].ID, w.src("trades", rec)))
		}
	}
	ends, err := kafkatest.Admin(t, w.brokers).ListEndOffsets(ctx, w.topics.Prices, w.topics.Trades)
	if err != nil {
		t.Fatal(err)
	}
	w.ends = map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if w.ends[o.Topic] == nil {
			w.ends[o.Topic] = map[int32]int64{}
		}
		w.ends[o.Topic][o.Partition] = o.Offset
	})
	sort.Strings(w.want)
	if len(w.want) < 20 {
		t.Fatalf("the script fires only %d alerts; want a path with more crossings", len(w.want))
	}
}

// The script: 240 ticks of each symbol around its base price, and 80
// AAPL trades at 125.5 of these quantities.
const (
	scriptedTicks       = 240
	scriptedTrades      = 80
	scriptedTradePrice  = 125.5
	scriptedBigNotional = 500_000
)

var scriptedBase = map[string]float64{"AAPL": 100, "MSFT": 300}

// scriptedPrice is the last price of tick i of a symbol based at base: two
// sine waves that cross the rule levels again and again.
func scriptedPrice(base float64, i int) float64 {
	return base + 2.5*math.Sin(float64(i)*0.21) + 0.4*math.Sin(float64(i)*1.7)
}

// scriptedQuantity is the quantity of trade i.
func scriptedQuantity(i int) int64 { return int64(1000 + (i*379)%4000) }

// produceQuietTick produces one more AAPL tick at 100, between both AAPL
// levels, and moves the expected end offsets past it.
func (w *world) produceQuietTick(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last := event.FromInt(100)
	p := event.Price{Symbol: "AAPL", Sector: "Technology", Seq: 999, Time: t0.Add(time.Hour),
		Bid: last - 100, Ask: last + 100, Last: last, Volume: 100}
	rec := &kgo.Record{Topic: w.topics.Prices, Key: p.AppendKey(nil), Value: p.AppendJSON(nil),
		Headers: []kgo.RecordHeader{{Key: event.HeaderSchema, Value: []byte(event.SchemaPriceV1)}}}
	prod := kafkatest.Client(t, w.brokers, kafka.ProducerOptions(kafkatest.Config(w.brokers))...)
	if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	w.ends[rec.Topic][rec.Partition] = rec.Offset + 1
}

// alertIDs reads the whole alerts topic at the given isolation level and
// returns the alert ids in it, sorted, duplicates kept.
func (w *world) alertIDs(t *testing.T, committed bool) []string {
	t.Helper()
	if w.enc == nil {
		return kafkatest.AlertIDs(t, w.brokers, w.topics.Alerts, committed)
	}
	var ids []string
	for _, r := range kafkatest.ReadToEnd(t, w.brokers, w.topics.Alerts, committed) {
		if !format.Framed(r.Value) || event.ReadHeaders(r.Headers).Schema != nil {
			t.Errorf("alert record %d/%d: not in the %s wire format without a schema header", r.Partition, r.Offset, w.enc.Format())
		}
		version, v, err := w.dec.Decode(context.Background(), nil, r.Value)
		a, ok := v.(*event.Alert)
		if err != nil || !ok || version != event.SchemaAlertV1 {
			t.Errorf("alert record %d/%d: got %s %T, %v; want an alert/1", r.Partition, r.Offset, version, v, err)
			continue
		}
		ids = append(ids, a.ID)
	}
	sort.Strings(ids)
	return ids
}

// writeAlertsAs has the world's engines write their alerts in the registry
// format f: the alert/1 schema registered under the alerts topic's
// subject, read back through the test registry.
func (w *world) writeAlertsAs(t *testing.T, f format.Format) {
	t.Helper()
	reg, err := format.NewRegistry(format.RegistryConfig{URL: kafkatest.Registry(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if w.enc, err = format.NewEncoder(ctx, reg, f, []format.Registration{{Version: event.SchemaAlertV1, Topic: w.topics.Alerts}}); err != nil {
		t.Fatal(err)
	}
	if w.dec == nil {
		w.dec = format.NewDecoder(reg, nil)
	}
}

// engine returns an in-process engine for the world.
func (w *world) engine(t *testing.T, group, instance string, batch int) *Engine {
	t.Helper()
	return w.engineOn(t, w.pool, group, instance, batch)
}

// engineOn is engine with its database in pool.
func (w *world) engineOn(t *testing.T, pool *pgxpool.Pool, group, instance string, batch int) *Engine {
	t.Helper()
	eng, err := New(kafkatest.Config(w.brokers), pool, Options{
		Topics: w.topics, Group: group, Instance: instance, BatchSize: batch, FromStart: true,
		SessionTimeout: 6 * time.Second, RulesRefresh: 500 * time.Millisecond, Log: testLogger(t), Decoder: w.dec, Encoder: w.enc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// runUntilCaughtUp runs eng until its stored offsets reach the script's
// end offsets, then stops it.
func (w *world) runUntilCaughtUp(t *testing.T, eng *Engine, group string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if w.caughtUp(t, group) {
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("engine stopped before catching up: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("engine did not catch up within 90s")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("engine: %v", err)
	}
}

func (w *world) caughtUp(t *testing.T, group string) bool {
	t.Helper()
	rows, err := w.pool.Query(context.Background(),
		`SELECT topic, kafka_partition, next_offset FROM alert_offsets WHERE group_id = $1`, group)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var topic string
		var p int32
		var off int64
		if err := rows.Scan(&topic, &p, &off); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s/%d", topic, p)] = off
	}
	for topic, ps := range w.ends {
		short := "prices"
		if topic == w.topics.Trades {
			short = "trades"
		}
		for p, end := range ps {
			if end > 0 && got[fmt.Sprintf("%s/%d", short, p)] < end {
				return false
			}
		}
	}
	return true
}

// progress returns how many source records group has checkpointed.
func (w *world) progress(t *testing.T, group string) int64 {
	t.Helper()
	var n int64
	if err := w.pool.QueryRow(context.Background(),
		`SELECT coalesce(sum(next_offset), 0) FROM alert_offsets WHERE group_id = $1`, group).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// records returns how many source records the script produced.
func (w *world) records() int64 {
	var n int64
	for _, ps := range w.ends {
		for _, end := range ps {
			n += end
		}
	}
	return n
}

// matchesReference checks what group's engine left after losing
// checkpoints: each scripted alert once in the committed topic, the
// outbox empty, and the rule states of a reference group run now over the
// same records, which loses nothing (its alerts go to the same topic,
// which is not read again).
func (w *world) matchesReference(t *testing.T, group, reference string) {
	t.Helper()
	if got := w.alertIDs(t, true); !slices.Equal(got, w.want) {
		t.Fatalf("got %d alerts, want %d exactly once: %s", len(got), len(w.want), strings.Join(got, ","))
	}
	if n := w.outboxLen(t); n != 0 {
		t.Errorf("got %d alerts left in the outbox, want 0", n)
	}
	w.runUntilCaughtUp(t, w.engine(t, reference, "ref", 7), reference)
	var diff int
	if err := w.pool.QueryRow(context.Background(), `
		WITH a AS (SELECT topic, kafka_partition, rule_id, symbol, state FROM alert_state WHERE group_id = $1),
		     b AS (SELECT topic, kafka_partition, rule_id, symbol, state FROM alert_state WHERE group_id = $2)
		SELECT count(*) FROM ((SELECT * FROM a EXCEPT SELECT * FROM b) UNION ALL (SELECT * FROM b EXCEPT SELECT * FROM a)) d`,
		group, reference).Scan(&diff); err != nil {
		t.Fatal(err)
	}
	if diff != 0 {
		t.Errorf("%d rule states differ from those of a group that lost nothing", diff)
	}
}

func (w *world) outboxLen(t *testing.T) int {
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM alert_outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}
