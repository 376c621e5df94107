package config

import (
	"time"

	"github.com/tradestream/tradestream/internal/rate"
)

// Gen configures the synthetic data generators (`tradestream gen`, and the
// generators `tradestream up` runs).
type Gen struct {
	// Rate is the target events per second as a shape over time (see
	// package rate: 5000, ramp:1000..20000/5m, ...); 0 sends as fast as
	// possible. Unset means DefaultRate, or unpaced for a dry run: read it
	// through Pace.
	Rate rate.Shape `yaml:"rate"`
	// Count stops after this many events; 0 means no limit.
	Count int64 `yaml:"count"`
	// Duration stops after this long; 0 means no limit.
	Duration time.Duration `yaml:"duration"`
	// Seed makes the stream reproducible; 0 picks a random seed.
	Seed uint64 `yaml:"seed"`
	// Users is how many synthetic users trade.
	Users int `yaml:"users"`
	// SymbolsFile is a CSV of symbol,sector,price,volatility; empty uses the
	// built-in universe.
	SymbolsFile string `yaml:"symbols_file"`
	// TickInterval is the simulated time between two price rounds.
	TickInterval time.Duration `yaml:"tick_interval"`
	// TradeSchema is the trade event version produced: trade/1 or trade/2.
	TradeSchema string `yaml:"trade_schema"`
	// Format is the record values' format: json (tradestream's own, with
	// a schema header), or avro, protobuf or jsonschema in the Confluent
	// wire format with their schemas in the schema registry.
	Format string `yaml:"format"`
	// Start is the simulated clock's start (RFC 3339, or "open": now in New
	// York's trading hours, else the latest open); empty means now, or a
	// fixed date when a seed is given so that seeded runs are identical.
	Start string `yaml:"start"`
	// DryRun writes the records to standard output instead of Kafka.
	DryRun bool `yaml:"dry_run"`
	// ReportInterval is how often the one-line rate report is printed; 0
	// is the command's own pace (ReportEvery).
	ReportInterval time.Duration `yaml:"report_interval"`

	// Market time and scenarios (see gen_market.go).

	// Scenario is a built-in scenario name or a YAML file run on simulated
	// time; empty or "none" runs the plain market.
	Scenario string `yaml:"scenario"`
	// Speed is how fast simulated time runs against the wall clock: a
	// factor ("1", "60") or "max" (as fast as events are made).
	Speed string `yaml:"speed"`

	// Traffic shapes and deliberate faults (see genshape.go).

	// RateBytes, when set, paces by value bytes per second instead of
	// events (a shape of sizes: 5MB, ramp:1MB..10MB/5m); it excludes Rate.
	RateBytes rate.Shape `yaml:"rate_bytes"`
	// Inject sends deliberate faults at the given rates per event.
	Inject Inject `yaml:"inject"`
	// InjectManifest is where the JSON manifest of what was injected is
	// written at the end of a run with Inject; empty writes
	// tradestream-inject-RUNID.json in the working directory.
	InjectManifest string `yaml:"inject_manifest"`
	// rateErr, rateBytesErr and injectErr keep a bad --rate, --rate-bytes
	// or --inject for Validate to report with the other problems.
	rateErr, rateBytesErr, injectErr error
}

// Sink configures the Kafka to PostgreSQL loader.
type Sink struct {
	// Group is the Kafka consumer group of the sink instances.
	Group string `yaml:"group"`
	// BatchSize is the most records loaded in one transaction.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes is the most record bytes (keys and values) loaded in one
	// transaction: with BatchSize it bounds the sink's memory whatever the
	// record size.
	BatchBytes int `yaml:"batch_bytes"`
	// BatchTimeout flushes a partial batch after this long.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// UntilCaughtUp exits once every partition is consumed up to the end
	// offsets seen at start.
	UntilCaughtUp bool `yaml:"until_caught_up"`
	// SessionTimeout is the consumer group session timeout: how soon a dead
	// instance's partitions move to the others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Transforms are declarative steps of the sink's transform stage, run
	// in order on every decoded record before the built-in ones (YAML
	// only; see Transform). They are compiled and checked once at start.
	Transforms []Transform `yaml:"transforms"`
}

// Transform is one declarative step of the sink's transform stage, in the
// spirit of Kafka Connect's single message transforms. Expressions are CEL
// (cel.dev) over the variables record (the event's fields by their JSON
// names), topic, key and schema. A step does exactly one of: Drop (filter
// the record out: neither loaded nor dead-lettered), Reject (send it to
// the dead letters with Reason), Set (set or derive fields) or Unset
// (clear optional fields). The sink package compiles and checks them.
type Transform struct {
	// Name names the step in errors and dead letters.
	Name string `yaml:"name"`
	// Topics are the short topic names the step applies to (users,
	// prices, trades, alerts); empty means every topic.
	Topics []string `yaml:"topics"`
	// When, if set, is a bool expression: the step applies only to
	// records for which it is true.
	When string `yaml:"when"`
	// Drop is a bool expression: records for which it is true are dropped.
	Drop string `yaml:"drop"`
	// Reject is a bool expression: records for which it is true become
	// dead letters with Reason and the message of Message.
	Reject string `yaml:"reject"`
	// Reason is the dead-letter reason of Reject ([a-z0-9_]+).
	Reason string `yaml:"reason"`
	// Message, if set, is a string expression giving a rejected record's
	// error text; by default it names the step.
	Message string `yaml:"message"`
	// Set maps field names to expressions giving their new values, all
	// evaluated on the record as it was before the step.
	Set map[string]string `yaml:"set"`
	// Unset lists fields to clear.
	Unset []string `yaml:"unset"`
}

// Alerts configures the alerts engine (`tradestream alerts run`, and the
// engine `up` runs).
type Alerts struct {
	// Group is the engine's consumer group; its offsets and rule state are
	// kept in PostgreSQL under this name.
	Group string `yaml:"group"`
	// Instance names this engine in the group, stable across restarts;
	// empty means the host name.
	Instance string `yaml:"instance"`
	// BatchSize is the most records evaluated per checkpoint.
	BatchSize int `yaml:"batch_size"`
	// FromStart evaluates partitions the group has never read from their
	// beginning instead of their end.
	FromStart bool `yaml:"from_start"`
	// SessionTimeout is the consumer group session timeout.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Format is the alerts' value format: json (tradestream's own, with
	// the schema header), or avro, protobuf or jsonschema in the schema
	// registry's wire format.
	Format string `yaml:"format"`
}

// Dashboard configures the web dashboard.
type Dashboard struct {
	// Addr is the dashboard's listen address.
	Addr string `yaml:"addr"`
	// Token authorises the write API (alert rules); empty disables writes.
	// It is never printed.
	Token Secret `yaml:"token"`
	// TLSCert and TLSKey are a PEM certificate (chain) and its key; set,
	// the dashboard serves HTTPS only.
	TLSCert string `yaml:"tls_cert"`
	// TLSKey is the PEM key of TLSCert.
	TLSKey string `yaml:"tls_key"`
}

func defaultGen() Gen {
	return Gen{
		RateBytes:    rate.BytesUnset(),
		Users:        1000,
		TickInterval: 250 * time.Millisecond,
		TradeSchema:  "trade/2",
		Format:       "json",
		Speed:        "1",
	}
}

func defaultSink() Sink {
	return Sink{
		Group:          "tradestream-sink",
		BatchSize:      20000,
		BatchBytes:     16 << 20,
		BatchTimeout:   200 * time.Millisecond,
		SessionTimeout: 45 * time.Second,
	}
}

func defaultAlerts() Alerts {
	return Alerts{Group: "tradestream-alerts", BatchSize: 1000, SessionTimeout: 45 * time.Second, Format: "json"}
}

func defaultDashboard() Dashboard {
	return Dashboard{Addr: "127.0.0.1:8080"}
}

// The rate report's paces when --report-interval is not set: the
// generator's own line, and `up`'s, which the dashboard complements.
const (
	GenReportEvery = 5 * time.Second
	UpReportEvery  = 30 * time.Second
)

// ReportEvery is the rate report's interval: the configured one, or def.
func (g *Gen) ReportEvery(def time.Duration) time.Duration {
	if g.ReportInterval > 0 {
		return g.ReportInterval
	}
	return def
}
