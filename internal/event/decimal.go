package event

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// Decimal is an exact amount of money or a price: an int64 count of
// 1/10000ths (fixed scale 4), so Decimal(12345) is 1.2345. It maps to
// PostgreSQL numeric(20,4) and travels on the wire as a JSON string with
// exactly four decimals ("187.2500"). Arithmetic with + and - is exact;
// callers that may overflow use the checked helpers below.
type Decimal int64

// Scale is the number of decimal digits a Decimal carries.
const Scale = 4

// Unit is the Decimal value of 1 (one whole currency unit).
const Unit Decimal = 10000

// Limits of the Decimal range.
const (
	MaxDecimal Decimal = math.MaxInt64
	MinDecimal Decimal = math.MinInt64
)

// Errors returned (wrapped) by ParseDecimal.
var (
	// ErrDecimalSyntax means the text is not a decimal number with at most
	// four fraction digits.
	ErrDecimalSyntax = errors.New("invalid decimal syntax")
	// ErrDecimalRange means the number does not fit a Decimal.
	ErrDecimalRange = errors.New("decimal out of range")
)

// ParseDecimal parses text of the form -?[0-9]+(\.[0-9]{1,4})? into a
// Decimal. It rejects exponents, a leading '+', empty fractions ("1."),
// more than four fraction digits (they would be silently lost) and values
// outside the int64 range. Errors wrap ErrDecimalSyntax or ErrDecimalRange.
func ParseDecimal(s string) (Decimal, error) {
	d, err := parseDecimal(s)
	if err != nil {
		return 0, fmt.Errorf("parse decimal %q: %w", s, err)
	}
	return d, nil
}

// parseDecimal is ParseDecimal without the wrapping, shared with the
// decoder so that the hot path does not format an error string twice.
func parseDecimal[T string | []byte](s T) (Decimal, error) {
	i := 0
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		i = 1
	}
	if i == len(s) {
		return 0, ErrDecimalSyntax
	}
	// Accumulate the magnitude in a uint64 so that MinInt64 parses.
	var mag uint64
	intDigits := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrDecimalSyntax
		}
		hi, lo := bits.Mul64(mag, 10)
		if hi != 0 {
			return 0, ErrDecimalRange
		}
		mag, intDigits = lo+uint64(c-'0'), intDigits+1
		if mag < lo {
			return 0, ErrDecimalRange
		}
	}
	if intDigits == 0 {
		return 0, ErrDecimalSyntax
	}
	fracDigits := 0
	if i < len(s) { // s[i] == '.'
		i++
		if i == len(s) {
			return 0, ErrDecimalSyntax
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, ErrDecimalSyntax
			}
			fracDigits++
			if fracDigits > Scale {
				return 0, ErrDecimalSyntax
			}
			hi, lo := bits.Mul64(mag, 10)
			if hi != 0 {
				return 0, ErrDecimalRange
			}
			mag = lo + uint64(c-'0')
			if mag < lo {
				return 0, ErrDecimalRange
			}
		}
	}
	for ; fracDigits < Scale; fracDigits++ {
		hi, lo := bits.Mul64(mag, 10)
		if hi != 0 {
			return 0, ErrDecimalRange
		}
		mag = lo
	}
	if neg {
		if mag > 1<<63 {
			return 0, ErrDecimalRange
		}
		return Decimal(-int64(mag)), nil // -1<<63 wraps to itself: MinInt64.
	}
	if mag > math.MaxInt64 {
		return 0, ErrDecimalRange
	}
	return Decimal(mag), nil
}

// MustParseDecimal is ParseDecimal for constants in code and tests; it
// panics on invalid input.
func MustParseDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// FromInt returns the Decimal for a whole number n, saturating at the
// Decimal range.
func FromInt(n int64) Decimal {
	return Decimal(n).mulInt(int64(Unit))
}

// FromFloat returns the Decimal nearest to f, rounding half away from
// zero. NaN gives 0; values beyond the range saturate at MinDecimal or
// MaxDecimal. Use it at the boundary of float models, never for money
// arithmetic.
func FromFloat(f float64) Decimal {
	if math.IsNaN(f) {
		return 0
	}
	v := math.Round(f * float64(Unit))
	switch {
	case v >= math.MaxInt64: // float64(MaxInt64) rounds up to 2^63.
		return MaxDecimal
	case v <= math.MinInt64:
		return MinDecimal
	}
	return Decimal(v)
}

// Float64 returns d as a float64 (approximate for large magnitudes).
func (d Decimal) Float64() float64 {
	return float64(d) / float64(Unit)
}

// MulQty returns d*qty, the notional of qty shares at price d. The product
// of a scale-4 price and an integer is exact, so no rounding happens; on
// overflow the result saturates at MaxDecimal or MinDecimal.
func (d Decimal) MulQty(qty int64) Decimal {
	return d.mulInt(qty)
}

// MulQtyChecked is MulQty that reports overflow instead of saturating.
func (d Decimal) MulQtyChecked(qty int64) (Decimal, bool) {
	r, ok := mul128(int64(d), qty, 1)
	return Decimal(r), ok
}

// Mul returns d*o rounded half away from zero to scale 4, for rates such as
// a fee of 0.0005 (5 basis points) times a notional. The intermediate
// product is computed in 128 bits; on overflow the result saturates.
func (d Decimal) Mul(o Decimal) Decimal {
	r, _ := mul128(int64(d), int64(o), uint64(Unit))
	return Decimal(r)
}

func (d Decimal) mulInt(n int64) Decimal {
	r, _ := mul128(int64(d), n, 1)
	return Decimal(r)
}

// mul128 returns a*b/div rounded half away from zero, saturating on
// overflow (ok is false then). div must be > 0.
func mul128(a, b int64, div uint64) (int64, bool) {
	neg := (a < 0) != (b < 0)
	ua, ub := absU(a), absU(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi >= div { // quotient would not fit in 64 bits
		return saturate(neg), false
	}
	q, r := bits.Div64(hi, lo, div)
	if div > 1 && r >= div-r { // r >= div/2 without overflow: round half up on magnitude
		q++
		if q == 0 {
			return saturate(neg), false
		}
	}
	if neg {
		if q > 1<<63 {
			return math.MinInt64, false
		}
		return -int64(q), true
	}
	if q > math.MaxInt64 {
		return math.MaxInt64, false
	}
	return int64(q), true
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // MinInt64 wraps to 1<<63, which is its magnitude.
	}
	return uint64(v)
}

func saturate(neg bool) int64 {
	if neg {
		return math.MinInt64
	}
	return math.MaxInt64
}

// Abs returns |d|, saturating MinDecimal to MaxDecimal.
func (d Decimal) Abs() Decimal {
	if d >= 0 {
		return d
	}
	if d == MinDecimal {
		return MaxDecimal
	}
	return -d
}

// String returns d with exactly four decimals, such as "187.2500" or
// "-0.0500".
func (d Decimal) String() string {
	var buf [24]byte
	return string(d.appendTo(buf[:0]))
}

// AppendText appends the String form of d to b. It implements
// encoding.TextAppender and never fails.
func (d Decimal) AppendText(b []byte) ([]byte, error) {
	return d.appendTo(b), nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Decimal) MarshalText() ([]byte, error) {
	return d.appendTo(make([]byte, 0, 24)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseDecimal.
func (d *Decimal) UnmarshalText(text []byte) error {
	v, err := parseDecimal(text)
	if err != nil {
		return fmt.Errorf("parse decimal %q: %w", text, err)
	}
	*d = v
	return nil
}

// MarshalJSON encodes d as a JSON string with four decimals.
func (d Decimal) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 26)
	b = append(b, '"')
	b = d.appendTo(b)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts only the string form ("187.25" or "187.2500"); a
// bare JSON number is rejected so that no float ever touches money.
func (d *Decimal) UnmarshalJSON(data []byte) error {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return fmt.Errorf("decimal must be a JSON string, got %.20s: %w", data, ErrDecimalSyntax)
	}
	return d.UnmarshalText(data[1 : len(data)-1])
}

// appendTo appends the four-decimal form of d to b without allocating.
func (d Decimal) appendTo(b []byte) []byte {
	mag := absU(int64(d))
	if d < 0 {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, mag/uint64(Unit), 10)
	frac := mag % uint64(Unit)
	return append(b, '.',
		byte('0'+frac/1000),
		byte('0'+frac/100%10),
		byte('0'+frac/10%10),
		byte('0'+frac%10))
}
