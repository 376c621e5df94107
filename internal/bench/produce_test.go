package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestProduceBenchWritesBothSidesToOneTopic runs `bench produce` small on
// the real broker with Apache's ProducerPerformance: both sides write
// their records to the one benchmark topic (counted on the broker), the
// Java tool is given every producer setting explicitly, and the
// differences left are reported.
func TestProduceBenchWritesBothSidesToOneTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and Apache Kafka's jars")
	}
	brokers := kafkatest.Brokers(t)
	jars := os.Getenv("TRADESTREAM_KAFKA_JARS")
	if jars == "" {
		kafkatest.Missing(t, "TRADESTREAM_KAFKA_JARS", "Apache Kafka's jars (scripts/stack up fetches them)")
	}
	const records, partitions = 3_000, 3
	prefix := kafkatest.Prefix(t)
	adm := kafkatest.Admin(t, brokers)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, prefix+"produce")
	})
	g := config.Default().Gen
	g.Seed, g.Users = 7, 100
	res, err := Produce(context.Background(), ProduceOptions{
		Kafka: kafkatest.Config(brokers), Topics: config.Default().Topics, Gen: g,
		Jars: jars, Log4j: filepath.Join("..", "..", "deploy", "kafka", "tools-log4j2.properties"),
		Record: records, Rounds: 1, Partitions: partitions, Prefix: prefix, KeepTopic: true,
		Log: slog.New(slog.DiscardHandler), Progress: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	infos, err := kafka.Describe(ctx, adm, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Name != prefix+"produce" || len(infos[0].Partitions) != partitions {
		t.Fatalf("topics under %s: got %+v, want the one topic %sproduce of %d partitions", prefix, infos, prefix, partitions)
	}
	ends, err := endOffsets(ctx, adm, prefix+"produce")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != 2*records {
		t.Errorf("records on the topic: got %d, want %d (both sides' runs)", total, 2*records)
	}

	want := Written{Topic: prefix + "produce", Partitions: partitions, Records: records}
	if len(res.Apache) != 1 || len(res.Tradestream) != 1 {
		t.Fatalf("got %d Apache and %d generator runs, want one each", len(res.Apache), len(res.Tradestream))
	}
	for side, w := range map[string]Written{"apache": res.Apache[0].Written, "generator": res.Tradestream[0].Written} {
		if w.PartitionsWritten < 1 || w.PartitionsWritten > partitions {
			t.Errorf("%s: got %d partitions written, want 1 to %d", side, w.PartitionsWritten, partitions)
		}
		w.PartitionsWritten = 0
		if w != want {
			t.Errorf("%s wrote: got %+v, want %+v", side, w, want)
		}
	}
	if res.Apache[0].Records != records || res.Tradestream[0].Records != records {
		t.Errorf("records reported: got Apache %d, generator %d, want %d each", res.Apache[0].Records, res.Tradestream[0].Records, records)
	}
	if res.Settings["topic"] != want.Topic || res.Settings["partitions"] != "3" {
		t.Errorf("settings: got topic %q, partitions %q; want %q, 3", res.Settings["topic"], res.Settings["partitions"], want.Topic)
	}
	if res.Ratio != res.TradestreamRate/res.ApacheRate || res.Ratio <= 0 {
		t.Errorf("ratio: got %v, want %v / %v", res.Ratio, res.TradestreamRate, res.ApacheRate)
	}
	if res.ApachePeakRSSMiB <= 0 || res.TradestreamPeakRSSMiB <= 0 {
		t.Errorf("peak RSS: got Apache %.1f MiB, generator %.1f MiB; want both measured", res.ApachePeakRSSMiB, res.TradestreamPeakRSSMiB)
	}
	for _, topic := range []string{"keys and headers", "partitioning", "record order"} {
		if !hasDifference(res.Differences, topic) {
			t.Errorf("differences: got %q, want one on %s", res.Differences, topic)
		}
	}
}

func hasDifference(ds []string, topic string) bool {
	for _, d := range ds {
		if strings.HasPrefix(d, topic+":") {
			return true
		}
	}
	return false
}
