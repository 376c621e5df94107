package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

func (r *root) dbRollupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollups",
		Short: "Rebuild or verify the analytics rollups from the raw rows",
	}
	group(cmd)
	var from, to string
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Recompute the rollups from the raw price ticks and trades, with progress",
		Long: `Recompute the 1-minute rollups (candles and VWAP parts) of the UTC days from
--from through --to from price_ticks and trades, and their 1-hour rollups from
those minutes, one day per transaction (its old rollup rows deleted first),
printing each day as it is done; then each symbol's latest close from the
minute rollups; then every position from every stored trade. Run it as the owner after a
restore, a schema change or a manual repair, while no sink is loading: rows
loaded meanwhile may be missed or counted twice until the next rebuild.
Without --from and --to it covers the days the raw rows hold.`,
		Example: "  tradestream db rollups rebuild\n  tradestream db rollups rebuild --from 2025-06-01 --to 2025-06-30",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := r.pool(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := store.RequireVersion(ctx, pool); err != nil {
				return err
			}
			lo, hi, err := parseDays(from, to)
			if err != nil {
				return err
			}
			if lo.IsZero() || hi.IsZero() {
				var min, max *time.Time
				if err := pool.QueryRow(ctx, `SELECT least((SELECT min(ts) FROM price_ticks), (SELECT min(ts) FROM trades)),
				        greatest((SELECT max(ts) FROM price_ticks), (SELECT max(ts) FROM trades))`).Scan(&min, &max); err != nil {
					return fmt.Errorf("rollups rebuild: raw range: %w", err)
				}
				if min == nil {
					min, max = new(time.Time), new(time.Time)
					*min, *max = time.Now(), time.Now()
				}
				if lo.IsZero() {
					lo = *min
				}
				if hi.IsZero() {
					hi = *max
				}
			}
			start := time.Now()
			err = rollup.Rebuild(ctx, pool, lo, store.Day(hi).AddDate(0, 0, 1), func(step string, rows int64, done, total int) {
				fmt.Fprintf(r.io.Stdout, "rollups rebuild: %s: %d rows (%d/%d, %s)\n", step, rows, done, total, time.Since(start).Round(time.Millisecond))
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(r.io.Stdout, "rollups rebuilt in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	rebuild.Flags().StringVar(&from, "from", "", "first UTC day to rebuild (YYYY-MM-DD; default: the oldest raw row's)")
	rebuild.Flags().StringVar(&to, "to", "", "last UTC day to rebuild, inclusive (YYYY-MM-DD; default: the newest raw row's)")

	var samples int
	var positions bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Compare the rollups with a recomputation from the raw rows",
		Long: `Compare the rollups with a recomputation from the raw rows: --samples random
10-minute windows of one symbol each and the hours they fall in (0: every
minute and hour the raw rows cover) for the candles and VWAP parts, each
symbol's latest close against its latest raw tick, and, with --positions, the positions of as many
random users by an independent replay of their trades (a database with a raw
retention no longer holds every trade, so positions are only comparable
without one). It prints every difference and exits 1 when there is one.`,
		Example: "  tradestream db rollups verify --samples 50",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := r.env().OpenPoolAs(ctx, config.RoleReader)
			if err != nil {
				return err
			}
			defer pool.Close()
			if !cmd.Flags().Changed("positions") {
				positions = r.cfg.Database.RetentionDays == 0
			}
			diffs, err := rollup.Check(ctx, pool, rollup.CheckOptions{Samples: samples, Positions: positions})
			if err != nil {
				return err
			}
			for _, d := range diffs {
				fmt.Fprintln(r.io.Stdout, d)
			}
			if len(diffs) > 0 {
				return fmt.Errorf("rollups verify: %d differences from the raw rows", len(diffs))
			}
			fmt.Fprintln(r.io.Stdout, "rollups verify: the rollups equal the raw rows' recomputation")
			return nil
		},
	}
	verify.Flags().IntVar(&samples, "samples", 50, "random windows (and users) to compare; 0 compares everything")
	verify.Flags().BoolVar(&positions, "positions", false, "compare the positions too (default: when --database-retention-days is 0)")
	cmd.AddCommand(rebuild, verify)
	return cmd
}

// parseDays parses optional YYYY-MM-DD days.
func parseDays(from, to string) (lo, hi time.Time, err error) {
	for _, d := range []struct {
		s   string
		out *time.Time
		f   string
	}{{from, &lo, "--from"}, {to, &hi, "--to"}} {
		if d.s == "" {
			continue
		}
		if *d.out, err = time.Parse(time.DateOnly, d.s); err != nil {
			return lo, hi, usageError{fmt.Errorf("rollups rebuild: %s %q: want YYYY-MM-DD", d.f, d.s)}
		}
	}
	if !lo.IsZero() && !hi.IsZero() && hi.Before(lo) {
		return lo, hi, usageError{fmt.Errorf("rollups rebuild: --to %s is before --from %s", to, from)}
	}
	return lo, hi, nil
}
