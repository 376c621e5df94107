package sink

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// hostileReasons is the dead-letter reason the sink gives each hostile
// record on a topic whose schema it knows.
var hostileReasons = map[string]string{
	kafkatest.HostileRandomBytes:    string(event.ReasonMalformedJSON),
	kafkatest.HostileJSONArray:      string(event.ReasonMalformedJSON),
	kafkatest.HostileJSONWrongShape: string(event.ReasonInvalidField),
	kafkatest.HostileLargeValue:     string(event.ReasonInvalidField),
	kafkatest.HostileNULInvalidUTF8: string(event.ReasonMalformedJSON),
	kafkatest.HostileBinaryHeaders:  string(event.ReasonUnknownSchema),
	kafkatest.HostileUnknownVersion: string(event.ReasonUnknownSchema),
	kafkatest.HostileRepeatedSchema: string(event.ReasonUnknownSchema),
	kafkatest.HostileHugeSchema:     string(event.ReasonUnknownSchema),
	kafkatest.HostileLargest:        string(event.ReasonMalformedJSON),
}

func hostileTrade(i int) event.Trade {
	return event.Trade{ID: int64(i + 1), UserID: int64(1 + i%7), AccountID: int64(1 + i%7), Symbol: "AAPL",
		Side: event.SideBuy, Quantity: 10, Price: event.MustParseDecimal("125.5"), Fee: event.Unit,
		Time: time.Now().UTC().Add(-time.Minute), BalanceAfter: event.FromInt(1_000_000), OrderType: event.OrderMarket}
}

func hostilePrice(i int) event.Price {
	return event.Price{Symbol: "MSFT", Sector: "Technology", Seq: int64(i), Time: time.Now().UTC().Add(-time.Minute),
		Bid: 4_000_000, Ask: 4_000_100, Last: 4_000_050, Volume: 10}
}

// TestSinkSurvivesRecordsNoSchemaDescribes feeds a running sink valid
// events mixed with hostile records (random bytes, JSON of the wrong
// shape, a 900 KiB value, NUL bytes and invalid UTF-8, binary and empty
// header keys, unknown and repeated schema headers, a 600 KiB schema
// header, the largest record the producer takes) on the trades and prices
// topics. Every valid event becomes a row, every hostile record a dead
// letter in the table and on the topic with its reason, and the same sink
// goes on loading and committing what comes after.
func TestSinkSurvivesRecordsNoSchemaDescribes(t *testing.T) {
	e := newTestEnv(t, 1)
	type topicCase struct {
		topic, schema string
		valid         func(i int) (key, value []byte)
	}
	cases := []topicCase{
		{e.names.Trades, event.SchemaTradeV2, func(i int) ([]byte, []byte) {
			tr := hostileTrade(i)
			return tr.AppendKey(nil), tr.AppendJSON(nil)
		}},
		{e.names.Prices, event.SchemaPriceV1, func(i int) ([]byte, []byte) {
			p := hostilePrice(i)
			return p.AppendKey(nil), p.AppendJSON(nil)
		}},
	}
	const validBefore, validAfter = 5, 5
	want := map[string]string{} // "topic/offset" -> reason
	sizes := map[string]int{}   // "topic/offset" -> value bytes
	n := 0
	for _, c := range cases {
		for range validBefore {
			k, v := c.valid(n)
			n++
			e.produce(t, record(c.topic, c.schema, k, v))
		}
		_, v := c.valid(n)
		hs := kafkatest.HostileRecords(c.topic, c.schema, v)
		for _, h := range hs {
			if h.Name == kafkatest.HostileLargest {
				kafkatest.ProduceLargest(t, e.producer, hs, e.kcfg.BatchBytes)
			} else {
				e.produce(t, h.Record)
			}
			k := fmt.Sprintf("%s/%d", h.Record.Topic, h.Record.Offset)
			want[k], sizes[k] = hostileReasons[h.Name], len(h.Record.Value)
			t.Logf("%s: %s at offset %d, %d bytes, reason %s", c.topic, h.Name, h.Record.Offset, len(h.Record.Value), hostileReasons[h.Name])
		}
	}

	opts := e.options()
	opts.UntilCaughtUp = false
	reg := prometheus.NewRegistry()
	s, err := New(e.kcfg, e.pool, testLogger(t), reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink run: %v", err)
		}
	}()
	rows := func() int64 {
		return e.count(t, "SELECT count(*) FROM trades") + e.count(t, "SELECT count(*) FROM price_ticks")
	}
	waitFor(t, done, "the valid events and the dead letters", func() bool {
		return rows() == int64(len(cases)*validBefore) && e.count(t, "SELECT count(*) FROM dead_letters") == int64(len(want))
	})

	// The sink is still up: what comes next is loaded and committed.
	for _, c := range cases {
		for range validAfter {
			k, v := c.valid(n)
			n++
			e.produce(t, record(c.topic, c.schema, k, v))
		}
	}
	ends := map[string]int64{}
	for _, c := range cases {
		ends[c.topic] = e.endOffset(t, c.topic)
	}
	waitFor(t, done, "the events after the hostile records, committed", func() bool {
		for _, c := range cases {
			if e.storedOffset(t, c.topic) != ends[c.topic] {
				return false
			}
		}
		return true
	})
	if got, wantRows := rows(), int64(len(cases)*(validBefore+validAfter)); got != wantRows {
		t.Errorf("rows: got %d, want %d", got, wantRows)
	}
	checkDeadLetterTable(t, e, want, sizes)
	checkDeadLetterTopic(t, e, want)
	if got := counterSum(t, reg, "tradestream_sink_dead_letters_total"); int(got) != len(want) {
		t.Errorf("dead letter metric: got %v, want %d", got, len(want))
	}
}

// waitFor polls cond until it holds, failing the test if the sink stops
// meanwhile or two minutes pass.
func waitFor(t *testing.T, done <-chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("sink stopped while waiting for %s: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not done within 2m", what)
		}
	}
}

// checkDeadLetterTable checks each dead letter's reason, that its error
// text is bounded and that the table keeps the whole value.
func checkDeadLetterTable(t *testing.T, e *testEnv, want map[string]string, sizes map[string]int) {
	t.Helper()
	rs, err := e.pool.Query(context.Background(), "SELECT topic, kafka_offset, reason, error, coalesce(octet_length(value), 0) FROM dead_letters")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var topic, reason, msg string
		var off int64
		var size int64
		if err := rs.Scan(&topic, &off, &reason, &msg, &size); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s/%d", topic, off)
		if reason != want[key] {
			t.Errorf("dead_letters %s: got reason %q, want %q (error %.200q)", key, reason, want[key], msg)
		}
		if size != int64(sizes[key]) {
			t.Errorf("dead_letters %s: got a value of %d bytes, want %d", key, size, sizes[key])
		}
		if len(msg) > maxErrorText {
			t.Errorf("dead_letters %s: error text of %d bytes, want at most %d", key, len(msg), maxErrorText)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
}

func checkDeadLetterTopic(t *testing.T, e *testEnv, want map[string]string) {
	t.Helper()
	cl := e.consumer(t, e.names.DeadLetter)
	got := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(got) < len(want) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("deadletter topic: %d of %d dead letters read: %v", len(got), len(want), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			h := event.ReadHeaders(r.Headers)
			off, _ := strconv.ParseInt(string(h.SourceOffset), 10, 64)
			got[fmt.Sprintf("%s/%d", h.SourceTopic, off)] = string(h.Reason)
		})
	}
	for k, reason := range want {
		if got[k] != reason {
			t.Errorf("deadletter topic %s: got reason %q, want %q", k, got[k], reason)
		}
	}
}

func (e *testEnv) endOffset(t *testing.T, topic string) int64 {
	t.Helper()
	ends, err := kafkatest.Admin(t, e.kcfg.Brokers).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup(topic, 0)
	return o.Offset
}

func (e *testEnv) storedOffset(t *testing.T, topic string) int64 {
	t.Helper()
	var off int64
	err := e.pool.QueryRow(context.Background(),
		`SELECT coalesce(max(next_offset), -1) FROM sink_offsets WHERE group_id = $1 AND topic = $2`, e.group, topic).Scan(&off)
	if err != nil {
		t.Fatal(err)
	}
	return off
}
