package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

func TestProduceConsumeRoundTrip(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 3, 1)
	topic := kafka.TopicNames(topics.Prefix).Trades
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const n = 2000
	prod := kafkatest.Client(t, brokers, append(kafka.ProducerOptions(kafkatest.Config(brokers)), kgo.DefaultProduceTopic(topic))...)
	for i := range n {
		rec := &kgo.Record{
			Key:     []byte(strconv.Itoa(i % 17)),
			Value:   fmt.Appendf(nil, `{"n":%d}`, i),
			Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("test/1")}},
		}
		prod.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	cons := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := make(map[int]bool, n)
	perKey := map[string]int{}
	for len(seen) < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll after %d records: %v", len(seen), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v int
			if _, err := fmt.Sscanf(string(r.Value), `{"n":%d}`, &v); err != nil {
				t.Fatalf("bad value %q", r.Value)
			}
			if seen[v] {
				t.Errorf("record %d consumed twice", v)
			}
			seen[v] = true
			// Per-key order holds: values of one key arrive increasing.
			if last, ok := perKey[string(r.Key)]; ok && v < last {
				t.Errorf("key %s: got %d after %d", r.Key, v, last)
			}
			perKey[string(r.Key)] = v
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != "test/1" {
				t.Errorf("got headers %v, want schema=test/1", r.Headers)
			}
		})
	}
	t.Logf("produced and consumed %d records through the Kafka broker at %s (topic %s)", n, strings.Join(brokers, ","), topic)
}

func TestTopicSpecsOnBroker(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topics := kafkatest.Topics(t, brokers, 4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := kafkatest.Client(t, brokers)
	adm := kadm.NewClient(cl)

	again, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(topics))
	if err != nil || len(again) != 0 {
		t.Errorf("second EnsureTopics: created %v, err %v; want nothing, no error", again, err)
	}
	infos, err := kafka.Describe(ctx, adm, topics.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	names := kafka.TopicNames(topics.Prefix)
	if len(infos) != len(names.All()) {
		t.Fatalf("got %d topics, want %d", len(infos), len(names.All()))
	}
	for _, ti := range infos {
		if len(ti.Partitions) != 4 {
			t.Errorf("%s: got %d partitions, want 4", ti.Name, len(ti.Partitions))
		}
		wantPolicy := "delete"
		if ti.Name == names.Users {
			wantPolicy = "compact"
		}
		if got := ti.Configs["cleanup.policy"]; got != wantPolicy {
			t.Errorf("%s: got cleanup.policy %q, want %q", ti.Name, got, wantPolicy)
		}
		if ti.Name == names.Trades && ti.Configs["retention.ms"] != strconv.FormatInt(topics.Retention.Milliseconds(), 10) {
			t.Errorf("%s: got retention.ms %q, want %d", ti.Name, ti.Configs["retention.ms"], topics.Retention.Milliseconds())
		}
	}
}

func TestReplicatedTopicsOnCluster(t *testing.T) {
	brokers := kafkatest.ClusterBrokers(t)
	topics := kafkatest.Topics(t, brokers, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	infos, err := kafka.Describe(ctx, kafkatest.Admin(t, brokers), topics.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 5 {
		t.Fatalf("got %d topics, want 5", len(infos))
	}
	for _, ti := range infos {
		if ti.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s: got min.insync.replicas %q, want 2", ti.Name, ti.Configs["min.insync.replicas"])
		}
		for _, p := range ti.Partitions {
			if len(p.Replicas) != 3 || len(p.ISR) != 3 {
				t.Errorf("%s/%d: got replicas %v ISR %v, want 3 and 3", ti.Name, p.Partition, p.Replicas, p.ISR)
			}
		}
	}
	t.Logf("%d topics with 3 replicas and a full ISR on the 3-broker cluster %s", len(infos), strings.Join(brokers, ","))
}

// TestKcatAgrees checks the topics against kcat, a Kafka client nobody here
// wrote: the same topics with the same partition counts.
func TestKcatAgrees(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	kcat := kafkatest.Kcat(t)
	topics := kafkatest.Topics(t, brokers, 5, 1)
	out, err := exec.Command(kcat, "-L", "-b", brokers[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`topic "([^"]+)" with (\d+) partitions`)
	got := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil && strings.HasPrefix(m[1], topics.Prefix) {
			got[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	for _, name := range kafka.TopicNames(topics.Prefix).All() {
		if got[name] != 5 {
			t.Errorf("kcat: topic %s has %d partitions, want 5", name, got[name])
		}
	}
}

func TestUnreachableBrokerFailsFast(t *testing.T) {
	cfg := kafkatest.Config([]string{"127.0.0.1:1"})
	cfg.ConnectTimeout = 1500 * time.Millisecond
	start := time.Now()
	_, err := kafka.NewClient(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("got a client, want an error")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("got %q, want it to name the broker", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v; want it bounded by the connect timeout", d)
	}
}

// TestActiveControllerOnCluster asks the 3-node KRaft cluster
// for the active controller, through a client seeded with that node alone:
// all name the same voter.
func TestActiveControllerOnCluster(t *testing.T) {
	brokers := kafkatest.ClusterBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[int32]bool{}
	for _, b := range brokers {
		id, err := kafka.ActiveController(ctx, kafkatest.Client(t, []string{b}))
		if err != nil {
			t.Fatalf("via %s: %v", b, err)
		}
		if id < 1 || id > 3 {
			t.Errorf("via %s: got active controller %d, want one of the voters 1..3", b, id)
		}
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Errorf("got active controllers %v from the three nodes, want one", seen)
	}
}
