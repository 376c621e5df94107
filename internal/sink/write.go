package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/rollup"
	"github.com/tradestream/tradestream/internal/store"
)

// The COPY targets, from store's column lists. Ticks and trades go
// straight into the partitioned tables; users, trade-driven account
// updates and alerts go through per-session temporary staging tables (see
// upsert.go) and then INSERT ... ON CONFLICT, since they are latest-state
// upserts.
var (
	ticksTable         = newCopyTable(store.PriceTicks)
	tradesTable        = newCopyTable(store.Trades)
	stageUsersTable    = newCopyTable(stageUsers)
	stageAccountsTable = newCopyTable(stageAccounts)
	stageAlertsTable   = newCopyTable(stageAlerts)
)

const insertDeadLetters = `
INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error, key, value, run_id)
SELECT * FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[], $9::text[])
ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING`

// storeOffsets moves each partition's stored position from the batch's
// from offset to its to offset, and counts the partitions it moved. A
// partition whose position is not where the batch started (another sink
// instance loaded it meanwhile) is not moved, which fences the batch off.
var storeOffsets = store.MoveOffsetsSQL("sink_offsets")

// errFenced means the stored position of a partition in the batch was not
// where the batch started: another instance loaded it, so this batch must
// be dropped and the partitions re-read from the stored positions.
var errFenced = errors.New("stored offsets moved under the batch (another sink instance loaded its partitions)")

// writer loads batches into PostgreSQL. It is used by one goroutine at a
// time.
type writer struct {
	pool    *pgxpool.Pool
	group   string
	metrics *metrics
	buf     copyBuffer
	rollups *rollup.Batch
	// stale is set when partitions were revoked or lost: the positions
	// the rollups remember writing may be written by another instance
	// meanwhile, so the next batch forgets them.
	stale atomic.Bool
	// now is the clock; time.Now when nil.
	now func() time.Time
}

func (w *writer) clockNow() time.Time {
	if w.now == nil {
		return time.Now()
	}
	return w.now()
}

// commit loads b and moves the stored offsets in one transaction.
func (w *writer) commit(ctx context.Context, b *batch) (err error) {
	if w.stale.Swap(false) && w.rollups != nil {
		w.rollups.Forget()
	}
	defer func() {
		// What the rollups remember writing was not committed.
		if err != nil && w.rollups != nil {
			w.rollups.Forget()
		}
	}()
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The offsets move first: a batch another instance has loaded meanwhile
	// is fenced off before it writes a row, and the offset rows are locked
	// for the rest of the transaction, so a concurrent loader of the same
	// partitions waits, then finds them moved.
	if err := w.storeOffsets(ctx, tx, b.ranges); err != nil {
		return err
	}
	if err := w.load(ctx, tx, b); err != nil {
		return err
	}
	if err := w.insertDeadLetters(ctx, tx, b.dead); err != nil {
		return err
	}
	if err := w.insertDeadLetters(ctx, tx, b.dups); err != nil {
		return err
	}
	start := w.clockNow()
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.metrics.commitSeconds.Observe(w.clockNow().Sub(start).Seconds())
	return nil
}

// load writes b's rows (not its dead letters or offsets) inside tx.
func (w *writer) load(ctx context.Context, tx pgx.Tx, b *batch) error {
	if b.dedupe {
		if err := w.loadDeduplicated(ctx, tx, b); err != nil {
			return err
		}
	} else {
		if err := w.copyTicks(ctx, tx, b.ticks); err != nil {
			return err
		}
		if err := w.copyTrades(ctx, tx, b.trades); err != nil {
			return err
		}
	}
	if err := w.writeRollups(ctx, tx, b); err != nil {
		return err
	}
	if len(b.users) > 0 || len(b.trades) > 0 || len(b.alerts) > 0 {
		if _, err := tx.Exec(ctx, createStages); err != nil {
			return fmt.Errorf("staging tables: %w", err)
		}
	}
	if err := w.upsertUsers(ctx, tx, b.users); err != nil {
		return err
	}
	if err := w.upsertTradeAccounts(ctx, tx, b.trades); err != nil {
		return err
	}
	return w.insertAlerts(ctx, tx, b.alerts)
}

func (w *writer) timedCopy(ctx context.Context, tx pgx.Tx, t copyTable) error {
	start := w.clockNow()
	if _, err := copyRows(ctx, tx, t, &w.buf); err != nil {
		return err
	}
	w.metrics.copySeconds.WithLabelValues(t.name).Observe(w.clockNow().Sub(start).Seconds())
	return nil
}

func (w *writer) copyTicks(ctx context.Context, tx pgx.Tx, rows []tickRow) error {
	if len(rows) == 0 {
		return nil
	}
	encodeTicks(&w.buf, rows)
	return w.timedCopy(ctx, tx, ticksTable)
}

// encodeTicks fills c with rows in price_ticks' COPY layout.
func encodeTicks(c *copyBuffer, rows []tickRow) {
	c.reset()
	for i := range rows {
		r, p := &rows[i], &rows[i].ev
		c.row(ticksTable.width)
		c.text(p.Symbol)
		c.text(p.Sector)
		c.int64(p.Seq)
		c.timestamptz(p.Time)
		c.numeric(p.Bid)
		c.numeric(p.Ask)
		c.numeric(p.Last)
		c.int64(p.Volume)
		c.textBytes(event.ReadHeaders(r.src.Headers).RunID)
		c.int32(r.src.Partition)
		c.int64(r.src.Offset)
	}
}

func (w *writer) copyTrades(ctx context.Context, tx pgx.Tx, rows []tradeRow) error {
	if len(rows) == 0 {
		return nil
	}
	encodeTrades(&w.buf, rows)
	return w.timedCopy(ctx, tx, tradesTable)
}

// encodeTrades fills c with rows in trades' COPY layout.
func encodeTrades(c *copyBuffer, rows []tradeRow) {
	c.reset()
	for i := range rows {
		r, t := &rows[i], &rows[i].ev
		c.row(tradesTable.width)
		c.int64(t.ID)
		c.int64(t.UserID)
		c.int64(t.AccountID)
		c.text(t.Symbol)
		c.text(string(t.Side))
		c.int64(t.Quantity)
		c.numeric(t.Price)
		c.numeric(t.Fee)
		c.timestamptz(t.Time)
		c.numeric(t.BalanceAfter)
		c.textOrNull(string(t.OrderType))
		c.numericOrNull(t.LimitPrice)
		c.int16(r.version)
		c.text(string(event.ReadHeaders(r.src.Headers).RunID))
		c.int32(r.src.Partition)
		c.int64(r.src.Offset)
	}
}

func (w *writer) insertDeadLetters(ctx context.Context, tx pgx.Tx, dead []deadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	n := len(dead)
	topics, schemas, reasons, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	parts, offs := make([]int32, n), make([]int64, n)
	keys, values, runs := make([][]byte, n), make([][]byte, n), make([]*string, n)
	for i, d := range dead {
		topics[i], parts[i], offs[i] = d.src.Topic, d.src.Partition, d.src.Offset
		h := event.ReadHeaders(d.src.Headers)
		schemas[i] = storable(boundedText(string(h.Schema), maxSchemaText))
		if len(h.RunID) > 0 {
			run := storable(boundedText(string(h.RunID), maxSchemaText))
			runs[i] = &run
		}
		reasons[i], errs[i] = d.reason, storable(d.err)
		keys[i], values[i] = d.src.Key, d.src.Value
	}
	if _, err := tx.Exec(ctx, insertDeadLetters, topics, parts, offs, schemas, reasons, errs, keys, values, runs); err != nil {
		return fmt.Errorf("insert dead letters: %w", err)
	}
	return nil
}

// storable makes s fit a text column: valid UTF-8 without NUL.
func storable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func (w *writer) storeOffsets(ctx context.Context, tx pgx.Tx, ranges map[topicPartition]*offsetRange) error {
	if len(ranges) == 0 {
		return nil
	}
	n := len(ranges)
	topics, parts := make([]string, 0, n), make([]int32, 0, n)
	from, to := make([]int64, 0, n), make([]int64, 0, n)
	for _, tp := range sortedPartitions(ranges) {
		r := ranges[tp]
		topics, parts = append(topics, tp.topic), append(parts, tp.partition)
		from, to = append(from, r.from), append(to, r.to)
	}
	var moved int
	if err := tx.QueryRow(ctx, storeOffsets, w.group, topics, parts, from, to).Scan(&moved); err != nil {
		return fmt.Errorf("store offsets: %w", err)
	}
	if moved != n {
		return errFenced
	}
	return nil
}

// sortedPartitions returns the keys of ranges in (topic, partition) order,
// so that concurrent instances lock offset rows in the same order.
func sortedPartitions(ranges map[topicPartition]*offsetRange) []topicPartition {
	tps := make([]topicPartition, 0, len(ranges))
	for tp := range ranges {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return cmp.Compare(a.partition, b.partition)
	})
	return tps
}
