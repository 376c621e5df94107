package gen_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/market"
)

const sampleTicks = "../../deploy/samples/ticks.csv"

func readSample(t *testing.T) ([]market.Tick, map[string]string) {
	t.Helper()
	f, err := os.Open(sampleTicks)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ticks, sectors, err := gen.ParseTicks(f)
	if err != nil {
		t.Fatal(err)
	}
	return ticks, sectors
}

// TestReplaySampleIntoKafka replays the shipped sample into the real
// broker: the prices topic must hold exactly the file's rows (count,
// order per symbol, prices, volumes, times), and every trade must lie
// inside the replayed quote of its symbol at its time.
func TestReplaySampleIntoKafka(t *testing.T) {
	ticks, sectors := readSample(t)
	if len(ticks) < 2000 {
		t.Fatalf("sample has %d ticks, want a few thousand", len(ticks))
	}
	brokers := kafkatest.Brokers(t)
	topics := kafka.TopicNames(kafkatest.Topics(t, brokers, 3, 1).Prefix)
	cl := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)

	cfg := config.Default().Gen
	cfg.Seed, cfg.Users = 3, 500
	sim, _, err := gen.NewReplaySim(cfg, ticks, sectors)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := gen.NewPacedSource(ctx, sim, gen.NewMarketSource(sim, market.KindAll, topics), 0, time.Now)
	sum, err := gen.Run(ctx, gen.Options{Client: cl, RunID: "replay"}, src)
	if err != nil || sim.Err() != nil {
		t.Fatalf("replay: %v, %v", err, sim.Err())
	}

	prices, trades := consume(t, brokers, topics.Prices), consume(t, brokers, topics.Trades)
	if int64(len(prices)+len(trades)+cfg.Users) != sum.Delivered {
		t.Errorf("read %d prices + %d trades + %d users, generator delivered %d", len(prices), len(trades), cfg.Users, sum.Delivered)
	}
	if len(prices) != len(ticks) {
		t.Fatalf("prices topic holds %d ticks, the file %d rows", len(prices), len(ticks))
	}
	want := map[string][]market.Tick{}
	for _, tk := range ticks {
		want[tk.Symbol] = append(want[tk.Symbol], tk)
	}
	got := map[string][]*event.Price{}
	for _, v := range prices {
		p := decode(t, event.SchemaPriceV1, v).(*event.Price)
		got[p.Symbol] = append(got[p.Symbol], p)
	}
	for sym, ws := range want {
		gs := got[sym]
		if len(gs) != len(ws) {
			t.Errorf("%s: %d ticks on the topic, %d in the file", sym, len(gs), len(ws))
			continue
		}
		for i, w := range ws {
			g := gs[i]
			if !g.Time.Equal(w.Time) || g.Bid != w.Bid || g.Ask != w.Ask || g.Last != w.Last || g.Volume != w.Volume || g.Seq != int64(i+1) {
				t.Errorf("%s tick %d: got %s %s/%s %s %d seq %d, want %+v", sym, i, g.Time, g.Bid, g.Ask, g.Last, g.Volume, g.Seq, w)
				break
			}
		}
	}
	if len(trades) < 100 {
		t.Errorf("%d trades, want the users trading on the replayed quotes", len(trades))
	}
	for _, v := range trades {
		tr := decode(t, event.SchemaTradeLatest, v).(*event.Trade)
		q := quoteAt(want[tr.Symbol], tr.Time)
		if q == nil || tr.Price < q.Bid || tr.Price > q.Ask {
			t.Errorf("trade %d %s at %s price %s: outside the replayed quote %+v", tr.ID, tr.Symbol, tr.Time, tr.Price, q)
		}
	}
	t.Logf("%d ticks and %d trades replayed", len(prices), len(trades))
}

// quoteAt returns the last tick at or before at.
func quoteAt(ticks []market.Tick, at time.Time) *market.Tick {
	var q *market.Tick
	for i := range ticks {
		if ticks[i].Time.After(at) {
			break
		}
		q = &ticks[i]
	}
	return q
}

func decode(t *testing.T, schema string, v []byte) any {
	t.Helper()
	e, err := event.Decode(schema, v)
	if err != nil {
		t.Fatalf("decode %s: %v", v, err)
	}
	return e
}

// consume reads every record of topic up to its end offsets, in order
// within each partition.
func consume(t *testing.T, brokers []string, topic string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := kafkatest.Admin(t, brokers).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, o := range ends[topic] {
		total += o.Offset
	}
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out [][]byte
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s: read %d of %d records: %v", topic, len(out), total, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, append([]byte(nil), r.Value...)) })
	}
	return out
}

func TestParseTicksErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no header", "AAPL,2026-01-05T14:35:00Z,1,2,1.5,10\n", `lacks column "symbol"`},
		{"bad time", "symbol,time,bid,ask,last,volume\nAAPL,noon,1,2,1.5,10\n", `line 2: time "noon" is not RFC 3339`},
		{"crossed", "symbol,time,bid,ask,last,volume\nAAPL,2026-01-05T14:35:00Z,2,1,1.5,10\n", "line 2: ask 1.0000 is below bid 2.0000"},
		{"order", "symbol,time,bid,ask,last,volume\nAAPL,2026-01-05T14:35:00Z,1,2,1.5,10\nAAPL,2026-01-05T14:34:00Z,1,2,1.5,10\n", "line 3: time 2026-01-05T14:34:00Z is before"},
		{"short", "symbol,time,bid,ask,last,volume\nAAPL,2026-01-05T14:35:00Z,1\n", "line 2: want 6 fields, got 3"},
		{"json", "{\"symbol\":\"AAPL\",\"ts\":\"2026-01-05T14:35:00Z\",\"bid\":\"1\",\"ask\":\"2\",\"last\":\"1.5\",\"volume\":10}\n{oops\n", "line 2: not a JSON object"},
		{"empty", "symbol,time,bid,ask,last,volume\n", "no ticks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := gen.ParseTicks(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseTicks error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// JSON lines as `gen prices --dry-run` writes them replay as they are.
	ticks, sectors, err := gen.ParseTicks(strings.NewReader(`{"symbol":"AAPL","sector":"Technology","seq":1,"ts":"2026-01-05T14:30:00.005Z","bid":"187.2300","ask":"187.2700","last":"187.2500","volume":23}` + "\n"))
	if err != nil || len(ticks) != 1 || ticks[0].Bid != event.MustParseDecimal("187.23") || sectors["AAPL"] != "Technology" {
		t.Errorf("dry-run JSON line: %+v %v %v", ticks, sectors, err)
	}
}

// TestReplayPacesByEventTime replays the sample at --speed 60 on a clock
// of the test's own: every round is released when the clock has run its
// event time since the first round divided by the speed, so the whole file
// takes its span / 60.
func TestReplayPacesByEventTime(t *testing.T) {
	ticks, sectors := readSample(t)
	cfg := config.Default().Gen
	cfg.Seed, cfg.Users = 3, 50
	sim, _, err := gen.NewReplaySim(cfg, ticks, sectors)
	if err != nil {
		t.Fatal(err)
	}
	const speed = 60
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	wall := start
	sleeps := 0
	src := gen.NewPacedSource(context.Background(), sim, gen.NewMarketSource(sim, market.KindAll, kafka.TopicNames("t.")), speed,
		func() time.Time { return wall }).WithSleep(func(_ context.Context, d time.Duration) error {
		wall = wall.Add(d)
		sleeps++
		return nil
	})
	var first time.Time
	var rec kgo.Record
	for n := 0; src.Next(&rec); n++ {
		if first.IsZero() {
			first = sim.Now()
		}
		want := time.Duration(float64(sim.Now().Sub(first)) / speed)
		if got := wall.Sub(start); got != want {
			t.Fatalf("record %d at event time %s: released after %v of wall time, want %v", n, sim.Now().Sub(first), got, want)
		}
	}
	span := ticks[len(ticks)-1].Time.Sub(ticks[0].Time)
	if got, want := wall.Sub(start), span/speed; got < want-time.Second || got > want+time.Second || sleeps == 0 {
		t.Errorf("the replay took %v of wall time in %d sleeps, want the file's span %v / %d = %v", got, sleeps, span, speed, want)
	}
}
