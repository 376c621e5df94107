package dashboard

import (
	"reflect"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/status"
)

// snapshots is a HealthSource handing out a settable snapshot.
type snapshots struct{ snap *status.Snapshot }

func (s *snapshots) Latest() (status.Snapshot, bool) {
	if s.snap == nil {
		return status.Snapshot{}, false
	}
	return *s.snap, true
}

func pipelineAt(at time.Time, end, committed, rows int64) *status.Snapshot {
	topics := kafka.TopicNames("p.")
	return &status.Snapshot{
		At: at,
		Brokers: []status.Broker{{ID: 1, Host: "127.0.0.1", Port: 11092}, {ID: 2, Host: "127.0.0.1", Port: 12092, Down: true},
			{ID: 3, Host: "127.0.0.1", Port: 13092}},
		Topics: []status.Topic{
			{Name: topics.Prices, End: 2 * end, Records: 2 * end, UnderReplicated: 2, Offline: 1,
				Offsets: []status.PartitionOffsets{{Partition: 0, End: end}, {Partition: 1, End: end}}},
			{Name: topics.Trades, UnderReplicated: 1},
			{Name: "other.topic", UnderReplicated: 7}, // not the panel's
			{Name: topics.DeadLetter, End: 4, Records: 4, Offsets: []status.PartitionOffsets{{Partition: 0, End: 4}}},
		},
		Groups: []status.Group{{Name: "sink", Verdict: status.Stall, Trend: status.Shrinking, ConsumeRate: 15, CatchUpSeconds: 42,
			Warnings: []string{"p.prices/0: about to fall out of retention"}, Partitions: []status.PartitionState{
				// Partition 1 has no commit.
				{Topic: topics.Prices, Partition: 0, Committed: committed, End: end, Lag: end - committed, LagSeconds: 2.5},
			}}},
		Tables:      []status.Table{{Name: "price_ticks", Inserted: rows, Updated: 1}, {Name: "dead_letters", Inserted: 3}},
		DeadLetters: status.DeadLetters{Topic: 4, Stored: map[string]int64{"malformed_json": 3}},
	}
}

func TestHealthSampleFromSnapshots(t *testing.T) {
	src := &snapshots{}
	h := &healthSampler{src: src, topics: kafka.TopicNames("p."), group: "sink", metrics: newServerMetrics(nil),
		clients: func() int { return 0 }, now: time.Now}
	if s := h.sample(); len(s.Problems) == 0 || len(s.Topics) != 0 {
		t.Errorf("before any snapshot: got %+v, want a problem and no topics", s)
	}
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	src.snap = pipelineAt(at, 100, 40, 1000)
	h.sample()
	src.snap = pipelineAt(at.Add(2*time.Second), 150, 70, 1600)
	s := h.sample()
	again := h.sample() // the same snapshot: the same rates
	for _, s := range []*HealthSample{s, again} {
		var prices TopicHealth
		for _, th := range s.Topics {
			if th.Topic == "prices" {
				prices = th
			}
		}
		if prices.End != 300 || prices.ProduceRate != 50 {
			t.Errorf("prices: got end %d, produce rate %v; want 300, 50/s", prices.End, prices.ProduceRate)
		}
		if !prices.Consumed || prices.ConsumeRate != 15 || prices.LagSeconds != 2.5 {
			t.Errorf("prices: got consumed %v, consume rate %v, lag %vs; want true, 15/s, 2.5s", prices.Consumed, prices.ConsumeRate, prices.LagSeconds)
		}
		// Partition 0: 150-70; partition 1 without a position: all 150.
		if prices.Lag != 80+150 || len(prices.Partitions) != 2 || prices.Partitions[0].Committed != 70 || prices.Partitions[1].Committed != -1 {
			t.Errorf("prices: got lag %d, partitions %+v; want 230 with partition 0 at 70 and 1 without", prices.Lag, prices.Partitions)
		}
		var ticks TableRate
		for _, r := range s.Rows {
			if r.Table == "price_ticks" {
				ticks = r
			}
		}
		if ticks.Total != 1601 || ticks.Rate != 300 {
			t.Errorf("price_ticks: got total %d, rate %v; want 1601, 300/s", ticks.Total, ticks.Rate)
		}
		if p := s.Plan; p.Trend != status.Shrinking || p.ConsumeRate != 15 || p.CatchUpSeconds != 42 || len(p.Warnings) != 1 {
			t.Errorf("plan: got %+v, want the sink group's trend, rate, catch-up and warning", p)
		}
		if s.DeadLetters.Topic != 4 || s.DeadLetters.Table != 3 {
			t.Errorf("dead letters: got %+v, want topic 4, table 3", s.DeadLetters)
		}
		want := ClusterHealth{Brokers: 2, Down: []string{"2 127.0.0.1:12092"}, UnderReplicated: 3, Offline: 1, SinkVerdict: "STALL"}
		if !reflect.DeepEqual(s.Cluster, want) {
			t.Errorf("cluster: got %+v, want %+v", s.Cluster, want)
		}
	}
}
