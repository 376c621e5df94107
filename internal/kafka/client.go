// Package kafka builds franz-go clients from tradestream's configuration
// (TLS, SASL, producer tuning) and manages tradestream's topics through the
// admin API. It is the only package that translates config into kgo options.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/tradestream/tradestream/internal/config"
)

// MetadataMaxAge is how often every client refreshes its metadata, and so
// how soon it sees partitions added to a topic.
const MetadataMaxAge = 10 * time.Second

// Options translates the connection part of cfg (brokers, client id, TLS,
// SASL, timeouts) into franz-go options, with logging through log.
func Options(cfg config.Kafka, log *slog.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(cfg.DialTimeout),
		kgo.WithLogger(quietLogger{kslog.New(log.With("component", "kafka")), log}),
		// Retries are bounded in time rather than count so that a broker
		// restart is ridden out but a dead cluster surfaces as an error.
		kgo.RetryTimeout(30 * time.Second),
		// Partitions added online (`topics add-partitions`) reach the
		// producers and consumer groups at their next metadata refresh:
		// every 10 s rather than franz-go's 5 min, a small request.
		kgo.MetadataMaxAge(MetadataMaxAge),
	}
	tc, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m, err := mechanism(cfg.SASL); err != nil {
		return nil, err
	} else if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// ProducerOptions are the producer settings tradestream uses everywhere:
// idempotent with acks=all (franz-go's default), the configured codec,
// linger and batch size, and a bounded buffer so memory never grows with
// the produce rate.
func ProducerOptions(cfg config.Kafka) []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec(cfg.Compression)),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(int32(cfg.BatchBytes)),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "zstd":
		return kgo.ZstdCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "snappy":
		return kgo.SnappyCompression()
	case "gzip":
		return kgo.GzipCompression()
	default:
		return kgo.NoCompression()
	}
}

// NewClient builds a client from cfg plus extra options and waits, up to
// cfg.ConnectTimeout, until a broker answers; an unreachable cluster is an
// error naming the brokers rather than a hang.
func NewClient(ctx context.Context, cfg config.Kafka, log *slog.Logger, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := Options(cfg, log)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if err := Ping(ctx, cl, cfg); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// Ping waits until a broker answers a metadata request, for at most
// cfg.ConnectTimeout.
func Ping(ctx context.Context, cl *kgo.Client, cfg config.Kafka) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var last error
	for {
		err := cl.Ping(ctx)
		if err == nil {
			return nil
		}
		if why := refusal(err, cfg); why != "" {
			return fmt.Errorf("kafka: brokers at %s refused the connection: %s: %w", strings.Join(cfg.Brokers, ","), why, err)
		}
		last = err
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("kafka: no broker at %s answered within %v (is Kafka running? `scripts/stack up` starts one): %w",
					strings.Join(cfg.Brokers, ","), cfg.ConnectTimeout, last)
			}
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// refusal says why a connection error will not pass by retrying, or ""
// when it may: rejected credentials, a broker certificate that does not
// verify, a client certificate the broker rejects, or plaintext spoken to
// a TLS listener.
func refusal(err error, cfg config.Kafka) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Sprintf("SASL authentication failed: wrong user name or password for %s (%s)", cfg.SASL.Username, cfg.SASL.Mechanism)
	case errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Sprintf("the listener does not take SASL %s", cfg.SASL.Mechanism)
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid):
		return "the broker's certificate does not verify (--kafka-tls-ca)"
	case strings.Contains(msg, "remote error: tls: "):
		// The broker's alert does not say why (Java sends the same
		// alert for an expired and an untrusted certificate): look.
		return "the broker rejected the client certificate " + certProblem(cfg.TLS)
	case strings.Contains(msg, "plaintext connection speaking to a tls endpoint"):
		return "the broker closed the connection at once: a TLS listener? (set --kafka-tls or --kafka-tls-ca)"
	}
	return ""
}

// certProblem guesses why a broker rejected the client certificate in cfg.
func certProblem(cfg config.TLS) string {
	if cfg.CertFile == "" {
		return "(none given: the listener requires one, --kafka-tls-cert and --kafka-tls-key)"
	}
	cert, err := readCert(cfg.CertFile)
	if err != nil {
		return cfg.CertFile
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return fmt.Sprintf("%s: it expired on %s", cfg.CertFile, cert.NotAfter.UTC().Format(time.RFC3339))
	} else if now.Before(cert.NotBefore) {
		return fmt.Sprintf("%s: it is not valid before %s", cfg.CertFile, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s (issued by %q: not a CA the broker trusts?)", cfg.CertFile, cert.Issuer.String())
}

func tlsConfig(cfg config.TLS) (*tls.Config, error) {
	if !cfg.Enabled && cfg.CAFile == "" && cfg.CertFile == "" && cfg.KeyFile == "" {
		return nil, nil
	}
	return cfg.ClientConfig("kafka tls")
}

func mechanism(cfg config.SASL) (sasl.Mechanism, error) {
	user, pass := cfg.Username, cfg.Password.Reveal()
	switch strings.ToUpper(cfg.Mechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	default:
		return nil, fmt.Errorf("kafka sasl: unknown mechanism %q", cfg.Mechanism)
	}
}

// quietLogger passes franz-go's errors through but its warnings only at
// debug level: the client retries on its own, and a broker being briefly
// unreachable (start-up, failover) is reported by tradestream's own errors
// when it matters rather than as a warning every 250 ms.
type quietLogger struct {
	kgo.Logger
	log *slog.Logger
}

func (q quietLogger) Level() kgo.LogLevel {
	if q.log.Enabled(context.Background(), slog.LevelDebug) {
		return q.Logger.Level()
	}
	return kgo.LogLevelError
}
