// Package kafkatest gives tests their own topics on the real Kafka broker
// named by TRADESTREAM_TEST_KAFKA (a 3-broker cluster by
// TRADESTREAM_TEST_KAFKA_CLUSTER). Without it a test skips, unless
// TRADESTREAM_TEST_REQUIRE_SERVICES=1, which `make test` sets: then a
// missing broker fails the test.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
)

// Env names the variables this package reads.
const (
	EnvKafka   = "TRADESTREAM_TEST_KAFKA"
	EnvCluster = "TRADESTREAM_TEST_KAFKA_CLUSTER"
	EnvRequire = "TRADESTREAM_TEST_REQUIRE_SERVICES"
	// EnvRegistry is the schema registry's Confluent-compatible URL
	// (scripts/stack starts Apicurio Registry).
	EnvRegistry = "TRADESTREAM_TEST_SCHEMA_REGISTRY"
)

// Registry returns the test schema registry's URL.
func Registry(t testing.TB) string {
	t.Helper()
	v := os.Getenv(EnvRegistry)
	if v == "" {
		Missing(t, EnvRegistry, "a schema registry")
	}
	return v
}

// Missing skips the test because a service is not configured, or fails it
// when TRADESTREAM_TEST_REQUIRE_SERVICES=1.
func Missing(t testing.TB, env, what string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s is required (%s=1) but %s is not set; run `scripts/stack up` and source .stack/env", what, EnvRequire, env)
	}
	t.Skipf("%s not set: skipping test that needs %s", env, what)
}

// Brokers returns the single-broker test cluster's addresses.
func Brokers(t testing.TB) []string {
	t.Helper()
	return brokers(t, EnvKafka, "a Kafka broker")
}

// ClusterBrokers returns the 3-broker test cluster's addresses.
func ClusterBrokers(t testing.TB) []string {
	t.Helper()
	return brokers(t, EnvCluster, "a 3-broker Kafka cluster")
}

func brokers(t testing.TB, env, what string) []string {
	v := os.Getenv(env)
	if v == "" {
		Missing(t, env, what)
	}
	return strings.Split(v, ",")
}

// Config returns Kafka settings pointing at brokers, tuned for tests.
func Config(brokers []string) config.Kafka {
	c := config.Default().Kafka
	c.Brokers = brokers
	c.ClientID = "tradestream-test"
	c.Linger = time.Millisecond
	return c
}

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// Prefix returns a topic prefix unique to this test run, e.g.
// "t.TestSinkKill.3f9a12.", so tests never see each other's records.
func Prefix(t testing.TB) string {
	name := unsafe.ReplaceAllString(t.Name(), "_")
	if len(name) > 60 {
		name = name[:60]
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "t." + name + "." + hex.EncodeToString(b) + "."
}

// Topics creates tradestream's topics under a fresh prefix on brokers and
// deletes them when the test ends. It returns the topic settings used.
func Topics(t testing.TB, brokers []string, partitions, replication int) config.Topics {
	t.Helper()
	tc := config.Default().Topics
	tc.Prefix = Prefix(t)
	tc.Partitions = partitions
	tc.ReplicationFactor = replication
	cl := Client(t, brokers)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc)); err != nil {
		t.Fatalf("create test topics: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, kafka.TopicNames(tc.Prefix).All()...); err != nil {
			t.Logf("delete test topics: %v", err)
		}
	})
	return tc
}

// Recreate deletes topics (of the set tc creates) and creates them again,
// empty, under new ids.
func Recreate(ctx context.Context, t testing.TB, brokers []string, tc config.Topics, topics ...string) {
	t.Helper()
	if _, err := Admin(t, brokers).DeleteTopics(ctx, topics...); err != nil {
		t.Fatalf("delete topics %v: %v", topics, err)
	}
	cl := Client(t, brokers)
	var created []string
	for len(created) < len(topics) {
		c, err := kafka.EnsureTopics(ctx, cl, kafka.Specs(tc))
		created = append(created, c...)
		if ctx.Err() != nil {
			t.Fatalf("create topics %v again: %v (created %v)", topics, err, created)
		}
		if len(created) < len(topics) {
			time.Sleep(200 * time.Millisecond) // still being deleted
		}
	}
}

// Client returns a client on brokers, closed when the test ends.
func Client(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kafka.NewClient(ctx, Config(brokers), slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client on brokers, closed when the test ends.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(Client(t, brokers))
}

// ReadToEnd reads topic on brokers from its start to the end it has now,
// read committed up to the last stable offsets when committed is set, else
// read uncommitted up to the high watermarks, and returns its records but
// the transaction markers. Every partition ends with a record or a marker,
// so reading stops at the ends; 15 idle polls of a second only guard
// against a partition that never reaches its end.
func ReadToEnd(t testing.TB, brokers []string, topic string, committed bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := Admin(t, brokers)
	list, iso := adm.ListEndOffsets, kgo.ReadUncommitted()
	if committed {
		list, iso = adm.ListCommittedOffsets, kgo.ReadCommitted()
	}
	ends, err := list(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset - 1
		}
	})
	cl := Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())
	var recs []*kgo.Record
	for idle := 0; len(remaining) > 0 && idle < 15; {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if fs.NumRecords() == 0 {
			idle++
			continue
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset >= end {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				recs = append(recs, r)
			}
		})
	}
	if len(remaining) > 0 {
		t.Errorf("%s: partitions %v not read to their ends", topic, remaining)
	}
	return recs
}

// AlertIDs reads topic to its end (ReadToEnd) and returns the ids of the
// alerts it holds, sorted.
func AlertIDs(t testing.TB, brokers []string, topic string, committed bool) []string {
	t.Helper()
	var ids []string
	for _, r := range ReadToEnd(t, brokers, topic, committed) {
		a, err := event.DecodeAlert(r.Value)
		if err != nil {
			t.Errorf("alert record %d/%d: %v", r.Partition, r.Offset, err)
			continue
		}
		ids = append(ids, a.ID)
	}
	sort.Strings(ids)
	return ids
}
