package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tradestream/tradestream/internal/tlstest"
)

func TestDashboardTLSIsValidatedAtStart(t *testing.T) {
	cert, key, _ := tlstest.SelfSigned(t, "dash")
	_, otherKey, _ := tlstest.SelfSigned(t, "other")
	tests := []struct {
		name, cert, key, wantErr string
	}{
		{"none", "", "", ""},
		{"certificate and its key", cert, key, ""},
		{"certificate without key", cert, "", "give both --tls-cert and --tls-key"},
		{"key without certificate", "", key, "give both --tls-cert and --tls-key"},
		{"missing certificate file", filepath.Join(t.TempDir(), "nope.pem"), key, "no such file"},
		{"key of another certificate", cert, otherKey, "private key does not match public key"},
		{"key file given as certificate", key, key, "dashboard tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := defaultDashboard()
			d.TLSCert, d.TLSKey = tt.cert, tt.key
			err := d.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want an error with %q", err, tt.wantErr)
			}
			cfg, err := d.TLSConfig()
			if tt.wantErr == "" && (err != nil || (cfg != nil) != (tt.cert != "")) {
				t.Errorf("TLSConfig = %v, %v; want a config exactly when a certificate is set", cfg, err)
			}
		})
	}
}

func TestDashboardTLSFromEnvironment(t *testing.T) {
	c := Default()
	fs := fuzzFlags(&c)
	env := map[string]string{"TRADESTREAM_DASHBOARD_TLS_CERT": "/c.pem", "TRADESTREAM_DASHBOARD_TLS_KEY": "/k.pem"}
	if err := Load(&c, fs, "", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Dashboard.TLSCert != "/c.pem" || c.Dashboard.TLSKey != "/k.pem" {
		t.Errorf("got cert %q key %q, want /c.pem /k.pem", c.Dashboard.TLSCert, c.Dashboard.TLSKey)
	}
	if c.Dashboard.Scheme() != "https" {
		t.Errorf("scheme %q, want https", c.Dashboard.Scheme())
	}
}
