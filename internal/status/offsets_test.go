package status_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/status"
)

// TestAlertsGroupStoredOffsets gives an alerts group a Kafka commit behind
// its alert_offsets row, which names its source by the engine's short
// name ("prices"): status shows the one partition of the prices topic, at
// the stored offset, marked stored, with the lag measured from it, and no
// row for a topic called "prices".
func TestAlertsGroupStoredOffsets(t *testing.T) {
	ctx := context.Background()
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	topics := kafka.TopicNames(tc.Prefix)
	group := "status-alerts-" + tc.Prefix
	prod := kafkatest.Client(t, brokers, kgo.DefaultProduceTopic(topics.Prices))
	for range 10 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(`{}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(kafkatest.Client(t, brokers))
	var commit kadm.Offsets
	commit.Add(kadm.Offset{Topic: topics.Prices, Partition: 0, At: 4, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, commit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	pool, _ := pgtest.Migrated(t)
	execSQL(t, pool, `INSERT INTO alert_offsets (group_id, topic, kafka_partition, next_offset) VALUES ('`+group+`', 'prices', 0, 7)`)

	sampler := status.NewSampler(kafkatest.Client(t, brokers), pool, status.Options{Prefix: tc.Prefix, Groups: []string{group}})
	defer sampler.Close()
	snap := sampler.Sample(ctx)
	if len(snap.Problems) > 0 {
		t.Fatalf("problems: %v", snap.Problems)
	}
	g, ok := snap.Group(group)
	if !ok {
		t.Fatalf("no group %s in %+v", group, snap.Groups)
	}
	if len(g.Partitions) != 1 {
		t.Fatalf("got partitions %+v, want the prices topic's one", g.Partitions)
	}
	p := g.Partitions[0]
	if p.Topic != topics.Prices || p.Partition != 0 || p.Committed != 7 || !p.Stored || p.End != 10 || p.Lag != 3 {
		t.Errorf("got %+v, want %s/0 committed 7 (stored), end 10, lag 3", p, topics.Prices)
	}
}
