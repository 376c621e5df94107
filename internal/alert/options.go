package alert

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/kafka"
)

// DefaultGroup is the engine's consumer group unless configured otherwise.
const DefaultGroup = "tradestream-alerts"

// Options configure an Engine. The zero value of every field but Topics is
// replaced by its default.
type Options struct {
	// Topics names the topics: prices and trades are read, alerts written.
	Topics kafka.Topics
	// Group is the consumer group (DefaultGroup). Its offsets and rule
	// state live in PostgreSQL under this name; they are also committed
	// to Kafka, after PostgreSQL, so that lag tools see the group.
	Group string
	// Instance names this engine process within the group (default: the
	// host name). The Kafka transactional id is Group + "/" + Instance: a
	// restarted instance fences its previous incarnation by reusing it.
	Instance string
	// BatchSize is the most records evaluated per checkpoint (1000).
	BatchSize int
	// RulesRefresh is how often rules are reloaded from PostgreSQL (2s).
	RulesRefresh time.Duration
	// StoredCheck is how often the engine compares the offsets stored in
	// alert_offsets with those it stored last (5s), whether or not records
	// arrive: when a failover or a restore moved them back, it resumes from
	// them at once rather than at the next record of each partition.
	StoredCheck time.Duration
	// SessionTimeout is how long the group waits for a member that stopped
	// heartbeating (killed) before giving its partitions to another; zero
	// keeps franz-go's default (45s).
	SessionTimeout time.Duration
	// FromStart starts partitions that have no stored position at their
	// beginning instead of their end.
	FromStart bool
	// Registerer receives the engine's metrics and its Kafka clients'
	// metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives the engine's logs; nil discards them.
	Log *slog.Logger
	// Decoder reads the schema registry's formats; nil reads JSON only
	// (registry-framed records are then skipped as undecodable).
	Decoder *format.Decoder
	// Encoder, when set, writes the alerts in its registry format, framed
	// with the id of the alert/1 schema it registered under the alerts
	// topic's subject; nil writes tradestream's JSON with the alert/1
	// schema header. It needs Decoder, which reads the engine's own alerts
	// back when it checks which reached the topic.
	Encoder *format.Encoder
	// Now is the clock for produced_at headers and latency; nil is time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
		if o.Instance == "" {
			o.Instance = "engine"
		}
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.RulesRefresh <= 0 {
		o.RulesRefresh = 2 * time.Second
	}
	if o.StoredCheck <= 0 {
		o.StoredCheck = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Topics.Prices == "" || o.Topics.Trades == "" || o.Topics.Alerts == "" {
		errs = append(errs, errors.New("alerts: topics: prices, trades and alerts must be named"))
	}
	if o.BatchSize < 0 || o.BatchSize > 100_000 {
		errs = append(errs, fmt.Errorf("alerts batch size: %d; want 1 to 100000", o.BatchSize))
	}
	if o.SessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("alerts session timeout: %v is negative", o.SessionTimeout))
	}
	if o.RulesRefresh < 0 {
		errs = append(errs, fmt.Errorf("alerts rules refresh: %v is negative", o.RulesRefresh))
	}
	if o.Encoder != nil && o.Encoder.ID(event.SchemaAlertV1) == 0 {
		errs = append(errs, fmt.Errorf("alerts format: the %s encoder has no %s schema registered", o.Encoder.Format(), event.SchemaAlertV1))
	}
	if o.Encoder != nil && o.Decoder == nil {
		errs = append(errs, errors.New("alerts format: writing alerts in a registry format needs a decoder to read them back"))
	}
	return errors.Join(errs...)
}
