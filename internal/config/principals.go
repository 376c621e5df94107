package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// Principals names the Kafka principal each service connects as, for the
// ACLs `tradestream acls apply` writes. A principal is TYPE:NAME as the
// brokers see it (User:tradestream-sink: the SASL user name, or the
// certificate CN under a CN mapping rule).
type Principals struct {
	// Gen produces users, prices and trades.
	Gen string `yaml:"gen"`
	// Sink consumes the data topics in its group and writes dead letters.
	Sink string `yaml:"sink"`
	// Alerts consumes prices and trades in its group and writes alerts in
	// transactions.
	Alerts string `yaml:"alerts"`
	// Dashboard reads the topics and describes the groups, with no group.
	Dashboard string `yaml:"dashboard"`
	// Status reads and describes, as `status` and `verify` do.
	Status string `yaml:"status"`
}

func defaultPrincipals() Principals {
	return Principals{
		Gen:       "User:tradestream-gen",
		Sink:      "User:tradestream-sink",
		Alerts:    "User:tradestream-alerts",
		Dashboard: "User:tradestream-dash",
		Status:    "User:tradestream-status",
	}
}

// BindACLs registers the flags of `tradestream acls`: one principal per
// service (TRADESTREAM_ACLS_<SERVICE>_PRINCIPAL) and the two consumer
// groups the ACLs name (--sink-group, --alerts-group: the variables of the
// services themselves, TRADESTREAM_SINK_GROUP and TRADESTREAM_ALERTS_GROUP).
func (c *Config) BindACLs(fs *pflag.FlagSet) {
	b := binder{fs: fs, env: "ACLS_"}
	p := &c.Principals
	b.string(&p.Gen, "gen-principal", "Kafka principal of the generator")
	b.string(&p.Sink, "sink-principal", "Kafka principal of the sink")
	b.string(&p.Alerts, "alerts-principal", "Kafka principal of the alerts engine")
	b.string(&p.Dashboard, "dashboard-principal", "Kafka principal of the dashboard")
	b.string(&p.Status, "status-principal", "Kafka principal of status and verify")
	binder{fs: fs, env: "SINK_", prefix: "sink-"}.string(&c.Sink.Group, "group", "consumer group of the sink")
	binder{fs: fs, env: "ALERTS_", prefix: "alerts-"}.string(&c.Alerts.Group, "group", "consumer group of the alerts engine (its transactional ids start with GROUP/)")
}

// Validate checks that every principal is TYPE:NAME.
func (p Principals) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"gen", p.Gen}, {"sink", p.Sink}, {"alerts", p.Alerts}, {"dashboard", p.Dashboard}, {"status", p.Status},
	} {
		typ, name, ok := strings.Cut(f.v, ":")
		if !ok || typ == "" || name == "" {
			errs = append(errs, fmt.Errorf("principals.%s: %q is not TYPE:NAME (e.g. User:tradestream-%s)", f.name, f.v, f.name))
		}
	}
	return errors.Join(errs...)
}
