package verify

import (
	"context"
	"math/rand/v2"

	"github.com/tradestream/tradestream/internal/rollup"
)

// rollups compares the rollups with a recomputation from the raw rows
// (rollup.Check): random windows of the minute rollups and, when the
// database keeps every trade (no retention), the positions of as many
// random users.
func (v *verifier) rollups(ctx context.Context) error {
	samples := max(v.opts.RollupSamples, 0)
	positions := v.opts.RetentionDays == 0
	seed := uint64(v.opts.Now().UnixNano())
	diffs, err := rollup.Check(ctx, v.db, rollup.CheckOptions{Samples: samples, Positions: positions, Rand: rand.New(rand.NewPCG(seed, seed>>1))})
	if err != nil {
		return err
	}
	r := &v.rep.Rollups
	r.Samples, r.Positions, r.Differences = samples, positions, len(diffs)
	for i, d := range diffs {
		if i == v.opts.Sample {
			break
		}
		r.Sample = append(r.Sample, d.String())
	}
	if len(diffs) > 0 {
		v.rep.problem("rollups: %d rows differ from their recomputation from the raw rows (e.g. %s)", len(diffs), diffs[0])
	}
	return nil
}
