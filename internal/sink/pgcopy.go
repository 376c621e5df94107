package sink

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/store"
)

// The sink writes PostgreSQL's binary COPY format itself rather than
// through pgx.CopyFrom: the rows are typed Go values already, and encoding
// them straight into one reusable buffer costs no allocation per value and
// no big.Int per numeric (pgx's numeric encoder goes through one). The
// format is documented in the PostgreSQL manual under COPY, "Binary
// Format"; each value is a 4-byte length followed by the type's binary
// send form.

// copySignature starts every binary COPY stream: the signature, a flags
// word and the length of the (empty) header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is the zero of PostgreSQL's timestamp binary form.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// textOID is the type OID of text, the element type of text[] columns.
const textOID = 25

// copyBuffer accumulates the rows of one COPY in binary format. The zero
// value is ready; reset starts a new stream and keeps the memory.
type copyBuffer struct {
	b    []byte
	rows int
}

func (c *copyBuffer) reset() {
	c.b = append(c.b[:0], copySignature...)
	c.rows = 0
}

// row starts a tuple of n fields.
func (c *copyBuffer) row(n int) {
	if len(c.b) == 0 {
		c.reset()
	}
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(n))
	c.rows++
}

func (c *copyBuffer) null() { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }

func (c *copyBuffer) int64(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *copyBuffer) int32(v int32) {
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(v))
}

func (c *copyBuffer) int16(v int16) {
	c.b = binary.BigEndian.AppendUint32(c.b, 2)
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(v))
}

func (c *copyBuffer) text(s string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

// textBytes writes b as text (the bytes of a header, without a string
// conversion).
func (c *copyBuffer) textBytes(b []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(b)))
	c.b = append(c.b, b...)
}

// textOrNull writes s, or NULL when s is empty.
func (c *copyBuffer) textOrNull(s string) {
	if s == "" {
		c.null()
		return
	}
	c.text(s)
}

func (c *copyBuffer) bytea(b []byte) {
	if b == nil {
		c.null()
		return
	}
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(b)))
	c.b = append(c.b, b...)
}

// timestamptz writes t as microseconds since 2000-01-01 UTC: PostgreSQL's
// resolution, so any nanoseconds are truncated.
func (c *copyBuffer) timestamptz(t time.Time) {
	us := t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - pgEpoch.Unix()*1_000_000
	c.int64(us)
}

// textArray writes a one-dimensional text[] without NULL elements.
func (c *copyBuffer) textArray(ss []string) {
	if len(ss) == 0 {
		c.b = binary.BigEndian.AppendUint32(c.b, 12)
		c.b = binary.BigEndian.AppendUint32(c.b, 0) // ndim
		c.b = binary.BigEndian.AppendUint32(c.b, 0) // has nulls
		c.b = binary.BigEndian.AppendUint32(c.b, textOID)
		return
	}
	size := 20
	for _, s := range ss {
		size += 4 + len(s)
	}
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(size))
	c.b = binary.BigEndian.AppendUint32(c.b, 1) // ndim
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // has nulls
	c.b = binary.BigEndian.AppendUint32(c.b, textOID)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(ss)))
	c.b = binary.BigEndian.AppendUint32(c.b, 1) // lower bound
	for _, s := range ss {
		c.text(s)
	}
}

// numeric writes d, a fixed scale-4 decimal, in numeric's binary form:
// ndigits, weight, sign and dscale (int16 each), then base-10000 digits
// most significant first, without leading or trailing zero digits.
func (c *copyBuffer) numeric(d event.Decimal) {
	c.b = appendNumeric(c.b, d)
}

// numericOrNull writes d, or NULL when d is zero.
func (c *copyBuffer) numericOrNull(d event.Decimal) {
	if d == 0 {
		c.null()
		return
	}
	c.numeric(d)
}

const (
	numericPos = 0x0000
	numericNeg = 0x4000
)

func appendNumeric(b []byte, d event.Decimal) []byte {
	var mag uint64
	sign := uint16(numericPos)
	if d < 0 {
		sign = numericNeg
		mag = uint64(-(d + 1)) + 1 // no overflow for MinDecimal
	} else {
		mag = uint64(d)
	}
	intPart, frac := mag/uint64(event.Unit), uint16(mag%uint64(event.Unit))
	// At most five base-10000 groups for the integer part of an int64/1e4.
	var groups [6]uint16
	n := 0
	for v := intPart; v > 0; v /= 10000 {
		n++
	}
	weight := int16(n - 1)
	for i, v := n-1, intPart; i >= 0; i, v = i-1, v/10000 {
		groups[i] = uint16(v % 10000)
	}
	groups[n] = frac
	digits := groups[:n+1]
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if n == 0 { // no integer groups: the fraction is the first digit
		weight = -1
	}
	if len(digits) == 0 {
		weight, sign = 0, numericPos
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, event.Scale)
	for _, g := range digits {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b
}

// bytes returns the stream with its trailer; the buffer can take more rows
// afterwards.
func (c *copyBuffer) bytes() []byte {
	if len(c.b) == 0 {
		c.reset()
	}
	out := binary.BigEndian.AppendUint16(c.b, 0xffff)
	c.b = out[:len(out)-2]
	return out
}

// copyTable is a COPY target: a table, the number of fields of each row a
// copyBuffer fills, and the COPY statement naming its columns in order.
type copyTable struct {
	name  string
	width int
	sql   string
}

func newCopyTable(t store.Table) copyTable {
	return copyTable{name: t.Name, width: t.Width(), sql: t.CopySQL()}
}

// copyRows sends the buffer's rows to t on tx's connection and returns the
// number of rows the server reports.
func copyRows(ctx context.Context, tx pgx.Tx, t copyTable, c *copyBuffer) (int64, error) {
	if c.rows == 0 {
		return 0, nil
	}
	want := c.rows
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(c.bytes()), t.sql)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", t.name, err)
	}
	if n := tag.RowsAffected(); n != int64(want) {
		return n, fmt.Errorf("copy %s: server took %d rows, want %d", t.name, n, want)
	}
	return tag.RowsAffected(), nil
}
