package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Writer writes a file: the header, records, and on Close the trailer. It
// holds one record at a time (and zstd's window); it is not safe for
// concurrent use.
type Writer struct {
	zw      *zstd.Encoder
	enc     *json.Encoder
	l       line
	records int64
	closed  bool
}

// NewWriter writes h (Format, Version and, when zero, nothing else are
// filled in) to w, zstd-compressed, and returns the writer of the records.
// Closing the Writer does not close w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format, h.Version = Format, Version
	if err := h.check(); err != nil {
		return nil, err
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("archive: zstd: %w", err)
	}
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		zw.Close()
		return nil, fmt.Errorf("archive: write header: %w", err)
	}
	return &Writer{zw: zw, enc: enc}, nil
}

// Write appends r, from the topic named topic (without the prefix).
func (w *Writer) Write(topic string, r *kgo.Record) error {
	if w.closed {
		return errors.New("archive: write after close")
	}
	w.l.fromRecord(topic, r)
	if err := w.enc.Encode(&w.l); err != nil {
		return fmt.Errorf("archive: write record %s/%d@%d: %w", topic, r.Partition, r.Offset, err)
	}
	w.records++
	return nil
}

// Records returns the number of records written.
func (w *Writer) Records() int64 { return w.records }

// Close writes the trailer and flushes the zstd stream. Without it the
// file reads as truncated.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.enc.Encode(line{End: &trailer{Records: w.records}}); err != nil {
		w.zw.Close()
		return fmt.Errorf("archive: write trailer: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("archive: flush: %w", err)
	}
	return nil
}
