package sink

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/rollup"
)

// writeRollups folds the ticks and trades b inserted into the rollups
// (see package rollup) inside tx, the transaction that loads them and
// moves their offsets: one upsert row per symbol and minute and per
// account and symbol. A copy the deduplicated load skipped (b.dups) is no
// row, so it is not counted.
func (w *writer) writeRollups(ctx context.Context, tx pgx.Tx, b *batch) error {
	if len(b.ticks) == 0 && len(b.trades) == 0 {
		return nil
	}
	var skipped map[*kgo.Record]bool
	if b.dedupe && len(b.dups) > 0 {
		skipped = make(map[*kgo.Record]bool, len(b.dups))
		for i := range b.dups {
			skipped[b.dups[i].src] = true
		}
	}
	if w.rollups == nil {
		w.rollups = rollup.NewBatch()
	}
	r := w.rollups
	r.Reset()
	// A batch's records nearly all share one run id: its string is made
	// once per change, not once per row.
	var lastRun []byte
	run := ""
	runOf := func(src *kgo.Record) string {
		if id := event.ReadHeaders(src.Headers).RunID; lastRun == nil || !bytes.Equal(id, lastRun) {
			lastRun, run = id, string(id)
			if lastRun == nil {
				lastRun = []byte{}
			}
		}
		return run
	}
	for i := range b.ticks {
		t := &b.ticks[i]
		if !skipped[t.src] {
			r.AddTick(&t.ev, runOf(t.src))
		}
	}
	for i := range b.trades {
		t := &b.trades[i]
		if !skipped[t.src] {
			r.AddTrade(&t.ev, runOf(t.src))
		}
	}
	start := w.clockNow()
	replayed, err := r.Write(ctx, tx)
	if err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	w.metrics.rollupSeconds.Observe(w.clockNow().Sub(start).Seconds())
	w.metrics.rollupReplays.Add(float64(replayed))
	return nil
}
