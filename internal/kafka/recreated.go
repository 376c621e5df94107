package kafka

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Recreated finds the topics a client consumes that were deleted and
// created again under it. franz-go holds on to the id a topic had when
// first consumed and fetches nothing of its successor: its fetches are
// refused with UNKNOWN_TOPIC_ID (reported after five refusals in a row,
// since a topic just created is refused for a moment too, which takes
// about half a minute when the client's other topics are idle) until the
// topic is purged from the client and added back. Recreated notes the id
// of each topic fetched and the topics refused; Check asks the brokers
// whether they list a refused topic under another id and, every
// RecreatedWatch, whether they list any topic fetched under another id
// than the one fetched. The zero value is not usable; a Recreated is for
// one goroutine.
type Recreated struct {
	seen    map[string][16]byte
	refused map[string]time.Time // when to ask the brokers about it
	watch   time.Duration        // how often to compare the ids of every topic seen; 0: never
	watchAt time.Time            // when next
}

// RecreatedRecheck is how long after finding a refused topic not listed
// under a new id (deleted, not created again yet) Check asks again.
const RecreatedRecheck = 5 * time.Second

// RecreatedWatch is how often Check compares the id of every topic
// fetched with the one the brokers list (one metadata request).
const RecreatedWatch = 5 * time.Second

// NewRecreated returns a Recreated that knows no topic yet.
func NewRecreated() *Recreated {
	return &Recreated{seen: map[string][16]byte{}, refused: map[string]time.Time{},
		watch: RecreatedWatch, watchAt: time.Now().Add(RecreatedWatch)}
}

// SetWatch sets how often Check compares the ids of every topic fetched
// with the brokers' (0: never; only refused and suspect topics are asked
// about then).
func (r *Recreated) SetWatch(d time.Duration) {
	r.watch = d
	r.watchAt = time.Now().Add(d)
}

// Note notes fs: the id of each topic fetched without error, and each
// topic refused with UNKNOWN_TOPIC_ID. It returns the topics refused that
// were not already (to be logged once).
func (r *Recreated) Note(fs kgo.Fetches) []string {
	var fresh []string
	for _, f := range fs {
		for _, t := range f.Topics {
			for _, p := range t.Partitions {
				switch {
				case p.Err == nil:
					delete(r.refused, t.Topic)
					if t.TopicID != ([16]byte{}) {
						r.seen[t.Topic] = t.TopicID
					}
				case errors.Is(p.Err, kerr.UnknownTopicID):
					if _, ok := r.refused[t.Topic]; !ok {
						r.refused[t.Topic] = time.Now()
						fresh = append(fresh, t.Topic)
					}
				}
			}
		}
	}
	return fresh
}

// Pending reports whether Check has anything to ask about: a topic whose
// fetches are refused with UNKNOWN_TOPIC_ID, or the ids of the topics
// fetched when their comparison is due (callers poll it on every fetch
// before setting Check a deadline).
func (r *Recreated) Pending() bool {
	return len(r.refused) > 0 || r.watchDue(time.Now())
}

func (r *Recreated) watchDue(now time.Time) bool {
	return r.watch > 0 && len(r.seen) > 0 && !now.Before(r.watchAt)
}

// Suspect has Check ask the brokers about topic at once (a caller that
// found other signs of a new topic: stored offsets past its end).
func (r *Recreated) Suspect(topic string) { r.refused[topic] = time.Now() }

// Check returns, sorted, the topics refused, suspect or (when the watch
// is due) fetched that the brokers list under another id than the one
// fetched: topics deleted and created again. It forgets them (the caller
// purges and adds them back, and the next fetches note their new ids). A
// refused topic not listed (deleted, not created again yet), or not
// listed now, is asked about again after RecreatedRecheck.
func (r *Recreated) Check(ctx context.Context, cl *kgo.Client) []string {
	now := time.Now()
	var due []string
	for topic, at := range r.refused {
		if !now.Before(at) {
			due = append(due, topic)
		}
	}
	if r.watchDue(now) {
		r.watchAt = now.Add(r.watch)
		for topic := range r.seen {
			if _, ok := r.refused[topic]; !ok {
				due = append(due, topic)
			}
		}
	}
	if len(due) == 0 {
		return nil
	}
	listed, err := kadm.NewClient(cl).ListTopics(ctx, due...)
	var renew []string
	for _, topic := range due {
		d, ok := listed[topic]
		switch {
		case err == nil && ok && d.Err == nil && d.ID != ([16]byte{}) && d.ID != r.seen[topic]:
			renew = append(renew, topic)
			delete(r.refused, topic)
			delete(r.seen, topic)
		case r.refused[topic] != (time.Time{}):
			r.refused[topic] = now.Add(RecreatedRecheck)
		}
	}
	slices.Sort(renew)
	return renew
}

// TopicIDs returns the id in the cluster of each of topics that the
// brokers list with one now.
func TopicIDs(ctx context.Context, cl *kgo.Client, topics ...string) (map[string][16]byte, error) {
	listed, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ids := map[string][16]byte{}
	for _, topic := range topics {
		if d, ok := listed[topic]; ok && d.Err == nil && d.ID != ([16]byte{}) {
			ids[topic] = d.ID
		}
	}
	return ids, nil
}
