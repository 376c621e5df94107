package verify

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/store"
)

// coverage counts, per partition, the rows and dead letters in the
// checked span [lo, hi) and everything at or past ahead. For the users
// topic (no row table) only dead letters are counted.
const coverage = `
WITH spans AS (
    SELECT * FROM unnest($2::int4[], $3::int8[], $4::int8[], $5::int8[]) AS s(p, lo, hi, ahead)
), o AS (
    %s
    SELECT kafka_partition AS p, kafka_offset AS o, true AS dl FROM dead_letters WHERE topic = $1 AND ` + store.DeadLetterStands + `
)
SELECT s.p,
       count(o.o) FILTER (WHERE NOT o.dl AND o.o >= s.lo AND o.o < s.hi),
       count(o.o) FILTER (WHERE o.dl AND o.o >= s.lo AND o.o < s.hi),
       count(DISTINCT o.o) FILTER (WHERE o.o >= s.lo AND o.o < s.hi),
       count(o.o) FILTER (WHERE o.o >= s.ahead)
FROM spans s LEFT JOIN o ON o.p = s.p
GROUP BY s.p`

const rowOffsets = `SELECT kafka_partition AS p, kafka_offset AS o, false AS dl FROM %s UNION ALL`

// missingOffsets lists the offsets of [lo, hi) of one partition held
// neither as a row nor as a dead letter.
const missingOffsets = `
SELECT g FROM generate_series($2::int8, $3::int8 - 1) g
LEFT JOIN (
    SELECT kafka_offset AS o FROM %s WHERE kafka_partition = $1
    UNION
    SELECT kafka_offset FROM dead_letters WHERE topic = $4 AND kafka_partition = $1 AND ` + store.DeadLetterStands + `
) x ON x.o = g
WHERE x.o IS NULL
ORDER BY g`

// partitions reconciles every partition of the data topics.
func (v *verifier) partitions(ctx context.Context) error {
	t := v.opts.Topics
	topics := []string{t.Users, t.Prices, t.Trades, t.Alerts}
	// The stored offsets first: this query takes the run's snapshot, and
	// the end offsets listed after it are at or past every stored offset
	// in it, so [Stored, End) is what the snapshot has not loaded.
	var err error
	if v.stored, err = store.StoredOffsets(ctx, v.db, v.opts.Group, topics); err != nil {
		return err
	}
	starts, err := v.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := v.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	tables := map[string]string{t.Prices: "price_ticks", t.Trades: "trades", t.Alerts: "alerts"}
	// Offsets with gaps by design: compaction (users), aborted
	// transactions and their markers (alerts).
	gaps := map[string]bool{t.Users: true, t.Alerts: true}
	for _, topic := range topics {
		var parts []Partition
		for _, e := range sortedListed(ends, topic) {
			p := Partition{Topic: topic, Partition: e.partition, End: e.offset, Start: e.offset, Stored: -1}
			if s, ok := starts.Lookup(topic, e.partition); ok && s.Err == nil {
				p.Start = s.Offset
			}
			if next, ok := v.stored[topic][e.partition]; ok {
				p.Stored = next
			}
			p.Pending = max(0, p.End-max(p.Start, p.Stored))
			parts = append(parts, p)
		}
		if err := v.cover(ctx, topic, tables[topic], gaps[topic], parts); err != nil {
			return err
		}
		for i := range parts {
			p := &parts[i]
			if p.Missing > 0 {
				if err := v.explainMissing(ctx, tables[topic], p); err != nil {
					return err
				}
			}
			v.judge(p)
		}
		v.rep.Partitions = append(v.rep.Partitions, parts...)
	}
	return v.sharedTables(ctx, topics)
}

// sharedTables explains duplicates and rows ahead that come from other
// topics loaded into the same tables (another --topic-prefix, another
// cluster's topics of other names): rows record their partition and
// offset, not their topic, so verify counts those rows as this topic's.
// It names the other topics the sink stored offsets for, first among the
// problems, when there are such rows to explain.
func (v *verifier) sharedTables(ctx context.Context, topics []string) error {
	suspect := false
	for _, p := range v.rep.Partitions {
		if p.Duplicates > 0 || p.Ahead > 0 {
			suspect = true
			break
		}
	}
	if !suspect {
		return nil
	}
	rows, err := v.db.Query(ctx, `SELECT topic FROM sink_offsets WHERE topic <> ALL($1) GROUP BY topic ORDER BY topic`, topics)
	if err != nil {
		return fmt.Errorf("verify: topics of other prefixes: %w", err)
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("verify: topics of other prefixes: %w", err)
	}
	if len(others) == 0 {
		return nil
	}
	v.rep.SharedWith = others
	v.rep.Problems = append([]string{fmt.Sprintf("the tables also hold rows of other topics (%s): rows record their partition and offset, not their topic, "+
		"so verify counts those rows as duplicates or rows ahead of this prefix's topics; load each topic prefix into a database of its own to verify it",
		strings.Join(others, ", "))}, v.rep.Problems...)
	return nil
}

// checked returns the span [lo, hi) of p whose offsets must be loaded, and
// the offset from which on nothing may be stored.
func checked(p *Partition) (lo, hi, ahead int64) {
	lo = p.Start
	hi = max(lo, min(p.End, p.Stored))
	ahead = max(p.Stored, 0)
	return lo, hi, ahead
}

// cover fills the row, dead-letter, duplicate, missing and ahead counts of
// parts, all of topic, whose rows live in table ("" for users). Missing
// offsets are not counted for a topic whose offsets have gaps.
func (v *verifier) cover(ctx context.Context, topic, table string, gaps bool, parts []Partition) error {
	n := len(parts)
	ps, los, his, aheads := make([]int32, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range parts {
		ps[i] = parts[i].Partition
		los[i], his[i], aheads[i] = checked(&parts[i])
	}
	rowsPart := ""
	if table != "" {
		rowsPart = fmt.Sprintf(rowOffsets, pgx.Identifier{table}.Sanitize())
	}
	rows, err := v.db.Query(ctx, fmt.Sprintf(coverage, rowsPart), topic, ps, los, his, aheads)
	if err != nil {
		return fmt.Errorf("coverage of %s: %w", topic, err)
	}
	defer rows.Close()
	byPart := map[int32]*Partition{}
	for i := range parts {
		byPart[parts[i].Partition] = &parts[i]
	}
	for rows.Next() {
		var part int32
		var nrows, ndead, distinct, ahead int64
		if err := rows.Scan(&part, &nrows, &ndead, &distinct, &ahead); err != nil {
			return fmt.Errorf("coverage of %s: %w", topic, err)
		}
		p := byPart[part]
		p.Rows, p.DeadLetters, p.Ahead = nrows, ndead, ahead
		p.Duplicates = nrows + ndead - distinct
		if !gaps {
			lo, hi, _ := checked(p)
			p.Missing = (hi - lo) - distinct
		}
	}
	return rows.Err()
}

// explainMissing lists p's missing offsets (a sample in the report) and,
// with a retention, reads their records to count those dated before the
// retention window as expired rather than missing.
func (v *verifier) explainMissing(ctx context.Context, table string, p *Partition) error {
	lo, hi, _ := checked(p)
	q := fmt.Sprintf(missingOffsets, pgx.Identifier{table}.Sanitize())
	rows, err := v.db.Query(ctx, q, p.Partition, lo, hi, p.Topic)
	if err != nil {
		return fmt.Errorf("missing offsets of %s/%d: %w", p.Topic, p.Partition, err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("missing offsets of %s/%d: %w", p.Topic, p.Partition, err)
	}
	if v.opts.RetentionDays > 0 && len(missing) > 0 {
		expired, err := v.expired(ctx, p.Topic, p.Partition, missing)
		if err != nil {
			return err
		}
		kept := missing[:0]
		for _, o := range missing {
			if !expired[o] {
				kept = append(kept, o)
			}
		}
		p.Expired = int64(len(missing) - len(kept))
		p.Missing -= p.Expired
		missing = kept
	}
	p.MissingSample = missing[:min(len(missing), v.opts.Sample)]
	return nil
}

// expired reads the records at the given (sorted) offsets of one partition
// and returns those whose event is dated before the retention window.
func (v *verifier) expired(ctx context.Context, topic string, part int32, offsets []int64) (map[int64]bool, error) {
	cutoff := store.Day(v.opts.Now().AddDate(0, 0, -v.opts.RetentionDays))
	cl, err := kafka.NewClient(ctx, v.kcfg, v.log, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {part: kgo.NewOffset().At(offsets[0])},
	}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	want := make(map[int64]bool, len(offsets))
	for _, o := range offsets {
		want[o] = true
	}
	last := offsets[len(offsets)-1]
	out := map[int64]bool{}
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		done := false
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= last {
				done = true
			}
			if !want[r.Offset] {
				return
			}
			if ts, ok := v.eventTime(ctx, r); ok && ts.Before(cutoff) {
				out[r.Offset] = true
			}
		})
		if done {
			return out, nil
		}
	}
}

// eventTime decodes the event time of a price or trade record.
func (v *verifier) eventTime(ctx context.Context, r *kgo.Record) (time.Time, bool) {
	_, ev, err := v.opts.Decoder.Decode(ctx, event.ReadHeaders(r.Headers).Schema, r.Value)
	if err != nil {
		return time.Time{}, false
	}
	switch e := ev.(type) {
	case *event.Price:
		return e.Time, true
	case *event.Trade:
		return e.Time, true
	}
	return time.Time{}, false
}

// judge turns p's counts into problems.
func (v *verifier) judge(p *Partition) {
	name := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
	if p.Missing > 0 {
		v.rep.problem("%s: %d offsets missing (neither a row nor a dead letter), e.g. %v", name, p.Missing, p.MissingSample)
	}
	if p.Duplicates > 0 {
		v.rep.problem("%s: %d duplicate rows or dead letters", name, p.Duplicates)
	}
	if p.Ahead > 0 {
		v.rep.problem("%s: %d rows or dead letters at or past the stored offset %d", name, p.Ahead, p.Stored)
	}
	if p.End >= 0 && p.Stored > p.End {
		// The rows matched to this log's offsets belong to another one:
		// nothing of this log may be loaded.
		v.rep.problem("%s: the stored offset %d is past the partition's end %d: the rows were loaded from another log (the topic recreated, the cluster replaced or the log truncated); run the sink, which loads the partition again from its start",
			name, p.Stored, p.End)
	}
	if v.opts.RequireCaughtUp && p.Pending > 0 {
		v.rep.problem("%s: %d offsets not loaded yet (stored %d, end %d)", name, p.Pending, p.Stored, p.End)
	}
}

type listed struct {
	partition int32
	offset    int64
}

// sortedListed returns topic's listed end offsets in partition order.
func sortedListed(l kadm.ListedOffsets, topic string) []listed {
	var out []listed
	for part, o := range l[topic] {
		out = append(out, listed{part, o.Offset})
	}
	slices.SortFunc(out, func(a, b listed) int { return cmp.Compare(a.partition, b.partition) })
	return out
}
