package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/store"
)

// The naive side inserts ticks and trades one row per INSERT, each in its
// own transaction: the approach COPY replaces. It leaves run_id to its
// default.
var (
	naiveTicks  = store.PriceTicks.Without("run_id")
	naiveTrades = store.Trades.Without("run_id")
)

// naiveRow is the parameters of one naive INSERT.
type naiveRow struct {
	sql  string
	args []any
}

// naiveRows decodes up to n of the feed's valid ticks and trades into
// INSERT parameters, before the timing starts; the Kafka coordinates are
// partition 0 and the feed position, as for the prepared batches.
func naiveRows(recs []feed.Record, n int) []naiveRow {
	var out []naiveRow
	for i, r := range recs {
		if len(out) == n {
			break
		}
		switch r.Topic {
		case feed.Prices:
			p, err := event.DecodePrice(r.Value)
			if err != nil {
				continue
			}
			out = append(out, naiveRow{naiveTicks.InsertSQL(), []any{p.Symbol, p.Sector, p.Seq, p.Time,
				p.Bid.String(), p.Ask.String(), p.Last.String(), p.Volume, int32(0), int64(i)}})
		case feed.Trades:
			t, err := event.DecodeTrade(r.Schema, r.Value)
			if err != nil {
				continue
			}
			version := int16(1)
			if r.Schema == event.SchemaTradeV2 {
				version = 2
			}
			out = append(out, naiveRow{naiveTrades.InsertSQL(), []any{t.ID, t.UserID, t.AccountID, t.Symbol,
				string(t.Side), t.Quantity, t.Price.String(), t.Fee.String(), t.Time, t.BalanceAfter.String(),
				nullIfZero(string(t.OrderType), ""), nullIfZero(t.LimitPrice.String(), event.Decimal(0).String()),
				version, int32(0), int64(i)}})
		}
	}
	return out
}

// nullIfZero returns nil for zero, s otherwise.
func nullIfZero(s, zero string) *string {
	if s == zero {
		return nil
	}
	return &s
}

// naiveRound truncates the tables and inserts rows one by one, each
// INSERT its own transaction.
func (sb *sinkBench) naiveRound(ctx context.Context, rows []naiveRow) (SinkRun, error) {
	if len(rows) == 0 {
		return SinkRun{}, errors.New("naive insert: no rows")
	}
	conn, err := sb.db.emptied(ctx)
	if err != nil {
		return SinkRun{}, err
	}
	defer conn.Release()
	start := time.Now()
	for _, r := range rows {
		if _, err := conn.Exec(ctx, r.sql, r.args...); err != nil {
			return SinkRun{}, fmt.Errorf("naive insert: %w", err)
		}
	}
	return newSinkRun(int64(len(rows)), time.Since(start)), nil
}
