package kafka

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tradestream/tradestream/internal/config"
)

// DeniedError is a request the brokers refused for want of an ACL, naming
// who was refused what.
type DeniedError struct {
	// Principal is the client's principal (User:NAME), or "" if unknown.
	Principal string
	// Operation is the ACL operation refused: READ, WRITE, DESCRIBE, CREATE.
	Operation string
	// Resource is the resource type and name: "topic tradestream.prices".
	Resource string
	// Err is the broker's error (kerr.TopicAuthorizationFailed...).
	Err error
}

func (e *DeniedError) Error() string {
	if e.Principal == "" {
		return fmt.Sprintf("%s%s %s: an ACL is missing (see tradestream acls apply): %v", unnamed, e.Operation, e.Resource, e.Err)
	}
	return fmt.Sprintf("principal %s may not %s %s: an ACL is missing (see tradestream acls apply): %v", e.Principal, e.Operation, e.Resource, e.Err)
}

// unnamed starts the message of a DeniedError without a principal.
const unnamed = "this client's principal may not "

func (e *DeniedError) Unwrap() error { return e.Err }

// IsDenied reports whether err is a missing-ACL refusal from the brokers:
// no retry fixes it.
func IsDenied(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// Denied returns err as a *DeniedError for operation on resource ("topic
// NAME", "group NAME") when it is a missing-ACL refusal, and err unchanged
// otherwise (nil included). principal may be "" where it is not known:
// Message names it.
func Denied(err error, principal, operation, resource string) error {
	var d *DeniedError
	if err == nil || !IsDenied(err) || errors.As(err, &d) {
		return err
	}
	return &DeniedError{Principal: principal, Operation: operation, Resource: resource, Err: err}
}

// Message returns err's text with the principal of cfg in place of the
// placeholder of every *DeniedError made without one (the errors wrapping
// it formatted their text when they were made, so the text is what changes).
func Message(err error, cfg config.Kafka) string {
	msg := err.Error()
	var d *DeniedError
	if !errors.As(err, &d) || !strings.Contains(msg, unnamed) {
		return msg
	}
	name := Principal(cfg)
	if name == "" {
		return msg
	}
	return strings.ReplaceAll(msg, unnamed, "principal "+name+" may not ")
}

// Principal returns the principal the brokers see for cfg: User:<SASL
// user>, or User:<CN of the client certificate> (the CN mapping rule of
// the local secure stack, RULE:^CN=([^,]+).*$/$1/), or "" when neither is
// set.
func Principal(cfg config.Kafka) string {
	if cfg.SASL.Mechanism != "" {
		return "User:" + cfg.SASL.Username
	}
	if cfg.TLS.CertFile == "" {
		return ""
	}
	cert, err := readCert(cfg.TLS.CertFile)
	if err != nil || cert.Subject.CommonName == "" {
		return ""
	}
	return "User:" + cert.Subject.CommonName
}

// readCert parses the first certificate of a PEM file.
func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}
