package sink

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// isolate finds the rows of b that PostgreSQL refuses, after the batch as
// a whole failed with a data error, and moves them to b's dead letters
// (ReasonRejectedByDatabase); it returns how many it moved. It loads every
// row on its own under a savepoint in a probe transaction that is always
// rolled back (see refuseRows), so the batch is then retried whole,
// without the refused rows. Slow, but only ever run on a batch that
// contains such a row, which validation is there to prevent.
func (s *Sink) isolate(ctx context.Context, b *batch) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.AttemptTimeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin probe: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	return refuseRows(ctx, tx, &s.w, b)
}

// refuseRows loads b's rows one by one, each under a savepoint of tx, and
// moves those PostgreSQL refuses to b's dead letters
// (ReasonRejectedByDatabase); the rows it takes stay loaded in tx. It
// returns how many it moved. b changes only once every row has been
// probed.
func refuseRows(ctx context.Context, tx pgx.Tx, w *writer, b *batch) (int, error) {
	// probe loads one single-row batch under a savepoint and returns the
	// error if PostgreSQL refuses the row.
	probe := func(one *batch) (refused error, err error) {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		lerr := w.load(ctx, sp, one)
		if lerr == nil {
			return nil, sp.Commit(ctx)
		}
		if err := sp.Rollback(ctx); err != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", err)
		}
		if classify(lerr) == classData {
			return lerr, nil
		}
		return nil, lerr
	}
	var dead []deadLetter
	reject := func(src *kgo.Record, refused error) {
		dead = append(dead, newDeadLetter(src, ReasonRejectedByDatabase, refused))
	}
	ticks, err := keepTaken(b.ticks, func(r []tickRow) *batch { return &batch{ticks: r} },
		func(r tickRow) *kgo.Record { return r.src }, probe, reject)
	if err != nil {
		return 0, err
	}
	trades, err := keepTaken(b.trades, func(r []tradeRow) *batch { return &batch{trades: r} },
		func(r tradeRow) *kgo.Record { return r.src }, probe, reject)
	if err != nil {
		return 0, err
	}
	users, err := keepTaken(b.users, func(r []userRow) *batch { return &batch{users: r} },
		func(r userRow) *kgo.Record { return r.src }, probe, reject)
	if err != nil {
		return 0, err
	}
	alerts, err := keepTaken(b.alerts, func(r []alertRow) *batch { return &batch{alerts: r} },
		func(r alertRow) *kgo.Record { return r.src }, probe, reject)
	if err != nil {
		return 0, err
	}
	b.ticks, b.trades, b.users, b.alerts = ticks, trades, users, alerts
	b.dead = append(b.dead, dead...)
	return len(dead), nil
}

// keepTaken probes each row alone (as the batch one makes of it) and
// returns those PostgreSQL takes, handing the others to reject.
func keepTaken[R any](rows []R, one func([]R) *batch, src func(R) *kgo.Record,
	probe func(*batch) (refused, err error), reject func(*kgo.Record, error)) ([]R, error) {
	kept := rows[:0:0]
	for i := range rows {
		refused, err := probe(one(rows[i : i+1]))
		if err != nil {
			return nil, err
		}
		if refused != nil {
			reject(src(rows[i]), refused)
			continue
		}
		kept = append(kept, rows[i])
	}
	return kept, nil
}
