package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/store"
)

// partitionKey names one source partition by its short topic name.
type partitionKey struct {
	topic     string // "prices" or "trades"
	partition int32
}

// checkpoint is what one engine batch commits in one PostgreSQL
// transaction: the next offset of every partition it read, the states it
// changed and the alerts it decided. from is where the engine last
// stored each of those partitions (absent: never stored); the commit
// moves a partition's offset only from there.
type checkpoint struct {
	offsets map[partitionKey]int64
	from    map[partitionKey]int64
	states  map[stateKey]*state
	alerts  []Fired
}

// positions is the engine's persisted position for some partitions.
type positions struct {
	offsets map[partitionKey]int64
	states  map[stateKey]*state
}

// dropPartition sets k's offset to 0 and forgets its states: the
// partition as rewound (see persister.rewind).
func (p *positions) dropPartition(k partitionKey) {
	p.offsets[k] = 0
	for sk := range p.states {
		if sk.topic == k.topic && sk.partition == k.partition {
			delete(p.states, sk)
		}
	}
}

// persister reads and writes the engine's tables for one consumer group.
type persister struct {
	pool  *pgxpool.Pool
	group string
}

// errRuleGone reports a state written for a rule deleted meanwhile.
var errRuleGone = errors.New("alert rule deleted during the batch")

// errFenced reports a checkpoint refused because a partition's stored
// offset is not where this engine stored it last: the database lost
// checkpoints (a failover to a server that had not received them, a
// restore), or another instance took the partition over. The states
// stored beside those offsets are then not the ones in memory, so the
// engine drops the batch and resumes from the stored checkpoint.
var errFenced = errors.New("stored alert offsets are not where this engine stored them (the database lost checkpoints, or another instance moved them)")

// moveOffsets moves the group's stored offsets from a batch's start.
var moveOffsets = store.MoveOffsetsSQL("alert_offsets")

// commit writes cp in one transaction.
func (p *persister) commit(ctx context.Context, cp checkpoint) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if len(cp.offsets) > 0 {
			// In (topic, partition) order, so that instances lock the
			// offset rows in the same order.
			keys := slices.SortedFunc(maps.Keys(cp.offsets), func(a, b partitionKey) int {
				return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
			})
			topics, parts := make([]string, 0, len(keys)), make([]int32, 0, len(keys))
			from, next := make([]int64, 0, len(keys)), make([]int64, 0, len(keys))
			for _, k := range keys {
				f, ok := cp.from[k]
				if !ok {
					f = -1
				}
				topics, parts = append(topics, k.topic), append(parts, k.partition)
				from, next = append(from, f), append(next, cp.offsets[k])
			}
			var moved int
			if err := tx.QueryRow(ctx, moveOffsets, p.group, topics, parts, from, next).Scan(&moved); err != nil {
				return fmt.Errorf("store alert offsets: %w", err)
			}
			if moved != len(keys) {
				return errFenced
			}
		}
		if len(cp.states) > 0 {
			var topics, symbols []string
			var parts []int32
			var rules []int64
			var docs [][]byte
			for k, st := range cp.states {
				doc, err := json.Marshal(st)
				if err != nil {
					return fmt.Errorf("encode alert state: %w", err)
				}
				topics, parts, rules = append(topics, k.topic), append(parts, k.partition), append(rules, k.rule)
				symbols, docs = append(symbols, k.symbol), append(docs, doc)
			}
			// States of rules deleted meanwhile are skipped by the join.
			if _, err := tx.Exec(ctx, `
				INSERT INTO alert_state (group_id, topic, kafka_partition, rule_id, symbol, state)
				SELECT $1, u.t, u.p, u.r, u.s, u.d
				FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::jsonb[]) AS u(t, p, r, s, d)
				JOIN alert_rules ar ON ar.rule_id = u.r
				ON CONFLICT (group_id, topic, kafka_partition, rule_id, symbol)
				DO UPDATE SET state = excluded.state, updated_at = now()`,
				p.group, topics, parts, rules, symbols, docs); err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
					return fmt.Errorf("store alert state: %w: %w", errRuleGone, err)
				}
				return fmt.Errorf("store alert state: %w", err)
			}
		}
		if len(cp.alerts) > 0 {
			var ids, topics []string
			var parts []int32
			var docs [][]byte
			for _, a := range cp.alerts {
				ids, topics = append(ids, a.ID), append(topics, a.Source.Topic)
				parts, docs = append(parts, a.Source.Partition), append(docs, a.AppendJSON(nil))
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO alert_outbox (group_id, alert_id, topic, kafka_partition, alert)
				SELECT $1, i, t, p, d FROM unnest($2::text[], $3::text[], $4::int[], $5::jsonb[]) AS u(i, t, p, d)
				ON CONFLICT DO NOTHING`,
				p.group, ids, topics, parts, docs); err != nil {
				return fmt.Errorf("store alert outbox: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit alert batch: %w", err)
	}
	return nil
}

// load reads the stored offsets and states of the given partitions from
// one snapshot, so that they belong together.
func (p *persister) load(ctx context.Context, parts []partitionKey) (positions, error) {
	pos := positions{offsets: map[partitionKey]int64{}, states: map[stateKey]*state{}}
	if len(parts) == 0 {
		return pos, nil
	}
	topics, nums := split(parts)
	err := pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if pos.offsets, err = p.readOffsets(ctx, tx, parts); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT s.topic, s.kafka_partition, s.rule_id, s.symbol, s.state::text
			FROM alert_state s JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON s.topic = u.t AND s.kafka_partition = u.p
			WHERE s.group_id = $1`, p.group, topics, nums)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k stateKey
			var doc string
			if err := rows.Scan(&k.topic, &k.partition, &k.rule, &k.symbol, &doc); err != nil {
				return err
			}
			st := &state{}
			if err := json.Unmarshal([]byte(doc), st); err != nil {
				return fmt.Errorf("decode state of rule %d %s: %w", k.rule, k.symbol, err)
			}
			pos.states[k] = st
		}
		return rows.Err()
	})
	if err != nil {
		return positions{}, fmt.Errorf("load alert positions: %w", err)
	}
	return pos, nil
}

// rewind moves the stored offsets of the partitions in from (each stored
// at the offset given) back to 0 and deletes their states, in one
// transaction, and returns the partitions it moved: a partition stored
// elsewhere meanwhile (another instance) is left as it is.
func (p *persister) rewind(ctx context.Context, from map[partitionKey]int64) (map[partitionKey]bool, error) {
	moved := map[partitionKey]bool{}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		clear(moved)
		for k, off := range from {
			tag, err := tx.Exec(ctx, `UPDATE alert_offsets SET next_offset = 0, updated_at = now()
				WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3 AND next_offset = $4`,
				p.group, k.topic, k.partition, off)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			moved[k] = true
			if _, err := tx.Exec(ctx, `DELETE FROM alert_state WHERE group_id = $1 AND topic = $2 AND kafka_partition = $3`,
				p.group, k.topic, k.partition); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rewind alert offsets: %w", err)
	}
	return moved, nil
}

// offsets reads the stored offsets of the given partitions (absent: none
// stored).
func (p *persister) offsets(ctx context.Context, parts []partitionKey) (map[partitionKey]int64, error) {
	offs, err := p.readOffsets(ctx, p.pool, parts)
	if err != nil {
		return nil, fmt.Errorf("read alert offsets: %w", err)
	}
	return offs, nil
}

func (p *persister) readOffsets(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, parts []partitionKey) (map[partitionKey]int64, error) {
	offs := map[partitionKey]int64{}
	if len(parts) == 0 {
		return offs, nil
	}
	topics, nums := split(parts)
	rows, err := q.Query(ctx, `
		SELECT o.topic, o.kafka_partition, o.next_offset
		FROM alert_offsets o JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON o.topic = u.t AND o.kafka_partition = u.p
		WHERE o.group_id = $1`, p.group, topics, nums)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k partitionKey
		var off int64
		if err := rows.Scan(&k.topic, &k.partition, &off); err != nil {
			return nil, err
		}
		offs[k] = off
	}
	return offs, rows.Err()
}

// lastCheckpoint returns when the group last checkpointed (the newest
// updated_at of its offsets); ok is false when it never did.
func (p *persister) lastCheckpoint(ctx context.Context) (t time.Time, ok bool, err error) {
	var last *time.Time
	if err := p.pool.QueryRow(ctx, `SELECT max(updated_at) FROM alert_offsets WHERE group_id = $1`, p.group).Scan(&last); err != nil {
		return time.Time{}, false, fmt.Errorf("read the last alert checkpoint: %w", err)
	}
	if last == nil {
		return time.Time{}, false, nil
	}
	return *last, true, nil
}

// donors reads, for each rule and symbol of syms, the stored state of
// topic with the newest event time, whatever its partition.
func (p *persister) donors(ctx context.Context, topic string, syms []string) (map[donorKey]donor, error) {
	rows, err := p.pool.Query(ctx, `
		SELECT kafka_partition, rule_id, symbol, state::text FROM alert_state
		WHERE group_id = $1 AND topic = $2 AND symbol = ANY($3)`, p.group, topic, syms)
	if err != nil {
		return nil, fmt.Errorf("read alert states: %w", err)
	}
	defer rows.Close()
	out := map[donorKey]donor{}
	for rows.Next() {
		k := donorKey{topic: topic}
		var part int32
		var doc string
		if err := rows.Scan(&part, &k.rule, &k.symbol, &doc); err != nil {
			return nil, fmt.Errorf("read alert states: %w", err)
		}
		st := &state{}
		if err := json.Unmarshal([]byte(doc), st); err != nil {
			return nil, fmt.Errorf("decode state of rule %d %s: %w", k.rule, k.symbol, err)
		}
		if d, ok := out[k]; !ok || st.At > d.st.At {
			out[k] = donor{partition: part, st: st}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alert states: %w", err)
	}
	return out, nil
}

// pending is the outbox of some partitions.
type pending struct {
	alerts []Fired
	oldest time.Time
}

// outbox returns the alerts still in the outbox for the given partitions.
func (p *persister) outbox(ctx context.Context, parts []partitionKey) (pending, error) {
	var out pending
	if len(parts) == 0 {
		return out, nil
	}
	topics, nums := split(parts)
	rows, err := p.pool.Query(ctx, `
		SELECT o.topic, o.kafka_partition, o.alert::text, o.created_at
		FROM alert_outbox o JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON o.topic = u.t AND o.kafka_partition = u.p
		WHERE o.group_id = $1 ORDER BY o.created_at, o.alert_id`, p.group, topics, nums)
	if err != nil {
		return out, fmt.Errorf("read alert outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f Fired
		var doc string
		var created time.Time
		if err := rows.Scan(&f.Source.Topic, &f.Source.Partition, &doc, &created); err != nil {
			return out, fmt.Errorf("read alert outbox: %w", err)
		}
		a, err := event.DecodeAlert([]byte(doc))
		if err != nil {
			return out, fmt.Errorf("read alert outbox: %w", err)
		}
		f.Alert = a
		if out.oldest.IsZero() || created.Before(out.oldest) {
			out.oldest = created
		}
		out.alerts = append(out.alerts, f)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("read alert outbox: %w", err)
	}
	return out, nil
}

// done removes alerts known to be in the alerts topic from the outbox.
func (p *persister) done(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := p.pool.Exec(ctx, `DELETE FROM alert_outbox WHERE group_id = $1 AND alert_id = ANY($2)`, p.group, ids); err != nil {
		return fmt.Errorf("clear alert outbox: %w", err)
	}
	return nil
}

func split(parts []partitionKey) ([]string, []int32) {
	topics := make([]string, len(parts))
	nums := make([]int32, len(parts))
	for i, k := range parts {
		topics[i], nums[i] = k.topic, k.partition
	}
	return topics, nums
}
