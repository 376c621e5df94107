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
