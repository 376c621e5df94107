package sink

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/store"
)

// Copies of events. A tick or trade already stored (the same run, symbol,
// event time and sequence number or trade id: the unique indexes of
// migration 6) makes the batch's plain COPY fail; the sink then loads the
// batch again through staging tables, inserting what is new and keeping
// each later copy as a dead letter with reason "duplicate". Batches
// without copies never take this path, so it costs nothing until a
// duplicate arrives.

var (
	stageTicks       = store.PriceTicks.Renamed("sink_stage_ticks")
	stageTrades      = store.Trades.Renamed("sink_stage_trades")
	stageTicksTable  = newCopyTable(stageTicks)
	stageTradesTable = newCopyTable(stageTrades)
	createEventStage = stageTicks.CreateTempSQL() + ";\n" + stageTrades.CreateTempSQL()
)

// insertNew inserts a stage's rows into its table, the earliest copy of an
// event by Kafka position first, and returns the positions of the rows it
// skipped as copies.
func insertNew(table, stage store.Table) string {
	return fmt.Sprintf(`
WITH added AS (
    INSERT INTO %[1]s (%[3]s)
    SELECT %[3]s FROM %[2]s ORDER BY kafka_partition, kafka_offset
    ON CONFLICT DO NOTHING
    RETURNING kafka_partition, kafka_offset
)
SELECT s.kafka_partition, s.kafka_offset FROM %[2]s s
WHERE NOT EXISTS (SELECT 1 FROM added a WHERE a.kafka_partition = s.kafka_partition AND a.kafka_offset = s.kafka_offset)`,
		pgx.Identifier{table.Name}.Sanitize(), pgx.Identifier{stage.Name}.Sanitize(), table.ColumnList())
}

var (
	insertNewTicks  = insertNew(store.PriceTicks, stageTicks)
	insertNewTrades = insertNew(store.Trades, stageTrades)
)

// loadDeduplicated loads b's ticks and trades skipping copies of stored
// events, which it files in b.dups (replacing what an earlier attempt
// found).
func (w *writer) loadDeduplicated(ctx context.Context, tx pgx.Tx, b *batch) error {
	b.dups, b.dupTicks = b.dups[:0], 0
	if len(b.ticks) == 0 && len(b.trades) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, createEventStage); err != nil {
		return fmt.Errorf("event staging tables: %w", err)
	}
	if len(b.ticks) > 0 {
		encodeTicks(&w.buf, b.ticks)
		skipped, err := w.stageAndInsert(ctx, tx, stageTicksTable, stageTicks, insertNewTicks)
		if err != nil {
			return err
		}
		for i := range b.ticks {
			if r := b.ticks[i].src; skipped[position{r.Partition, r.Offset}] {
				p := &b.ticks[i].ev
				b.dups = append(b.dups, newDeadLetter(r, ReasonDuplicate, Reject(ReasonDuplicate,
					"a copy of the tick %s seq %d at %s of this run, already stored", p.Symbol, p.Seq, p.Time.Format("2006-01-02T15:04:05.999999999Z07:00"))))
			}
		}
		b.dupTicks = len(b.dups)
	}
	if len(b.trades) > 0 {
		encodeTrades(&w.buf, b.trades)
		skipped, err := w.stageAndInsert(ctx, tx, stageTradesTable, stageTrades, insertNewTrades)
		if err != nil {
			return err
		}
		for i := range b.trades {
			if r := b.trades[i].src; skipped[position{r.Partition, r.Offset}] {
				b.dups = append(b.dups, newDeadLetter(r, ReasonDuplicate, Reject(ReasonDuplicate,
					"a copy of the trade %d of this run, already stored", b.trades[i].ev.ID)))
			}
		}
	}
	return nil
}

// position is a record's partition and offset within its topic.
type position struct {
	partition int32
	offset    int64
}

// stageAndInsert copies w.buf into the stage, then inserts its new rows,
// and returns the positions it skipped.
func (w *writer) stageAndInsert(ctx context.Context, tx pgx.Tx, ct copyTable, stage store.Table, insert string) (map[position]bool, error) {
	if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{stage.Name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("clear %s: %w", stage.Name, err)
	}
	if err := w.timedCopy(ctx, tx, ct); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, insert)
	if err != nil {
		return nil, fmt.Errorf("insert new rows from %s: %w", stage.Name, err)
	}
	skipped := map[position]bool{}
	var p position
	_, err = pgx.ForEachRow(rows, []any{&p.partition, &p.offset}, func() error {
		skipped[p] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert new rows from %s: %w", strings.TrimPrefix(stage.Name, "sink_stage_"), err)
	}
	return skipped, nil
}
