package dashboard

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/tlstest"
)

// TestRunServesHTTPSWithTheConfiguredCertificate runs the dashboard with
// a certificate: a client trusting it gets the API over HTTPS, a plain
// HTTP request gets no answer from the API.
func TestRunServesHTTPSWithTheConfiguredCertificate(t *testing.T) {
	certFile, keyFile, pool := tlstest.SelfSigned(t, "dashboard")
	d := config.Dashboard{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}
	tc, err := d.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := pgtest.Migrated(t)
	brokers := kafkatest.Brokers(t)
	topics := kafka.TopicNames(kafkatest.Prefix(t))
	live := kafkatest.Client(t, brokers, LiveOptions(topics)...)
	s := New(live, db, Options{Topics: topics, SinkGroup: "g", TLS: tc})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	addr := ln.Addr().String()

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/api/config")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("HTTPS /api/config: got %d (TLS %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	plain := &http.Client{Timeout: 30 * time.Second}
	if resp, err := plain.Get("http://" + addr + "/api/config"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP /api/config: got 200, want no API over plain HTTP")
		}
	}
	untrusting := &http.Client{Timeout: 30 * time.Second}
	if _, err := untrusting.Get("https://" + addr + "/api/config"); err == nil {
		t.Errorf("HTTPS without trusting the certificate: no error, want a verification failure")
	}
}
