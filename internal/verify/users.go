package verify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/store"
)

// latest is the record a user's row must hold.
type latest struct {
	partition int32
	offset    int64
	tombstone bool
	// opaque is a record that does not decode (and is no dead letter): it
	// is ordered by arrival, like a tombstone, and no row can hold it.
	opaque bool
	// at is the profile's updated_at, its version.
	at time.Time
	// also are records of the same version in other partitions, which
	// the row may hold instead: the sink keeps whichever it loaded last.
	also []position
}

type position struct {
	partition int32
	offset    int64
}

// holds reports whether a row stored from partition and offset holds l.
func (l latest) holds(partition int32, offset int64) bool {
	if l.partition == partition && l.offset == offset {
		return true
	}
	return slices.Contains(l.also, position{partition, offset})
}

// newer folds the record at (partition, offset) into the key's latest, as
// the sink orders a key's records: by updated_at, the later record of a
// partition winning a tie; a tombstone by arrival.
func (l *latest) newer(r latest, seen bool) {
	switch {
	case !seen || r.tombstone || l.tombstone || r.opaque || l.opaque || r.at.After(l.at):
		*l = r
	case r.at.Equal(l.at) && r.partition == l.partition:
		l.offset = r.offset
	case r.at.Equal(l.at):
		l.also = append(l.also, position{r.partition, r.offset})
	}
}

// users reads the users topic up to the sink's stored positions and checks
// that each user's row holds the last record of its key that is not a dead
// letter.
func (v *verifier) users(ctx context.Context) error {
	topic := v.opts.Topics.Users
	want, err := v.latestUsers(ctx, topic)
	if err != nil {
		return err
	}
	rows, err := v.db.Query(ctx, `SELECT user_id, kafka_partition, kafka_offset FROM users`)
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	defer rows.Close()
	u := &v.rep.Users
	seen := map[int64]bool{}
	var sample []int64
	for rows.Next() {
		var id, off int64
		var part int32
		if err := rows.Scan(&id, &part, &off); err != nil {
			return fmt.Errorf("read users: %w", err)
		}
		u.Rows++
		seen[id] = true
		w, ok := want[id]
		switch {
		case !ok || w.tombstone:
			u.Extra++
			sample = append(sample, id)
		case !w.holds(part, off):
			u.Stale++
			sample = append(sample, id)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	for id, w := range want {
		if w.tombstone {
			continue
		}
		u.Keys++
		if !seen[id] {
			u.Missing++
			sample = append(sample, id)
		}
	}
	slices.Sort(sample)
	u.Sample = sample[:min(len(sample), v.opts.Sample)]
	if u.Missing+u.Stale+u.Extra > 0 {
		v.rep.problem("users: %d missing, %d stale, %d extra rows against the topic's latest records, e.g. user ids %v",
			u.Missing, u.Stale, u.Extra, u.Sample)
	}
	return nil
}

// latestUsers reads topic from the start of each partition up to its
// stored position and returns the last record per user id, skipping dead
// letters. A key that is not a user id can only be a dead letter. Once
// partitions were added a key's records span two partitions, so "last"
// is by the profile's updated_at, as the sink keeps them.
func (v *verifier) latestUsers(ctx context.Context, topic string) (map[int64]latest, error) {
	dead, err := v.deadOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	from := map[int32]kgo.Offset{}
	stop := map[int32]int64{}
	for _, p := range v.rep.Partitions {
		if p.Topic != topic {
			continue
		}
		if _, hi, _ := checked(&p); hi > p.Start {
			from[p.Partition] = kgo.NewOffset().At(p.Start)
			stop[p.Partition] = hi
		}
	}
	out := map[int64]latest{}
	if len(from) == 0 {
		return out, nil
	}
	cl, err := kafka.NewClient(ctx, v.kcfg, v.log, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(stop) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := stop[r.Partition]
			if !ok {
				return
			}
			// Done at the record before the stored position, or past it if
			// compaction has removed that one.
			if r.Offset >= end-1 {
				delete(stop, r.Partition)
			}
			if r.Offset >= end {
				return
			}
			if dead[r.Partition][r.Offset] {
				return
			}
			id, err := strconv.ParseInt(string(r.Key), 10, 64)
			if err != nil {
				return
			}
			rec := latest{partition: r.Partition, offset: r.Offset, tombstone: r.Value == nil}
			if !rec.tombstone {
				_, ev, err := v.opts.Decoder.Decode(ctx, event.ReadHeaders(r.Headers).Schema, r.Value)
				u, _ := ev.(*event.User)
				rec.opaque = err != nil || u == nil
				if !rec.opaque {
					rec.at = u.UpdatedAt
				}
			}
			cur, seen := out[id]
			cur.newer(rec, seen)
			out[id] = cur
		})
	}
	return out, nil
}

// deadOffsets returns the offsets of topic's dead letters per partition.
func (v *verifier) deadOffsets(ctx context.Context, topic string) (map[int32]map[int64]bool, error) {
	rows, err := v.db.Query(ctx, `SELECT kafka_partition, kafka_offset FROM dead_letters WHERE topic = $1 AND `+store.DeadLetterStands, topic)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	defer rows.Close()
	out := map[int32]map[int64]bool{}
	for rows.Next() {
		var p int32
		var o int64
		if err := rows.Scan(&p, &o); err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		if out[p] == nil {
			out[p] = map[int64]bool{}
		}
		out[p][o] = true
	}
	return out, rows.Err()
}
