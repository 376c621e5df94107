package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/archive"
	"github.com/tradestream/tradestream/internal/kafka"
)

// ExportOptions say what `topics export` writes.
type ExportOptions struct {
	// Path is the file to write; "-" is Stdout. A file is written under a
	// temporary name and renamed once complete.
	Path string
	// Topics are the topics to export, with or without the prefix; empty
	// is every topic whose name starts with the prefix.
	Topics []string
	// From and To bound the records' timestamps, From <= t < To; zero is
	// unbounded.
	From, To time.Time
	// Idle is how long a read waits for more records of a partition whose
	// end offset it has not reached before taking it as read (its tail
	// compacted away); 0 is 10 s.
	Idle time.Duration
}

// ExportReport is what an export wrote.
type ExportReport struct {
	Records  int64
	PerTopic map[string]int64
	Bytes    int64
	Elapsed  time.Duration
}

// Export runs `topics export`: it reads the topics read-committed from
// their start (or the first offset at From) up to the end offsets seen
// when it starts, streaming each record into the file, and prints a
// summary on Stderr (a progress line too, on a terminal).
func (e *Env) Export(ctx context.Context, o ExportOptions) (*ExportReport, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if !o.To.IsZero() && !o.From.IsZero() && !o.To.After(o.From) {
		return nil, Invalid(fmt.Errorf("--to %s is not after --from %s", o.To.Format(time.RFC3339), o.From.Format(time.RFC3339)))
	}
	if o.Idle <= 0 {
		o.Idle = 10 * time.Second
	}
	cl, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	prefix := e.Config.Topics.Prefix
	topics, err := exportedTopics(ctx, kadm.NewClient(cl), prefix, o.Topics)
	if err != nil {
		return nil, err
	}
	spans, err := kafka.Spans(ctx, kadm.NewClient(cl), o.From, topics...)
	if err != nil {
		return nil, err
	}
	h := archive.Header{CreatedAt: e.now().UTC(), Prefix: prefix}
	if !o.From.IsZero() {
		h.From = &o.From
	}
	if !o.To.IsZero() {
		h.To = &o.To
	}
	var total int64
	for _, t := range topics {
		at := archive.Topic{Name: strings.TrimPrefix(t, prefix)}
		for _, s := range spans[t] {
			at.Partitions = append(at.Partitions, archive.Range{Start: s.Start, End: s.End})
			total += s.Len()
		}
		h.Topics = append(h.Topics, at)
	}
	out, err := createOutput(o.Path, e.Stdout)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	w, err := archive.NewWriter(out, h)
	if err != nil {
		return nil, err
	}
	rep := &ExportReport{PerTopic: map[string]int64{}}
	prog := e.progress(e.Stderr, "export", "records", total)
	read := int64(0)
	short, err := kafka.ReadSpans(ctx, e.Config.Kafka, e.Log, spans, o.Idle, func(r *kgo.Record) error {
		read++
		prog.add(1, "  "+mib(out.n))
		ms := r.Timestamp.UnixMilli()
		if (!o.From.IsZero() && ms < o.From.UnixMilli()) || (!o.To.IsZero() && ms >= o.To.UnixMilli()) {
			return nil
		}
		rep.PerTopic[r.Topic]++
		return w.Write(strings.TrimPrefix(r.Topic, prefix), r)
	})
	rep.Elapsed = prog.finish()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := out.commit(); err != nil {
		return nil, err
	}
	rep.Records, rep.Bytes = w.Records(), out.n
	fmt.Fprintf(e.Stderr, "export: %d records of %d topics (%s) to %s in %s\n", rep.Records, len(topics), mib(rep.Bytes),
		o.Path, rep.Elapsed.Round(time.Millisecond))
	for _, t := range topics {
		fmt.Fprintf(e.Stderr, "  %-40s %d records\n", t, rep.PerTopic[t])
	}
	if short > 0 {
		fmt.Fprintf(e.Stderr, "export: %d partitions ended before their end offset (their last records compacted away)\n", short)
	}
	return rep, nil
}

// exportedTopics resolves the topics to export: the given ones (the prefix
// added to a name without it), which must exist, or every topic of the
// prefix.
func exportedTopics(ctx context.Context, adm *kadm.Client, prefix string, given []string) ([]string, error) {
	infos, err := kafka.Describe(ctx, adm, prefix)
	if err != nil {
		return nil, err
	}
	var have []string
	for _, t := range infos {
		have = append(have, t.Name)
	}
	if len(given) == 0 {
		if len(have) == 0 {
			return nil, fmt.Errorf("export: no topics with prefix %q", prefix)
		}
		return have, nil
	}
	var out []string
	var errs []error
	for _, g := range given {
		name := g
		if !strings.HasPrefix(name, prefix) {
			name = prefix + g
		}
		switch {
		case !slices.Contains(have, name):
			errs = append(errs, fmt.Errorf("export: no topic %s under prefix %q", name, prefix))
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	return out, Invalid(errors.Join(errs...))
}

// output is the file an export writes: a temporary file renamed to its
// name by commit, or Stdout; it counts the bytes written.
type output struct {
	w        io.Writer
	f        *os.File
	path     string
	n        int64
	finished bool
}

func createOutput(path string, stdout io.Writer) (*output, error) {
	if path == "-" {
		return &output{w: stdout}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &output{w: f, f: f, path: path}, nil
}

func (o *output) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	o.n += int64(n)
	return n, err
}

// commit makes the file visible under its name.
func (o *output) commit() error {
	o.finished = true
	if o.f == nil {
		return nil
	}
	if err := o.f.Sync(); err != nil {
		o.f.Close()
		os.Remove(o.f.Name())
		return fmt.Errorf("export: %w", err)
	}
	if err := o.f.Close(); err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(o.f.Name(), o.path); err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// abort removes an unfinished file.
func (o *output) abort() {
	if o.finished || o.f == nil {
		return
	}
	o.f.Close()
	os.Remove(o.f.Name())
}
