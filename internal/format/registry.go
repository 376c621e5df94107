package format

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// RegistryConfig says how to reach a Confluent-compatible schema registry
// (Confluent Schema Registry, or Apicurio Registry's /apis/ccompat/v7).
type RegistryConfig struct {
	// URL is the registry's base URL. Credentials written into it
	// (https://user:pass@host) are moved to basic authentication and never
	// printed.
	URL string
	// Username and Password authenticate with HTTP basic authentication
	// (Confluent Cloud: the API key and secret).
	Username, Password string
	// TLS, when set, is the client TLS configuration for an https URL
	// (its CAs instead of the system's); nil uses Go's defaults.
	TLS *tls.Config
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
}

// Registry is a client of a schema registry's Confluent-compatible API.
type Registry struct {
	cl  *sr.Client
	url string // without credentials, for messages
}

// NewRegistry returns a client of the registry cfg names. It does not
// contact the registry.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("schema registry URL %q: want http(s)://host:port/path", redactURL(cfg.URL))
	}
	user, pass := cfg.Username, cfg.Password
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && pass == "" {
			pass = p
		}
		u.User = nil
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS
	}
	opts := []sr.ClientOpt{
		sr.URLs(u.String()),
		sr.HTTPClient(&http.Client{Timeout: timeout, Transport: tr}),
		sr.UserAgent("tradestream"),
	}
	if user != "" || pass != "" {
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return &Registry{cl: cl, url: u.String()}, nil
}

// URL returns the registry's URL, without credentials.
func (r *Registry) URL() string { return r.url }

// redactURL returns s with any password in it replaced.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable)"
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// srType maps a registry format to the registry's schema type.
func srType(f Format) sr.SchemaType {
	switch f {
	case Protobuf:
		return sr.TypeProtobuf
	case JSONSchema:
		return sr.TypeJSON
	}
	return sr.TypeAvro
}

// Register registers text, a schema of format f, under subject and
// returns its id; registering a schema the subject already has returns
// the existing id. A schema the subject's compatibility rule refuses is an
// *IncompatibleError carrying the registry's own message.
func (r *Registry) Register(ctx context.Context, subject string, f Format, text string) (int, error) {
	ss, err := r.cl.CreateSchema(ctx, subject, sr.Schema{Schema: text, Type: srType(f)})
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.ErrorCode == 409) {
			return 0, &IncompatibleError{Subject: subject, Registry: r.url, Message: re.Message}
		}
		if latest, lerr := r.cl.SchemaByVersion(ctx, subject, -1); lerr == nil && latest.Type != srType(f) {
			return 0, fmt.Errorf("register the %s schema under subject %s at %s: the subject holds %s schemas, and a subject keeps one format: "+
				"write %s to other topics (another --topic-prefix) or delete the subject first (registry: %v)", f, subject, r.url, formatOf(latest.Type), f, err)
		}
		return 0, fmt.Errorf("register the %s schema under subject %s at %s: %w", f, subject, r.url, err)
	}
	return ss.ID, nil
}

func formatOf(t sr.SchemaType) Format {
	switch t {
	case sr.TypeProtobuf:
		return Protobuf
	case sr.TypeJSON:
		return JSONSchema
	}
	return Avro
}

// IncompatibleError is a schema the registry refused because it breaks the
// subject's compatibility rule with the versions already registered.
type IncompatibleError struct {
	Subject  string
	Registry string
	// Message is the registry's explanation.
	Message string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("the schema registry at %s refuses the schema for subject %s as incompatible with its registered versions: %s",
		e.Registry, e.Subject, e.Message)
}

// Check reports whether the registry answers.
func (r *Registry) Check(ctx context.Context) error {
	if _, err := r.cl.SupportedTypes(ctx); err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			// Older registries lack /schemas/types; /subjects answers on all.
			_, err = r.cl.Subjects(ctx)
		}
		if err != nil {
			return fmt.Errorf("schema registry at %s does not answer: %w", r.url, err)
		}
	}
	return nil
}

// schemaByID fetches the schema with the given id. A registry that says
// it has no such schema gives errNotFound; every other failure (refused
// connection, timeout, a 5xx) is worth retrying.
func (r *Registry) schemaByID(ctx context.Context, id int) (sr.Schema, error) {
	s, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return sr.Schema{}, errNotFound
		}
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 &&
			re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusRequestTimeout {
			return sr.Schema{}, fmt.Errorf("%w: %v", errRefused, err)
		}
		return sr.Schema{}, err
	}
	return s, nil
}

var (
	errNotFound = errors.New("no schema with this id in the registry")
	// errRefused is a 4xx other than not found (401, 403): retried like an
	// outage, since the fix (credentials, rights) comes from outside.
	errRefused = errors.New("the registry refuses the request")
)
