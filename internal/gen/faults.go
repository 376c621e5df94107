package gen

import (
	"bytes"
)

// breakValue appends to dst the value v broken by fault, so that a strict
// consumer (the sink) rejects it with the reason the fault is named for:
//
//   - malformed_json: the first half of the value, not JSON;
//   - missing_field: the first field removed (every event's first field,
//     user_id, symbol or trade_id, is required);
//   - out_of_range: the trade id, tick sequence or user id set to -1;
//   - invalid_field: an unknown field added;
//   - oversized: an unknown field padding the value past OversizedBytes
//     (an invalid_field dead letter for the sink);
//   - anything else (unknown_schema): the value unchanged.
func breakValue(dst, v []byte, fault string) []byte {
	if len(v) < 2 || v[0] != '{' {
		return append(dst, v...)
	}
	switch fault {
	case FaultMalformedJSON:
		return append(dst, v[:len(v)/2]...)
	case FaultMissingField:
		if i := bytes.IndexByte(v, ','); i > 0 {
			dst = append(dst, '{')
			return append(dst, v[i+1:]...)
		}
	case FaultOutOfRange:
		for _, field := range []string{`"trade_id":`, `"seq":`, `"user_id":`} {
			i := bytes.Index(v, []byte(field))
			if i < 0 {
				continue
			}
			start := i + len(field)
			end := start
			for end < len(v) && v[end] != ',' && v[end] != '}' {
				end++
			}
			dst = append(dst, v[:start]...)
			dst = append(dst, "-1"...)
			return append(dst, v[end:]...)
		}
	case FaultInvalidField:
		dst = append(dst, `{"injected_unknown_field":true,`...)
		return append(dst, v[1:]...)
	case FaultOversized:
		dst = append(dst, `{"injected_padding":"`...)
		for range OversizedBytes {
			dst = append(dst, 'x')
		}
		dst = append(dst, `",`...)
		return append(dst, v[1:]...)
	}
	return append(dst, v...)
}

// unknownSchema returns schema ("price/1") with a version no consumer
// knows ("price/99").
func unknownSchema(schema []byte) []byte {
	name, _, _ := bytes.Cut(schema, []byte("/"))
	out := append([]byte{}, name...)
	return append(out, "/99"...)
}
