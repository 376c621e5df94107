package gen_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestGeneratorStopsOnARecreatedTopic deletes the prices topic under a
// running generator and creates it again: franz-go's producer keeps the
// old topic id and every record to the new topic is refused, so the
// generator stops with an error that says what happened (not a bare
// UNKNOWN_TOPIC_ID) instead of running on while dropping the records.
func TestGeneratorStopsOnARecreatedTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka")
	}
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	topics := kafka.TopicNames(tc.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := genCommand(ctx, t, brokers, tc.Prefix, "all", "--rate", "500", "--duration", "10m",
		"--users", "100", "--seed", "7", "--metrics-addr=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for endOffsets(t, brokers, topics) < 500 {
		select {
		case err := <-exited:
			t.Fatalf("gen exited before the topic was recreated: %v\n%s", err, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	kafkatest.Recreate(ctx, t, brokers, tc, topics.Prices)
	recreated := time.Now()
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("gen exited 0 after its topic was recreated:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "the topic was deleted and created again under the generator: start it again") {
			t.Fatalf("gen's error does not say the topic was recreated:\n%s", stderr.String())
		}
		t.Logf("gen stopped %v after the topic was recreated", time.Since(recreated).Round(10*time.Millisecond))
	case <-ctx.Done():
		t.Fatalf("gen still running 2 minutes on:\n%s", stderr.String())
	}
}
