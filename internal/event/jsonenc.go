package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The hand-written encoders in this package append to a caller's buffer
// with strconv.Append* and never allocate. Their output is exactly what
// encoding/json produces for the same struct (with its default HTML-safe
// escaping), which the tests check, and it is what Decode accepts.

const hexDigits = "0123456789abcdef"

// safeASCII[b] is true for the bytes that appendString copies verbatim:
// bytes 0x20-0x7f except '"', '\\', '<', '>' and '&' (DEL is valid JSON).
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range []byte{'"', '\\', '<', '>', '&'} {
		t[b] = false
	}
	return t
}()

// appendString appends s as a JSON string literal, escaping exactly like
// encoding/json with HTML escaping on: '"' and '\\' with a backslash,
// control characters (short forms \b \f \n \r \t, otherwise \u00XX),
// '<' '>' '&' as \u003c \u003e \u0026, U+2028/U+2029 as \u2028/\u2029, and
// each byte of invalid UTF-8 as \ufffd.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safeASCII[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTime appends t in UTC as a quoted RFC3339Nano string.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendDecimal appends d as a quoted four-decimal string.
func appendDecimal(dst []byte, d Decimal) []byte {
	dst = append(dst, '"')
	dst = d.appendTo(dst)
	return append(dst, '"')
}

// appendInt appends n as a JSON number.
func appendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}
