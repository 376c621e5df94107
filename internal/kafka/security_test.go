package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
)

// The security settings are checked end to end against kfake, an
// in-process Kafka-protocol broker with SASL and TLS, which the local
// Apache broker is not configured for.

func TestSASLMechanisms(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "alice", "alice-secret"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := config.Default().Kafka
			cfg.Brokers = c.ListenAddrs()
			cfg.ConnectTimeout = 3 * time.Second
			cfg.SASL = config.SASL{Mechanism: strings.ToLower(mech), Username: "alice", Password: "alice-secret"}
			cl, err := kafka.NewClient(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("right password: %v", err)
			}
			cl.Close()

			cfg.SASL.Password = "wrong"
			cfg.ConnectTimeout = time.Second
			if cl, err := kafka.NewClient(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
				cl.Close()
				t.Fatal("wrong password: connected, want an error")
			} else if strings.Contains(err.Error(), "wrong") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pair}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	cfg := config.Default().Kafka
	cfg.Brokers = c.ListenAddrs()
	cfg.ConnectTimeout = 3 * time.Second
	cfg.TLS.CAFile = caFile // implies TLS
	cl, err := kafka.NewClient(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("trusted CA: %v", err)
	}
	cl.Close()

	cfg.TLS = config.TLS{Enabled: true} // system roots do not trust the test CA
	if cl, err := kafka.NewClient(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		cl.Close()
		t.Fatal("untrusted certificate: connected, want an error")
	}

	cfg.TLS.CAFile = filepath.Join(dir, "missing.pem")
	if _, err := kafka.Options(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "tls ca") {
		t.Errorf("missing CA file: got %v, want an error naming the tls ca", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
