package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestSASLAgainstBroker connects through the Apache broker's SASL listener
// (TRADESTREAM_TEST_KAFKA_SASL) with each mechanism tradestream supports,
// produces and consumes a record, and checks that a wrong password is
// refused at once with an error naming the brokers.
func TestSASLAgainstBroker(t *testing.T) {
	plain := kafkatest.Brokers(t)
	saslAddr := os.Getenv("TRADESTREAM_TEST_KAFKA_SASL")
	if saslAddr == "" {
		kafkatest.Missing(t, "TRADESTREAM_TEST_KAFKA_SASL", "the broker's SASL listener")
	}
	tc := kafkatest.Topics(t, plain, 1, 1)
	topic := kafka.TopicNames(tc.Prefix).Trades
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// SCRAM credentials live in the cluster's metadata: create them for
	// this test through the admin API on the plaintext listener.
	user := strings.TrimSuffix(tc.Prefix, ".")
	adm := kafkatest.Admin(t, plain)
	upserts := []kadm.UpsertSCRAM{
		{User: user + "-256", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "scram-256-secret"},
		{User: user + "-512", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "scram-512-secret"},
	}
	res, err := adm.AlterUserSCRAMs(ctx, nil, upserts)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("create SCRAM users: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{
			{User: user + "-256", Mechanism: kadm.ScramSha256}, {User: user + "-512", Mechanism: kadm.ScramSha512},
		}, nil)
	})

	tests := []struct{ mechanism, user, password string }{
		// The PLAIN user is fixed in deploy/kafka/single.properties.in.
		{"PLAIN", "tradestream", "tradestream-secret"},
		{"SCRAM-SHA-256", user + "-256", "scram-256-secret"},
		{"SCRAM-SHA-512", user + "-512", "scram-512-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			cfg := kafkatest.Config([]string{saslAddr})
			cfg.SASL = config.SASL{Mechanism: tt.mechanism, Username: tt.user, Password: config.Secret(tt.password)}
			var cl *kgo.Client
			// A new SCRAM credential reaches the broker's metadata
			// shortly after it is created.
			deadline := time.Now().Add(10 * time.Second)
			for {
				cl, err = kafka.NewClient(ctx, cfg, slog.New(slog.DiscardHandler),
					append(kafka.ProducerOptions(cfg), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("connect with %s: %v", tt.mechanism, err)
			}
			defer cl.Close()
			value := fmt.Sprintf("over %s", tt.mechanism)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
				t.Fatalf("produce with %s: %v", tt.mechanism, err)
			}
			found := false
			for !found {
				fs := cl.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					t.Fatalf("consume with %s: %v", tt.mechanism, err)
				}
				fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == value })
			}

			bad := cfg
			bad.SASL.Password = "not-the-password"
			bad.ConnectTimeout = 10 * time.Second
			start := time.Now()
			if cl, err := kafka.NewClient(ctx, bad, slog.New(slog.DiscardHandler)); err == nil {
				cl.Close()
				t.Fatal("wrong password: connected, want an error")
			} else if !strings.Contains(err.Error(), saslAddr) || strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("wrong password: %q, want the broker named and the password not", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("wrong password took %v to fail; a refused login is not worth retrying", d)
			}
		})
	}
	t.Logf("produced and consumed through the Apache broker's SASL listener %s with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", saslAddr)
}
