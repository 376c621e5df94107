package alert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

var t0 = time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)

// tick is one scripted price event, a second after the previous one
// unless at says otherwise.
type tick struct {
	last   string
	volume int64
	at     time.Duration // offset from t0; 0 means index seconds
}

func ticks(lasts ...string) []tick {
	out := make([]tick, len(lasts))
	for i, l := range lasts {
		out[i] = tick{last: l}
	}
	return out
}

// runPath evaluates rules over the path for symbol and returns the offsets
// (indexes) of the ticks that fired, per rule, as "rule@offset".
func runPath(t *testing.T, ev *evaluator, symbol string, path []tick, from int) []string {
	t.Helper()
	return runPathOn(t, ev, 0, symbol, path, from)
}

// runPathOn is runPath with the ticks read from the given partition.
func runPathOn(t *testing.T, ev *evaluator, partition int32, symbol string, path []tick, from int) []string {
	t.Helper()
	var got []string
	for i := from; i < len(path); i++ {
		tk := path[i]
		at := tk.at
		if at == 0 {
			at = time.Duration(i) * time.Second
		}
		last := event.MustParseDecimal(tk.last)
		p := &event.Price{Symbol: symbol, Sector: "Technology", Seq: int64(i), Time: t0.Add(at),
			Bid: last - 100, Ask: last + 100, Last: last, Volume: tk.volume}
		for _, f := range ev.price(Source{Topic: "prices", Partition: partition, Offset: int64(i)}, p) {
			if err := f.Validate(); err != nil {
				t.Fatalf("alert %s does not validate: %v", f.ID, err)
			}
			got = append(got, fmt.Sprintf("%d@%d", f.RuleID, f.Source.Offset))
		}
	}
	return got
}

func rule(id int64, kind Kind, symbol, threshold string, window, cooldown time.Duration) Rule {
	return Rule{ID: id, Kind: kind, Symbol: symbol, Threshold: event.MustParseDecimal(threshold),
		Window: window, Cooldown: cooldown, Enabled: true}
}

func TestPriceRules(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		path []tick
		want []string
	}{
		{
			name: "above fires once per crossing, not while above, not at the level",
			rule: rule(1, KindPriceAbove, "AAPL", "100", 0, 0),
			path: ticks("99", "100", "101", "102", "101", "99", "100.5", "101", "98", "100"),
			want: []string{"1@2", "1@6"},
		},
		{
			name: "below",
			rule: rule(2, KindPriceBelow, "AAPL", "100", 0, 0),
			path: ticks("101", "99", "98", "100", "99.9999", "100", "100.0001"),
			want: []string{"2@1", "2@4"},
		},
		{
			name: "the first tick only sets the side",
			rule: rule(3, KindPriceAbove, "AAPL", "100", 0, 0),
			path: ticks("105", "106", "99", "101"),
			want: []string{"3@3"},
		},
		{
			name: "cooldown suppresses crossings in event time",
			rule: rule(4, KindPriceAbove, "AAPL", "100", 0, 10*time.Second),
			// crossings at 1, 3, 5, 11, 13: 3 and 5 fall within 10 s of 1, 13 within 10 s of 11.
			path: ticks("99", "101", "99", "101", "99", "101", "99", "99", "99", "99", "99", "101", "99", "101"),
			want: []string{"4@1", "4@11"},
		},
		{
			name: "other symbols are ignored",
			rule: rule(5, KindPriceAbove, "MSFT", "100", 0, 0),
			path: ticks("99", "101"),
			want: nil,
		},
		{
			name: "pct move up from the window low, re-armed once the move leaves the window",
			rule: rule(6, KindPctMove, "AAPL", "5", 5*time.Second, 0),
			// 100 at 0..1, 103 at 2, 106 at 3 (+6 % from 100: fire), 107 still true,
			// then flat at 107: once the lows of 100 leave the 5 s window (t=6) the move
			// is 3.9 %, false; 113 at 9 is +5.6 % from 107: fire again.
			path: ticks("100", "100", "103", "106", "107", "107", "107", "107", "107", "113", "113"),
			want: []string{"6@3", "6@9"},
		},
		{
			name: "pct move down from the window high",
			rule: rule(7, KindPctMove, "AAPL", "2.5", time.Minute, 0),
			path: ticks("200", "199", "196", "195", "194"),
			want: []string{"7@4"}, // 195 is exactly 2.5 % below 200, not more; 194 is 3 %
		},
		{
			name: "volume spike against the warm baseline",
			rule: rule(8, KindVolumeSpike, "AAPL", "3", time.Minute, 0),
			path: append(append(volumes(100, 20), tick{last: "100", volume: 500}, tick{last: "100", volume: 600},
				tick{last: "100", volume: 100}), tick{last: "100", volume: 1000}),
			want: []string{"8@20", "8@23"},
		},
		{
			name: "no volume alert while warming up",
			rule: rule(9, KindVolumeSpike, "AAPL", "3", time.Minute, 0),
			path: []tick{{last: "100", volume: 100}, {last: "100", volume: 1000}, {last: "100", volume: 100}},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.rule.Validate(); err != nil {
				t.Fatalf("rule: %v", err)
			}
			ev := newEvaluator()
			ev.setRules([]Rule{tt.rule})
			got := runPath(t, ev, "AAPL", tt.path, 0)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got alerts %v, want %v", got, tt.want)
			}
		})
	}
}

func volumes(v int64, n int) []tick {
	out := make([]tick, n)
	for i := range out {
		out[i] = tick{last: "100", volume: v}
	}
	return out
}

// richPath is a minute of AAPL ticks that fire every kind of price rule
// many times, and those rules.
func richPath() ([]Rule, []tick) {
	rules := []Rule{
		rule(1, KindPriceAbove, "AAPL", "100", 0, 3*time.Second),
		rule(2, KindPriceBelow, "AAPL", "99", 0, 0),
		rule(3, KindPctMove, "", "1.5", 4*time.Second, 0),
		rule(4, KindVolumeSpike, "", "2", 30*time.Second, 0),
	}
	var path []tick
	lasts := []string{"98", "99.5", "100.5", "101", "99", "98.5", "100.2", "97", "101.5", "100", "98.9", "102", "103", "99", "100.01"}
	for i := 0; i < 60; i++ {
		vol := int64(100 + i%7)
		if i%17 == 16 {
			vol = 900
		}
		path = append(path, tick{last: lasts[i%len(lasts)], volume: vol})
	}
	return rules, path
}

// TestStateSurvivesASerialisedCut cuts the path at every point, carries the
// state across as the engine does (JSON, as stored in alert_state) and
// checks that the alerts are those of an uninterrupted run.
func TestStateSurvivesASerialisedCut(t *testing.T) {
	rules, path := richPath()
	whole := newEvaluator()
	whole.setRules(rules)
	want := runPath(t, whole, "AAPL", path, 0)
	if len(want) < 10 {
		t.Fatalf("the scripted path fires only %v; want a richer path", want)
	}
	for cut := 1; cut < len(path); cut++ {
		first := newEvaluator()
		first.setRules(rules)
		got := runPath(t, first, "AAPL", path[:cut], 0)
		saved := map[stateKey][]byte{}
		for k, st := range first.takeDirty() {
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			saved[k] = b
		}
		second := newEvaluator()
		second.setRules(rules)
		for k, b := range saved {
			st := &state{}
			if err := json.Unmarshal(b, st); err != nil {
				t.Fatal(err)
			}
			second.states[k] = st
		}
		got = append(got, runPath(t, second, "AAPL", path, cut)...)
		if !slices.Equal(got, want) {
			t.Fatalf("cut at %d: got %v, want %v", cut, got, want)
		}
	}
}

// TestStateMovesWithItsSymbol moves the symbol to another partition at
// every point of the path, as growing the prices topic does, and checks
// that the alerts are those of a run that stayed in one partition: the
// state goes along whether the old partition's state is in the same
// engine's memory or stored by another instance (the newest of several
// stored states wins).
func TestStateMovesWithItsSymbol(t *testing.T) {
	rules, path := richPath()
	whole := newEvaluator()
	whole.setRules(rules)
	want := runPath(t, whole, "AAPL", path, 0)
	for cut := 1; cut < len(path); cut++ {
		// One engine owns both partitions.
		ev := newEvaluator()
		ev.setRules(rules)
		got := runPathOn(t, ev, 0, "AAPL", path[:cut], 0)
		got = append(got, runPathOn(t, ev, 1, "AAPL", path, cut)...)
		if !slices.Equal(got, want) {
			t.Fatalf("moved in memory at %d: got %v, want %v", cut, got, want)
		}
		if moves := ev.takeMoves(); len(moves) != len(rules) || moves[0].from != 0 || moves[0].to != 1 {
			t.Fatalf("moved in memory at %d: moves %+v, want one per rule from 0 to 1", cut, moves)
		}

		// Another instance stored the old partition's states; a stale state
		// of an earlier move is stored too.
		first := newEvaluator()
		first.setRules(rules)
		got = runPathOn(t, first, 0, "AAPL", path[:cut], 0)
		second := newEvaluator()
		second.setRules(rules)
		second.donors = map[donorKey]donor{}
		for k, st := range first.takeDirty() {
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			stored := &state{}
			if err := json.Unmarshal(b, stored); err != nil {
				t.Fatal(err)
			}
			second.donors[donorKey{k.topic, k.rule, k.symbol}] = donor{partition: 0, st: stored}
			second.states[stateKey{topic: k.topic, partition: 2, rule: k.rule, symbol: k.symbol}] = &state{Cond: 1, At: stored.At - 1}
		}
		got = append(got, runPathOn(t, second, 1, "AAPL", path, cut)...)
		if !slices.Equal(got, want) {
			t.Fatalf("moved from storage at %d: got %v, want %v", cut, got, want)
		}
	}

	// A symbol no partition has seen starts afresh, and nothing moves.
	ev := newEvaluator()
	ev.setRules(rules)
	runPathOn(t, ev, 3, "MSFT", path[:5], 0)
	if moves := ev.takeMoves(); len(moves) != 0 {
		t.Errorf("a new symbol: moves %+v, want none", moves)
	}
}

func TestBigTrade(t *testing.T) {
	ev := newEvaluator()
	ev.setRules([]Rule{rule(1, KindBigTrade, "", "1000000", 0, 0), rule(2, KindBigTrade, "NVDA", "50000", 0, time.Minute)})
	trades := []struct {
		symbol string
		qty    int64
		price  string
	}{
		{"AAPL", 5000, "200"},   // 1,000,000: not above
		{"AAPL", 5001, "200"},   // rule 1
		{"NVDA", 100, "950.12"}, // rule 2 (95,012)
		{"NVDA", 100, "950.12"}, // rule 2 cools down
		{"NVDA", 2000, "950"},   // rules 1 and 2? rule 2 cools down; rule 1 fires
	}
	var got []string
	for i, tr := range trades {
		tt := &event.Trade{ID: int64(i + 1), UserID: 7, AccountID: 7, Symbol: tr.symbol, Side: event.SideBuy,
			Quantity: tr.qty, Price: event.MustParseDecimal(tr.price), Time: t0.Add(time.Duration(i) * time.Second)}
		for _, f := range ev.trade(Source{Topic: "trades", Partition: 2, Offset: int64(100 + i)}, tt) {
			if err := f.Validate(); err != nil {
				t.Fatalf("alert %s: %v", f.ID, err)
			}
			got = append(got, f.ID+" "+f.Value.String())
		}
	}
	want := []string{"r1-trades-2-101 1000200.0000", "r2-trades-2-102 95012.0000", "r1-trades-2-104 1900000.0000"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRemovedRuleForgetsState(t *testing.T) {
	ev := newEvaluator()
	ev.setRules([]Rule{rule(1, KindPriceAbove, "AAPL", "100", 0, 0), rule(2, KindPriceBelow, "AAPL", "100", 0, 0)})
	runPath(t, ev, "AAPL", ticks("99", "101"), 0)
	ev.setRules([]Rule{rule(2, KindPriceBelow, "AAPL", "100", 0, 0)})
	for k := range ev.states {
		if k.rule == 1 {
			t.Errorf("state of removed rule 1 kept: %+v", k)
		}
	}
	if len(ev.dirty) != 1 {
		t.Errorf("got %d dirty states, want only rule 2's", len(ev.dirty))
	}
}

func TestAlertMessages(t *testing.T) {
	ev := newEvaluator()
	ev.setRules([]Rule{rule(1, KindPriceAbove, "AAPL", "100", 0, 0), rule(2, KindPctMove, "AAPL", "1", time.Minute, 0)})
	p := func(last string, i int) []Fired {
		return ev.price(Source{Topic: "prices", Partition: 1, Offset: int64(i)}, &event.Price{
			Symbol: "AAPL", Sector: "Technology", Time: t0.Add(time.Duration(i) * time.Second),
			Bid: event.MustParseDecimal(last), Ask: event.MustParseDecimal(last), Last: event.MustParseDecimal(last)})
	}
	p("99", 0)
	got := p("101", 1)
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2", len(got))
	}
	for i, want := range []string{"AAPL crossed above 100.0000: last 101.0000", "AAPL moved +2.0202% within 1m0s: 101.0000 from 99.0000"} {
		if got[i].Message != want {
			t.Errorf("got message %q, want %q", got[i].Message, want)
		}
	}
	if got[1].Value != event.MustParseDecimal("2.0202") || got[1].ID != "r2-prices-1-1" {
		t.Errorf("got value %s id %s, want 2.0202 r2-prices-1-1", got[1].Value, got[1].ID)
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want string // substring of the error; empty: valid
	}{
		{"level", rule(0, KindPriceAbove, "AAPL", "200", 0, 0), ""},
		{"level without symbol", rule(0, KindPriceBelow, "", "200", 0, 0), "needs a symbol"},
		{"unknown kind", rule(0, "price_sideways", "AAPL", "1", 0, 0), "kind"},
		{"zero threshold", Rule{Kind: KindBigTrade}, "threshold"},
		{"pct without window", rule(0, KindPctMove, "AAPL", "2", 0, 0), "needs a positive window"},
		{"level with window", rule(0, KindPriceAbove, "AAPL", "2", time.Minute, 0), "does not use a window"},
		{"window too long", rule(0, KindVolumeSpike, "", "2", 48*time.Hour, 0), "at most"},
		{"negative cooldown", rule(0, KindBigTrade, "", "2", 0, -time.Second), "cooldown"},
		{"bad symbol", rule(0, KindBigTrade, "aa pl", "2", 0, 0), "symbol"},
		{"absurd percent", rule(0, KindPctMove, "AAPL", "5000", time.Minute, 0), "1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// TestUnfiredKnowsAlertsOfEitherIDForm: alerts the topic holds past the
// stored checkpoint are not produced again, whether their ids carry the
// topic's id or were fired before ids did.
func TestUnfiredKnowsAlertsOfEitherIDForm(t *testing.T) {
	id := [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5}
	src := func(off int64) Source { return Source{Topic: "prices", Partition: 1, Offset: off, TopicID: id} }
	old := AlertID(7, Source{Topic: "prices", Partition: 1, Offset: 10})
	cur := AlertID(7, src(11))
	if old != "r7-prices-1-10" || cur != "r7-prices-1-11-deadbeef01020304" {
		t.Fatalf("ids %q and %q", old, cur)
	}
	if s, ok := alertSource(cur); !ok || s.Offset != 11 || s.Partition != 1 || s.TopicID[0] != 0xde {
		t.Fatalf("alertSource(%q) = %+v, %v", cur, s, ok)
	}
	e := &Engine{past: map[string]bool{old: true, cur: true}}
	var fired []Fired
	for off := int64(10); off < 13; off++ {
		f := Fired{Source: src(off)}
		f.ID = AlertID(7, f.Source)
		fired = append(fired, f)
	}
	got := e.unfired(fired)
	if len(got) != 1 || got[0].Source.Offset != 12 || len(e.past) != 0 {
		t.Fatalf("unfired: %+v, past left %v; want only offset 12's alert, none left", got, e.past)
	}
}
