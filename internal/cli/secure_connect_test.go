package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestSecureConnectRefused shows a wrong password, an expired or
// untrusted client certificate and a plaintext client on a TLS port each
// failing at once, well before the connect timeout, with an error saying
// which.
func TestSecureConnectRefused(t *testing.T) {
	s := secureCluster(t)
	dir := t.TempDir()
	caPair, err := tls.LoadX509KeyPair(s.ca, filepath.Join(filepath.Dir(s.ca), "ca.key"))
	if err != nil {
		t.Fatalf("the stack's CA: %v", err)
	}
	ca, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expired := issue(t, dir, "expired", ca, caPair.PrivateKey, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	untrusted := issue(t, dir, "untrusted", nil, nil, now.Add(-time.Hour), now.Add(24*time.Hour))

	slow := map[string]string{"TRADESTREAM_KAFKA_CONNECT_TIMEOUT": "5m", "TRADESTREAM_LOG_LEVEL": "warn"}
	wrong := s.scram(t, "tradestream-status")
	wrong["TRADESTREAM_KAFKA_SASL_PASSWORD"] = "not-the-password"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong password", with(slow, wrong), `SASL authentication failed: wrong user name or password for tradestream-status`},
		{"expired certificate", with(slow, s.cert("x"), expired), `broker rejected the client certificate \S+expired.crt: it expired on`},
		{"untrusted certificate", with(slow, s.cert("x"), untrusted), `broker rejected the client certificate \S+untrusted.crt \(issued by "CN=tradestream-status": not a CA the broker trusts\?\)`},
		{"plaintext client on the TLS port", with(slow, map[string]string{"TRADESTREAM_KAFKA_BROKERS": s.mtls}),
			`closed the connection at once: a TLS listener\? \(set --kafka-tls`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var stderr bytes.Buffer
			code := runCtx(ctx, tt.env, &stderr, "topics", "list")
			if ctx.Err() != nil {
				t.Fatalf("still connecting after 2 minutes:\n%s", stderr.String())
			}
			if code != ExitFailure || !regexp.MustCompile(tt.want).MatchString(stderr.String()) {
				t.Errorf("got exit %d\n%s\nwant %d and an error matching %s", code, stderr.String(), ExitFailure, tt.want)
			}
		})
	}
}

// issue writes a client certificate CN=tradestream-status valid from
// notBefore to notAfter, signed by ca (self-signed when ca is nil), and
// returns the variables that use it.
func issue(t *testing.T, dir, name string, ca *x509.Certificate, caKey any, notBefore, notAfter time.Time) map[string]string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tradestream-status"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"TRADESTREAM_KAFKA_TLS_CERT": certFile, "TRADESTREAM_KAFKA_TLS_KEY": keyFile}
}
