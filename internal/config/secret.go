package config

import (
	"net/url"
	"regexp"
	"strings"
)

// Secret is a string that is never printed: its String and its YAML and
// JSON forms are "[redacted]" (empty stays empty). Use Reveal to read it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// MarshalText redacts the secret so it never leaks through encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ConnString is a PostgreSQL connection string, URL or key=value form. It
// prints as Redact shows it: everything but its secrets. Use Reveal to
// read it.
type ConnString string

// Reveal returns the connection string with its secrets.
func (c ConnString) Reveal() string { return string(c) }

// String returns the connection string with its secrets hidden (Redact).
func (c ConnString) String() string {
	if c == "" {
		return ""
	}
	return Redact(string(c))
}

// MarshalText redacts the connection string so its secrets never leak
// through encoders.
func (c ConnString) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

const (
	// redacted replaces a whole value that is not a connection string, or
	// one too malformed to tell its secrets from the rest.
	redacted = "[redacted]"
	// hidden replaces a password (or other secret setting) in a connection
	// string.
	hidden = "xxxxx"
)

// secretSettings are the connection settings Redact hides: the password,
// the password of the client key, and the client key (a file name, or in
// some drivers the key itself).
var secretSettings = map[string]bool{"password": true, "sslpassword": true, "sslkey": true}

func isSecretSetting(key string) bool { return secretSettings[strings.ToLower(key)] }

// urlScheme matches the start of a URL connection string.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// Redact is the one rule by which a connection string is shown in a log,
// an error, --help or the start-up lines: in the URL form the userinfo
// password and the password, sslpassword and sslkey query parameters
// become "xxxxx"; in the key=value form the values of those keys do.
// Everything else is kept. A value that is neither form, or is too
// malformed to find its settings in, is "[redacted]" whole.
func Redact(s string) string {
	if urlScheme.MatchString(s) {
		return redactURL(s)
	}
	return redactKeyValues(s)
}

// redactURL hides the secrets of a URL connection string. A string whose
// last '@' lies past the host (a password holding '/', '?' or '#', which
// breaks the URL apart) has its userinfo taken up to that '@'.
func redactURL(s string) string {
	rest := s[strings.Index(s, "://")+3:]
	if at := strings.LastIndex(rest, "@"); at >= 0 && strings.ContainsAny(rest[:at], "/?#") {
		return redactRawURL(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return redactRawURL(s)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), hidden)
		}
	}
	u.RawQuery = redactQuery(u.RawQuery)
	// A fragment is no setting, but a '#' in an unencoded password starts
	// one.
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactQuery hides the secret parameters of a raw query, keeping the
// order and the encoding of the others. Keys are compared decoded, so
// pass%77ord is a password too.
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if isSecretSetting(key) {
			parts[i] = k + "=" + hidden
		}
	}
	return strings.Join(parts, "&")
}

// redactRawURL hides the secrets of a URL that net/url cannot parse, or
// parses other than its writer meant: the userinfo, up to the last '@',
// but for the user name; the secret query parameters; the fragment.
func redactRawURL(s string) string {
	i := strings.Index(s, "://") + 3
	head, rest := s[:i], s[i:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, _, hasPassword := strings.Cut(rest[:at], ":")
		if hasPassword {
			user += ":" + hidden
		}
		head, rest = head+user+"@", rest[at+1:]
	}
	rest, _, _ = strings.Cut(rest, "#")
	if before, q, ok := strings.Cut(rest, "?"); ok {
		rest = before + "?" + redactQuery(q)
	}
	return head + rest
}

// redactKeyValues hides the secrets of a key=value connection string,
// read as libpq and pgx read it: keys, optional spaces around '=', values
// either bare (backslash escapes the next byte) or single-quoted (\' and
// \\ inside). A malformed string, or one without any '=', is redacted
// whole.
func redactKeyValues(s string) string {
	var b strings.Builder
	i, pairs := 0, 0
	for {
		start := i
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		b.WriteString(s[start:i])
		if i == len(s) {
			break
		}
		keyStart := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[keyStart:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if key == "" || i == len(s) || s[i] != '=' {
			return redacted
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		b.WriteString(s[keyStart:i])
		end, ok := valueEnd(s, i)
		if !ok {
			return redacted
		}
		if isSecretSetting(key) {
			b.WriteString(hidden)
		} else {
			b.WriteString(s[i:end])
		}
		i = end
		pairs++
	}
	if pairs == 0 {
		return redacted
	}
	return b.String()
}

// valueEnd returns the end of the value starting at s[i], bare or quoted,
// and false if it is malformed (an unterminated quote, a trailing
// backslash).
func valueEnd(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '\'' {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '\'':
				return j + 1, true
			}
		}
		return 0, false
	}
	j := i
	for ; j < len(s) && !isSpace(s[j]); j++ {
		if s[j] == '\\' {
			if j++; j == len(s) {
				return 0, false
			}
		}
	}
	return j, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
