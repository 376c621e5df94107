package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Compressions are the producer codecs tradestream accepts.
var compressions = []string{"zstd", "lz4", "snappy", "gzip", "none"}

// SASLMechanisms are the SASL mechanisms tradestream accepts.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Validate checks the whole configuration and reports every problem at
// once, one per line.
func (c *Config) Validate() error {
	var p problems
	c.Kafka.validate(&p)
	c.Database.validate(&p)
	c.Topics.validate(&p)
	c.Log.validate(&p)
	if c.Metrics.Addr != "" {
		p.addr("metrics addr", c.Metrics.Addr)
	}
	return p.err()
}

// ValidateGen checks the generator settings.
func (g *Gen) Validate() error {
	var p problems
	g.validateShapes(&p)
	if g.Count < 0 {
		p.addf("gen count: %d is negative", g.Count)
	}
	if g.Duration < 0 {
		p.addf("gen duration: %v is negative", g.Duration)
	}
	if g.Users <= 0 {
		p.addf("gen users: %d; need at least 1 user", g.Users)
	}
	if g.TickInterval <= 0 {
		p.addf("gen tick interval: %v; must be positive", g.TickInterval)
	}
	if g.TradeSchema != "trade/1" && g.TradeSchema != "trade/2" {
		p.addf("gen trade schema: %q; want trade/1 or trade/2", g.TradeSchema)
	}
	p.format("gen format", g.Format)
	if g.SymbolsFile != "" {
		if _, err := os.Stat(g.SymbolsFile); err != nil {
			p.addf("gen symbols: %v", err)
		}
	}
	if g.Start != "" && !strings.EqualFold(strings.TrimSpace(g.Start), "open") {
		if _, err := time.Parse(time.RFC3339, g.Start); err != nil {
			p.addf("gen start: %q is neither an RFC 3339 time nor `open`", g.Start)
		}
	}
	if g.ReportInterval < 0 {
		p.addf("gen report interval: %v; must not be negative", g.ReportInterval)
	}
	g.validateMarket(&p)
	return p.err()
}

// Validate checks the sink settings.
func (s *Sink) Validate() error {
	var p problems
	if s.Group == "" {
		p.addf("sink group: empty")
	}
	if s.BatchSize <= 0 {
		p.addf("sink batch size: %d; must be positive", s.BatchSize)
	}
	if s.BatchBytes < 1<<10 {
		p.addf("sink batch bytes: %d; must be at least 1024", s.BatchBytes)
	}
	if s.BatchTimeout <= 0 {
		p.addf("sink batch timeout: %v; must be positive", s.BatchTimeout)
	}
	if s.SessionTimeout < time.Second || s.SessionTimeout > 30*time.Minute {
		p.addf("sink session timeout: %v; want 1s to 30m", s.SessionTimeout)
	}
	return p.err()
}

// Validate checks the alerts engine settings.
func (a *Alerts) Validate() error {
	var p problems
	if a.Group == "" {
		p.addf("alerts group: empty")
	}
	if a.BatchSize <= 0 {
		p.addf("alerts batch size: %d; must be positive", a.BatchSize)
	}
	if a.SessionTimeout < time.Second || a.SessionTimeout > 30*time.Minute {
		p.addf("alerts session timeout: %v; want 1s to 30m", a.SessionTimeout)
	}
	p.format("alerts format", a.Format)
	return p.err()
}

// Validate checks the dashboard settings.
func (d *Dashboard) Validate() error {
	var p problems
	p.addr("dashboard addr", d.Addr)
	if t := d.Token.Reveal(); t != "" && len(t) < 16 {
		p.addf("dashboard token: shorter than 16 characters")
	}
	if (d.TLSCert == "") != (d.TLSKey == "") {
		p.addf("dashboard tls: give both --tls-cert and --tls-key, or neither")
	} else if _, err := d.TLSConfig(); err != nil {
		p.addf("%v", err)
	}
	return p.err()
}

// Scheme is the dashboard's URL scheme: https with a certificate, else
// http.
func (d *Dashboard) Scheme() string {
	if d.TLSCert != "" {
		return "https"
	}
	return "http"
}

// TLSConfig returns the dashboard's server TLS settings, or nil when no
// certificate is configured. A file that cannot be read or a key that
// does not match the certificate is an error.
func (d *Dashboard) TLSConfig() (*tls.Config, error) {
	if d.TLSCert == "" && d.TLSKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(d.TLSCert, d.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("dashboard tls: certificate %s and key %s: %w", d.TLSCert, d.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func (k *Kafka) validate(p *problems) {
	if len(k.Brokers) == 0 {
		p.addf("kafka brokers: none given")
	}
	for _, b := range k.Brokers {
		p.addr("kafka broker", b)
	}
	if k.ClientID == "" {
		p.addf("kafka client id: empty")
	}
	if k.DialTimeout <= 0 {
		p.addf("kafka dial timeout: %v; must be positive", k.DialTimeout)
	}
	if k.ConnectTimeout <= 0 {
		p.addf("kafka connect timeout: %v; must be positive", k.ConnectTimeout)
	}
	if !oneOf(k.Compression, compressions) {
		p.addf("kafka compression: unknown codec %q; want one of %s", k.Compression, strings.Join(compressions, ", "))
	}
	if k.Linger < 0 {
		p.addf("kafka linger: %v is negative", k.Linger)
	}
	if k.BatchBytes < 1024 || k.BatchBytes > 64<<20 {
		p.addf("kafka batch bytes: %d; want 1024 to 67108864", k.BatchBytes)
	}
	if k.MaxBufferedRecords <= 0 {
		p.addf("kafka max buffered records: %d; must be positive", k.MaxBufferedRecords)
	}
	for _, f := range []struct{ name, path string }{
		{"kafka tls ca", k.TLS.CAFile}, {"kafka tls cert", k.TLS.CertFile}, {"kafka tls key", k.TLS.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			p.addf("%s: %v", f.name, err)
		}
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		p.addf("kafka tls: a client certificate needs both cert and key files")
	}
	if m := k.SASL.Mechanism; m != "" {
		if !oneOf(strings.ToUpper(m), saslMechanisms) {
			p.addf("kafka sasl mechanism: unknown %q; want one of %s", m, strings.Join(saslMechanisms, ", "))
		}
		if k.SASL.Username == "" || k.SASL.Password == "" {
			p.addf("kafka sasl: mechanism %s needs a user and a password", m)
		}
	}
}

func (d *Database) validate(p *problems) {
	if d.URL == "" {
		p.addf("database url: empty")
	} else if _, err := pgxpool.ParseConfig(d.URL.Reveal()); err != nil {
		// pgx's message may quote the string; say what is wrong without it.
		p.addf("database url: malformed connection string %s", Redact(d.URL.Reveal()))
	}
	for _, u := range []struct {
		name string
		url  ConnString
	}{{"database loader url", d.LoaderURL}, {"database reader url", d.ReaderURL}, {"database read url", d.ReadURL}} {
		if u.url == "" {
			continue
		}
		if _, err := pgxpool.ParseConfig(u.url.Reveal()); err != nil {
			p.addf("%s: malformed connection string %s", u.name, u.url)
		}
	}
	if d.MaxConns < 1 {
		p.addf("database max conns: %d; need at least 1", d.MaxConns)
	}
	if d.ConnectTimeout <= 0 {
		p.addf("database connect timeout: %v; must be positive", d.ConnectTimeout)
	}
	if d.RetentionDays < 0 {
		p.addf("database retention days: %d is negative", d.RetentionDays)
	}
	if d.RollupRetentionDays < 0 {
		p.addf("database rollup retention days: %d is negative", d.RollupRetentionDays)
	}
	if d.RollupRetentionDays > 0 && (d.RetentionDays == 0 || d.RollupRetentionDays < d.RetentionDays) {
		p.addf("database rollup retention days: %d is shorter than the raw rows' retention (%d days, 0: all); the analytics would lose minutes the raw rows still hold", d.RollupRetentionDays, d.RetentionDays)
	}
	if d.PartitionsAhead < 1 || d.PartitionsAhead > 366 {
		p.addf("database partitions ahead: %d; want 1 to 366", d.PartitionsAhead)
	}
}

func (t *Topics) validate(p *problems) {
	for _, r := range t.Prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			p.addf("topic prefix: %q has %q; use letters, digits, '.', '_' or '-'", t.Prefix, r)
			break
		}
	}
	if len(t.Prefix) > 200 {
		p.addf("topic prefix: longer than 200 characters")
	}
	if t.Partitions < 1 || t.Partitions > 10000 {
		p.addf("topic partitions: %d; want 1 to 10000", t.Partitions)
	}
	if t.ReplicationFactor < 1 || t.ReplicationFactor > 32767 {
		p.addf("topic replication factor: %d; want at least 1", t.ReplicationFactor)
	}
	if t.Retention < 0 {
		p.addf("topic retention: %v is negative", t.Retention)
	}
}

func (l *Log) validate(p *problems) {
	if !oneOf(strings.ToLower(l.Level), []string{"debug", "info", "warn", "error"}) {
		p.addf("log level: unknown %q; want debug, info, warn or error", l.Level)
	}
	if l.Format != "text" && l.Format != "json" {
		p.addf("log format: unknown %q; want text or json", l.Format)
	}
}

// problems collects configuration problems to report together.
type problems []error

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Errorf(format, args...))
}

func (p *problems) addr(what, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf("%s: %q is not host:port", what, addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.addf("%s: %q has a bad port", what, addr)
	}
}

func (p problems) err() error { return errors.Join(p...) }

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// valueFormats are the record value formats (format.Names, which this
// package cannot import: format's tests import config).
var valueFormats = []string{"json", "avro", "protobuf", "jsonschema"}

// format adds a problem when f names no record value format.
func (p *problems) format(what, f string) {
	if !slices.Contains(valueFormats, strings.ToLower(f)) {
		p.addf("%s: %q; want json, avro, protobuf or jsonschema", what, f)
	}
}
