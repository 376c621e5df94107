package kafka_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestTLSAgainstBroker connects through the Apache broker's TLS listener
// (TRADESTREAM_TEST_KAFKA_TLS, certificate in TRADESTREAM_TEST_KAFKA_TLS_CA),
// produces and consumes a record, and checks that a client which does not
// trust the certificate is refused at once.
func TestTLSAgainstBroker(t *testing.T) {
	plain := kafkatest.Brokers(t)
	addr, ca := os.Getenv("TRADESTREAM_TEST_KAFKA_TLS"), os.Getenv("TRADESTREAM_TEST_KAFKA_TLS_CA")
	if addr == "" || ca == "" {
		kafkatest.Missing(t, "TRADESTREAM_TEST_KAFKA_TLS", "the broker's TLS listener")
	}
	tc := kafkatest.Topics(t, plain, 1, 1)
	topic := kafka.TopicNames(tc.Prefix).Prices
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg := kafkatest.Config([]string{addr})
	cfg.TLS = config.TLS{CAFile: ca} // a CA file implies TLS
	cl, err := kafka.NewClient(ctx, cfg, slog.New(slog.DiscardHandler),
		append(kafka.ProducerOptions(cfg), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatalf("connect over TLS: %v", err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("over TLS")}).FirstErr(); err != nil {
		t.Fatalf("produce over TLS: %v", err)
	}
	for found := false; !found; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume over TLS: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == "over TLS" })
	}

	untrusted := cfg
	untrusted.TLS = config.TLS{Enabled: true} // the system roots do not know the local CA
	untrusted.ConnectTimeout = 10 * time.Second
	start := time.Now()
	if cl, err := kafka.NewClient(ctx, untrusted, slog.New(slog.DiscardHandler)); err == nil {
		cl.Close()
		t.Fatal("untrusted certificate: connected, want an error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("untrusted certificate took %v to fail; it is not worth retrying", d)
	}
	t.Logf("produced and consumed through the Apache broker's TLS listener %s", addr)
}
