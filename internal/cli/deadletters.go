package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/sink"
)

// deadLetterFlags are the selection flags of `deadletters list` and
// `replay`.
type deadLetterFlags struct {
	ids            []int64
	reasons        []string
	topics         []string
	since, until   string
	state          string
	limit          int
	json, all      bool
	chunk          int
	sinceT, untilT time.Time
}

func (f *deadLetterFlags) bindSelection(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.reasons, "reason", nil, "only dead letters with this reason (repeatable, or comma-separated)")
	fs.StringSliceVar(&f.topics, "topic", nil, "only dead letters of this topic: users, prices, trades, alerts or a full name (repeatable)")
	fs.StringVar(&f.since, "since", "", "only dead letters received at or after this time: RFC 3339, or a duration ago (2h)")
	fs.StringVar(&f.until, "until", "", "only dead letters received before this time: RFC 3339, or a duration ago")
	fs.BoolVar(&f.json, "json", false, "print JSON")
}

// filter turns the flags into a sink.DeadLetterFilter; a bad time is a
// usage error.
func (r *root) deadLetterFilter(f *deadLetterFlags) (sink.DeadLetterFilter, error) {
	var err error
	now := r.io.Now()
	if f.sinceT, err = parseWhen(f.since, now); err != nil {
		return sink.DeadLetterFilter{}, usageError{fmt.Errorf("--since: %w", err)}
	}
	if f.untilT, err = parseWhen(f.until, now); err != nil {
		return sink.DeadLetterFilter{}, usageError{fmt.Errorf("--until: %w", err)}
	}
	return sink.DeadLetterFilter{
		IDs: f.ids, Reasons: f.reasons, Topics: r.env().DeadLetterTopics(f.topics),
		Since: f.sinceT, Until: f.untilT, State: f.state, Limit: f.limit,
	}, nil
}

func (r *root) deadLettersCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "deadletters",
		Short: "List, inspect and replay the records the sink could not load",
		Long: `The dead_letters table holds every record the sink could never load, with its
reason, the error, where it came from (topic, partition, offset) and the raw
key and value. list and show read it as the reader role; replay sends dead
letters back through the sink's decode, transform and load path after a fix
(a binary that knows a new schema version, a changed transform in the
configuration), as the schema owner (--database-url).`,
	})
	cmd.AddCommand(r.deadLettersListCommand(), r.deadLettersShowCommand(), r.deadLettersReplayCommand())
	return cmd
}

func (r *root) deadLettersListCommand() *cobra.Command {
	var f deadLetterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, newest first, by reason, topic, time and replay state",
		Example: "  tradestream deadletters list\n  tradestream deadletters list --reason unknown_schema --topic trades --since 2h\n" +
			"  tradestream deadletters list --state dead --json | jq '.dead_letters[].replay_reason'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := r.deadLetterFilter(&f)
			if err != nil {
				return err
			}
			pool, err := r.env().OpenPoolAs(cmd.Context(), config.RoleReader)
			if err != nil {
				return err
			}
			defer pool.Close()
			dls, total, err := sink.ListDeadLetters(cmd.Context(), pool, filter)
			if err != nil {
				return err
			}
			if f.json {
				return r.printJSON(struct {
					Total       int64                   `json:"total"`
					DeadLetters []sink.StoredDeadLetter `json:"dead_letters"`
				}{total, dls})
			}
			printDeadLetters(r.io.Stdout, dls, total)
			return nil
		},
	}
	f.bindSelection(cmd.Flags())
	cmd.Flags().StringVar(&f.state, "state", "", "only dead letters in this replay state: "+strings.Join(sink.DeadLetterStates, ", "))
	cmd.Flags().IntVar(&f.limit, "limit", 100, "list at most this many")
	return cmd
}

func printDeadLetters(w io.Writer, dls []sink.StoredDeadLetter, total int64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tTOPIC\tPART\tOFFSET\tREASON\tREPLAY\tERROR")
	for _, d := range dls {
		replay := "-"
		if d.ReplayedAt != nil {
			replay = d.ReplayOutcome
			if d.ReplayReason != "" {
				replay += " (" + d.ReplayReason + ")"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", d.ID, d.ReceivedAt.UTC().Format(time.RFC3339), d.Topic,
			d.Partition, d.Offset, d.Reason, replay, cut(oneLine(d.Error), 70))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d of %d dead letters\n", len(dls), total)
}

func (r *root) deadLettersShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one dead letter: its error, its raw key and value, and what a replay would now do",
		Example: "  tradestream deadletters show 42\n  tradestream deadletters show 42 --json | jq -r .value_text",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("dead letter id %q: not a number", args[0])}
			}
			rp, pool, err := r.env().Replayer(cmd.Context(), config.RoleReader, 0, nil)
			if err != nil {
				return err
			}
			defer pool.Close()
			d, err := sink.GetDeadLetter(cmd.Context(), pool, id)
			if err != nil {
				return err
			}
			now := rp.Preview(d)
			if asJSON {
				out := struct {
					sink.StoredDeadLetter
					KeyText   *string      `json:"key_text,omitempty"`
					ValueText *string      `json:"value_text,omitempty"`
					ReplayNow sink.Outcome `json:"replay_now"`
				}{StoredDeadLetter: d, ReplayNow: now}
				if utf8.Valid(d.Key) && d.Key != nil {
					out.KeyText = ptrTo(string(d.Key))
				}
				if utf8.Valid(d.Value) && d.Value != nil {
					out.ValueText = ptrTo(string(d.Value))
				}
				return r.printJSON(out)
			}
			printDeadLetter(r.io.Stdout, d, now)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (key and value base64, and as text when they are UTF-8)")
	return cmd
}

func printDeadLetter(w io.Writer, d sink.StoredDeadLetter, now sink.Outcome) {
	fmt.Fprintf(w, "dead letter %d\n", d.ID)
	fmt.Fprintf(w, "  source     %s partition %d offset %d\n", d.Topic, d.Partition, d.Offset)
	fmt.Fprintf(w, "  schema     %s\n", orDash(d.Schema))
	fmt.Fprintf(w, "  received   %s\n", d.ReceivedAt.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  reason     %s\n", d.Reason)
	fmt.Fprintf(w, "  error      %s\n", d.Error)
	if d.ReplayedAt != nil {
		fmt.Fprintf(w, "  replayed   %s: %s", d.ReplayedAt.UTC().Format(time.RFC3339), d.ReplayOutcome)
		if d.ReplayReason != "" {
			fmt.Fprintf(w, " (%s: %s)", d.ReplayReason, d.ReplayError)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "  replay now %s", now.Outcome)
		if now.Reason != "" {
			fmt.Fprintf(w, " (%s: %s)", now.Reason, now.Error)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  key        %s\n", raw(d.Key))
	fmt.Fprintf(w, "  value      %s\n", raw(d.Value))
}

func (r *root) deadLettersReplayCommand() *cobra.Command {
	var f deadLetterFlags
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Replay dead letters through the sink's decode, transform and load path",
		Long: `Replay the selected dead letters that were never replayed: each is decoded,
transformed (the configuration's sink.transforms, then the built-in ones) and
loaded as the sink would, and marked with the outcome: loaded (it is now a row
and no longer counts as a dead letter), dropped (a transform filters it out)
or dead (dead again, with the new reason and error). Each chunk of --chunk dead
letters is one transaction holding both the rows and the marks, so every dead
letter is replayed at most once, and a replay that is killed is simply run
again. Give a selection (--id, --reason, --topic, --since, --until) or --all.
Runs as the schema owner (--database-url).`,
		Example: "  tradestream deadletters replay --reason unknown_schema\n" +
			"  tradestream deadletters replay --id 42 --id 43\n" +
			"  tradestream --config fixed.yaml deadletters replay --reason above_notional --since 24h --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := r.deadLetterFilter(&f)
			if err != nil {
				return err
			}
			if !f.all && len(f.ids) == 0 && len(f.reasons) == 0 && len(f.topics) == 0 && f.since == "" && f.until == "" {
				return usageError{errors.New("deadletters replay: select what to replay (--id, --reason, --topic, --since, --until) or give --all")}
			}
			return r.replay(cmd.Context(), f, filter)
		},
	}
	f.bindSelection(cmd.Flags())
	cmd.Flags().Int64SliceVar(&f.ids, "id", nil, "replay this dead letter (repeatable, or comma-separated)")
	cmd.Flags().BoolVar(&f.all, "all", false, "replay every dead letter never replayed")
	cmd.Flags().IntVar(&f.chunk, "chunk", 500, "dead letters per transaction")
	return cmd
}

func (r *root) replay(ctx context.Context, f deadLetterFlags, filter sink.DeadLetterFilter) error {
	progress := func(rep sink.ReplayReport) {
		if !f.json {
			fmt.Fprintf(r.io.Stderr, "replayed %d: %d loaded, %d dropped, %d dead again\n", rep.Replayed, rep.Loaded, rep.Dropped, rep.Dead)
		}
	}
	rp, pool, err := r.env().Replayer(ctx, config.RoleOwner, f.chunk, progress)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep, err := rp.Replay(ctx, filter)
	if err != nil {
		return err
	}
	if f.json {
		return r.printJSON(rep)
	}
	fmt.Fprintf(r.io.Stdout, "replayed %d dead letters in %d transactions: %d loaded, %d dropped, %d dead again\n",
		rep.Replayed, rep.Chunks, rep.Loaded, rep.Dropped, rep.Dead)
	for reason, n := range rep.Reasons {
		fmt.Fprintf(r.io.Stdout, "  dead again %-22s %d\n", reason, n)
	}
	return nil
}

// raw shows a key or value: as text when it is UTF-8, else quoted.
func raw(b []byte) string {
	switch {
	case b == nil:
		return "(null)"
	case utf8.Valid(b):
		return string(b)
	}
	return strconv.Quote(string(b))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func ptrTo[T any](v T) *T { return &v }
