package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/alert"
	"github.com/tradestream/tradestream/internal/event"
)

func (r *root) alertsCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "alerts",
		Short: "Streaming price alerts: run the engine, manage its rules",
		Long: `Alert rules live in PostgreSQL (table alert_rules). The engine evaluates them
on the prices and trades topics and produces alert/1 events to the alerts
topic, which the sink stores in the alerts table and the dashboard shows.

Rule kinds (THRESHOLD means):
  price_above   SYMBOL crosses above THRESHOLD (a price)
  price_below   SYMBOL crosses below THRESHOLD (a price)
  pct_move      the price moves more than THRESHOLD percent within --window
  volume_spike  a tick's volume exceeds THRESHOLD times the --window baseline
  big_trade     one trade's notional (price x quantity) exceeds THRESHOLD

Alerts are edge-triggered: one per crossing, none while the price stays
beyond the level; --cooldown suppresses alerts of a rule and symbol for that
long after the previous one. SYMBOL '*' (or 'any') matches every symbol,
except for the price levels.`,
	})
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Run the alerts engine",
		Long: `Consume the prices and trades topics in the engine's consumer group, evaluate
the rules on the stream and produce alerts to the alerts topic, until
interrupted. The engine keeps its offsets and rule state in PostgreSQL,
committed together per batch, and produces each batch's alerts in one Kafka
transaction: after a crash or kill -9 it resumes where the database says and
neither misses nor repeats an alert. Rules added or removed while it runs
take effect within two seconds.`,
		Example: "  tradestream alerts run\n  tradestream alerts run --from-start --metrics-addr 127.0.0.1:9467\n  tradestream alerts run --format avro --instance engine-2   # a second engine, alerts in Avro",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.env().RunAlerts(cmd.Context())
		},
	}
	r.cfg.Alerts.Bind(runCmd.Flags())
	withMetricsPort(runCmd, "9467")

	var add struct {
		window, cooldown time.Duration
		note             string
		json             bool
	}
	addCmd := &cobra.Command{
		Use:   "add KIND SYMBOL THRESHOLD",
		Short: "Add an alert rule",
		Example: `  tradestream alerts add price_above AAPL 200
  tradestream alerts add price_below MSFT 380.50 --cooldown 10m
  tradestream alerts add pct_move NVDA 2.5 --window 5m
  tradestream alerts add volume_spike '*' 4 --window 10m
  tradestream alerts add big_trade any 1000000 --note "block trades"`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			rule, err := parseRule(args)
			if err != nil {
				return usageError{err}
			}
			rule.Window, rule.Cooldown, rule.Note = add.window, add.cooldown, add.note
			return r.alertsAdd(cmd.Context(), rule, add.json)
		},
	}
	addCmd.Flags().DurationVar(&add.window, "window", 0, "look-back of pct_move and baseline span of volume_spike, e.g. 5m")
	addCmd.Flags().DurationVar(&add.cooldown, "cooldown", 0, "least time between two alerts of the rule for one symbol (event time)")
	addCmd.Flags().StringVar(&add.note, "note", "", "free text shown with the rule")
	addCmd.Flags().BoolVar(&add.json, "json", false, "print the stored rule as JSON")

	var listJSON bool
	listCmd := &cobra.Command{
		Use:     "list",
		Short:   "List the alert rules",
		Example: "  tradestream alerts list\n  tradestream alerts list --json | jq '.[].rule_id'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.alertsList(cmd.Context(), listJSON)
		},
	}
	listCmd.Flags().BoolVar(&listJSON, "json", false, "print the rules as a JSON array")

	rmCmd := &cobra.Command{
		Use:     "rm ID...",
		Short:   "Remove alert rules (the alerts they fired are kept)",
		Example: "  tradestream alerts rm 7\n  tradestream alerts rm 7 8 9",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.alertsRemove(cmd.Context(), args)
		},
	}
	cmd.AddCommand(runCmd, addCmd, listCmd, rmCmd)
	return cmd
}

// parseRule reads KIND SYMBOL THRESHOLD.
func parseRule(args []string) (alert.Rule, error) {
	var errs []error
	r := alert.Rule{Kind: alert.Kind(strings.ToLower(args[0]))}
	if !r.Kind.Valid() {
		errs = append(errs, fmt.Errorf("kind %q: want one of price_above, price_below, pct_move, volume_spike, big_trade", args[0]))
	}
	switch s := args[1]; s {
	case "*", "any", "ANY", "":
	default:
		sym, ok := event.NormalizeSymbol(s)
		if !ok {
			errs = append(errs, fmt.Errorf("symbol %q: want 1 to 10 letters, digits or dots, starting with a letter, or '*'", s))
		}
		r.Symbol = sym
	}
	t, err := event.ParseDecimal(args[2])
	if err != nil {
		errs = append(errs, fmt.Errorf("threshold %q: want a number with at most 4 decimals", args[2]))
	}
	r.Threshold = t
	return r, errors.Join(errs...)
}

func (r *root) alertsAdd(ctx context.Context, rule alert.Rule, asJSON bool) error {
	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	added, err := alert.NewStore(pool).Add(ctx, rule)
	if errors.Is(err, alert.ErrInvalidRule) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(r.io.Stdout).Encode(added)
	}
	fmt.Fprintf(r.io.Stdout, "added rule %s\n", added.String())
	return nil
}

func (r *root) alertsList(ctx context.Context, asJSON bool) error {
	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	rules, err := alert.NewStore(pool).List(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if rules == nil {
			rules = []alert.Rule{}
		}
		return r.printJSON(rules)
	}
	if len(rules) == 0 {
		fmt.Fprintln(r.io.Stdout, "no alert rules; `tradestream alerts add price_above AAPL 200` adds one")
		return nil
	}
	w := tabwriter.NewWriter(r.io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tKIND\tSYMBOL\tTHRESHOLD\tWINDOW\tCOOLDOWN\tENABLED\tCREATED\tNOTE")
	for _, ru := range rules {
		sym := ru.Symbol
		if sym == "" {
			sym = "*"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%t\t%s\t%s\n", ru.ID, ru.Kind, sym, ru.Threshold,
			durationOrDash(ru.Window), durationOrDash(ru.Cooldown), ru.Enabled,
			ru.CreatedAt.Format("2006-01-02 15:04"), ru.Note)
	}
	return w.Flush()
}

func (r *root) alertsRemove(ctx context.Context, args []string) error {
	var ids []int64
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return usageError{fmt.Errorf("rule id %q: want a positive integer (see `tradestream alerts list`)", a)}
		}
		ids = append(ids, id)
	}
	pool, err := r.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := alert.NewStore(pool)
	var errs []error
	for _, id := range ids {
		if err := store.Remove(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(r.io.Stdout, "removed rule %d\n", id)
	}
	return errors.Join(errs...)
}

func durationOrDash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}
