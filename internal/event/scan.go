package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The decoder checks syntax once (validJSON, encoding/json's Valid in a
// loop of its own) and then walks the value
// with the small scanner below, which may therefore assume well-formed
// JSON. That keeps decoding strict (unknown, duplicate and mistyped fields
// are errors with a precise Reason) and cheap (no reflection, and no
// allocation beyond the strings the result holds).

// object iterates over the members of one JSON object.
type object struct {
	data []byte
	i    int
}

// openObject starts iterating over value, which must be valid JSON.
// It fails with ReasonMalformedJSON unless value is an object.
func openObject(value []byte) (object, error) {
	i := skipSpace(value, 0)
	if i >= len(value) || value[i] != '{' {
		return object{}, &Error{Reason: ReasonMalformedJSON, Msg: "not a JSON object"}
	}
	return object{data: value, i: i + 1}, nil
}

// checkedObject validates value's syntax, then opens it.
func checkedObject(value []byte) (object, error) {
	if !validJSON(value) {
		return object{}, &Error{Reason: ReasonMalformedJSON, Msg: "invalid JSON"}
	}
	return openObject(value)
}

// next returns the next member's key (unescaped) and raw value, or ok false
// after the last member.
func (o *object) next() (key, val []byte, ok bool) {
	d := o.data
	i := skipSpace(d, o.i)
	if d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if d[i] == '}' {
		o.i = i + 1
		return nil, nil, false
	}
	kEnd := endOfString(d, i)
	key = d[i+1 : kEnd-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		var s string
		_ = json.Unmarshal(d[i:kEnd], &s) // valid JSON string: cannot fail
		key = []byte(s)
	}
	i = skipSpace(d, kEnd) // at ':'
	i = skipSpace(d, i+1)
	end := endOfValue(d, i)
	o.i = end
	return key, d[i:end], true
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string starting at d[i]=='"'.
func endOfString(d []byte, i int) int {
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(d)
}

// endOfValue returns the index just past the value starting at d[i].
func endOfValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return endOfString(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				j = endOfString(d, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(d)
	}
	j := i
	for j < len(d) {
		switch d[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// str decodes a JSON string value.
func str(field string, v []byte) (string, error) {
	if isNull(v) {
		return "", missing(field)
	}
	if len(v) < 2 || v[0] != '"' {
		return "", invalid(field, "want a string")
	}
	inner := v[1 : len(v)-1]
	// PostgreSQL text holds neither invalid UTF-8 nor NUL, and the
	// encoder would write U+FFFD for the first: reject both here, where
	// the record still becomes a dead letter with its reason.
	if !utf8.Valid(inner) {
		return "", invalid(field, "not valid UTF-8")
	}
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", &Error{Reason: ReasonInvalidField, Field: field, Msg: "bad string", Err: err}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", invalid(field, "holds a NUL character")
	}
	return s, nil
}

// enum decodes a JSON string that should be one of known, returning the
// matching constant without allocating; an unknown value is returned as
// a fresh string for validation to reject.
func enum(field string, v []byte, known ...string) (string, error) {
	if len(v) >= 2 && v[0] == '"' {
		inner := v[1 : len(v)-1]
		for _, k := range known {
			if string(inner) == k {
				return k, nil
			}
		}
	}
	return str(field, v)
}

// integer decodes a JSON number that must be an integer.
func integer(field string, v []byte) (int64, error) {
	if isNull(v) {
		return 0, missing(field)
	}
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, invalid(field, "want an integer")
	}
	if bytes.ContainsAny(v, ".eE") {
		return 0, invalid(field, "want an integer")
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, outOfRange(field, "integer overflows int64")
	}
	return n, nil
}

// decimal decodes a JSON string holding a Decimal.
func decimal(field string, v []byte) (Decimal, error) {
	if isNull(v) {
		return 0, missing(field)
	}
	if len(v) < 2 || v[0] != '"' {
		return 0, invalid(field, "want a decimal string")
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		s, err := str(field, v)
		if err != nil {
			return 0, err
		}
		inner = []byte(s)
	}
	d, err := parseDecimal(inner)
	switch {
	case errors.Is(err, ErrDecimalRange):
		return 0, &Error{Reason: ReasonOutOfRange, Field: field, Msg: "decimal overflows", Err: err}
	case err != nil:
		return 0, &Error{Reason: ReasonInvalidField, Field: field, Msg: "bad decimal", Err: err}
	}
	return d, nil
}

// timestamp decodes an RFC 3339 timestamp string, returned in UTC.
func timestamp(field string, v []byte) (time.Time, error) {
	if len(v) >= 2 && v[0] == '"' {
		if t, ok := parseUTC(v[1 : len(v)-1]); ok {
			return t, nil
		}
	}
	s, err := str(field, v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &Error{Reason: ReasonInvalidField, Field: field, Msg: "want an RFC 3339 timestamp", Err: err}
	}
	return t.UTC(), nil
}

// symbol decodes and normalises a ticker symbol.
func symbol(field string, v []byte) (string, error) {
	s, err := str(field, v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", missing(field)
	}
	n, ok := NormalizeSymbol(s)
	if !ok {
		return "", invalid(field, "want ^[A-Z][A-Z0-9.]{0,9}$")
	}
	return n, nil
}

// stringArray decodes a JSON array of strings.
func stringArray(field string, v []byte, limit int) ([]string, error) {
	if isNull(v) {
		return nil, missing(field)
	}
	if v[0] != '[' {
		return nil, invalid(field, "want an array of strings")
	}
	out := []string{}
	i := skipSpace(v, 1)
	for v[i] != ']' {
		end := endOfValue(v, i)
		if len(out) == limit {
			return nil, outOfRange(field, "too many elements")
		}
		s, err := str(field, v[i:end])
		if err != nil {
			return nil, invalid(field, "want an array of strings")
		}
		out = append(out, s)
		i = skipSpace(v, end)
		if v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return out, nil
}

// parseUTC parses the form the generator writes, 2006-01-02T15:04:05Z
// with an optional fraction of up to nine digits, straight from the
// value's bytes; ok false means "not that form", for time.Parse to
// decide. For what it accepts it returns what time.Parse(RFC3339Nano)
// returns (FuzzParseUTC checks it).
func parseUTC(b []byte) (t time.Time, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		v, ok := num(20, len(frac)-1)
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			v *= 10
		}
		nsec = v
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April, 29 February of a common year: time.Parse says why
		return time.Time{}, false
	}
	return t, true
}
