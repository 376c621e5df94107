package market

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// modelEvents is the length of the main model run; the stylised facts and
// the accounting are checked on one stream of this many events.
const modelEvents = 1_000_000

// modelConfig is the main run: regular-hours sessions with one-minute
// rounds, so a million events span about fifty trading days.
func modelConfig() Config {
	return Config{
		Seed:         20250303,
		Users:        2000,
		Universe:     DefaultUniverse(),
		Start:        time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC), // Monday 09:30 New York
		TickInterval: time.Minute,
		Session:      SessionRegular,
	}
}

// symbolSeries collects one symbol's ticks.
type symbolSeries struct {
	ret    []float64 // log return of last between consecutive ticks within a day
	bucket []int     // 30-minute session bucket of each return
	all    []float64 // every log return including overnight gaps, in order
	vol    []float64 // volume per tick
	volBkt []int
	lastP  float64
	lastT  time.Time
}

type userBook struct {
	typ     event.AccountType
	credit  event.Decimal
	balance event.Decimal
	pos     map[string]int64
}

// run is what one pass over the model stream gathered.
type run struct {
	sim       *Sim
	symbols   []string
	sectors   []string
	series    []symbolSeries
	rounds    [][]float64 // last price of every symbol at the end of each round
	users     map[int64]*userBook
	nUsers    int
	nPrices   int
	nTrades   int
	nLimit    int
	nSells    int
	failures  []string
	roundTime []time.Time
}

func (r *run) fail(format string, args ...any) {
	if len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
}

func collect(t *testing.T, cfg Config, n int) *run {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return collectFrom(t, sim, n)
}

// collectFrom is collect for a Sim already built; it stops early at the
// end of the stream.
func collectFrom(t *testing.T, sim *Sim, n int) *run {
	t.Helper()
	r := &run{sim: sim, users: map[int64]*userBook{}}
	idx := map[string]int{}
	for i, in := range sim.Universe() {
		r.symbols = append(r.symbols, in.Symbol)
		r.sectors = append(r.sectors, in.Sector)
		idx[in.Symbol] = i
	}
	r.series = make([]symbolSeries, len(r.symbols))
	quotes := make([]event.Price, len(r.symbols))
	cur := make([]float64, len(r.symbols))
	var clock exchangeClock
	var lastTime, roundTime time.Time
	buf := make([]byte, 0, 512)

	for i := range n {
		ev := sim.Next()
		if ev.Kind == 0 {
			return r // the end of a replay
		}
		ts := ev.Time()
		if ts.Before(lastTime) {
			r.fail("event %d: time %s before previous %s", i, ts, lastTime)
		}
		lastTime = ts
		switch ev.Kind {
		case KindUser:
			r.nUsers++
			u := ev.User
			if err := u.Validate(); err != nil {
				r.fail("user %d invalid: %v", u.ID, err)
			}
			st, _ := sim.Account(u.ID)
			r.users[u.ID] = &userBook{typ: u.Account.Type, credit: st.CreditLimit, balance: u.Account.Balance, pos: map[string]int64{}}
		case KindPrice:
			r.nPrices++
			p := ev.Price
			if err := p.Validate(); err != nil {
				r.fail("price %s/%d invalid: %v", p.Symbol, p.Seq, err)
			}
			k := idx[p.Symbol]
			if p.Seq != quotes[k].Seq+1 {
				r.fail("price %s seq %d after %d", p.Symbol, p.Seq, quotes[k].Seq)
			}
			if p.Last < p.Bid || p.Last > p.Ask || p.Bid%tick != 0 || p.Ask%tick != 0 || p.Ask-p.Bid < tick {
				r.fail("price %s/%d: bad quote %s/%s last %s", p.Symbol, p.Seq, p.Bid, p.Ask, p.Last)
			}
			quotes[k] = *p
			if !p.Time.Equal(roundTime) {
				if !roundTime.IsZero() {
					r.rounds = append(r.rounds, append([]float64(nil), cur...))
					r.roundTime = append(r.roundTime, roundTime)
				}
				roundTime = p.Time
			}
			last := p.Last.Float64()
			cur[k] = last
			s := &r.series[k]
			open, tau := clock.session(p.Time)
			if !open {
				r.fail("price %s at %s outside regular hours", p.Symbol, p.Time)
			}
			b := min(int(tau*13), 12)
			if s.lastP > 0 {
				lr := math.Log(last / s.lastP)
				s.all = append(s.all, lr)
				if p.Time.Sub(s.lastT) < time.Hour { // same session
					s.ret = append(s.ret, lr)
					s.bucket = append(s.bucket, b)
				}
			}
			s.vol = append(s.vol, float64(p.Volume))
			s.volBkt = append(s.volBkt, b)
			s.lastP, s.lastT = last, p.Time
		case KindTrade:
			r.nTrades++
			tr := ev.Trade
			r.checkTrade(tr, &quotes[idx[tr.Symbol]], sim.Config())
		default:
			t.Fatalf("event %d: kind %v", i, ev.Kind)
		}
		if i%97 == 0 {
			buf = ev.AppendJSON(buf[:0])
			got, err := event.Decode(ev.Schema, buf)
			if err != nil {
				r.fail("event %d: decode %s: %v", i, buf, err)
				continue
			}
			var want any
			switch ev.Kind {
			case KindUser:
				want = ev.User
			case KindPrice:
				want = ev.Price
			case KindTrade:
				want = ev.Trade
			}
			if !reflect.DeepEqual(got, want) {
				r.fail("event %d: round trip %+v, want %+v", i, got, want)
			}
		}
	}
	return r
}

func (r *run) checkTrade(tr *event.Trade, q *event.Price, cfg Config) {
	if err := tr.ValidateVersion(cfg.TradeSchema); err != nil {
		r.fail("trade %d invalid: %v", tr.ID, err)
	}
	if tr.ID != int64(r.nTrades) {
		r.fail("trade id %d, want %d", tr.ID, r.nTrades)
	}
	if q.Seq == 0 || tr.Price < q.Bid || tr.Price > q.Ask {
		r.fail("trade %d: price %s outside %s quote %s/%s", tr.ID, tr.Price, tr.Symbol, q.Bid, q.Ask)
	}
	if want := max(cfg.MinFee, tr.Notional().Mul(cfg.FeeRate)); tr.Fee != want {
		r.fail("trade %d: fee %s, want %s", tr.ID, tr.Fee, want)
	}
	if tr.OrderType == event.OrderLimit {
		r.nLimit++
	}
	u := r.users[tr.UserID]
	if u == nil {
		r.fail("trade %d: unknown user %d", tr.ID, tr.UserID)
		return
	}
	u.balance += tr.CashFlow()
	if tr.BalanceAfter != u.balance {
		r.fail("trade %d: balance_after %s, want %s", tr.ID, tr.BalanceAfter, u.balance)
	}
	qty := tr.Quantity
	if tr.Side == event.SideSell {
		qty = -qty
		r.nSells++
	}
	u.pos[tr.Symbol] += qty
	switch u.typ {
	case event.AccountCash:
		if tr.BalanceAfter < 0 {
			r.fail("trade %d: cash account %d balance %s < 0", tr.ID, tr.UserID, tr.BalanceAfter)
		}
		if u.pos[tr.Symbol] < 0 {
			r.fail("trade %d: cash account %d short %d %s", tr.ID, tr.UserID, u.pos[tr.Symbol], tr.Symbol)
		}
	case event.AccountMargin:
		if tr.BalanceAfter < -u.credit {
			r.fail("trade %d: margin account %d balance %s below credit -%s", tr.ID, tr.UserID, tr.BalanceAfter, u.credit)
		}
	}
}

// TestModel runs the market for a million events and checks the stylised
// facts of the prices and the bookkeeping of the trades on that stream.
func TestModel(t *testing.T) {
	cfg := modelConfig()
	start := time.Now()
	r := collect(t, cfg, modelEvents)
	t.Logf("%d events (%d users, %d prices, %d trades, %d rounds, %s simulated) in %s",
		modelEvents, r.nUsers, r.nPrices, r.nTrades, len(r.rounds), r.sim.Now().Sub(cfg.Start).Round(time.Hour), time.Since(start).Round(time.Millisecond))
	for _, f := range r.failures {
		t.Error(f)
	}

	t.Run("stream", func(t *testing.T) {
		if r.nUsers != cfg.Users {
			t.Errorf("user events = %d, want %d", r.nUsers, cfg.Users)
		}
		if r.nTrades < modelEvents/10 {
			t.Errorf("trades = %d, want at least %d", r.nTrades, modelEvents/10)
		}
		if share := float64(r.nLimit) / float64(r.nTrades); share < 0.25 || share > 0.35 {
			t.Errorf("limit order share = %.3f, want about 0.30", share)
		}
		if share := float64(r.nSells) / float64(r.nTrades); share < 0.3 || share > 0.6 {
			t.Errorf("sell share = %.3f, want 0.3..0.6", share)
		}
	})

	t.Run("reconcile", func(t *testing.T) {
		for id, u := range r.users {
			bal, _ := r.sim.Balance(id)
			if bal != u.balance {
				t.Errorf("user %d: balance %s, want opening + cash flows = %s", id, bal, u.balance)
			}
			st, _ := r.sim.Account(id)
			for sym, q := range u.pos {
				if st.Positions[sym] != q {
					t.Errorf("user %d: position %s = %d, want %d", id, sym, st.Positions[sym], q)
				}
			}
			for sym, q := range st.Positions {
				if u.pos[sym] != q {
					t.Errorf("user %d: position %s = %d, want %d from trades", id, sym, q, u.pos[sym])
				}
			}
		}
	})

	// Returns standardised per symbol and 30-minute bucket, which removes
	// the intraday volatility pattern before looking at tails and clustering.
	std := make([][]float64, len(r.series))
	var pooled []float64
	for k := range r.series {
		s := &r.series[k]
		var byBucket [13][]float64
		for i, x := range s.ret {
			byBucket[s.bucket[i]] = append(byBucket[s.bucket[i]], x)
		}
		var sd [13]float64
		for b := range byBucket {
			sd[b] = stddev(byBucket[b])
		}
		std[k] = make([]float64, len(s.ret))
		for i, x := range s.ret {
			std[k][i] = x / sd[s.bucket[i]]
		}
		pooled = append(pooled, std[k]...)
	}

	t.Run("fat tails", func(t *testing.T) {
		k := excessKurtosis(pooled)
		t.Logf("excess kurtosis of %d standardised returns: %.2f", len(pooled), k)
		if k < 1 {
			t.Errorf("excess kurtosis = %.2f, want > 1", k)
		}
		var low int
		for i := range std {
			if ks := excessKurtosis(std[i]); ks < 0.5 {
				low++
				t.Logf("%s: excess kurtosis %.2f", r.symbols[i], ks)
			}
		}
		if low > len(std)/10 {
			t.Errorf("%d of %d symbols have excess kurtosis < 0.5", low, len(std))
		}
	})

	t.Run("volatility clustering", func(t *testing.T) {
		var acf [21]float64
		for i := range std {
			abs := make([]float64, len(std[i]))
			for j, x := range std[i] {
				abs[j] = math.Abs(x)
			}
			for lag := 1; lag <= 20; lag++ {
				acf[lag] += autocorr(abs, lag) / float64(len(std))
			}
		}
		t.Logf("mean autocorrelation of |r| at lags 1, 5, 10, 20: %.3f %.3f %.3f %.3f", acf[1], acf[5], acf[10], acf[20])
		for lag := 1; lag <= 20; lag++ {
			if acf[lag] < 0.02 {
				t.Errorf("autocorrelation of |r| at lag %d = %.4f, want > 0.02", lag, acf[lag])
			}
		}
	})

	t.Run("no autocorrelation", func(t *testing.T) {
		var mean1 float64
		for i := range r.series {
			ac := autocorr(r.series[i].all, 1)
			mean1 += ac / float64(len(r.series))
			if math.Abs(ac) > 0.1 {
				t.Errorf("%s: lag-1 autocorrelation of returns = %.3f, want |x| < 0.1", r.symbols[i], ac)
			}
		}
		t.Logf("mean lag-1 autocorrelation of returns: %.4f", mean1)
		if math.Abs(mean1) > 0.05 {
			t.Errorf("mean lag-1 autocorrelation = %.4f, want |x| < 0.05", mean1)
		}
	})

	t.Run("sector co-movement", func(t *testing.T) {
		const block = 10 // rounds per return, to let skipped ticks catch up
		n := len(r.rounds) / block
		rets := make([][]float64, len(r.symbols))
		for k := range rets {
			for b := 1; b < n; b++ {
				rets[k] = append(rets[k], math.Log(r.rounds[b*block][k]/r.rounds[(b-1)*block][k]))
			}
		}
		var within, across []float64
		for i := range rets {
			for j := i + 1; j < len(rets); j++ {
				c := correlation(rets[i], rets[j])
				if r.sectors[i] == r.sectors[j] {
					within = append(within, c)
				} else {
					across = append(across, c)
				}
			}
		}
		w, a := mean(within), mean(across)
		t.Logf("mean pairwise correlation of %d-round returns: within sectors %.3f, across %.3f", block, w, a)
		if w < 0.3 || w > 0.65 {
			t.Errorf("within-sector correlation = %.3f, want 0.3..0.65", w)
		}
		if w-a < 0.15 {
			t.Errorf("within-sector correlation %.3f not clearly above across-sector %.3f", w, a)
		}
	})

	t.Run("intraday U-shape", func(t *testing.T) {
		var absByB, volByB [13]float64
		var nAbs, nVol [13]float64
		for k := range r.series {
			s := &r.series[k]
			sd := stddev(s.ret)
			for i, x := range s.ret {
				absByB[s.bucket[i]] += math.Abs(x) / sd
				nAbs[s.bucket[i]]++
			}
			mv := mean(s.vol)
			for i, v := range s.vol {
				volByB[s.volBkt[i]] += v / mv
				nVol[s.volBkt[i]]++
			}
		}
		for b := range absByB {
			absByB[b] /= nAbs[b]
			volByB[b] /= nVol[b]
		}
		midVol := median(absByB[4:9])
		midVolume := median(volByB[4:9])
		t.Logf("mean |r| by half hour: %.2f", absByB)
		t.Logf("mean volume by half hour: %.2f", volByB)
		if absByB[0] < 1.3*midVol || absByB[12] < 1.05*midVol {
			t.Errorf("volatility open %.2f / midday %.2f / close %.2f: want a U shape", absByB[0], midVol, absByB[12])
		}
		if volByB[0] < 1.5*midVolume || volByB[12] < 1.3*midVolume {
			t.Errorf("volume open %.2f / midday %.2f / close %.2f: want a U shape", volByB[0], midVolume, volByB[12])
		}
	})
}
