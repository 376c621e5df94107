package market

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

var testStart = time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC) // Monday 09:30 New York

func newSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func smallConfig(seed uint64) Config {
	return Config{Seed: seed, Users: 1000, Universe: DefaultUniverse(), Start: testStart}
}

// streamHash hashes the keys and JSON values of the first n events.
func streamHash(t testing.TB, cfg Config, n int) string {
	t.Helper()
	s := newSim(t, cfg)
	h := sha256.New()
	buf := make([]byte, 0, 1024)
	for range n {
		ev := s.Next()
		buf = append(ev.AppendKey(buf[:0]), ' ')
		buf = append(ev.AppendJSON(buf), '\n')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterminism(t *testing.T) {
	const n = 200_000
	a := streamHash(t, smallConfig(7), n)
	b := streamHash(t, smallConfig(7), n)
	if a != b {
		t.Errorf("same seed: stream hashes %s and %s differ", a, b)
	}
	c := streamHash(t, smallConfig(8), n)
	if a == c {
		t.Errorf("seeds 7 and 8: stream hash %s is the same", a)
	}
	// A Start with a monotonic reading and sub-microsecond digits gives the
	// same stream as the plain microsecond time.
	cfg := smallConfig(7)
	cfg.Start = time.Now()
	plain := cfg
	plain.Start = time.Unix(0, cfg.Start.UnixNano()).UTC().Truncate(time.Microsecond)
	if x, y := streamHash(t, cfg, 5000), streamHash(t, plain, 5000); x != y {
		t.Errorf("Start with monotonic reading: hash %s, want %s", x, y)
	}
}

// TestNextOfIsFilteredNext checks that asking for some kinds gives exactly
// those events of the full stream, and that Config.Kinds does the same
// for prices without simulating trades.
func TestNextOfIsFilteredNext(t *testing.T) {
	const n = 60_000
	full := newSim(t, smallConfig(3))
	var prices []event.Price
	var trades []event.Trade
	for range n {
		switch ev := full.Next(); ev.Kind {
		case KindPrice:
			prices = append(prices, *ev.Price)
		case KindTrade:
			trades = append(trades, *ev.Trade)
		}
	}

	tests := []struct {
		name  string
		kinds Kind // Config.Kinds
		ask   Kind // NextOf argument
	}{
		{"NextOf prices", KindAll, KindPrice},
		{"NextOf trades", KindAll, KindTrade},
		{"NextOf prices and trades", KindAll, KindPrice | KindTrade},
		{"Config prices", KindPrice, KindAll},
		{"Config trades", KindTrade, KindAll},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(3)
			cfg.Kinds = tc.kinds
			s := newSim(t, cfg)
			want := tc.ask & tc.kinds
			var gotP []event.Price
			var gotT []event.Trade
			for len(gotP) < len(prices) && want&KindPrice != 0 || len(gotT) < len(trades) && want&KindTrade != 0 {
				ev := s.NextOf(tc.ask)
				if ev.Kind&want == 0 {
					t.Fatalf("NextOf(%v) with Kinds %v returned kind %v", tc.ask, tc.kinds, ev.Kind)
				}
				switch ev.Kind {
				case KindPrice:
					gotP = append(gotP, *ev.Price)
				case KindTrade:
					gotT = append(gotT, *ev.Trade)
				}
			}
			if want&KindPrice != 0 && !reflect.DeepEqual(gotP[:len(prices)], prices) {
				t.Errorf("prices differ from the filtered full stream")
			}
			if want&KindTrade != 0 && !reflect.DeepEqual(gotT[:len(trades)], trades) {
				t.Errorf("trades differ from the filtered full stream")
			}
		})
	}
}

func TestNextOfEnds(t *testing.T) {
	s := newSim(t, Config{Seed: 1, Users: 3, Universe: DefaultUniverse(), Start: testStart})
	for i := range 3 {
		if ev := s.NextOf(KindUser); ev.Kind != KindUser || ev.User.ID != int64(i+1) {
			t.Fatalf("NextOf(KindUser) #%d = %+v, want user %d", i, ev, i+1)
		}
	}
	if ev := s.NextOf(KindUser); ev.Kind != 0 {
		t.Errorf("NextOf(KindUser) after all users = kind %v, want the zero Event", ev.Kind)
	}
	if ev := s.NextOf(0); ev.Kind != 0 {
		t.Errorf("NextOf(0) = kind %v, want the zero Event", ev.Kind)
	}
	if ev := s.Next(); ev.Kind != KindPrice {
		t.Errorf("Next after users = kind %v, want price", ev.Kind)
	}
	cfg := smallConfig(1)
	cfg.Kinds = KindPrice
	if ev := newSim(t, cfg).NextOf(KindTrade); ev.Kind != 0 {
		t.Errorf("NextOf(KindTrade) on a prices-only Sim = kind %v, want the zero Event", ev.Kind)
	}
}

func TestUsers(t *testing.T) {
	cfg := smallConfig(11)
	cfg.Users = 5000
	s := newSim(t, cfg)
	users := s.Users()
	if len(users) != cfg.Users {
		t.Fatalf("Users() has %d users, want %d", len(users), cfg.Users)
	}
	sectors := map[string]bool{}
	for _, in := range cfg.Universe {
		sectors[in.Sector] = true
	}
	emails := map[string]bool{}
	balances := map[event.Experience][]float64{}
	margin := map[event.Experience]float64{}
	count := map[event.Experience]float64{}
	currencies := map[string]int{}
	for i := range users {
		u := &users[i]
		if err := u.Validate(); err != nil {
			t.Errorf("user %d invalid: %v", u.ID, err)
		}
		if u.ID != int64(i+1) || u.Account.ID != u.ID {
			t.Errorf("user %d: id %d account %d, want %d", i, u.ID, u.Account.ID, i+1)
		}
		if emails[u.Email] {
			t.Errorf("user %d: duplicate email %s", u.ID, u.Email)
		}
		emails[u.Email] = true
		if !u.SignupAt.Before(testStart) || u.SignupAt.Before(testStart.AddDate(-maxTenureYears-1, 0, 0)) {
			t.Errorf("user %d: signup %s not within 20 years before start", u.ID, u.SignupAt)
		}
		if n := len(u.Sectors); n < 1 || n > 3 {
			t.Errorf("user %d: %d preferred sectors, want 1..3", u.ID, n)
		}
		for _, sec := range u.Sectors {
			if !sectors[sec] {
				t.Errorf("user %d: sector %q not in the universe", u.ID, sec)
			}
		}
		switch cur := u.Account.Currency; {
		case cur == "GBP" && u.Country != "GB", cur == "EUR" && !strings.Contains("DE FR NL ES IT IE AT BE FI", u.Country):
			t.Errorf("user %d: currency %s in country %s", u.ID, cur, u.Country)
		}
		currencies[u.Account.Currency]++
		if u.Account.Type == event.AccountMargin {
			margin[u.Experience]++
			if u.Account.Balance < minMarginBalance*event.Unit {
				t.Errorf("user %d: margin account with balance %s", u.ID, u.Account.Balance)
			}
		}
		count[u.Experience]++
		balances[u.Experience] = append(balances[u.Experience], u.Account.Balance.Float64())
		if !u.UpdatedAt.Equal(testStart) {
			t.Errorf("user %d: updated_at %s, want start %s", u.ID, u.UpdatedAt, testStart)
		}
	}
	if share := float64(currencies["USD"]) / float64(len(users)); share < 0.75 || share > 0.95 {
		t.Errorf("USD share = %.2f, want mostly USD", share)
	}
	if currencies["EUR"] == 0 || currencies["GBP"] == 0 {
		t.Errorf("currencies = %v, want some EUR and GBP", currencies)
	}
	levels := []event.Experience{event.ExperienceBeginner, event.ExperienceIntermediate, event.ExperienceAdvanced, event.ExperienceProfessional}
	for i := 1; i < len(levels); i++ {
		lo, hi := levels[i-1], levels[i]
		if margin[hi]/count[hi] <= margin[lo]/count[lo] {
			t.Errorf("margin share %s %.2f not above %s %.2f", hi, margin[hi]/count[hi], lo, margin[lo]/count[lo])
		}
		if median(balances[hi]) <= median(balances[lo]) {
			t.Errorf("median balance %s %.0f not above %s %.0f", hi, median(balances[hi]), lo, median(balances[lo]))
		}
	}
	for _, l := range levels {
		t.Logf("%-12s %5.0f users, %3.0f%% margin, median balance %8.0f", l, count[l], 100*margin[l]/count[l], median(balances[l]))
	}
}

// TestSessionExtended checks the default continuous clock: every round is
// one TickInterval after the last, and nights are quieter than the day.
func TestSessionExtended(t *testing.T) {
	cfg := smallConfig(5)
	cfg.TickInterval = time.Minute
	s := newSim(t, cfg)
	var clock exchangeClock
	var prev time.Time
	lastP := map[string]float64{}
	lastT := map[string]time.Time{}
	var inAbs, outAbs, inVol, outVol, nIn, nOut float64
	for s.Now().Before(testStart.Add(72 * time.Hour)) {
		ev := s.Next()
		if ev.Kind != KindPrice {
			continue
		}
		p := ev.Price
		// Quiet rounds may skip every symbol, but the clock never jumps.
		if d := p.Time.Sub(prev); !prev.IsZero() && (d%time.Minute != 0 || d > 30*time.Minute) {
			t.Fatalf("round at %s follows %s, want whole minutes without a jump", p.Time, prev)
		}
		prev = p.Time
		open, _ := clock.session(p.Time)
		if lp, ok := lastP[p.Symbol]; ok {
			// Per minute, as skipped rounds accumulate into the next tick.
			mins := p.Time.Sub(lastT[p.Symbol]).Minutes()
			r := math.Abs(math.Log(p.Last.Float64()/lp)) / math.Sqrt(mins)
			v := float64(p.Volume) / mins
			if open {
				inAbs, inVol, nIn = inAbs+r, inVol+v, nIn+1
			} else {
				outAbs, outVol, nOut = outAbs+r, outVol+v, nOut+1
			}
		}
		lastP[p.Symbol], lastT[p.Symbol] = p.Last.Float64(), p.Time
	}
	if nIn == 0 || nOut == 0 {
		t.Fatalf("ticks in session %v, outside %v: want both", nIn, nOut)
	}
	t.Logf("per minute: mean |r| in session %.2e, outside %.2e; mean volume %.0f vs %.0f", inAbs/nIn, outAbs/nOut, inVol/nIn, outVol/nOut)
	if outAbs/nOut > 0.5*inAbs/nIn {
		t.Errorf("mean |r| outside hours %.2e, want well below %.2e in session", outAbs/nOut, inAbs/nIn)
	}
	if outVol/nOut > 0.1*inVol/nIn {
		t.Errorf("mean volume outside hours %.0f, want well below %.0f in session", outVol/nOut, inVol/nIn)
	}
}

// TestSessionRegular checks that rounds stay within 09:30-16:00 New York on
// weekdays and move from the close to the next open.
func TestSessionRegular(t *testing.T) {
	cfg := smallConfig(5)
	cfg.Start = time.Date(2025, 3, 7, 20, 50, 0, 0, time.UTC) // Friday 15:50 EST
	cfg.TickInterval = 5 * time.Minute
	cfg.Session = SessionRegular
	s := newSim(t, cfg)
	var clock exchangeClock
	var times []time.Time
	for len(times) < 200 {
		if s.NextOf(KindPrice).Price.Time != s.Now() {
			t.Fatalf("price time differs from the round time %s", s.Now())
		}
		if n := len(times); n == 0 || times[n-1] != s.Now() {
			times = append(times, s.Now())
		}
	}
	for _, ts := range times {
		if open, _ := clock.session(ts); !open {
			t.Errorf("round at %s (%s New York) outside regular hours", ts, clock.local(ts).Format("Mon 15:04"))
		}
	}
	// Friday 15:55 EST, then Monday 09:30 EDT (DST began on 9 March 2025).
	want := []time.Time{
		time.Date(2025, 3, 7, 20, 55, 0, 0, time.UTC),
		time.Date(2025, 3, 10, 13, 30, 0, 0, time.UTC),
		time.Date(2025, 3, 10, 13, 35, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(times[:3], want) {
		t.Errorf("first rounds = %v, want %v", times[:3], want)
	}
}

func TestTradeSchemaV1(t *testing.T) {
	cfg := smallConfig(9)
	cfg.TradeSchema = event.SchemaTradeV1
	s := newSim(t, cfg)
	for range 2000 {
		ev := s.NextOf(KindTrade)
		if ev.Schema != event.SchemaTradeV1 || ev.Trade.OrderType != "" || ev.Trade.LimitPrice != 0 {
			t.Fatalf("trade/1 event = %+v schema %s, want no order fields", ev.Trade, ev.Schema)
		}
		if _, err := event.DecodeTrade(event.SchemaTradeV1, ev.AppendJSON(nil)); err != nil {
			t.Fatalf("decode trade/1: %v", err)
		}
	}
	if got := s.TradeSchema(); got != event.SchemaTradeV1 {
		t.Errorf("TradeSchema() = %q, want trade/1", got)
	}
}

func TestEventAccessors(t *testing.T) {
	s := newSim(t, smallConfig(2))
	seen := map[Kind]bool{}
	for len(seen) < 3 {
		ev := s.Next()
		seen[ev.Kind] = true
		var key string
		switch ev.Kind {
		case KindUser:
			key = string(ev.User.Key())
		case KindPrice:
			key = ev.Price.Symbol
		case KindTrade:
			key = string(ev.Trade.Key())
		}
		if got := string(ev.AppendKey(nil)); got != key {
			t.Errorf("%v AppendKey = %q, want %q", ev.Kind, got, key)
		}
		if ev.Time().IsZero() {
			t.Errorf("%v Time() is zero", ev.Kind)
		}
	}
	if _, ok := s.Quote("AAPL"); !ok {
		t.Errorf("Quote(AAPL) ok = false after a round")
	}
	if _, ok := s.Quote("NOPE"); ok {
		t.Errorf("Quote(NOPE) ok = true")
	}
	if _, ok := s.Account(0); ok {
		t.Errorf("Account(0) ok = true")
	}
	if got := s.Position(1, "NOPE"); got != 0 {
		t.Errorf("Position(1, NOPE) = %d, want 0", got)
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
	}{
		{KindUser, "user"},
		{KindPrice, "price"},
		{KindTrade, "trade"},
		{KindPrice | KindTrade, "price|trade"},
		{KindAll, "user|price|trade"},
		{0, "Kind(0)"},
		{8, "Kind(8)"},
	}
	for _, tc := range tests {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tc.k), got, tc.want)
		}
	}
}

// TestMarginAndShorts runs an active, high-risk population and checks that
// margin accounts use their credit and short limits without exceeding them.
func TestMarginAndShorts(t *testing.T) {
	cfg := smallConfig(13)
	cfg.Users = 300
	cfg.TradeActivity = 5
	s := newSim(t, cfg)
	for range 300_000 {
		s.Next()
	}
	var negative, shorts int
	for id := int64(1); id <= int64(cfg.Users); id++ {
		st, _ := s.Account(id)
		if st.Balance < -st.CreditLimit {
			t.Errorf("user %d: balance %s below credit limit -%s", id, st.Balance, st.CreditLimit)
		}
		if st.Type == event.AccountCash && st.Balance < 0 {
			t.Errorf("user %d: cash balance %s", id, st.Balance)
		}
		if st.Balance < 0 {
			negative++
		}
		syms := make([]string, 0, len(st.Positions))
		for sym, q := range st.Positions {
			if q < 0 {
				syms = append(syms, sym)
				if st.Type == event.AccountCash {
					t.Errorf("user %d: cash account short %d %s", id, q, sym)
				}
			}
		}
		sort.Strings(syms)
		shorts += len(syms)
	}
	t.Logf("%d margin accounts below zero, %d short positions", negative, shorts)
	if negative == 0 || shorts == 0 {
		t.Errorf("negative balances %d, short positions %d: want margin and shorting in use", negative, shorts)
	}
}
