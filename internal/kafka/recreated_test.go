package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
)

// TestRecreatedWatchFindsANewTopicID, on the broker: a topic fetched
// under one id and then deleted and created again is found by the
// watch's comparison of the ids alone (no fetch refused), once the watch
// is due, and reported once; a topic unchanged, or the watch off, is
// never reported.
func TestRecreatedWatchFindsANewTopicID(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	tc := kafkatest.Topics(t, brokers, 1, 1)
	names := kafka.TopicNames(tc.Prefix)
	kept, renewed := names.Users, names.Prices
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(kept, renewed), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for _, topic := range []string{kept, renewed} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	r, off := kafka.NewRecreated(), kafka.NewRecreated()
	off.SetWatch(0)
	for fetched := map[string]bool{}; len(fetched) < 2; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("the two topics were not fetched")
		}
		r.Note(fs)
		off.Note(fs)
		fs.EachTopic(func(ft kgo.FetchTopic) {
			if ft.TopicID == ([16]byte{}) {
				t.Fatalf("fetch of %s carries no topic id", ft.Topic)
			}
			fetched[ft.Topic] = true
		})
	}
	if r.Pending() {
		t.Fatal("pending before the watch is due")
	}
	r.SetWatch(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	if got := r.Check(ctx, cl); len(got) != 0 {
		t.Fatalf("nothing recreated yet: got %v", got)
	}

	kafkatest.Recreate(ctx, t, brokers, tc, renewed)
	time.Sleep(2 * time.Millisecond)
	if !r.Pending() {
		t.Fatal("the watch is due but not pending")
	}
	// The brokers may list the new topic a moment after creating it; the
	// watch asks again when next due.
	for got := r.Check(ctx, cl); !slices.Equal(got, []string{renewed}); got = r.Check(ctx, cl) {
		if len(got) != 0 || ctx.Err() != nil {
			t.Fatalf("got %v, want [%s]", got, renewed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Millisecond)
	if got := r.Check(ctx, cl); len(got) != 0 {
		t.Fatalf("reported twice: %v", got)
	}
	if off.Pending() {
		t.Fatal("the watch is off but pending")
	}
	if got := off.Check(ctx, cl); len(got) != 0 {
		t.Fatalf("the watch is off: got %v", got)
	}
}
