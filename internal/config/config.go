// Package config holds tradestream's one configuration struct, its defaults,
// its loading from flags, environment and an optional YAML file, and its
// validation.
//
// Precedence, highest first: command-line flags, TRADESTREAM_* environment
// variables, the YAML file named by --config (or TRADESTREAM_CONFIG), and the
// defaults set by Default.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// Config is the whole configuration of every tradestream service. Each
// subcommand reads the parts it needs.
type Config struct {
	// Kafka is how to reach the brokers.
	Kafka Kafka `yaml:"kafka"`
	// Database is how to reach PostgreSQL.
	Database Database `yaml:"database"`
	// Topics names and shapes the Kafka topics.
	Topics Topics `yaml:"topics"`
	// Log sets the structured logger.
	Log Log `yaml:"log"`
	// Gen configures the synthetic data generators.
	Gen Gen `yaml:"gen"`
	// Sink configures the Kafka to PostgreSQL loader.
	Sink Sink `yaml:"sink"`
	// Alerts configures the alerts engine.
	Alerts Alerts `yaml:"alerts"`
	// Dashboard configures the web dashboard.
	Dashboard Dashboard `yaml:"dashboard"`
	// Metrics configures the /metrics, /healthz and /readyz listener.
	Metrics Metrics `yaml:"metrics"`
	// Principals names each service's Kafka principal, for its ACLs.
	Principals Principals `yaml:"principals"`
	// SchemaRegistry is where the Avro, Protobuf and JSON Schema formats'
	// schemas are registered and fetched.
	SchemaRegistry SchemaRegistry `yaml:"schema_registry"`
}

// SchemaRegistry says how to reach a Confluent-compatible schema registry:
// Confluent Schema Registry, or Apicurio Registry's /apis/ccompat/v7.
type SchemaRegistry struct {
	// URL is the registry's base URL; empty: no registry (JSON only).
	URL string `yaml:"url"`
	// Username and Password are HTTP basic authentication credentials
	// (Confluent Cloud: API key and secret); the password is never printed.
	Username string `yaml:"username"`
	// Password is the basic authentication password.
	Password Secret `yaml:"password"`
	// CAFile is a PEM bundle of CAs to trust for an https URL.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify disables certificate checks. Testing only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Kafka holds the broker connection and producer settings.
type Kafka struct {
	// Brokers are the seed brokers, host:port each.
	Brokers []string `yaml:"brokers"`
	// ClientID is sent to the brokers with every request.
	ClientID string `yaml:"client_id"`
	// DialTimeout bounds one connection attempt.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// ConnectTimeout bounds how long a service waits at start-up for any
	// broker to answer before it gives up with an error naming the brokers.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Compression is the producer codec: zstd, lz4, snappy, gzip or none.
	Compression string `yaml:"compression"`
	// Linger is how long the producer waits to fill a batch.
	Linger time.Duration `yaml:"linger"`
	// BatchBytes is the largest record batch the producer builds.
	BatchBytes int `yaml:"batch_bytes"`
	// MaxBufferedRecords bounds the producer's in-memory buffer; producing
	// blocks once it is full, so memory never grows with the rate.
	MaxBufferedRecords int `yaml:"max_buffered_records"`
	// TLS enables and configures TLS to the brokers.
	TLS TLS `yaml:"tls"`
	// SASL configures SASL authentication.
	SASL SASL `yaml:"sasl"`
}

// TLS configures transport security to the brokers.
type TLS struct {
	// Enabled turns TLS on. Setting any file below also turns it on.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the client key (PEM) for CertFile.
	KeyFile string `yaml:"key_file"`
	// InsecureSkipVerify disables server certificate checks. Testing only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// ClientConfig returns the client side TLS configuration t describes: its
// CAs (else the system's), its client certificate, if any, and TLS 1.2 at
// least. what names the setting in errors ("kafka tls").
func (t TLS) ClientConfig(what string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in for tests
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s ca: %w", what, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s ca: no PEM certificate in %s", what, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s client certificate: %w", what, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// SASL configures SASL authentication to the brokers.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL.
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user.
	Username string `yaml:"username"`
	// Password is the SASL password; it is never printed.
	Password Secret `yaml:"password"`
}

// Database holds the PostgreSQL connection settings.
type Database struct {
	// URL is a PostgreSQL connection string (URL or key=value form). Any
	// password in it is never printed. It is the owner's: migrations,
	// partition upkeep, alert rule edits, and every other role's
	// connection unless that role's URL is set.
	URL ConnString `yaml:"url"`
	// LoaderURL connects the sink and the alerts engine, as the loader role
	// (see `tradestream db roles`); empty uses URL.
	LoaderURL ConnString `yaml:"loader_url"`
	// ReaderURL connects the dashboard, status, verify and the status
	// sampler, as the read-only role; empty uses URL.
	ReaderURL ConnString `yaml:"reader_url"`
	// ReadURL, when set, is where the reads that may lag behind go: the
	// dashboard's history and analytics queries and status's row counts
	// and dead letters, typically on a streaming replica (as the reader
	// role). The sink, the alerts engine's state, migrations and the
	// stored offsets always use the primary. Empty reads them as the
	// reader (ReaderURL, else URL).
	ReadURL ConnString `yaml:"read_url"`
	// MaxConns bounds the connection pool.
	MaxConns int `yaml:"max_conns"`
	// ConnectTimeout bounds how long a service waits at start-up for the
	// database to answer.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Retention is how many days of price_ticks and trades partitions to
	// keep; older daily partitions are dropped. 0 keeps everything.
	RetentionDays int `yaml:"retention_days"`
	// RollupRetentionDays is how many days of 1-minute and 1-hour rollups
	// (the candles and VWAP parts every analytic reads) to keep; `db
	// migrate`'s upkeep drops the older months and deletes the older rows
	// of the month the cutoff cuts. 0 keeps everything. Positions and the
	// symbols' latest close have no retention.
	RollupRetentionDays int `yaml:"rollup_retention_days"`
	// PartitionsAhead is how many future daily partitions to keep created.
	PartitionsAhead int `yaml:"partitions_ahead"`
}

// Role is a database role a service connects as.
type Role int

// The database roles: RoleOwner migrates and edits, RoleLoader loads,
// RoleReader reads.
const (
	RoleOwner Role = iota
	RoleLoader
	RoleReader
)

// Read returns the settings with URL set to the read URL when one is
// configured, else the reader's (see As).
func (d Database) Read() Database {
	if d.ReadURL != "" {
		d.URL = d.ReadURL
		return d
	}
	return d.As(RoleReader)
}

// As returns the settings with URL set to role's connection string: its
// own when configured, else the owner's.
func (d Database) As(role Role) Database {
	switch {
	case role == RoleLoader && d.LoaderURL != "":
		d.URL = d.LoaderURL
	case role == RoleReader && d.ReaderURL != "":
		d.URL = d.ReaderURL
	}
	return d
}

// Topics names and shapes the Kafka topics.
type Topics struct {
	// Prefix is prepended to every topic name ("tradestream." gives
	// "tradestream.trades").
	Prefix string `yaml:"prefix"`
	// Partitions is the partition count of the data topics.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor is the replication factor of every topic.
	ReplicationFactor int `yaml:"replication_factor"`
	// Retention is how long prices, trades and alerts are kept (0: the
	// broker's default). The users topic is compacted instead.
	Retention time.Duration `yaml:"retention"`
}

// Log configures the structured logger.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Metrics configures the observability listener every service runs.
type Metrics struct {
	// Addr is the listen address of /metrics, /healthz and /readyz; empty
	// disables it.
	Addr string `yaml:"addr"`
}

// Default returns the configuration with every default applied. It is the
// one place defaults live.
func Default() Config {
	return Config{
		Kafka: Kafka{
			Brokers:            []string{"127.0.0.1:9092"},
			ClientID:           "tradestream",
			DialTimeout:        5 * time.Second,
			ConnectTimeout:     15 * time.Second,
			Compression:        "zstd",
			Linger:             5 * time.Millisecond,
			BatchBytes:         1 << 20,
			MaxBufferedRecords: 50_000,
		},
		Database: Database{
			URL:             "postgres://tradestream:tradestream@127.0.0.1:5432/tradestream?sslmode=disable",
			MaxConns:        8,
			ConnectTimeout:  10 * time.Second,
			RetentionDays:   0,
			PartitionsAhead: 3,
		},
		Topics: Topics{
			Prefix:            "tradestream.",
			Partitions:        6,
			ReplicationFactor: 1,
			Retention:         7 * 24 * time.Hour,
		},
		Log:       Log{Level: "info", Format: "text"},
		Gen:       defaultGen(),
		Sink:      defaultSink(),
		Alerts:    defaultAlerts(),
		Dashboard: defaultDashboard(),
		Metrics:   Metrics{Addr: "127.0.0.1:9464"},

		Principals: defaultPrincipals(),
	}
}
