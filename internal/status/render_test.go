package status

import (
	"strings"
	"testing"
	"time"
)

// TestRenderShowsAFailedReadAsAnError: topics and groups that could not be
// read are an error naming why, never "(none)"; a broker that holds
// replicas but is missing from the metadata is listed as down.
func TestRenderShowsAFailedReadAsAnError(t *testing.T) {
	brokers := withDownBrokers([]Broker{{ID: 1, Host: "127.0.0.1", Port: 11092}}, map[int32]bool{1: true, 2: true})
	snap := Snapshot{At: time.Unix(0, 0), Brokers: brokers,
		KafkaError: "list topics: dial tcp 127.0.0.1:12092: connect: connection refused"}
	var buf strings.Builder
	if err := Render(&buf, snap); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "(none)") || strings.Count(out, "could not be read: list topics: dial tcp 127.0.0.1:12092") != 2 {
		t.Errorf("got\n%s\nwant TOPICS and CONSUMER GROUPS to say they could not be read, and why", out)
	}
	if !strings.Contains(out, "2  DOWN") || !strings.Contains(out, "1  127.0.0.1:11092") {
		t.Errorf("got\n%s\nwant broker 1 live and broker 2 down", out)
	}

	buf.Reset()
	if err := Render(&buf, Snapshot{At: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(buf.String(), "(none)"); got != 2 {
		t.Errorf("an empty cluster read fine: got %d \"(none)\", want 2\n%s", got, buf.String())
	}
}

// TestRenderShowsAListedBrokerThatDoesNotAnswer: a broker still in the
// metadata (a crashed one before it is fenced, a hung one) whose request
// failed is down, with the failure.
func TestRenderShowsAListedBrokerThatDoesNotAnswer(t *testing.T) {
	snap := Snapshot{At: time.Unix(0, 0), Brokers: []Broker{
		{ID: 1, Host: "127.0.0.1", Port: 11092},
		{ID: 2, Host: "127.0.0.1", Port: 12092, Down: true, Error: "context deadline exceeded"},
	}}
	var buf strings.Builder
	if err := Render(&buf, snap); err != nil {
		t.Fatal(err)
	}
	want := "2  127.0.0.1:12092  DOWN: listed in the cluster's metadata but does not answer (context deadline exceeded)"
	if out := buf.String(); !strings.Contains(out, want) {
		t.Errorf("got\n%s\nwant a line %q", out, want)
	}
}

// TestBriefTellsEachGroupAndTheDeadLetters checks `up`'s one-line state:
// each group's lag and catch-up in short, in the order asked, a group
// without a commit as starting, and the dead letters in Kafka and stored.
func TestBriefTellsEachGroupAndTheDeadLetters(t *testing.T) {
	sink, alerts := BriefGroup{"sink", "s"}, BriefGroup{"alerts", "a"}
	for _, tt := range []struct {
		name string
		snap Snapshot
		want string
	}{
		{"keeping up and caught up", Snapshot{
			Groups:      []Group{{Name: "a", Lag: 0}, {Name: "s", Lag: 42, KeepingUp: true}},
			DeadLetters: DeadLetters{Topic: 2, Stored: map[string]int64{"malformed_json": 2, "duplicate": 1}},
		}, "sink lag 42 keeping up, alerts lag 0 caught up, dead letters 2 in Kafka, 3 stored"},
		{"catching up, lag in seconds", Snapshot{
			Groups: []Group{{Name: "s", Lag: 90000, LagSeconds: 12.34, CatchUpSeconds: 40, Trend: Shrinking}, {Name: "a", Lag: 7, CatchUpSeconds: -1}},
		}, "sink lag 90000 (12.3s) catching up in 40s, alerts lag 7 measuring, dead letters 0"},
		{"falling behind, a group not started", Snapshot{
			Groups: []Group{{Name: "s", Lag: 5000, LagSeconds: 3, CatchUpSeconds: -1, Trend: Growing}},
		}, "sink lag 5000 (3s) NOT catching up, alerts starting, dead letters 0"},
		{"kafka unreadable", Snapshot{KafkaError: "list topics: connection refused", DeadLetters: DeadLetters{Stored: map[string]int64{}}},
			"lag unknown: list topics: connection refused, dead letters 0 in Kafka, 0 stored"},
	} {
		if got := Brief(tt.snap, sink, alerts); got != tt.want {
			t.Errorf("%s: got\n%q, want\n%q", tt.name, got, tt.want)
		}
	}
}
