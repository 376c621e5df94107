package verify

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Print writes r as a table of partitions followed by the other checks
// and the verdict.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "topic\tpartition\tstart\tend\tstored\trows\tdead\tmissing\texpired\tdup\tahead\tpending\t")
	for _, p := range r.Partitions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.Topic, p.Partition, p.Start, p.End,
			p.Stored, p.Rows, p.DeadLetters, p.Missing, p.Expired, p.Duplicates, p.Ahead, p.Pending)
	}
	_ = tw.Flush()
	u := r.Users
	fmt.Fprintf(w, "\nusers     %d keys, %d rows: %d missing, %d stale, %d extra\n", u.Keys, u.Rows, u.Missing, u.Stale, u.Extra)
	b := r.Balances
	fmt.Fprintf(w, "balances  %d accounts: %d mismatched, %d missing, %d chain breaks\n",
		b.Accounts, b.Mismatched, b.MissingAccounts, b.ChainBreaks)
	fmt.Fprintf(w, "events    %d duplicate trade ids, %d duplicate ticks\n", r.DuplicateTrades, r.DuplicateTicks)
	ro, windows, pos := r.Rollups, "every minute", "not compared (raw retention)"
	if ro.Samples > 0 {
		windows = fmt.Sprintf("%d random windows", ro.Samples)
	}
	if ro.Positions {
		pos = "compared"
	}
	fmt.Fprintf(w, "rollups   %s, positions %s: %d differences from the raw rows\n", windows, pos, ro.Differences)
	reasons := make([]string, 0, len(r.DeadLetters))
	for k := range r.DeadLetters {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	fmt.Fprint(w, "dead      ")
	if len(reasons) == 0 {
		fmt.Fprint(w, "none")
	}
	for i, k := range reasons {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s %d", k, r.DeadLetters[k])
	}
	fmt.Fprintln(w)
	if m := r.Manifest; m != nil {
		fmt.Fprintf(w, "manifest  run %s: ticks %d of %d, trades %d of %d", m.RunID, m.Ticks.Got, m.Ticks.Want, m.Trades.Got, m.Trades.Want)
		reasons := make([]string, 0, len(m.DeadLetters))
		for k := range m.DeadLetters {
			reasons = append(reasons, k)
		}
		slices.Sort(reasons)
		for _, k := range reasons {
			fmt.Fprintf(w, ", dead %s %d of %d", k, m.DeadLetters[k].Got, m.DeadLetters[k].Want)
		}
		fmt.Fprintln(w)
	}
	if r.OK() {
		fmt.Fprintln(w, "\nOK: Kafka and PostgreSQL agree")
		return
	}
	fmt.Fprintf(w, "\nMISMATCH: %d problems\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}
