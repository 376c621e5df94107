package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/archive"
	"github.com/tradestream/tradestream/internal/kafka"
)

// Partitioners of ImportOptions.
const (
	// PartitionKeep writes each record to the partition it was read from.
	PartitionKeep = "keep"
	// PartitionKey chooses the partition by the key's hash, as producers do.
	PartitionKey = "key"
)

// ImportOptions say how `topics import` writes a file back.
type ImportOptions struct {
	// Path is the file to read.
	Path string
	// Partitioner is PartitionKeep (the default) or PartitionKey.
	Partitioner string
	// Append imports into topics that already hold records; otherwise
	// that is refused, since it would duplicate them.
	Append bool
}

// ImportReport is what an import wrote.
type ImportReport struct {
	Records  int64
	PerTopic map[string]int64
	Elapsed  time.Duration
}

// Import runs `topics import`: it reads the whole file once to check it
// (nothing is written from a malformed or truncated file), creates the
// topics of the current prefix that do not exist, with the file's
// partition counts, and produces every record with its key, value,
// headers and timestamp through an idempotent producer, in file order (so
// per partition in offset order).
func (e *Env) Import(ctx context.Context, o ImportOptions) (*ImportReport, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if o.Partitioner == "" {
		o.Partitioner = PartitionKeep
	}
	if o.Partitioner != PartitionKeep && o.Partitioner != PartitionKey {
		return nil, Invalid(fmt.Errorf("--partitioner %q: want %s or %s", o.Partitioner, PartitionKeep, PartitionKey))
	}
	h, n, err := checkFile(o.Path)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Stderr, "import: %s holds %d records of %d topics exported from prefix %q at %s\n",
		o.Path, n, len(h.Topics), h.Prefix, h.CreatedAt.Format(time.RFC3339))
	cl, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := e.prepareTargets(ctx, cl, h, o); err != nil {
		return nil, err
	}
	popts := kafka.ProducerOptions(e.Config.Kafka)
	if o.Partitioner == PartitionKeep {
		popts = append(popts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	prod, err := kafka.NewClient(ctx, e.Config.Kafka, e.Log, popts...)
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	return e.produceFile(ctx, prod, o.Path, n)
}

// checkFile reads the file at path to its end and returns its header and
// record count, or the first problem with its line number.
func checkFile(path string) (archive.Header, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return archive.Header{}, 0, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	r, err := archive.NewReader(f)
	if err != nil {
		return archive.Header{}, 0, fmt.Errorf("import: %s: %w", path, err)
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), r.Records(), nil
		}
		if err != nil {
			return archive.Header{}, 0, fmt.Errorf("import: %s: %w (nothing was imported)", path, err)
		}
	}
}

// prepareTargets creates the missing topics under the current prefix and
// checks the others: enough partitions to keep the file's, and empty
// unless o.Append.
func (e *Env) prepareTargets(ctx context.Context, cl *kgo.Client, h archive.Header, o ImportOptions) error {
	prefix := e.Config.Topics.Prefix
	specs := kafka.Specs(e.Config.Topics)
	var want []kafka.TopicSpec
	var names []string
	for _, t := range h.Topics {
		name := prefix + t.Name
		names = append(names, name)
		spec := kafka.TopicSpec{Name: name, ReplicationFactor: int16(e.Config.Topics.ReplicationFactor)}
		if i := slices.IndexFunc(specs, func(s kafka.TopicSpec) bool { return s.Name == name }); i >= 0 {
			spec = specs[i]
		}
		switch {
		case o.Partitioner != PartitionKey:
			spec.Partitions = int32(len(t.Partitions))
		case spec.Partitions <= 0:
			spec.Partitions = int32(e.Config.Topics.Partitions)
		}
		want = append(want, spec)
	}
	created, err := kafka.EnsureTopics(ctx, cl, want)
	if err != nil {
		return err
	}
	for _, c := range created {
		fmt.Fprintf(e.Stderr, "import: created %s\n", c)
	}
	adm := kadm.NewClient(cl)
	spans, err := kafka.Spans(ctx, adm, time.Time{}, names...)
	if err != nil {
		return err
	}
	var errs []error
	for i, t := range h.Topics {
		got := spans[names[i]]
		if o.Partitioner == PartitionKeep && len(got) < len(t.Partitions) {
			errs = append(errs, fmt.Errorf("topic %s has %d partitions, the file's %s had %d: grow it (`topics add-partitions`) or import with --partitioner key",
				names[i], len(got), t.Name, len(t.Partitions)))
		}
		var held int64
		for _, s := range got {
			held += s.Len()
		}
		if held > 0 && !o.Append {
			errs = append(errs, fmt.Errorf("topic %s already holds %d records: importing would add the file's beside them (--append to import anyway)", names[i], held))
		}
	}
	return Invalid(errors.Join(errs...))
}

// produceFile produces the records of the file at path, n of them.
func (e *Env) produceFile(ctx context.Context, prod *kgo.Client, path string, n int64) (*ImportReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	r, err := archive.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("import: %s: %w", path, err)
	}
	defer r.Close()
	prefix := e.Config.Topics.Prefix
	rep := &ImportReport{PerTopic: map[string]int64{}}
	prog := e.progress(e.Stderr, "import", "records", n)
	var mu sync.Mutex
	var failed error
	done := func(rec *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if failed == nil {
				failed = fmt.Errorf("produce to %s partition %d: %w", rec.Topic, rec.Partition, err)
			}
			mu.Unlock()
		}
	}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil { // the file changed since it was checked
			prod.Flush(ctx)
			return nil, fmt.Errorf("import: %s: %w", path, err)
		}
		rec.Topic = prefix + rec.Topic
		rec.Offset = 0
		prod.Produce(ctx, rec, done)
		rep.PerTopic[rec.Topic]++
		prog.add(1, "")
		mu.Lock()
		ferr := failed
		mu.Unlock()
		if ferr != nil {
			break
		}
	}
	if err := prod.Flush(ctx); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	rep.Elapsed = prog.finish()
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return nil, fmt.Errorf("import: %w (records before it may have been written)", failed)
	}
	rep.Records = r.Records()
	fmt.Fprintf(e.Stderr, "import: %d records into prefix %q in %s\n", rep.Records, prefix, rep.Elapsed.Round(time.Millisecond))
	for _, t := range r.Header().Topics {
		fmt.Fprintf(e.Stderr, "  %-40s %d records\n", prefix+t.Name, rep.PerTopic[prefix+t.Name])
	}
	return rep, nil
}
