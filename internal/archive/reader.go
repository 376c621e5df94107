package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LineError is a problem with one line of a file (or with the file after
// its last line).
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ErrTruncated is wrapped by the error of a file that ends before its
// trailer.
var ErrTruncated = errors.New("the file is truncated")

// Reader reads a file written by Writer, checking each line. It is not
// safe for concurrent use.
type Reader struct {
	zr      *zstd.Decoder
	sc      *bufio.Scanner
	h       Header
	n       int                // lines read
	next    map[string][]int64 // per topic and partition, the lowest offset the next record may have
	records int64
	done    bool
}

// NewReader reads and checks the header of the file in r. Close releases
// the decoder; it does not close r.
func NewReader(r io.Reader) (*Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("archive: zstd: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	rd := &Reader{zr: zr, sc: sc, next: map[string][]int64{}}
	if err := rd.header(); err != nil {
		zr.Close()
		return nil, err
	}
	return rd, nil
}

func (r *Reader) header() error {
	b, err := r.line()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &LineError{Line: 1, Err: fmt.Errorf("empty file: %w", ErrTruncated)}
		}
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r.h); err != nil {
		return &LineError{Line: 1, Err: fmt.Errorf("header: %w", err)}
	}
	if err := r.h.check(); err != nil {
		return &LineError{Line: 1, Err: err}
	}
	for _, t := range r.h.Topics {
		next := make([]int64, len(t.Partitions))
		for p, rg := range t.Partitions {
			next[p] = rg.Start
		}
		r.next[t.Name] = next
	}
	return nil
}

// line returns the next line, io.EOF at a clean end of the stream.
func (r *Reader) line() ([]byte, error) {
	if r.sc.Scan() {
		r.n++
		return r.sc.Bytes(), nil
	}
	err := r.sc.Err()
	switch {
	case err == nil:
		return nil, io.EOF
	case errors.Is(err, bufio.ErrTooLong):
		return nil, &LineError{Line: r.n + 1, Err: fmt.Errorf("longer than %d bytes", MaxLine)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &LineError{Line: r.n + 1, Err: fmt.Errorf("the compressed stream ends mid-frame: %w", ErrTruncated)}
	default:
		return nil, &LineError{Line: r.n + 1, Err: fmt.Errorf("not a readable zstd stream: %w", err)}
	}
}

// Header returns the file's header.
func (r *Reader) Header() Header { return r.h }

// Line returns the number of the last line read.
func (r *Reader) Line() int { return r.n }

// Next returns the next record, with Topic relative to the header's
// prefix, or io.EOF once the trailer has been read and checked and the
// stream has ended. Any other error is a *LineError and final.
func (r *Reader) Next() (*kgo.Record, error) {
	if r.done {
		return nil, io.EOF
	}
	b, err := r.line()
	if errors.Is(err, io.EOF) {
		return nil, &LineError{Line: r.n, Err: fmt.Errorf("no end marker after the last line: %w", ErrTruncated)}
	}
	if err != nil {
		return nil, err
	}
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, &LineError{Line: r.n, Err: fmt.Errorf("not a record: %w", err)}
	}
	if l.End != nil {
		return nil, r.end(l.End)
	}
	if err := l.check(&r.h); err != nil {
		return nil, &LineError{Line: r.n, Err: err}
	}
	next := r.next[l.Topic]
	rg, _ := r.h.Topic(l.Topic)
	if want, end := next[l.Partition], rg.Partitions[l.Partition].End; l.Offset < want || l.Offset >= end {
		return nil, &LineError{Line: r.n, Err: fmt.Errorf("%s partition %d: offset %d out of order or outside the exported range [%d, %d)",
			l.Topic, l.Partition, l.Offset, want, end)}
	}
	next[l.Partition] = l.Offset + 1
	r.records++
	return l.record(), nil
}

// end checks the trailer and that nothing follows it.
func (r *Reader) end(t *trailer) error {
	at := r.n
	if t.Records != r.records {
		return &LineError{Line: at, Err: fmt.Errorf("the end marker counts %d records, the file holds %d", t.Records, r.records)}
	}
	_, err := r.line()
	switch {
	case errors.Is(err, io.EOF):
		r.done = true
		return io.EOF
	case err != nil:
		return err
	default:
		return &LineError{Line: r.n, Err: errors.New("data after the end marker")}
	}
}

// Records returns the number of records read.
func (r *Reader) Records() int64 { return r.records }

// Close releases the decoder.
func (r *Reader) Close() { r.zr.Close() }
