package event

// validJSON reports whether data is one valid JSON value (RFC 8259),
// surrounded by optional whitespace: the same answer as encoding/json's
// Valid (which FuzzValidJSON checks), including its nesting limit and its
// acceptance of invalid UTF-8 inside strings (the decoders check text
// fields themselves), at several times its speed. Decoding spends more
// time checking syntax than anything else, so it is worth its own loop.
func validJSON(data []byte) bool {
	v := validator{d: data}
	i, ok := v.value(skipSpace(data, 0), 0)
	return ok && skipSpace(data, i) == len(data)
}

// maxNesting is encoding/json's limit on nested arrays and objects.
const maxNesting = 10000

type validator struct{ d []byte }

// value checks the value starting at i (after whitespace) and returns the
// index just past it.
func (v *validator) value(i, depth int) (int, bool) {
	d := v.d
	if i >= len(d) {
		return i, false
	}
	switch c := d[i]; {
	case c == '{':
		return v.object(i+1, depth+1)
	case c == '[':
		return v.array(i+1, depth+1)
	case c == '"':
		return v.str(i + 1)
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number(i)
	case c == 't':
		return v.literal(i, "true")
	case c == 'f':
		return v.literal(i, "false")
	case c == 'n':
		return v.literal(i, "null")
	}
	return i, false
}

func (v *validator) literal(i int, lit string) (int, bool) {
	if len(v.d)-i < len(lit) || string(v.d[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// object checks an object's members after its '{'.
func (v *validator) object(i, depth int) (int, bool) {
	if depth > maxNesting {
		return i, false
	}
	d := v.d
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, false
		}
		var ok bool
		if i, ok = v.str(i + 1); !ok {
			return i, false
		}
		i = skipSpace(d, i)
		if i >= len(d) || d[i] != ':' {
			return i, false
		}
		if i, ok = v.value(skipSpace(d, i+1), depth); !ok {
			return i, false
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipSpace(d, i+1)
		default:
			return i, false
		}
	}
}

// array checks an array's elements after its '['.
func (v *validator) array(i, depth int) (int, bool) {
	if depth > maxNesting {
		return i, false
	}
	d := v.d
	i = skipSpace(d, i)
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = v.value(i, depth); !ok {
			return i, false
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipSpace(d, i+1)
		default:
			return i, false
		}
	}
}

// str checks a string's content after its opening quote.
func (v *validator) str(i int) (int, bool) {
	d := v.d
	for i < len(d) {
		for i < len(d) && plainInString[d[i]] {
			i++
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(d) {
				return i, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(d)-i < 5 || !isHex(d[i+1]) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) {
					return i, false
				}
				i += 5
			default:
				return i, false
			}
		default:
			i++
		}
	}
	return i, false
}

// plainInString marks the bytes a string holds as they are: all but the
// quote, the backslash and control characters.
var plainInString = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number(i int) (int, bool) {
	d := v.d
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}
