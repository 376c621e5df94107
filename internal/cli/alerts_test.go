package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/status"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // rule's String; empty: an error is wanted
		wantErr string
	}{
		{[]string{"price_above", "aapl", "200"}, "#0 price_above AAPL 200.0000", ""},
		{[]string{"BIG_TRADE", "*", "1000000.5"}, "#0 big_trade * 1000000.5000", ""},
		{[]string{"volume_spike", "any", "3"}, "#0 volume_spike * 3.0000", ""},
		{[]string{"price_sideways", "AAPL", "1"}, "", "kind"},
		{[]string{"price_above", "AAPL", "1.23456"}, "", "threshold"},
		{[]string{"price_above", "not a symbol", "1e3"}, "", "symbol"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r, err := parseRule(tt.args)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error about %s", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want %s", err, tt.want)
			case tt.wantErr == "" && r.String() != tt.want:
				t.Errorf("got %s, want %s", r.String(), tt.want)
			}
		})
	}
}

func TestAlertsRuleCommands(t *testing.T) {
	db := pgtest.Schema(t)
	env := map[string]string{"TRADESTREAM_DATABASE_URL": db.URL.Reveal()}
	if code, out, stderr := run(t, env, "db", "migrate"); code != 0 {
		t.Fatalf("db migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr := run(t, env, "alerts", "add", "price_above", "AAPL", "200")
	if code != 0 || !strings.Contains(out, "added rule #1 price_above AAPL 200.0000") {
		t.Fatalf("alerts add: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run(t, env, "alerts", "add", "pct_move", "NVDA", "2.5", "--window", "5m", "--cooldown", "1m", "--note", "intraday")
	if code != 0 || !strings.Contains(out, "window 5m0s cooldown 1m0s") {
		t.Fatalf("alerts add pct_move: exit %d\n%s\n%s", code, out, stderr)
	}
	code, _, stderr = run(t, env, "alerts", "add", "pct_move", "NVDA", "2.5")
	if code != ExitUsage || !strings.Contains(stderr, "needs a positive window") {
		t.Errorf("pct_move without window: got exit %d %q, want %d naming the window", code, stderr, ExitUsage)
	}
	code, _, stderr = run(t, env, "alerts", "add", "price_below", "*", "10")
	if code != ExitUsage || !strings.Contains(stderr, "needs a symbol") {
		t.Errorf("level for every symbol: got exit %d %q, want %d", code, stderr, ExitUsage)
	}

	code, out, _ = run(t, env, "alerts", "list", "--json")
	var rules []struct {
		ID     int64  `json:"rule_id"`
		Kind   string `json:"kind"`
		Window int64  `json:"window"`
		Note   string `json:"note"`
	}
	if err := json.Unmarshal([]byte(out), &rules); code != 0 || err != nil || len(rules) != 2 {
		t.Fatalf("alerts list --json: exit %d, %v\n%s", code, err, out)
	}
	if rules[1].Kind != "pct_move" || rules[1].Window != int64(5*time.Minute) || rules[1].Note != "intraday" {
		t.Errorf("got %+v, want the pct_move rule with its window and note", rules[1])
	}
	code, out, _ = run(t, env, "alerts", "list")
	if code != 0 || !strings.Contains(out, "KIND") || !strings.Contains(out, "NVDA") {
		t.Errorf("alerts list: exit %d\n%s", code, out)
	}

	code, out, _ = run(t, env, "alerts", "rm", "1")
	if code != 0 || !strings.Contains(out, "removed rule 1") {
		t.Errorf("alerts rm 1: exit %d\n%s", code, out)
	}
	code, _, stderr = run(t, env, "alerts", "rm", "1")
	if code != ExitFailure || !strings.Contains(stderr, "not found") {
		t.Errorf("alerts rm of a removed rule: exit %d %q, want %d not found", code, stderr, ExitFailure)
	}
	code, _, _ = run(t, env, "alerts", "rm", "seven")
	if code != ExitUsage {
		t.Errorf("alerts rm seven: exit %d, want %d", code, ExitUsage)
	}
}

func TestStatusCommand(t *testing.T) {
	pl := newPipeline(t)
	env := pl.env
	// A group that read part of the prices topic and left.
	topics := kafka.TopicNames(pl.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prod := kafkatest.Client(t, pl.brokers)
	for i := range 30 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topics.Prices, Key: []byte{byte(i)}, Value: []byte("{}")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	group := "status-cli-" + pl.prefix
	adm := kafkatest.Admin(t, pl.brokers)
	if _, err := adm.CommitOffsets(ctx, group, offsetsAt(topics.Prices, 0, 3)); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, env, "status", "--json", "--samples", "2", "--interval", "100ms")
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s\n%s", code, out, stderr)
	}
	var snap status.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(snap.Topics) != 5 || len(snap.Brokers) == 0 || snap.Samples != 2 {
		t.Errorf("got %d topics, %d brokers, %d samples; want 5, some, 2", len(snap.Topics), len(snap.Brokers), snap.Samples)
	}
	g, ok := snap.Group(group)
	if !ok || len(g.Partitions) != 1 || g.Partitions[0].Committed != 3 || g.State != "Empty" {
		t.Errorf("got group %+v (found %v), want %s Empty with one partition committed at 3", g, ok, group)
	}
	found := false
	for _, tb := range snap.Tables {
		found = found || tb.Name == "alert_rules"
	}
	if !found {
		t.Errorf("got tables %+v, want alert_rules among them", snap.Tables)
	}

	code, out, stderr = run(t, env, "status", "--samples", "1", "--group", group)
	for _, want := range []string{"BROKERS", "TOPICS", pl.prefix + "prices", "CONSUMER GROUPS", group, "TABLES", "DEAD LETTERS"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status: exit %d, output lacks %q\n%s\n%s", code, want, out, stderr)
		}
	}
}

func offsetsAt(topic string, partition int32, at int64) kadm.Offsets {
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1})
	return o
}
