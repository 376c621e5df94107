package verify

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/store"
)

// accountFindings lists, per account, what is wrong with its balance:
// 'mismatch' (the balance is not that of its newest event), 'missing' (an
// account with trades has no row).
const accountFindings = `
WITH newest AS (
    SELECT DISTINCT ON (account_id) account_id, trade_id, ts, balance_after
    FROM trades
    ORDER BY account_id, ts DESC, trade_id DESC
)
SELECT coalesce(a.account_id, n.account_id),
       CASE WHEN a.account_id IS NULL THEN 'missing' ELSE 'mismatch' END
FROM accounts a
FULL JOIN newest n ON n.account_id = a.account_id
WHERE a.account_id IS NULL
   OR (n.account_id IS NOT NULL AND a.last_trade_id IS NOT NULL
       AND (a.last_trade_id <> n.trade_id OR a.balance <> n.balance_after))
   OR (n.account_id IS NOT NULL AND a.last_trade_id IS NULL AND n.ts >= a.balance_at)
   OR (n.account_id IS NULL AND a.last_trade_id IS NOT NULL)`

// chainBreaks lists the accounts whose consecutive trades of one generator
// run do not chain: balance_after must be the previous trade's plus this
// trade's cash flow (-(price*quantity+fee) for a buy, price*quantity-fee
// for a sell). Each run opens the accounts afresh, so chains are per run.
const chainBreaks = `
SELECT account_id, count(*) FROM (
    SELECT account_id, balance_after,
           lag(balance_after) OVER w AS previous,
           CASE side WHEN 'buy' THEN -(price * quantity + fee) ELSE price * quantity - fee END AS flow
    FROM trades
    WINDOW w AS (PARTITION BY run_id, account_id ORDER BY ts, trade_id)
) t
WHERE previous IS NOT NULL AND balance_after <> previous + flow
GROUP BY account_id
ORDER BY account_id`

// balances checks every account against the trades stored.
func (v *verifier) balances(ctx context.Context) error {
	b := &v.rep.Balances
	if err := v.db.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&b.Accounts); err != nil {
		return fmt.Errorf("count accounts: %w", err)
	}
	var sample []int64
	rows, err := v.db.Query(ctx, accountFindings)
	if err != nil {
		return fmt.Errorf("check balances: %w", err)
	}
	var id, n int64
	var kind string
	_, err = pgx.ForEachRow(rows, []any{&id, &kind}, func() error {
		if kind == "missing" {
			b.MissingAccounts++
		} else {
			b.Mismatched++
		}
		sample = append(sample, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check balances: %w", err)
	}
	rows, err = v.db.Query(ctx, chainBreaks)
	if err != nil {
		return fmt.Errorf("check balance chains: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		b.ChainBreaks += n
		sample = append(sample, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check balance chains: %w", err)
	}
	slices.Sort(sample)
	sample = slices.Compact(sample)
	b.Sample = sample[:min(len(sample), v.opts.Sample)]
	if b.Mismatched+b.MissingAccounts > 0 {
		v.rep.problem("balances: %d accounts do not hold their newest event's balance, %d accounts with trades are missing, e.g. accounts %v",
			b.Mismatched, b.MissingAccounts, b.Sample)
	}
	if b.ChainBreaks > 0 {
		v.rep.problem("balances: %d trades whose balance_after is not the previous balance plus their cash flow, e.g. accounts %v",
			b.ChainBreaks, b.Sample)
	}
	return nil
}

// duplicates counts events stored twice under their own identity: the
// generator run, and the trade id or the symbol and sequence number.
func (v *verifier) duplicates(ctx context.Context) error {
	r := v.rep
	err := v.db.QueryRow(ctx, `SELECT coalesce(sum(n - 1), 0) FROM (
		SELECT count(*) AS n FROM trades GROUP BY run_id, trade_id HAVING count(*) > 1) d`).Scan(&r.DuplicateTrades)
	if err != nil {
		return fmt.Errorf("duplicate trades: %w", err)
	}
	err = v.db.QueryRow(ctx, `SELECT coalesce(sum(n - 1), 0) FROM (
		SELECT count(*) AS n FROM price_ticks GROUP BY run_id, symbol, seq HAVING count(*) > 1) d`).Scan(&r.DuplicateTicks)
	if err != nil {
		return fmt.Errorf("duplicate ticks: %w", err)
	}
	if r.DuplicateTrades > 0 {
		r.problem("trades: %d (run, trade id) pairs stored more than once", r.DuplicateTrades)
	}
	if r.DuplicateTicks > 0 {
		r.problem("price_ticks: %d (run, symbol, seq) triples stored more than once", r.DuplicateTicks)
	}
	return nil
}

// deadLetters counts the data topics' dead letters by reason.
func (v *verifier) deadLetters(ctx context.Context) error {
	t := v.opts.Topics
	rows, err := v.db.Query(ctx, `SELECT reason, count(*) FROM dead_letters WHERE topic = ANY($1) AND `+store.DeadLetterStands+` GROUP BY reason`,
		[]string{t.Users, t.Prices, t.Trades})
	if err != nil {
		return fmt.Errorf("count dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return fmt.Errorf("count dead letters: %w", err)
		}
		v.rep.DeadLetters[reason] = n
	}
	return rows.Err()
}
