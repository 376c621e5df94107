package alert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/event"
)

// Store keeps the alert rules in PostgreSQL (table alert_rules) and reads
// the alerts the sink stored (table alerts). It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a store on pool; it does not close the pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const ruleColumns = `rule_id, kind, coalesce(symbol, ''), threshold::text, window_size, cooldown, enabled, note, created_at`

// Add validates r and stores it as a new, enabled rule; the returned rule
// has its id and creation time. An invalid rule is an error wrapping
// ErrInvalidRule.
func (s *Store) Add(ctx context.Context, r Rule) (Rule, error) {
	r.Normalize()
	r.Enabled = true
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	var symbol *string
	if r.Symbol != "" {
		symbol = &r.Symbol
	}
	row := s.pool.QueryRow(ctx, `
		INSERT INTO alert_rules (kind, symbol, threshold, window_size, cooldown, enabled, note)
		VALUES ($1, $2, $3::numeric, $4, $5, $6, $7)
		RETURNING `+ruleColumns,
		string(r.Kind), symbol, r.Threshold.String(), r.Window, r.Cooldown, r.Enabled, r.Note)
	out, err := scanRule(row)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23514" { // check_violation
			return Rule{}, fmt.Errorf("%w: %s", ErrInvalidRule, pgErr.Message)
		}
		return Rule{}, fmt.Errorf("add alert rule: %w", err)
	}
	return out, nil
}

// List returns every rule, oldest first.
func (s *Store) List(ctx context.Context) ([]Rule, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+ruleColumns+` FROM alert_rules ORDER BY rule_id`)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, fmt.Errorf("list alert rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	return out, nil
}

// Get returns the rule with id, or an error wrapping ErrRuleNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Rule, error) {
	r, err := scanRule(s.pool.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE rule_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Rule{}, fmt.Errorf("rule %d: %w", id, ErrRuleNotFound)
	}
	if err != nil {
		return Rule{}, fmt.Errorf("get alert rule %d: %w", id, err)
	}
	return r, nil
}

// Remove deletes the rule with id and the engine's state for it, or
// returns an error wrapping ErrRuleNotFound. Alerts it fired are kept.
func (s *Store) Remove(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM alert_rules WHERE rule_id = $1`, id)
	if err != nil {
		return fmt.Errorf("remove alert rule %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("rule %d: %w", id, ErrRuleNotFound)
	}
	return nil
}

// SetEnabled turns the rule with id on or off, or returns an error
// wrapping ErrRuleNotFound.
func (s *Store) SetEnabled(ctx context.Context, id int64, enabled bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE alert_rules SET enabled = $2 WHERE rule_id = $1`, id, enabled)
	if err != nil {
		return fmt.Errorf("update alert rule %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("rule %d: %w", id, ErrRuleNotFound)
	}
	return nil
}

// Recent returns up to limit of the newest alerts the sink stored, newest
// first.
func (s *Store) Recent(ctx context.Context, limit int) ([]event.Alert, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT alert_id, rule_id, kind, symbol, message, value::text, ts
		FROM alerts ORDER BY ts DESC, alert_id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("recent alerts: %w", err)
	}
	defer rows.Close()
	var out []event.Alert
	for rows.Next() {
		var a event.Alert
		var value string
		if err := rows.Scan(&a.ID, &a.RuleID, &a.Kind, &a.Symbol, &a.Message, &value, &a.Time); err != nil {
			return nil, fmt.Errorf("recent alerts: %w", err)
		}
		if a.Value, err = event.ParseDecimal(value); err != nil {
			return nil, fmt.Errorf("recent alerts: %w", err)
		}
		a.Time = a.Time.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent alerts: %w", err)
	}
	return out, nil
}

func scanRule(row pgx.Row) (Rule, error) {
	var r Rule
	var kind, threshold string
	if err := row.Scan(&r.ID, &kind, &r.Symbol, &threshold, &r.Window, &r.Cooldown, &r.Enabled, &r.Note, &r.CreatedAt); err != nil {
		return Rule{}, err
	}
	r.Kind = Kind(kind)
	t, err := event.ParseDecimal(threshold)
	if err != nil {
		return Rule{}, fmt.Errorf("rule %d threshold: %w", r.ID, err)
	}
	r.Threshold = t
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// ParseWindow parses a window or cooldown such as "5m", "90s" or "1h30m";
// empty is zero.
func ParseWindow(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a duration such as 30s, 5m or 1h", ErrInvalidRule, s)
	}
	return d, nil
}
