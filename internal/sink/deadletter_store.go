package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file reads the dead_letters table for `tradestream deadletters
// list` and `show`, and selects what `replay` replays.

// Replay outcomes, the dead_letters.replay_outcome column.
const (
	// OutcomeLoaded: the record is now a row; it no longer counts as a
	// dead letter (verify counts its offset as the row).
	OutcomeLoaded = "loaded"
	// OutcomeDropped: a transform now filters the record out.
	OutcomeDropped = "dropped"
	// OutcomeDead: dead again, with ReplayReason and ReplayError.
	OutcomeDead = "dead"
)

// StoredDeadLetter is one row of the dead_letters table.
type StoredDeadLetter struct {
	ID         int64     `json:"id"`
	Topic      string    `json:"topic"`
	Partition  int32     `json:"partition"`
	Offset     int64     `json:"offset"`
	Schema     string    `json:"schema"`
	RunID      string    `json:"run_id,omitempty"`
	Reason     string    `json:"reason"`
	Error      string    `json:"error"`
	ReceivedAt time.Time `json:"received_at"`
	// Key and Value are the raw record; List leaves them out.
	Key   []byte `json:"key,omitempty"`
	Value []byte `json:"value,omitempty"`
	// ReplayedAt is when a replay handled the dead letter (nil: never),
	// with what outcome and, dead again, why.
	ReplayedAt    *time.Time `json:"replayed_at,omitempty"`
	ReplayOutcome string     `json:"replay_outcome,omitempty"`
	ReplayReason  string     `json:"replay_reason,omitempty"`
	ReplayError   string     `json:"replay_error,omitempty"`
}

// DeadLetterFilter selects dead letters; zero fields select everything.
type DeadLetterFilter struct {
	// IDs selects these dead letters only.
	IDs []int64
	// Reasons and Topics (full topic names) select any of theirs.
	Reasons []string
	Topics  []string
	// Since and Until bound received_at: [Since, Until).
	Since, Until time.Time
	// State is "pending" (never replayed), "replayed", or an outcome
	// (loaded, dropped, dead); empty selects every state.
	State string
	// Limit bounds how many List returns (0: 100).
	Limit int
}

// DeadLetterStates are the values of DeadLetterFilter.State.
var DeadLetterStates = []string{"pending", "replayed", OutcomeLoaded, OutcomeDropped, OutcomeDead}

// where returns the filter as an SQL condition on dead_letters, its
// arguments appended to args.
func (f DeadLetterFilter) where(args *[]any) (string, error) {
	conds := []string{"true"}
	arg := func(v any) string {
		*args = append(*args, v)
		return fmt.Sprintf("$%d", len(*args))
	}
	if len(f.IDs) > 0 {
		conds = append(conds, "id = ANY("+arg(f.IDs)+"::int8[])")
	}
	if len(f.Reasons) > 0 {
		conds = append(conds, "reason = ANY("+arg(f.Reasons)+"::text[])")
	}
	if len(f.Topics) > 0 {
		conds = append(conds, "topic = ANY("+arg(f.Topics)+"::text[])")
	}
	if !f.Since.IsZero() {
		conds = append(conds, "received_at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "received_at < "+arg(f.Until))
	}
	switch f.State {
	case "":
	case "pending":
		conds = append(conds, "replayed_at IS NULL")
	case "replayed":
		conds = append(conds, "replayed_at IS NOT NULL")
	case OutcomeLoaded, OutcomeDropped, OutcomeDead:
		conds = append(conds, "replay_outcome = "+arg(f.State))
	default:
		return "", fmt.Errorf("dead letter state %q: want one of %s", f.State, strings.Join(DeadLetterStates, ", "))
	}
	return strings.Join(conds, " AND "), nil
}

const deadLetterColumns = `id, topic, kafka_partition, kafka_offset, schema, coalesce(run_id, ''), reason, error, received_at,
	replayed_at, coalesce(replay_outcome, ''), coalesce(replay_reason, ''), coalesce(replay_error, '')`

// Querier is what the dead-letter reads need of a pool or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ListDeadLetters returns the dead letters f selects, newest first,
// without their keys and values, and how many f selects in all.
func ListDeadLetters(ctx context.Context, db Querier, f DeadLetterFilter) ([]StoredDeadLetter, int64, error) {
	var args []any
	where, err := f.where(&args)
	if err != nil {
		return nil, 0, err
	}
	var total int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM dead_letters WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count dead letters: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := db.Query(ctx, fmt.Sprintf("SELECT %s FROM dead_letters WHERE %s ORDER BY received_at DESC, id DESC LIMIT $%d",
		deadLetterColumns, where, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StoredDeadLetter, error) {
		var d StoredDeadLetter
		err := row.Scan(&d.ID, &d.Topic, &d.Partition, &d.Offset, &d.Schema, &d.RunID, &d.Reason, &d.Error, &d.ReceivedAt,
			&d.ReplayedAt, &d.ReplayOutcome, &d.ReplayReason, &d.ReplayError)
		return d, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list dead letters: %w", err)
	}
	return out, total, nil
}

// ErrNoDeadLetter is GetDeadLetter's error for an id that is not there.
var ErrNoDeadLetter = errors.New("no such dead letter")

// GetDeadLetter returns one dead letter with its key and value.
func GetDeadLetter(ctx context.Context, db Querier, id int64) (StoredDeadLetter, error) {
	var d StoredDeadLetter
	err := db.QueryRow(ctx, "SELECT "+deadLetterColumns+", key, value FROM dead_letters WHERE id = $1", id).Scan(
		&d.ID, &d.Topic, &d.Partition, &d.Offset, &d.Schema, &d.RunID, &d.Reason, &d.Error, &d.ReceivedAt,
		&d.ReplayedAt, &d.ReplayOutcome, &d.ReplayReason, &d.ReplayError, &d.Key, &d.Value)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("dead letter %d: %w", id, ErrNoDeadLetter)
	}
	if err != nil {
		return d, fmt.Errorf("dead letter %d: %w", id, err)
	}
	return d, nil
}
