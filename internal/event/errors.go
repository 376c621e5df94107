package event

import (
	"errors"
	"strings"
)

// Reason is the short, machine-readable class of a decode or validation
// failure. The sink stores it with every dead letter, so the set is small
// and stable.
type Reason string

// The reasons an event can be rejected for.
const (
	// ReasonMalformedJSON: the value is not a JSON object.
	ReasonMalformedJSON Reason = "malformed_json"
	// ReasonUnknownSchema: the schema header names no version this package
	// knows ("trade/9", "", "foo").
	ReasonUnknownSchema Reason = "unknown_schema"
	// ReasonMissingField: a required field is absent or null.
	ReasonMissingField Reason = "missing_field"
	// ReasonOutOfRange: a field parses but its value is outside the allowed
	// range (a non-positive price, bid above ask, a year 0 timestamp).
	ReasonOutOfRange Reason = "out_of_range"
	// ReasonInvalidField: a field has the wrong JSON type, does not parse,
	// is not a known enum value, or is unknown or duplicated.
	ReasonInvalidField Reason = "invalid_field"
	// ReasonSchemaMismatch: a value in a schema registry's wire format
	// does not decode with the schema its id names (truncated, trailing
	// bytes, a field of the wrong type).
	ReasonSchemaMismatch Reason = "schema_mismatch"
)

// Error is the error every decode and validation failure in this package
// returns (possibly wrapped). Reason classifies it; Field names the JSON
// field at fault (dotted for nested fields, e.g. "account.balance"), if any.
//
// errors.Is(err, ErrMissingField) and friends match on Reason, so callers
// can classify without a type assertion; ReasonOf extracts the reason.
type Error struct {
	Reason Reason
	Schema string
	Field  string
	Msg    string
	Err    error // underlying cause, if any
}

// Sentinel errors for errors.Is; each matches any *Error with its reason.
var (
	ErrMalformedJSON  = &Error{Reason: ReasonMalformedJSON}
	ErrUnknownSchema  = &Error{Reason: ReasonUnknownSchema}
	ErrMissingField   = &Error{Reason: ReasonMissingField}
	ErrOutOfRange     = &Error{Reason: ReasonOutOfRange}
	ErrInvalidField   = &Error{Reason: ReasonInvalidField}
	ErrSchemaMismatch = &Error{Reason: ReasonSchemaMismatch}
)

// Error formats as "schema: field: message (reason): cause", leaving out
// empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Schema != "" {
		b.WriteString(e.Schema)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
		b.WriteString(" ")
	}
	b.WriteString("(")
	b.WriteString(string(e.Reason))
	b.WriteString(")")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Reason, which makes
// the Err* sentinels work with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason && t.Field == "" && t.Msg == "" && t.Err == nil
}

// ReasonOf returns the Reason of the first *Error in err's chain, or "" if
// there is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newError(reason Reason, field, msg string) *Error {
	return &Error{Reason: reason, Field: field, Msg: msg}
}

func missing(field string) *Error {
	return newError(ReasonMissingField, field, "required")
}

func invalid(field, msg string) *Error {
	return newError(ReasonInvalidField, field, msg)
}

func outOfRange(field, msg string) *Error {
	return newError(ReasonOutOfRange, field, msg)
}

// withSchema stamps the schema on err if it is an *Error without one.
func withSchema(err error, schema string) error {
	var e *Error
	if errors.As(err, &e) && e.Schema == "" {
		e.Schema = schema
	}
	return err
}
