package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// envAnnotation is the pflag annotation holding a flag's environment name;
// emptyAnnotation marks a flag whose variable set to the empty string is a
// value (metrics off), not unset.
const (
	envAnnotation   = "tradestream_env"
	emptyAnnotation = "tradestream_env_empty"
)

// EnvPrefix starts every environment variable tradestream reads.
const EnvPrefix = "TRADESTREAM_"

// BindGlobal registers the flags every command shares: Kafka, database,
// topics, logging and metrics. Their environment variables are
// TRADESTREAM_ followed by the flag name in upper case with dashes as
// underscores (--kafka-brokers: TRADESTREAM_KAFKA_BROKERS).
func (c *Config) BindGlobal(fs *pflag.FlagSet) {
	b := binder{fs: fs}
	k := &c.Kafka
	b.strings(&k.Brokers, "kafka-brokers", "Kafka seed brokers, host:port, comma separated")
	b.string(&k.ClientID, "kafka-client-id", "client id sent to the brokers")
	b.duration(&k.DialTimeout, "kafka-dial-timeout", "timeout of one broker connection attempt")
	b.duration(&k.ConnectTimeout, "kafka-connect-timeout", "how long to wait at start-up for any broker to answer")
	b.string(&k.Compression, "kafka-compression", "producer compression: zstd, lz4, snappy, gzip or none")
	b.duration(&k.Linger, "kafka-linger", "how long the producer waits to fill a batch")
	b.int(&k.BatchBytes, "kafka-batch-bytes", "largest record batch the producer builds, in bytes")
	b.int(&k.MaxBufferedRecords, "kafka-max-buffered", "records the producer buffers before producing blocks")
	b.bool(&k.TLS.Enabled, "kafka-tls", "connect to the brokers with TLS")
	b.string(&k.TLS.CAFile, "kafka-tls-ca", "PEM file of CAs to trust (implies --kafka-tls)")
	b.string(&k.TLS.CertFile, "kafka-tls-cert", "PEM client certificate (implies --kafka-tls)")
	b.string(&k.TLS.KeyFile, "kafka-tls-key", "PEM client key (implies --kafka-tls)")
	b.bool(&k.TLS.InsecureSkipVerify, "kafka-tls-insecure", "skip broker certificate verification (testing only)")
	b.string(&k.SASL.Mechanism, "kafka-sasl-mechanism", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	b.string(&k.SASL.Username, "kafka-sasl-user", "SASL user name")
	b.secret(&k.SASL.Password, "kafka-sasl-password", "SASL password (prefer TRADESTREAM_KAFKA_SASL_PASSWORD)")

	r := &c.SchemaRegistry
	b.string(&r.URL, "schema-registry-url", "Confluent-compatible schema registry URL, e.g. http://127.0.0.1:8081/apis/ccompat/v7 (needed by --format avro, protobuf and jsonschema; consumers read those formats through it)")
	b.string(&r.Username, "schema-registry-user", "schema registry basic-auth user (an API key)")
	b.secret(&r.Password, "schema-registry-password", "schema registry basic-auth password (prefer TRADESTREAM_SCHEMA_REGISTRY_PASSWORD)")
	b.string(&r.CAFile, "schema-registry-tls-ca", "PEM file of CAs to trust for an https registry URL")
	b.bool(&r.InsecureSkipVerify, "schema-registry-tls-insecure", "skip the registry's certificate verification (testing only)")

	d := &c.Database
	b.connString(&d.URL, "database-url", "PostgreSQL connection string of the owner role (migrations; every service unless its role's URL is set)")
	b.connString(&d.LoaderURL, "database-loader-url", "connection string of the loader role, for the sink and the alerts engine (default: --database-url)")
	b.connString(&d.ReaderURL, "database-reader-url", "connection string of the read-only role, for dash, status and verify (default: --database-url)")
	b.connString(&d.ReadURL, "database-read-url", "connection string of a replica the dashboard's history and analytics and status's row counts read from (default: the reader's URL); "+
		"the sink, alerts and migrations always use the primary")
	b.int(&d.MaxConns, "database-max-conns", "largest number of pooled database connections")
	b.duration(&d.ConnectTimeout, "database-connect-timeout", "how long to wait at start-up for the database to answer")
	b.int(&d.RetentionDays, "database-retention-days", "days of price and trade partitions kept (0 keeps all)")
	b.int(&d.RollupRetentionDays, "database-rollup-retention-days", "days of 1-minute and 1-hour rollups kept, dropped by the month (0 keeps all; typically far more than --database-retention-days)")
	b.int(&d.PartitionsAhead, "database-partitions-ahead", "future daily partitions kept created")

	t := &c.Topics
	b.string(&t.Prefix, "topic-prefix", "prefix of every topic name")
	b.int(&t.Partitions, "topic-partitions", "partitions of each data topic")
	b.int(&t.ReplicationFactor, "topic-replication-factor", "replication factor of each topic")
	b.duration(&t.Retention, "topic-retention", "retention of prices, trades and alerts (0: broker default)")

	b.string(&c.Log.Level, "log-level", "log level: debug, info, warn or error")
	b.string(&c.Log.Format, "log-format", "log format: text or json")
	b.string(&c.Metrics.Addr, "metrics-addr", "listen address of /metrics, /healthz and /readyz, used as given (empty, also as an empty variable: off; "+
		"unset, the standalone gen, sink, alerts run and dash listen on ports 9465 to 9468)")
	b.emptyMeansOff("metrics-addr")
}

// Bind registers the generator flags; their environment variables are
// TRADESTREAM_GEN_<FLAG>.
func (g *Gen) Bind(fs *pflag.FlagSet) {
	b := binder{fs: fs, env: "GEN_"}
	b.value(&deferredFlag{v: &g.Rate, err: &g.rateErr}, "rate", "events per second (0: as fast as possible), or a shape: ramp:FROM..TO/DURATION, "+
		"steps:R1,...,RN/STEP, burst:BASE,PEAK/LENGTH/PERIOD, daily:MEAN/PERIOD; default 200, unpaced for a --dry-run")
	b.int64(&g.Count, "count", "stop after this many events (0: no limit)")
	b.duration(&g.Duration, "duration", "stop after this long (0: no limit)")
	b.uint64(&g.Seed, "seed", "random seed for a reproducible stream (0: random)")
	b.int(&g.Users, "users", "number of synthetic users")
	b.string(&g.SymbolsFile, "symbols", "CSV file of symbol,sector,price,volatility (default: built-in universe)")
	b.duration(&g.TickInterval, "tick-interval", "simulated time between price rounds")
	b.string(&g.TradeSchema, "trade-schema", "trade event version to produce: trade/1 or trade/2")
	b.string(&g.Format, "format", "record value format: json, or avro, protobuf or jsonschema through the schema registry (--schema-registry-url)")
	b.string(&g.Start, "start", "simulated start time, RFC 3339, or open: now in New York's trading hours, else the latest open (default: now, or a fixed date with --seed)")
	b.bool(&g.DryRun, "dry-run", "write the records to standard output, one JSON value per line, instead of Kafka")
	b.duration(&g.ReportInterval, "report-interval", "interval of the rate report (default 5s for gen, 30s for up, whose line also tells the sink's and alerts' lag and the dead letters)")
	g.bindMarket(b)
	g.bindShapes(b)
}

// Bind registers the sink flags; their environment variables are
// TRADESTREAM_SINK_<FLAG>.
func (s *Sink) Bind(fs *pflag.FlagSet) {
	b := binder{fs: fs, env: "SINK_"}
	b.string(&s.Group, "group", "Kafka consumer group of the sink")
	b.int(&s.BatchSize, "batch-size", "most records loaded in one transaction")
	b.int(&s.BatchBytes, "batch-bytes", "most record bytes (keys and values) loaded in one transaction")
	b.duration(&s.BatchTimeout, "batch-timeout", "flush a partial batch after this long")
	b.bool(&s.UntilCaughtUp, "until-caught-up", "exit 0 once every partition reaches the end offsets seen at start")
	b.duration(&s.SessionTimeout, "session-timeout", "consumer group session timeout: how soon a dead instance's partitions move to the others")
}

// Bind registers the alerts engine flags; their environment variables are
// TRADESTREAM_ALERTS_<FLAG>.
func (a *Alerts) Bind(fs *pflag.FlagSet) { a.bind(binder{fs: fs, env: "ALERTS_"}) }

// BindPrefixed registers the alerts engine flags as --alerts-<flag>, for
// commands that run several services (`up`, where --group and --batch-size
// are the sink's); the variables are the same.
func (a *Alerts) BindPrefixed(fs *pflag.FlagSet) {
	a.bind(binder{fs: fs, env: "ALERTS_", prefix: "alerts-"})
}

func (a *Alerts) bind(b binder) {
	b.string(&a.Group, "group", "consumer group of the engine; its offsets and rule state are kept in PostgreSQL under this name")
	b.string(&a.Instance, "instance", "name of this engine instance in the group, stable across restarts and one per engine: it makes the transactional id GROUP/INSTANCE (default: the host name)")
	b.int(&a.BatchSize, "batch-size", "most records evaluated per checkpoint")
	b.bool(&a.FromStart, "from-start", "evaluate partitions the group has never read from their beginning instead of their end")
	b.duration(&a.SessionTimeout, "session-timeout", "consumer group session timeout: how soon a dead instance's partitions move to the others")
	b.string(&a.Format, "format", "value format of the alerts: json, or avro, protobuf or jsonschema through the schema registry (--schema-registry-url)")
}

// BindGroup registers only the sink's --group (TRADESTREAM_SINK_GROUP),
// for commands that follow the sink group without running it (`dash`).
func (s *Sink) BindGroup(fs *pflag.FlagSet) {
	b := binder{fs: fs, env: "SINK_"}
	b.string(&s.Group, "group", "Kafka consumer group of the sink, whose lag the health panel shows")
}

// Bind registers the dashboard flags; their environment variables are
// TRADESTREAM_DASHBOARD_<FLAG>.
func (d *Dashboard) Bind(fs *pflag.FlagSet) { d.bind(binder{fs: fs, env: "DASHBOARD_"}) }

// BindPrefixed registers the dashboard flags as --dashboard-<flag>, for
// commands that run several services (`up`); the variables are the same.
func (d *Dashboard) BindPrefixed(fs *pflag.FlagSet) {
	d.bind(binder{fs: fs, env: "DASHBOARD_", prefix: "dashboard-"})
}

func (d *Dashboard) bind(b binder) {
	b.string(&d.Addr, "addr", "dashboard listen address")
	b.secret(&d.Token, "token", "token authorising the write API (prefer TRADESTREAM_DASHBOARD_TOKEN)")
	b.string(&d.TLSCert, "tls-cert", "PEM certificate (chain) to serve the dashboard over HTTPS; needs --tls-key")
	b.string(&d.TLSKey, "tls-key", "PEM key of --tls-cert")
}

// EnvName returns the environment variable bound to a flag, or "".
func EnvName(f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// RawValue returns f's value as it was given, a secret's included (a
// list's items joined by commas, as its environment variable takes them):
// for handing a setting on to a child process through its environment.
func RawValue(f *pflag.Flag) string {
	switch val := f.Value.(type) {
	case pflag.SliceValue:
		return strings.Join(val.GetSlice(), ",")
	case interface{ raw() string }:
		return val.raw()
	default:
		return val.String()
	}
}

// binder registers flags bound to config fields and records each one's
// environment variable.
type binder struct {
	fs     *pflag.FlagSet
	env    string // inserted after TRADESTREAM_
	prefix string // prepended to flag names (not to variables)
}

func (b binder) annotate(name string) {
	env := EnvPrefix + b.env + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	_ = b.fs.SetAnnotation(b.prefix+name, envAnnotation, []string{env})
	f := b.fs.Lookup(b.prefix + name)
	f.Usage = fmt.Sprintf("%s [$%s]", f.Usage, env)
}

// emptyMeansOff makes the flag's variable, set but empty, set the flag to
// the empty string.
func (b binder) emptyMeansOff(name string) {
	_ = b.fs.SetAnnotation(b.prefix+name, emptyAnnotation, []string{"true"})
}

func (b binder) string(p *string, name, usage string) {
	b.fs.StringVar(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) strings(p *[]string, name, usage string) {
	b.fs.StringSliceVar(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) int(p *int, name, usage string) {
	b.fs.IntVar(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) int64(p *int64, name, usage string) {
	b.fs.Int64Var(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) uint64(p *uint64, name, usage string) {
	b.fs.Uint64Var(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) bool(p *bool, name, usage string) {
	b.fs.BoolVar(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) duration(p *time.Duration, name, usage string) {
	b.fs.DurationVar(p, b.prefix+name, *p, usage)
	b.annotate(name)
}

func (b binder) value(v pflag.Value, name, usage string) {
	b.fs.Var(v, b.prefix+name, usage)
	b.annotate(name)
}

func (b binder) secret(p *Secret, name, usage string) {
	b.fs.Var(maskedValue[Secret]{p}, b.prefix+name, usage)
	b.annotate(name)
}

func (b binder) connString(p *ConnString, name, usage string) {
	b.fs.Var(maskedValue[ConnString]{p}, b.prefix+name, usage)
	b.annotate(name)
}

// maskedValue is the pflag.Value of a Secret or a ConnString: its String
// (and so the --help default) is the value's own redacted form.
type maskedValue[T interface {
	~string
	String() string
}] struct{ p *T }

func (m maskedValue[T]) Set(v string) error { *m.p = T(v); return nil }
func (m maskedValue[T]) Type() string       { return "string" }

func (m maskedValue[T]) String() string {
	if m.p == nil { // pflag's zero value, to tell a default
		return ""
	}
	return (*m.p).String()
}

// raw returns the unredacted value, for re-applying a flag after loading.
func (m maskedValue[T]) raw() string { return string(*m.p) }
