package status_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/status"
)

// apacheRow is one partition line of ConsumerGroupCommand --describe.
type apacheRow struct {
	committed, end, lag string
	member              string
}

// describeGroup runs Apache Kafka's ConsumerGroupCommand --describe for
// group through scripts/stack and parses its table, keyed "topic/partition".
func describeGroup(t *testing.T, broker, group string) map[string]apacheRow {
	t.Helper()
	if os.Getenv("TRADESTREAM_KAFKA_JARS") == "" {
		kafkatest.Missing(t, "TRADESTREAM_KAFKA_JARS", "Apache Kafka's jars (scripts/stack up fetches them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "stack"))
	cmd := exec.CommandContext(ctx, script, "kafka-tool", "ConsumerGroupCommand",
		"--bootstrap-server", broker, "--describe", "--group", group)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ConsumerGroupCommand: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	rows := map[string]apacheRow{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
		if len(f) < 9 || f[0] != group {
			continue
		}
		rows[f[1]+"/"+f[2]] = apacheRow{committed: f[3], end: f[4], lag: f[5], member: f[8]}
	}
	if len(rows) == 0 {
		t.Fatalf("ConsumerGroupCommand printed no partition of %s:\n%s", group, out)
	}
	t.Logf("ConsumerGroupCommand --describe --group %s:\n%s", group, out)
	return rows
}

func dash(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// TestLagMatchesConsumerGroupCommand compares the lag figures of a sample
// with those of Apache Kafka's own ConsumerGroupCommand for the same
// groups, on the real broker, while nothing produces or commits: a group
// whose consumer has left (Empty) and one whose member is alive but paused
// (Stable), with partitions committed at different offsets and, for the
// live one, assigned partitions without a commit.
func TestLagMatchesConsumerGroupCommand(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 3, 1)
	topics := kafka.TopicNames(tc.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Records written ten minutes ago, one a millisecond, so lag in
	// seconds has a known answer.
	stamp := map[string]time.Time{} // "topic/partition/offset"
	written := time.Now().Add(-10 * time.Minute)
	prod := kafkatest.Client(t, brokers, kafka.ProducerOptions(kafkatest.Config(brokers))...)
	for i := range 600 {
		topic := topics.Prices
		if i%3 == 0 {
			topic = topics.Trades
		}
		rec := &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 11)), Value: []byte("{}"),
			Timestamp: written.Add(time.Duration(i) * time.Millisecond)}
		if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		stamp[fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)] = rec.Timestamp
	}

	// consume polls n records in group and commits, per partition, the
	// first half of those it got (all of them when all is set).
	consume := func(group string, n int, all bool) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topics.Prices, topics.Trades), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit(), kgo.ClientID("lag-test-"+group))
		if err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for len(recs) < n {
			fs := cl.PollRecords(ctx, n-len(recs))
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, fs.Records()...)
		}
		per := map[string][]*kgo.Record{}
		for _, r := range recs {
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			per[k] = append(per[k], r)
		}
		var commit []*kgo.Record
		for _, rs := range per {
			if all {
				commit = append(commit, rs...)
			} else {
				commit = append(commit, rs[:len(rs)/2]...)
			}
		}
		if err := cl.CommitRecords(ctx, commit...); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	gone, alive := "lag-gone-"+tc.Prefix, "lag-alive-"+tc.Prefix
	consume(gone, 250, true).Close() // leaves the group: Empty, offsets kept
	live := consume(alive, 450, false)
	defer live.Close()
	live.PauseFetchTopics(topics.Prices, topics.Trades)

	sampler := status.NewSampler(kafkatest.Client(t, brokers), nil, status.Options{
		Prefix: tc.Prefix, Groups: []string{gone, alive}, ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
	})
	before := sampler.Sample(ctx)
	for _, g := range []string{gone, alive} {
		want := describeGroup(t, brokers[0], g)
		got, ok := before.Group(g)
		if !ok {
			t.Fatalf("group %s missing from the sample: %+v", g, before.Problems)
		}
		seen := 0
		for _, p := range got.Partitions {
			key := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
			w, ok := want[key]
			if !ok {
				if p.Committed >= 0 {
					t.Errorf("%s %s: committed %d, but ConsumerGroupCommand does not list it", g, key, p.Committed)
				}
				continue
			}
			seen++
			if dash(p.Committed) != w.committed || dash(p.End) != w.end || dash(p.Lag) != w.lag {
				t.Errorf("%s %s: got committed %s end %s lag %s, ConsumerGroupCommand says %s %s %s",
					g, key, dash(p.Committed), dash(p.End), dash(p.Lag), w.committed, w.end, w.lag)
			}
			if w.member != "-" && !strings.HasPrefix(p.Member, w.member) {
				t.Errorf("%s %s: got member %q, ConsumerGroupCommand says client %q", g, key, p.Member, w.member)
			}
			if p.Lag > 0 {
				ts := stamp[fmt.Sprintf("%s/%d/%d", p.Topic, p.Partition, p.Committed)]
				wantAge := before.At.Sub(ts).Seconds()
				if math.Abs(p.LagSeconds-wantAge) > 2 {
					t.Errorf("%s %s: got lag %.1fs, want %.1fs (record at the commit written %v)", g, key, p.LagSeconds, wantAge, ts)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("%s: matched %d of ConsumerGroupCommand's %d partitions", g, seen, len(want))
		}
		t.Logf("%s: state %s, %d partitions, total lag %d, max lag %.0fs: equal to ConsumerGroupCommand",
			g, got.State, len(got.Partitions), got.Lag, got.LagSeconds)
	}
	// Nothing moved while the tool ran: the figures compared are of one moment.
	after := sampler.Sample(ctx)
	for _, g := range []string{gone, alive} {
		b, _ := before.Group(g)
		a, _ := after.Group(g)
		if fmt.Sprint(lags(b)) != fmt.Sprint(lags(a)) {
			t.Errorf("%s changed during the comparison: %v then %v", g, lags(b), lags(a))
		}
	}
}

func lags(g status.Group) []string {
	var out []string
	for _, p := range g.Partitions {
		out = append(out, fmt.Sprintf("%s/%d:%d/%d", p.Topic, p.Partition, p.Committed, p.End))
	}
	return out
}
