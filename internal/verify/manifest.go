package verify

import (
	"context"
	"fmt"
	"sort"

	"github.com/tradestream/tradestream/internal/store"
)

// Expected is what a generator run sent on purpose, from its --inject
// manifest: verify --manifest checks the database against it.
type Expected struct {
	// RunID is the run's run_id header; the rows and dead letters checked
	// are those of this run.
	RunID string
	// Events counts the run's valid events by full topic name.
	Events map[string]int64
	// DeadLetters counts the dead letters to expect, by reason.
	DeadLetters map[string]int64
}

// ManifestCheck is the reconciliation of one run with its manifest.
type ManifestCheck struct {
	RunID string `json:"run_id"`
	// Ticks and Trades are the run's rows against its events.
	Ticks  Count `json:"ticks"`
	Trades Count `json:"trades"`
	// DeadLetters are the run's dead letters against the manifest's, by
	// reason.
	DeadLetters map[string]Count `json:"dead_letters"`
}

// Count is a number found against the number expected.
type Count struct {
	Got  int64 `json:"got"`
	Want int64 `json:"want"`
}

// manifest checks the rows and dead letters of the expected run: one tick
// or trade row per event, the dead letters by reason exactly as listed.
// The users table keeps the latest profile per user whatever run sent it,
// so it is not counted per run.
func (v *verifier) manifest(ctx context.Context) error {
	exp := v.opts.Expected
	if exp == nil {
		return nil
	}
	mc := &ManifestCheck{RunID: exp.RunID, DeadLetters: map[string]Count{}}
	v.rep.Manifest = mc
	for _, c := range []struct {
		table string
		topic string
		into  *Count
	}{{"price_ticks", v.opts.Topics.Prices, &mc.Ticks}, {"trades", v.opts.Topics.Trades, &mc.Trades}} {
		c.into.Want = exp.Events[c.topic]
		if err := v.db.QueryRow(ctx, "SELECT count(*) FROM "+c.table+" WHERE run_id = $1", exp.RunID).Scan(&c.into.Got); err != nil {
			return fmt.Errorf("verify: count the run's %s: %w", c.table, err)
		}
		if c.into.Got != c.into.Want {
			v.rep.problem("run %s: %d %s rows, its manifest lists %d events", exp.RunID, c.into.Got, c.table, c.into.Want)
		}
	}
	rows, err := v.db.Query(ctx, `SELECT reason, count(*) FROM dead_letters WHERE run_id = $1 AND `+store.DeadLetterStands+` GROUP BY reason`, exp.RunID)
	if err != nil {
		return fmt.Errorf("verify: count the run's dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return fmt.Errorf("verify: count the run's dead letters: %w", err)
		}
		mc.DeadLetters[reason] = Count{Got: n}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: count the run's dead letters: %w", err)
	}
	for reason, n := range exp.DeadLetters {
		c := mc.DeadLetters[reason]
		c.Want = n
		mc.DeadLetters[reason] = c
	}
	reasons := make([]string, 0, len(mc.DeadLetters))
	for r := range mc.DeadLetters {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		if c := mc.DeadLetters[r]; c.Got != c.Want {
			v.rep.problem("run %s: %d dead letters %s, its manifest lists %d", exp.RunID, c.Got, r, c.Want)
		}
	}
	return nil
}
