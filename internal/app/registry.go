package app

import (
	"context"

	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"strings"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/format"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
)

// Registry returns the schema registry client of the configuration, nil
// when no registry URL is set.
func (e *Env) Registry() (*format.Registry, error) {
	r := e.Config.SchemaRegistry
	if strings.TrimSpace(r.URL) == "" {
		return nil, nil
	}
	cfg := format.RegistryConfig{URL: r.URL, Username: r.Username, Password: r.Password.Reveal()}
	if r.CAFile != "" || r.InsecureSkipVerify {
		tc, err := config.TLS{CAFile: r.CAFile, InsecureSkipVerify: r.InsecureSkipVerify}.ClientConfig("schema registry tls")
		if err != nil {
			return nil, Invalid(err)
		}
		cfg.TLS = tc
	}
	reg, err := format.NewRegistry(cfg)
	if err != nil {
		return nil, Invalid(err)
	}
	return reg, nil
}

// Decoder returns the record decoder every consumer uses: JSON by its
// schema header, the registry formats through the configured registry
// (without one, their records are dead-lettered as of an unknown schema).
// The services of one process share it, and its schema cache.
func (e *Env) Decoder() (*format.Decoder, error) {
	if e.dec != nil {
		return e.dec, nil
	}
	reg, err := e.Registry()
	if err != nil {
		return nil, err
	}
	e.dec = format.NewDecoder(reg, e.Log)
	return e.dec, nil
}

// decoderMetrics registers, once per process, the shared decoder's figures
// in reg: the registry requests it retried, and the schemas it holds.
func (e *Env) decoderMetrics(reg prometheus.Registerer) {
	if reg == nil || e.decRegistered || e.dec == nil {
		return
	}
	e.decRegistered = true
	dec := e.dec
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tradestream_schema_registry_retries_total",
			Help: "Schema registry requests that failed (refused, timed out, 5xx, 401/403) and were retried; records wait meanwhile, none is dead-lettered for it.",
		}, func() float64 { return float64(dec.Waits.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tradestream_schema_registry_schemas",
			Help: "Schema ids fetched from the schema registry and cached, known or not.",
		}, func() float64 { return float64(dec.Cached()) }),
	)
}

// alertsFormat returns, for the alerts engine's registry format, the
// encoder of the alert/1 schema registered under the alerts topic's
// subject; nil for JSON.
func (e *Env) alertsFormat(ctx context.Context) (*format.Encoder, error) {
	f, err := format.Parse(e.Config.Alerts.Format)
	if err != nil {
		return nil, Invalid(err)
	}
	if !f.Registered() {
		return nil, nil
	}
	reg, err := e.Registry()
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, Invalid(fmt.Errorf("alerts format %s needs a schema registry: set --schema-registry-url (TRADESTREAM_SCHEMA_REGISTRY_URL), e.g. http://127.0.0.1:8081/apis/ccompat/v7", f))
	}
	return format.NewEncoder(ctx, reg, f, []format.Registration{{Version: event.SchemaAlertV1, Topic: kafka.TopicNames(e.Config.Topics.Prefix).Alerts}})
}

// alertsFormatNote is ", format F" for the start-up line of an alerts
// engine writing a registry format; "" for JSON.
func (e *Env) alertsFormatNote() string {
	if f, err := format.Parse(e.Config.Alerts.Format); err == nil && f.Registered() {
		return ", format " + f.String()
	}
	return ""
}

// genFormat checks the generator's --format against the rest of its
// settings and, for a registry format, registers the schemas of kinds and
// returns the encoder; nil for JSON.
func (e *Env) genFormat(ctx context.Context, kinds market.Kind) (*format.Encoder, error) {
	g := e.Config.Gen
	f, err := format.Parse(g.Format)
	if err != nil {
		return nil, Invalid(err)
	}
	if !f.Registered() {
		return nil, nil
	}
	if g.DryRun {
		return nil, Invalid(fmt.Errorf("--dry-run writes tradestream's JSON; --format %s writes to Kafka through the schema registry (leave out --dry-run, or use --format json)", f))
	}
	if g.Inject.Any() {
		return nil, Invalid(fmt.Errorf("--inject sends faults of tradestream's JSON; use it with --format json (the consumers' handling of broken %s records is tested by the format package)", f))
	}
	reg, err := e.Registry()
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, Invalid(fmt.Errorf("--format %s needs a schema registry: set --schema-registry-url (TRADESTREAM_SCHEMA_REGISTRY_URL), e.g. http://127.0.0.1:8081/apis/ccompat/v7", f))
	}
	enc, err := format.NewEncoder(ctx, reg, f, gen.RegistrationsFor(kinds, kafka.TopicNames(e.Config.Topics.Prefix), g.TradeSchema))
	if err != nil {
		return nil, err
	}
	return enc, nil
}
