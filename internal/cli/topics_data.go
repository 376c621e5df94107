package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/app"
	"github.com/tradestream/tradestream/internal/kafka"
)

// topicsDataCommands are the topic commands that move data or grow
// topics: export, import, add-partitions.
func (r *root) topicsDataCommands() []*cobra.Command {
	var ex app.ExportOptions
	var from, to string
	export := &cobra.Command{
		Use:   "export [topic...] --output FILE",
		Short: "Write topics to a file: every record with its key, value, headers and timestamp",
		Long: `Read the topics (every topic of --topic-prefix, or the ones named, with or
without the prefix) read-committed, from the start of each partition up to the
end offsets seen when the export starts, and write every record to FILE: its
topic, partition, offset, timestamp, key, value and headers, one JSON value per
line, zstd-compressed, bytes in base64. Memory stays bounded whatever the size
of the topics: records are streamed to the file. The file is written under a
temporary name and renamed once complete; its last line marks it complete.

--from and --to keep only records whose Kafka timestamp t is in [from, to):
RFC 3339 times, dates (2025-06-20, UTC), or durations before now (24h).

What it cannot hold: records already deleted by the topics' retention, and
records older than the compaction of the users topic kept.`,
		Example: "  tradestream topics export --output backup.jsonl.zst\n" +
			"  tradestream topics export trades prices --from 24h --output last-day.jsonl.zst\n" +
			"  tradestream topics export --output - | zstd -dc | head -3",
		RunE: func(cmd *cobra.Command, args []string) error {
			now := r.io.Now()
			var err error
			if ex.From, err = parseWhen(from, now); err != nil {
				return usageError{fmt.Errorf("--from: %w", err)}
			}
			if ex.To, err = parseWhen(to, now); err != nil {
				return usageError{fmt.Errorf("--to: %w", err)}
			}
			if ex.Path == "" {
				return usageError{fmt.Errorf("topics export: --output FILE is required (- for standard output)")}
			}
			ex.Topics = args
			_, err = r.env().Export(cmd.Context(), ex)
			return err
		},
	}
	export.Flags().StringVarP(&ex.Path, "output", "o", "", "file to write (- for standard output)")
	export.Flags().StringVar(&from, "from", "", "keep records with a timestamp at or after this (RFC 3339, date, or a duration before now)")
	export.Flags().StringVar(&to, "to", "", "keep records with a timestamp before this (RFC 3339, date, or a duration before now)")

	var im app.ImportOptions
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Write the records of an export back into the topics of --topic-prefix",
		Long: `Check the whole of FILE (an export), then produce its records into the topics
of --topic-prefix (the same prefix or another): each with its key, value,
headers and timestamp, in the file's order, through an idempotent producer.
Nothing is written from a malformed or truncated file; the error names the
line. Missing topics are created with the file's partition counts, or with
--partitioner key with --topic-partitions.

--partitioner keep (the default) writes every record to the partition it was
exported from, so partitions hold what they held (in a new offset range) even
for keys whose records span two partitions after add-partitions; the topics
need at least the file's partitions. --partitioner key hashes the keys as
producers do, for topics with another partition count: per-key order holds.

Topics that already hold records are refused, since importing would add the
file's records beside them; --append imports anyway. Importing the same file
twice writes its records twice.`,
		Example: "  tradestream topics import backup.jsonl.zst --topic-prefix restored.\n" +
			"  tradestream topics import backup.jsonl.zst --partitioner key --topic-partitions 12",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			im.Path = args[0]
			_, err := r.env().Import(cmd.Context(), im)
			return err
		},
	}
	imp.Flags().StringVar(&im.Partitioner, "partitioner", app.PartitionKeep, "keep: each record's exported partition; key: by the key's hash")
	imp.Flags().BoolVar(&im.Append, "append", false, "import into topics that already hold records")

	grow := &cobra.Command{
		Use:   "add-partitions [topic...] --topic-partitions N",
		Short: "Grow the topics to N partitions, online",
		Long: `Raise the partition count of tradestream's topics (or the ones named) to
--topic-partitions through the admin API, while producers and consumers run.
Partitions can be added, never removed: a topic with N or more is an error,
and then none is changed.

Running clients see the new partitions within ` + kafka.MetadataMaxAge.String() + ` (their metadata
refresh): producers start writing to them and the sink and alerts groups
rebalance to consume them, without a restart. A key then hashes to another
partition, so its older records stay in the old partition: per-key order
holds among the new records, and the users and accounts tables keep each
key's newest version by the record's own time (updated_at), whatever
partition it came from.`,
		Example: "  tradestream topics add-partitions --topic-partitions 12\n  tradestream topics add-partitions trades --topic-partitions 24",
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := r.kafkaClient(cmd.Context())
			if err != nil {
				return err
			}
			defer cl.Close()
			prefix := r.cfg.Topics.Prefix
			topics := kafka.TopicNames(prefix).All()
			if len(args) > 0 {
				topics = topics[:0]
				for _, a := range args {
					if !strings.HasPrefix(a, prefix) {
						a = prefix + a
					}
					topics = append(topics, a)
				}
			}
			grown, err := kafka.AddPartitions(cmd.Context(), cl, r.cfg.Topics.Partitions, topics...)
			if err != nil {
				return err
			}
			for _, g := range grown {
				fmt.Fprintf(r.io.Stdout, "grew %s from %d to %d partitions\n", g.Topic, g.From, g.To)
			}
			return nil
		},
	}
	return []*cobra.Command{export, imp, grow}
}

// parseWhen reads a --from or --to value: RFC 3339, a date (UTC), or a
// duration before now; "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2025-06-20T14:30:00Z), a date (2025-06-20) or a duration before now (24h)", s)
}
