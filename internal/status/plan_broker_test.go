package status_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/status"
)

// TestLagToPlanWith drives a group's committed offset on a one-partition
// topic with a one-hour retention whose records are 55 minutes old, and
// checks the sampler's trend, catch-up estimate and retention warnings
// against the real broker; the sampler's clock advances 10 s a sample.
func TestLagToPlanWith(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	topic := kafka.TopicNames(tc.Prefix).Prices
	group := tc.Prefix + "planner"
	cl := kafkatest.Client(t, brokers)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hour := "3600000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &hour}}, topic); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-55 * time.Minute)
	produce := func(n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Value: []byte("x"), Timestamp: old}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(at int64) {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Now()
	s := status.NewSampler(cl, nil, status.Options{
		Prefix: tc.Prefix, Groups: []string{group}, Window: 10,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Now:        func() time.Time { return clock },
	})
	t.Cleanup(s.Close)
	sample := func() status.Group {
		t.Helper()
		snap := s.Sample(ctx)
		clock = clock.Add(10 * time.Second)
		g, ok := snap.Group(group)
		if !ok {
			t.Fatalf("group %s not in the snapshot (problems %v)", group, snap.Problems)
		}
		return g
	}

	produce(10)
	commit(2)
	if g := sample(); g.Trend != "" || g.Lag != 8 || g.CatchUpSeconds != -1 {
		t.Errorf("first sample: got trend %q, lag %d, catch-up %v; want no trend yet, lag 8, -1", g.Trend, g.Lag, g.CatchUpSeconds)
	}
	produce(5)
	if g := sample(); g.Trend != status.Growing || g.Lag != 13 || g.CatchUpSeconds != -1 || g.ProduceRate != 0.5 {
		t.Errorf("lag growing: got trend %q, lag %d, catch-up %v, producing %v/s; want growing, 13, -1, 0.5/s",
			g.Trend, g.Lag, g.CatchUpSeconds, g.ProduceRate)
	}
	commit(12)
	g := sample()
	// Over 20 s the lag went from 8 to 3: it drains 0.25 records/s.
	if g.Trend != status.Shrinking || g.Lag != 3 || g.CatchUpSeconds != 12 || g.ConsumeRate != 0.5 {
		t.Errorf("lag shrinking: got trend %q, lag %d, catch-up %v s, consuming %v/s; want shrinking, 3, 12 s, 0.5/s",
			g.Trend, g.Lag, g.CatchUpSeconds, g.ConsumeRate)
	}
	p := g.Partitions[0]
	if p.Retention != status.RetentionAtRisk || p.RetentionLeftSeconds <= 0 || p.RetentionLeftSeconds > 6*60 ||
		len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "it will be deleted unread") {
		t.Errorf("55-minute-old record under a 1 h retention: got %q with %v s left, warnings %q; want at_risk, about 5 minutes",
			p.Retention, p.RetentionLeftSeconds, g.Warnings)
	}

	// Records below offset 14 are deleted: the group's commit at 12 is
	// behind the log start.
	if _, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 14, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	g = sample()
	if p := g.Partitions[0]; p.Retention != status.RetentionLost || p.Start != 14 ||
		len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "2 records were deleted before the group read them") {
		t.Errorf("commit below the log start: got %q (start %d), warnings %q; want lost, 2 records", p.Retention, p.Start, g.Warnings)
	}
	var out strings.Builder
	if err := status.Render(&out, s.Sample(ctx)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trend shrinking", "WARNING " + topic + "/0: committed offset 12 is below the log start offset 14", "LOST"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
}
