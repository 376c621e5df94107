package config

import (
	"net/url"
	"regexp"
	"strings"
)

// Secret is a string that is never printed: its String and its YAML and
// JSON forms are redacted. Use Reveal to read it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns a redacted form: empty stays empty, anything else is
// "[redacted]", except connection URLs, which keep all but the password.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redact(string(s))
}

// MarshalText redacts the secret so it never leaks through encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var (
	kvPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)
	urlPassword = regexp.MustCompile(`(://[^:/@]*):[^@]*@`)
)

// Redact hides the password of a URL or key=value connection string, and
// the whole of anything else.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	if urlPassword.MatchString(s) {
		return urlPassword.ReplaceAllString(s, "${1}:xxxxx@")
	}
	if kvPassword.MatchString(s) {
		return kvPassword.ReplaceAllString(s, "${1}xxxxx")
	}
	if strings.Contains(s, "=") || strings.Contains(s, "://") {
		return s // a connection string without a password
	}
	return "[redacted]"
}
