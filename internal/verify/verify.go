// Package verify reconciles what Kafka holds with what the sink stored in
// PostgreSQL, for `tradestream verify`.
//
// For the prices and trades topics, every offset from the partition's log
// start up to the sink's stored position must be exactly one row (found by
// the kafka_partition and kafka_offset columns) or one dead letter; an
// offset with neither is missing, one with more than one is a duplicate,
// and a row past the stored position means the offsets and rows were not
// committed together. Offsets past the stored position are pending (lag).
// With a retention setting, a missing offset whose record is dated before
// the retention window is counted as expired instead (its partition was
// dropped).
//
// The users topic is compacted, and the alerts topic is written in
// transactions, so their offsets have gaps by design: there only
// duplicates and rows past the stored position are checked by offset. For
// users the check is per key. The topic is read up to the stored positions, and
// each user's row must hold the newest record of its key that is not a dead
// letter (none after a tombstone): the latest updated_at, and of equal ones
// the last in its partition (a key's records span two partitions once
// partitions were added).
//
// Balances: every account whose balance came from a trade must hold that
// trade's balance_after, and no stored trade of the account may be newer;
// an account whose balance came from a profile must have no trade at or
// after it; every account with trades must exist; and the trades of an
// account and generator run (the run_id header), in (ts, trade_id) order,
// must chain: each balance_after is the previous one plus the trade's cash
// flow.
//
// Every PostgreSQL query of a run reads one snapshot (a read-only,
// repeatable-read transaction), and the topics' offsets are listed after
// that snapshot is taken, so a sink that keeps loading cannot make the
// stored offsets, the rows and the dead letters disagree: whatever it
// commits during the run is neither a row past the stored offset nor
// missing, only more pending records in Kafka.
//
// Any missing, duplicate, misplaced or inconsistent data is a problem;
// Report.OK is false when there is any. Lag is a problem only when
// Options.RequireCaughtUp is set.
package verify

import (
	"context"
	"fmt"
	"github.com/tradestream/tradestream/internal/format"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
)

// Options say what to verify.
type Options struct {
	// Group is the sink's consumer group: the key of its stored offsets.
	Group string
	// Topics names the topics.
	Topics kafka.Topics
	// RetentionDays is the database retention (0: none), as the sink
	// applied it.
	RetentionDays int
	// RequireCaughtUp makes pending (not yet loaded) offsets a problem.
	RequireCaughtUp bool
	// Sample is how many example offsets or ids a finding lists (default 10).
	Sample int
	// Expected, when set, is a generator run's manifest to reconcile the
	// run's rows and dead letters with (verify --manifest).
	Expected *Expected
	// Decoder reads records in the schema registry's formats (nil: JSON
	// only), for the event times and user updates verify reads from Kafka.
	Decoder *format.Decoder
	// RollupSamples is how many random windows (and users) the rollup
	// check compares with the raw rows (default 20; negative: every
	// minute and every position).
	RollupSamples int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Partition is the reconciliation of one topic partition.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Start and End are the partition's log start and end offsets.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Stored is the sink's stored next offset (-1: none).
	Stored int64 `json:"stored"`
	// Rows and DeadLetters count the offsets in [Start, Stored) held as a
	// row or a dead letter (for the users topic, dead letters only).
	Rows        int64 `json:"rows"`
	DeadLetters int64 `json:"dead_letters"`
	// Missing counts offsets in [Start, Stored) held nowhere; Expired those
	// of them whose event was dated before the retention window.
	Missing       int64   `json:"missing"`
	Expired       int64   `json:"expired,omitempty"`
	MissingSample []int64 `json:"missing_sample,omitempty"`
	// Duplicates counts extra rows or dead letters for one offset.
	Duplicates int64 `json:"duplicates"`
	// Ahead counts rows or dead letters at or past Stored.
	Ahead int64 `json:"ahead"`
	// Pending counts offsets not loaded yet: [max(Start, Stored), End).
	Pending int64 `json:"pending"`
}

// Users is the per-key check of the compacted users topic.
type Users struct {
	// Keys is the number of users whose latest valid record is a profile.
	Keys int64 `json:"keys"`
	Rows int64 `json:"rows"`
	// Missing users have no row; Stale ones hold an older record; Extra
	// rows have no profile as their key's latest valid record.
	Missing int64   `json:"missing"`
	Stale   int64   `json:"stale"`
	Extra   int64   `json:"extra"`
	Sample  []int64 `json:"sample,omitempty"`
}

// Balances is the account check.
type Balances struct {
	Accounts        int64   `json:"accounts"`
	Mismatched      int64   `json:"mismatched"`
	MissingAccounts int64   `json:"missing_accounts"`
	ChainBreaks     int64   `json:"chain_breaks"`
	Sample          []int64 `json:"sample,omitempty"`
}

// Rollups is the rollup check: how much was compared and what differed.
type Rollups struct {
	// Samples is the number of random windows compared (0: all of them).
	Samples int `json:"samples"`
	// Positions says whether positions were compared (only without a
	// raw retention: they need every trade).
	Positions   bool     `json:"positions"`
	Differences int      `json:"differences"`
	Sample      []string `json:"sample,omitempty"`
}

// Report is what Run found.
type Report struct {
	Group      string      `json:"group"`
	Partitions []Partition `json:"partitions"`
	Users      Users       `json:"users"`
	Balances   Balances    `json:"balances"`
	// DuplicateTrades and DuplicateTicks count events stored more than
	// once under their own identity (run and trade_id; run, symbol and seq).
	DuplicateTrades int64 `json:"duplicate_trades"`
	DuplicateTicks  int64 `json:"duplicate_ticks"`
	// DeadLetters counts the dead letters of the data topics by reason.
	DeadLetters map[string]int64 `json:"dead_letters"`
	// Rollups is the comparison of the rollups with the raw rows.
	Rollups Rollups `json:"rollups"`
	// Manifest is the reconciliation with a run's manifest, if asked.
	Manifest *ManifestCheck `json:"manifest,omitempty"`
	// Problems lists every mismatch in words; empty means OK.
	Problems []string `json:"problems"`
	// SharedWith names the other topics whose rows share the tables
	// (another topic prefix loaded into the same database), when there
	// are duplicates or rows ahead they may account for.
	SharedWith []string `json:"shared_with,omitempty"`
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Run reconciles Kafka (through a client built from kcfg) with the
// database behind pool.
func Run(ctx context.Context, kcfg config.Kafka, log *slog.Logger, pool *pgxpool.Pool, opts Options) (*Report, error) {
	if opts.Sample <= 0 {
		opts.Sample = 10
	}
	if opts.RollupSamples == 0 {
		opts.RollupSamples = 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cl, err := kafka.NewClient(ctx, kcfg, log)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("verify: begin snapshot: %w", err)
	}
	// Read-only: nothing to commit, and rolling back ends the snapshot.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	v := &verifier{kcfg: kcfg, log: log, cl: cl, adm: kadm.NewClient(cl), db: tx, opts: opts,
		rep: &Report{Group: opts.Group, DeadLetters: map[string]int64{}, Problems: []string{}}}
	steps := []func(context.Context) error{v.partitions, v.users, v.balances, v.duplicates, v.deadLetters, v.rollups, v.manifest}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return v.rep, nil
}

// verifier holds one run's clients and findings.
type verifier struct {
	kcfg config.Kafka
	log  *slog.Logger
	cl   *kgo.Client
	adm  *kadm.Client
	// db is the run's one snapshot of the database.
	db   querier
	opts Options
	rep  *Report
	// stored is the sink's stored position per topic and partition.
	stored map[string]map[int32]int64
}

// querier is what verify asks of the database: a pgx.Tx, so that every
// query reads the same snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
