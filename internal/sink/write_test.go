package sink

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/pgtest"
)

// src returns a stand-in for the Kafka record a row came from.
func src(topic string, offset int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Offset: offset, Key: []byte("k"), Value: []byte("{}")}
}

func profile(id int64, name string, balance string, at time.Time) userRow {
	return userRow{id: id, ev: event.User{
		ID: id, Name: name, Email: "u@example.com", Country: "DE", SignupAt: at.Add(-time.Hour),
		Experience: event.ExperienceBeginner, RiskTolerance: event.RiskLow, Sectors: []string{"Energy"},
		Account:   event.Account{ID: id, Type: event.AccountCash, Currency: "EUR", Balance: event.MustParseDecimal(balance)},
		UpdatedAt: at,
	}}
}

func trade(id, account int64, balanceAfter string, at time.Time) tradeRow {
	return tradeRow{version: 2, ev: event.Trade{
		ID: id, UserID: account, AccountID: account, Symbol: "AAPL", Side: event.SideBuy, Quantity: 1,
		Price: event.MustParseDecimal("10"), Fee: event.MustParseDecimal("1"), Time: at,
		BalanceAfter: event.MustParseDecimal(balanceAfter), OrderType: event.OrderMarket,
	}}
}

func testWriter(t *testing.T) (*writer, *pgxpool.Pool) {
	pool, _ := pgtest.Migrated(t)
	return &writer{pool: pool, group: "g", metrics: newMetrics(nil)}, pool
}

// commitRows commits one batch of the given rows, numbering their source
// offsets from *off.
func commitRows(t *testing.T, w *writer, off *int64, users []userRow, trades []tradeRow) {
	t.Helper()
	b := newBatch()
	for i := range users {
		users[i].src = src("users", *off)
		*off++
	}
	for i := range trades {
		trades[i].src = src("trades", *off)
		*off++
	}
	b.users, b.trades = users, trades
	if err := w.commit(context.Background(), b); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func TestAccountBalanceFollowsNewestEvent(t *testing.T) {
	w, pool := testWriter(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Hour)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	var off int64

	type account struct {
		balance   string
		lastTrade *int64
		typ       *string
	}
	get := func(id int64) account {
		var a account
		err := pool.QueryRow(ctx, `SELECT balance::text, last_trade_id, type FROM accounts WHERE account_id = $1`, id).
			Scan(&a.balance, &a.lastTrade, &a.typ)
		if err != nil {
			t.Fatalf("account %d: %v", id, err)
		}
		return a
	}
	steps := []struct {
		name      string
		users     []userRow
		trades    []tradeRow
		account   int64
		balance   string
		lastTrade int64 // 0: NULL
	}{
		{"opening profile", []userRow{profile(1, "Ann", "1000", at(0))}, nil, 1, "1000.0000", 0},
		{"newest of two trades wins", nil, []tradeRow{trade(11, 1, "800", at(20)), trade(10, 1, "900", at(10))}, 1, "800.0000", 11},
		{"an older trade arriving late changes nothing", nil, []tradeRow{trade(9, 1, "950", at(5))}, 1, "800.0000", 11},
		{"an older profile keeps the balance", []userRow{profile(1, "Ann B", "5000", at(15))}, nil, 1, "800.0000", 11},
		{"a newer profile sets it", []userRow{profile(1, "Ann C", "2000", at(30))}, nil, 1, "2000.0000", 0},
		{"a trade wins a tie with a profile", nil, []tradeRow{trade(12, 1, "1990", at(30))}, 1, "1990.0000", 12},
		{"a trade opens an unknown account", nil, []tradeRow{trade(20, 2, "50", at(1))}, 2, "50.0000", 20},
		{"its profile fills it in, the trade's balance stays", []userRow{profile(2, "Bo", "70", at(0))}, nil, 2, "50.0000", 20},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			commitRows(t, w, &off, st.users, st.trades)
			a := get(st.account)
			var last int64
			if a.lastTrade != nil {
				last = *a.lastTrade
			}
			if a.balance != st.balance || last != st.lastTrade {
				t.Errorf("got balance %s from trade %d, want %s from trade %d", a.balance, last, st.balance, st.lastTrade)
			}
		})
	}
	if a := get(2); a.typ == nil || *a.typ != "cash" {
		t.Errorf("account 2: got type %v, want cash from the profile", a.typ)
	}
	var name string
	if err := pool.QueryRow(ctx, `SELECT name FROM users WHERE user_id = 1`).Scan(&name); err != nil || name != "Ann C" {
		t.Errorf("user 1: got name %q (%v), want the latest profile's, Ann C", name, err)
	}

	// Two profiles of one user in one batch: the later record wins; a
	// tombstone deletes the user but keeps the account.
	commitRows(t, w, &off, []userRow{profile(3, "first", "1", at(40)), profile(3, "second", "2", at(41))}, nil)
	if err := pool.QueryRow(ctx, `SELECT name FROM users WHERE user_id = 3`).Scan(&name); err != nil || name != "second" {
		t.Errorf("user 3: got %q (%v), want second", name, err)
	}
	commitRows(t, w, &off, []userRow{{id: 3, deleted: true}}, nil)
	var users, accounts int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE user_id = 3), (SELECT count(*) FROM accounts WHERE account_id = 3)`).
		Scan(&users, &accounts); err != nil || users != 0 || accounts != 1 {
		t.Errorf("after tombstone: got %d users and %d accounts (%v), want 0 and 1", users, accounts, err)
	}
}

func TestStaleBatchIsFenced(t *testing.T) {
	w, pool := testWriter(t)
	ctx := context.Background()
	tp := topicPartition{"prices", 0}
	now := time.Now().UTC()
	batchOf := func(from, to int64) *batch {
		b := newBatch()
		b.ranges[tp] = &offsetRange{from: from, to: to}
		for o := max(from, 0); o < to; o++ {
			b.ticks = append(b.ticks, tickRow{src: src("prices", o), ev: event.Price{
				Symbol: "AAPL", Sector: "Technology", Seq: o, Time: now,
				Bid: event.Unit, Ask: event.Unit, Last: event.Unit, Volume: 1,
			}})
		}
		return b
	}
	steps := []struct {
		name     string
		from, to int64
		fenced   bool
	}{
		{"first batch of a partition", -1, 10, false},
		{"a second first batch loses", -1, 5, true},
		{"continuing from the stored offset", 10, 20, false},
		{"a zombie's batch from an old offset", 10, 15, true},
		{"and from one ahead", 25, 30, true},
	}
	for _, st := range steps {
		err := w.commit(ctx, batchOf(st.from, st.to))
		if got := errors.Is(err, errFenced); got != st.fenced || (err != nil && !got) {
			t.Errorf("%s: got error %v, want fenced %v", st.name, err, st.fenced)
		}
		if err != nil && classify(err) != classFenced {
			t.Errorf("%s: got class %v, want fenced", st.name, classify(err))
		}
	}
	var rows, next int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM price_ticks), (SELECT next_offset FROM sink_offsets)`).Scan(&rows, &next); err != nil {
		t.Fatal(err)
	}
	if rows != 20 || next != 20 {
		t.Errorf("got %d rows and stored offset %d, want 20 and 20: a fenced batch left rows behind", rows, next)
	}
}

func TestRowRefusedByDatabaseIsDeadLettered(t *testing.T) {
	pool, _ := pgtest.Migrated(t)
	s, err := New(config.Default().Kafka, pool, slog.New(slog.DiscardHandler), nil, Options{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	b := newBatch()
	b.ranges[topicPartition{"prices", 0}] = &offsetRange{from: -1, to: 3}
	for o, sector := range []string{"Energy", "bad\x00sector", "Utilities"} {
		b.ticks = append(b.ticks, tickRow{src: src("prices", int64(o)), ev: event.Price{
			Symbol: "XOM", Sector: sector, Seq: int64(o), Time: now, Bid: event.Unit, Ask: event.Unit, Last: event.Unit,
		}})
	}
	err = s.w.commit(ctx, b)
	if classify(err) != classData {
		t.Fatalf("got %v (class %v), want a data error", err, classify(err))
	}
	n, err := s.isolate(ctx, b)
	if err != nil || n != 1 {
		t.Fatalf("isolate: moved %d rows, err %v; want 1", n, err)
	}
	if err := s.w.commit(ctx, b); err != nil {
		t.Fatalf("commit without the refused row: %v", err)
	}
	var ticks, dead int64
	var reason string
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM price_ticks), (SELECT count(*) FROM dead_letters),
		(SELECT reason FROM dead_letters WHERE kafka_offset = 1)`).Scan(&ticks, &dead, &reason); err != nil {
		t.Fatal(err)
	}
	if ticks != 2 || dead != 1 || reason != ReasonRejectedByDatabase {
		t.Errorf("got %d ticks, %d dead letters (%s), want 2 and 1 (%s)", ticks, dead, reason, ReasonRejectedByDatabase)
	}
}
