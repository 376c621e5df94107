package sink

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tradestream/tradestream/internal/store"
)

// The latest-state tables: users, accounts (from profiles and from
// trades) and alerts, loaded through the session's staging tables. Every
// column list comes from store's tables.

// The staging tables. A user's stage row is the profile followed by the
// account it states.
var (
	stageUsers = store.Users.
			Plus(store.Accounts.Only("account_id", "type", "currency", "balance").Columns...).
			Renamed("sink_stage_users")
	stageAccounts = store.Accounts.
			Only("account_id", "user_id", "balance", "balance_at", "last_trade_id").
			Renamed("sink_stage_accounts")
	stageAlerts = store.Alerts.Without("received_at").Renamed("sink_stage_alerts")
)

// createStages makes the session's staging tables if this connection has
// not got them yet; ON COMMIT DELETE ROWS empties them at every commit.
var createStages = strings.Join([]string{
	stageUsers.CreateTempSQL(), stageAccounts.CreateTempSQL(), stageAlerts.CreateTempSQL(),
}, ";\n")

// Latest profile wins: the newer updated_at, the profile's own version.
// Kafka order decides only between equal versions: within a partition the
// later record, from another partition the one loaded last. Offsets do
// not order a key's records once partitions were added (its versions then
// span two partitions, loaded in any order), nor across a rebuild.
var upsertUsers = fmt.Sprintf(`
INSERT INTO users AS u (%[1]s)
SELECT %[1]s FROM %[2]s
ON CONFLICT (user_id) DO UPDATE SET %[3]s
WHERE excluded.updated_at > u.updated_at OR (excluded.updated_at = u.updated_at
  AND (u.kafka_partition <> excluded.kafka_partition OR u.kafka_offset < excluded.kafka_offset))`,
	store.Users.ColumnList(), stageUsers.Name, store.ExcludedSet(store.Users.Without("user_id").Names()...))

// A profile states the account's type and currency, and its balance as of
// updated_at: that balance wins only over an older one.
var upsertProfileAccounts = fmt.Sprintf(`
INSERT INTO accounts AS a (%s)
SELECT DISTINCT ON (account_id) account_id, user_id, type, currency, balance, updated_at
FROM %s
ORDER BY account_id, updated_at DESC, kafka_offset DESC
ON CONFLICT (account_id) DO UPDATE SET
    user_id = excluded.user_id, type = excluded.type, currency = excluded.currency,
    balance = CASE WHEN excluded.balance_at > a.balance_at THEN excluded.balance ELSE a.balance END,
    last_trade_id = CASE WHEN excluded.balance_at > a.balance_at THEN NULL ELSE a.last_trade_id END,
    balance_at = GREATEST(a.balance_at, excluded.balance_at),
    updated_at = now()`,
	store.Accounts.Only("account_id", "user_id", "type", "currency", "balance", "balance_at").ColumnList(), stageUsers.Name)

// A trade's balance_after wins over an older balance; (time, trade id)
// orders trades, and a trade wins a tie with a profile.
var upsertTradeAccounts = fmt.Sprintf(`
INSERT INTO accounts AS a (%[1]s)
SELECT %[1]s FROM %[2]s
ON CONFLICT (account_id) DO UPDATE SET %[3]s, updated_at = now()
WHERE (excluded.balance_at, excluded.last_trade_id) > (a.balance_at, coalesce(a.last_trade_id, -1))`,
	stageAccounts.ColumnList(), stageAccounts.Name, store.ExcludedSet("balance", "balance_at", "last_trade_id"))

// An alert id is deterministic (rule and source record): one the alerts
// engine produced twice is stored once.
var insertAlerts = fmt.Sprintf(`
INSERT INTO alerts (%[1]s)
SELECT %[1]s FROM %[2]s
ON CONFLICT (alert_id) DO NOTHING`, stageAlerts.ColumnList(), stageAlerts.Name)

const deleteUsers = `DELETE FROM users WHERE user_id = ANY($1)`

// upsertUsers applies the newest record of each user in rows: a profile
// is upserted (with its account), a tombstone deletes the user. Newest is
// the latest updated_at, arrival deciding a tie; a tombstone is newer than
// the profiles before it and older than those after it.
func (w *writer) upsertUsers(ctx context.Context, tx pgx.Tx, rows []userRow) error {
	if len(rows) == 0 {
		return nil
	}
	last := make(map[int64]int, len(rows))
	for i := range rows {
		j, ok := last[rows[i].id]
		if !ok || rows[i].deleted || rows[j].deleted || !rows[i].ev.UpdatedAt.Before(rows[j].ev.UpdatedAt) {
			last[rows[i].id] = i
		}
	}
	c := &w.buf
	c.reset()
	var deleted []int64
	for i := range rows {
		r := &rows[i]
		if last[r.id] != i {
			continue
		}
		if r.deleted {
			deleted = append(deleted, r.id)
			continue
		}
		u := &r.ev
		c.row(stageUsersTable.width)
		c.int64(u.ID)
		c.text(u.Name)
		c.text(u.Email)
		c.text(u.Country)
		c.timestamptz(u.SignupAt)
		c.text(string(u.Experience))
		c.text(string(u.RiskTolerance))
		c.textArray(u.Sectors)
		c.timestamptz(u.UpdatedAt)
		c.int32(r.src.Partition)
		c.int64(r.src.Offset)
		c.int64(u.Account.ID)
		c.text(string(u.Account.Type))
		c.text(u.Account.Currency)
		c.numeric(u.Account.Balance)
	}
	if c.rows > 0 {
		if _, err := tx.Exec(ctx, "DELETE FROM "+stageUsers.Name); err != nil {
			return fmt.Errorf("clear user stage: %w", err)
		}
		if err := w.timedCopy(ctx, tx, stageUsersTable); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, upsertUsers); err != nil {
			return fmt.Errorf("upsert users: %w", err)
		}
		if _, err := tx.Exec(ctx, upsertProfileAccounts); err != nil {
			return fmt.Errorf("upsert accounts from profiles: %w", err)
		}
	}
	if len(deleted) > 0 {
		if _, err := tx.Exec(ctx, deleteUsers, deleted); err != nil {
			return fmt.Errorf("delete users: %w", err)
		}
	}
	return nil
}

// upsertTradeAccounts moves each account's balance to that of its newest
// trade in rows, unless the account already holds a newer one.
func (w *writer) upsertTradeAccounts(ctx context.Context, tx pgx.Tx, rows []tradeRow) error {
	if len(rows) == 0 {
		return nil
	}
	newest := make(map[int64]int, len(rows)/4+1)
	for i := range rows {
		t := &rows[i].ev
		j, ok := newest[t.AccountID]
		if !ok || newer(t.Time, t.ID, rows[j].ev.Time, rows[j].ev.ID) {
			newest[t.AccountID] = i
		}
	}
	idx := make([]int, 0, len(newest))
	for _, i := range newest {
		idx = append(idx, i)
	}
	// Account order: concurrent instances lock account rows in the same
	// order, which keeps them from deadlocking.
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(rows[a].ev.AccountID, rows[b].ev.AccountID) })
	c := &w.buf
	c.reset()
	for _, i := range idx {
		t := &rows[i].ev
		c.row(stageAccountsTable.width)
		c.int64(t.AccountID)
		c.int64(t.UserID)
		c.numeric(t.BalanceAfter)
		c.timestamptz(t.Time)
		c.int64(t.ID)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+stageAccounts.Name); err != nil {
		return fmt.Errorf("clear account stage: %w", err)
	}
	if err := w.timedCopy(ctx, tx, stageAccountsTable); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, upsertTradeAccounts); err != nil {
		return fmt.Errorf("upsert accounts from trades: %w", err)
	}
	return nil
}

func (w *writer) insertAlerts(ctx context.Context, tx pgx.Tx, rows []alertRow) error {
	if len(rows) == 0 {
		return nil
	}
	c := &w.buf
	c.reset()
	for i := range rows {
		r, a := &rows[i], &rows[i].ev
		c.row(stageAlertsTable.width)
		c.text(a.ID)
		c.int64(a.RuleID)
		c.text(a.Kind)
		c.text(a.Symbol)
		c.text(a.Message)
		c.numeric(a.Value)
		c.timestamptz(a.Time)
		c.int32(r.src.Partition)
		c.int64(r.src.Offset)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+stageAlerts.Name); err != nil {
		return fmt.Errorf("clear alert stage: %w", err)
	}
	if err := w.timedCopy(ctx, tx, stageAlertsTable); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertAlerts); err != nil {
		return fmt.Errorf("insert alerts: %w", err)
	}
	return nil
}

// newer reports whether the trade (at, id) comes after (bt, bid).
func newer(at time.Time, id int64, bt time.Time, bid int64) bool {
	if c := at.Compare(bt); c != 0 {
		return c > 0
	}
	return id > bid
}
