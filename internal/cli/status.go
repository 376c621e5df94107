package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/status"
	"github.com/tradestream/tradestream/internal/store"
)

// statusOptions are the `status` flags.
type statusOptions struct {
	watch     bool
	json      bool
	interval  time.Duration
	window    int
	samples   int
	groups    []string
	exactRows bool
}

func (r *root) statusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Brokers, topics, consumer lag and verdicts, row counts, dead letters: one screen",
		Long: `Show the pipeline on one screen: the brokers; the topics under the prefix with
partitions, replication factor, under-replicated and offline partitions and
record counts; every consumer group reading them with its lag per partition
(log end offset minus committed offset, as Apache Kafka's kafka-consumer-groups
--describe reports it) and in seconds (the age of the oldest unconsumed
record), and a verdict per group after LinkedIn Burrow's rules over a sliding
window of samples:

  OK      keeping up, or caught up at some point in the window
  WARN    committing, but lag never decreased over the window
  STALL   alive but committing the same offset over the window, with lag
  STOP    no commit for longer than the window spans, with lag
  REWIND  the committed offset went backwards

and PostgreSQL's tables with row counts and sizes, the dead letters, and the
streaming replicas with their lag in bytes and seconds (shown when
--database-read-url is set or the primary streams to a standby; the row counts
and dead letters then come from the read URL's server).

Without --watch it takes --samples samples --interval apart and prints the
last; with --watch it refreshes in place every --interval, the window sliding
over the last --window samples. --json prints the same as JSON (one object per
refresh with --watch). Row counts are PostgreSQL's estimates (marked ~) unless
--exact-rows.`,
		Example: "  tradestream status\n  tradestream status --watch\n  tradestream status --json | jq '.groups[] | {name, lag, verdict}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.status(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.watch, "watch", "w", false, "refresh in place until interrupted")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of the text screen")
	fs.DurationVar(&o.interval, "interval", time.Second, "time between samples")
	fs.IntVar(&o.window, "window", 10, "samples per partition the verdicts look back over")
	fs.IntVar(&o.samples, "samples", 3, "samples taken without --watch before printing")
	fs.StringSliceVar(&o.groups, "group", nil, "consumer groups to show (default: every group reading a topic under the prefix)")
	fs.BoolVar(&o.exactRows, "exact-rows", false, "count table rows exactly (count(*)) instead of PostgreSQL's estimates")
	return cmd
}

func (r *root) status(ctx context.Context, o statusOptions) error {
	if err := r.validate(); err != nil {
		return err
	}
	if o.interval <= 0 || o.window <= 0 || o.samples <= 0 {
		return usageError{fmt.Errorf("status: --interval, --window and --samples must be positive")}
	}
	cl, err := kafka.NewClient(ctx, r.cfg.Kafka, r.log)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The database is optional here: without it the screen still shows
	// Kafka, and says why the tables are missing.
	var problems []string
	pool, err := store.Open(ctx, r.cfg.Database.As(config.RoleReader))
	if err != nil {
		problems = append(problems, fmt.Sprintf("postgresql: %v", err))
	} else {
		defer pool.Close()
	}
	// With a read URL (a replica), row counts and dead letters come from
	// it and its lag is shown; offsets still come from the primary.
	var read *pgxpool.Pool
	if d := r.cfg.Database; d.ReadURL != "" && pool != nil {
		if read, err = store.Open(ctx, d.Read()); err != nil {
			problems = append(problems, fmt.Sprintf("postgresql read url (tables and replication lag from the primary instead): %v", err))
			read = nil
		} else {
			defer read.Close()
		}
	}
	sampler, err := r.env().Sampler(cl, pool, read, o.groups, o.window, o.exactRows)
	if err != nil {
		return err
	}
	defer sampler.Close()
	show := func(snap status.Snapshot) error {
		snap.Problems = append(problems, snap.Problems...)
		if o.json {
			return json.NewEncoder(r.io.Stdout).Encode(snap)
		}
		if o.watch && r.io.IsTerminal {
			io.WriteString(r.io.Stdout, "\x1b[H\x1b[2J") // home, clear
		}
		return status.Render(r.io.Stdout, snap)
	}
	if !o.watch {
		var snap status.Snapshot
		for i := range o.samples {
			if i > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(o.interval):
				}
			}
			snap = sampler.Sample(ctx)
		}
		return show(snap)
	}
	var perr error
	err = sampler.Run(ctx, o.interval, func(snap status.Snapshot) {
		if perr == nil {
			perr = show(snap)
		}
	})
	if perr != nil {
		return perr
	}
	return err
}
