package verify_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/bench/feed"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/pgtest"
	"github.com/tradestream/tradestream/internal/sink"
	"github.com/tradestream/tradestream/internal/verify"
)

// TestVerifyFindsWhatWasTamperedWith loads a feed with the sink, checks
// that verify passes, then damages the tables in known ways and checks
// that verify reports each one.
func TestVerifyFindsWhatWasTamperedWith(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	pool, _ := pgtest.Migrated(t)
	topics := kafkatest.Topics(t, brokers, 2, 1)
	kcfg := kafkatest.Config(brokers)
	names := kafka.TopicNames(topics.Prefix)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	exp, err := feed.Produce(ctx, producer, names, feed.Config{Seed: 3, Users: 100, Events: 5000, MalformedEvery: 50, V1Share: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	group := topics.Prefix + "sink"
	s, err := sink.New(kcfg, pool, log, nil, sink.Options{Group: group, Topics: names, UntilCaughtUp: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("sink: %v (%v)", err, ctx.Err())
	}
	opts := verify.Options{Group: group, Topics: names, RequireCaughtUp: true}
	rep, err := verify.Run(ctx, kcfg, log, pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify of a clean load: %v", rep.Problems)
	}
	if got := sumDead(rep); got != int64(exp.MalformedTotal()) {
		t.Errorf("got %d dead letters, want %d", got, exp.MalformedTotal())
	}

	damage := []string{
		// A lost trade, the second of an account with at least three.
		`DELETE FROM trades WHERE trade_id = (SELECT trade_id FROM (
			SELECT trade_id, row_number() OVER w AS n, count(*) OVER (PARTITION BY account_id) AS total
			FROM trades WINDOW w AS (PARTITION BY account_id ORDER BY ts, trade_id)) x
		 WHERE n = 2 AND total >= 3 ORDER BY trade_id LIMIT 1)`,
		// A tick stored twice, once the unique index that keeps copies out
		// is gone (a restore without its indexes): verify checks on its own.
		`DROP INDEX price_ticks_identity_idx`,
		`INSERT INTO price_ticks SELECT * FROM price_ticks ORDER BY kafka_partition, kafka_offset LIMIT 1`,
		// A balance that is not its newest trade's.
		`UPDATE accounts SET balance = balance + 1 WHERE account_id = (SELECT min(account_id) FROM accounts WHERE last_trade_id IS NOT NULL)`,
		// A lost user.
		`DELETE FROM users WHERE user_id = 50`,
		// A dead letter past the stored offset.
		`INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, schema, reason, error)
		 SELECT topic, kafka_partition, next_offset + 5, 'x', 'x', 'x' FROM sink_offsets WHERE topic = '` + names.Prices + `' LIMIT 1`,
	}
	for _, sql := range damage {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	rep, err = verify.Run(ctx, kcfg, log, pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	var missing, dups, ahead int64
	for _, p := range rep.Partitions {
		missing += p.Missing
		dups += p.Duplicates
		ahead += p.Ahead
	}
	tests := []struct {
		name      string
		got, want int64
		problem   string
	}{
		{"missing offsets", missing, 1, "missing"},
		{"duplicate rows", dups, 1, "duplicate rows"},
		{"duplicate ticks", rep.DuplicateTicks, 1, "(run, symbol, seq)"},
		{"rows ahead", ahead, 1, "past the stored offset"},
		{"mismatched balance", rep.Balances.Mismatched, 1, "do not hold"},
		{"broken chain (the deleted trade's successor)", rep.Balances.ChainBreaks, 1, "cash flow"},
		{"missing user", rep.Users.Missing, 1, "users:"},
	}
	all := strings.Join(rep.Problems, "\n")
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
		if !strings.Contains(all, tt.problem) {
			t.Errorf("%s: no problem mentions %q in\n%s", tt.name, tt.problem, all)
		}
	}
	if rep.OK() {
		t.Error("got OK, want a mismatch")
	}
	var b strings.Builder
	rep.Print(&b)
	if !strings.Contains(b.String(), "MISMATCH") {
		t.Errorf("printed report lacks the verdict:\n%s", b.String())
	}
}

func sumDead(r *verify.Report) int64 {
	var n int64
	for _, v := range r.DeadLetters {
		n += v
	}
	return n
}

// TestVerifyAcceptsSeveralRuns loads two generator runs into the same
// topics, as running `tradestream up` twice does: ids, sequence numbers and
// balances start afresh in each run, and verify must see no problem.
func TestVerifyAcceptsSeveralRuns(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	pool, _ := pgtest.Migrated(t)
	topics := kafkatest.Topics(t, brokers, 2, 1)
	kcfg := kafkatest.Config(brokers)
	names := kafka.TopicNames(topics.Prefix)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	for i, seed := range []uint64{5, 6} {
		cfg := feed.Config{Seed: seed, Users: 50, Events: 3000, RunID: []string{"run-a", "run-b"}[i]}
		if _, err := feed.Produce(ctx, producer, names, cfg); err != nil {
			t.Fatal(err)
		}
	}
	group := topics.Prefix + "sink"
	s, err := sink.New(kcfg, pool, log, nil, sink.Options{Group: group, Topics: names, UntilCaughtUp: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("sink: %v", err)
	}
	rep, err := verify.Run(ctx, kcfg, log, pool, verify.Options{Group: group, Topics: names, RequireCaughtUp: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify of two runs: %v", rep.Problems)
	}
}

// TestVerifyNamesTheOtherPrefixesSharingItsTables loads two topic prefixes
// into one database (a user trying --topic-prefix pb. beside the default
// one): the rows of the second count as duplicates and rows ahead of the
// first's, and verify says where they come from, first among its
// problems, naming the second prefix's topics. Each prefix in a database
// of its own verifies clean (TestVerifyFindsWhatWasTamperedWith).
func TestVerifyNamesTheOtherPrefixesSharingItsTables(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	pool, _ := pgtest.Migrated(t)
	kcfg := kafkatest.Config(brokers)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	producer := kafkatest.Client(t, brokers, kafka.ProducerOptions(kcfg)...)
	var names [2]kafka.Topics
	var groups [2]string
	for i, seed := range []uint64{7, 8} {
		topics := kafkatest.Topics(t, brokers, 2, 1)
		names[i], groups[i] = kafka.TopicNames(topics.Prefix), topics.Prefix+"sink"
		cfg := feed.Config{Seed: seed, Users: 50, Events: 3000, RunID: []string{"run-a", "run-b"}[i]}
		if _, err := feed.Produce(ctx, producer, names[i], cfg); err != nil {
			t.Fatal(err)
		}
		s, err := sink.New(kcfg, pool, log, nil, sink.Options{Group: groups[i], Topics: names[i], UntilCaughtUp: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(ctx); err != nil {
			t.Fatalf("sink of %s: %v", topics.Prefix, err)
		}
	}
	first := names[0]
	rep, err := verify.Run(ctx, kcfg, log, pool, verify.Options{Group: groups[0], Topics: first})
	if err != nil {
		t.Fatal(err)
	}
	var dups int64
	for _, p := range rep.Partitions {
		dups += p.Duplicates
	}
	if dups == 0 || rep.OK() {
		t.Fatalf("the other prefix's rows: got %d duplicates, OK %v; want them counted as duplicates", dups, rep.OK())
	}
	other := names[1]
	want := []string{other.Prices, other.Trades, other.Users}
	slices.Sort(want)
	got := slices.Clone(rep.SharedWith)
	if !slices.Equal(got, want) && !slices.Equal(got, append(want, other.Alerts)) {
		t.Errorf("shared with %v, want the other prefix's topics %v", got, want)
	}
	if p := rep.Problems[0]; !strings.Contains(p, other.Prices) || !strings.Contains(p, "database of its own") {
		t.Errorf("first problem %q: want it to name %s and the remedy", p, other.Prices)
	}
}
