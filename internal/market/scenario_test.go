package market

import (
	"math"
	"strings"
	"testing"
	"time"
)

// scenTick is one price tick of a scenario run, by offset from the start.
type scenTick struct {
	at          time.Duration
	sym         int
	mid, spread float64 // spread as a fraction of mid
	volume      float64
}

type scenTrade struct {
	at  time.Duration
	sym int
}

// scenRun is a run of the market over a span of simulated time.
type scenRun struct {
	syms    []string
	sectors []string
	ticks   []scenTick
	trades  []scenTrade
}

func scenConfig(sc *Scenario) Config {
	return Config{Seed: 11, Users: 500, Universe: DefaultUniverse(), Start: testStart, TickInterval: time.Second, Scenario: sc}
}

func runScenario(t *testing.T, sc *Scenario, span time.Duration) *scenRun {
	t.Helper()
	s := newSim(t, scenConfig(sc))
	r := &scenRun{}
	idx := map[string]int{}
	for i, in := range s.Universe() {
		idx[in.Symbol] = i
		r.syms, r.sectors = append(r.syms, in.Symbol), append(r.sectors, in.Sector)
	}
	for {
		ev := s.Next()
		at := ev.Time().Sub(testStart)
		if at > span {
			return r
		}
		switch ev.Kind {
		case KindPrice:
			p := ev.Price
			mid := (p.Bid.Float64() + p.Ask.Float64()) / 2
			r.ticks = append(r.ticks, scenTick{at: at, sym: idx[p.Symbol], mid: mid, spread: (p.Ask - p.Bid).Float64() / mid, volume: float64(p.Volume)})
		case KindTrade:
			r.trades = append(r.trades, scenTrade{at: at, sym: idx[ev.Trade.Symbol]})
		}
	}
}

// level returns symbol k's last mid at or before at.
func (r *scenRun) level(k int, at time.Duration) float64 {
	var last float64
	for _, tk := range r.ticks {
		if tk.at > at {
			break
		}
		if tk.sym == k {
			last = tk.mid
		}
	}
	return last
}

// shift is the mean log difference of the symbols' levels between r and
// the plain market base at offset at: the scenario's own price effect.
func (r *scenRun) shift(base *scenRun, syms []int, at time.Duration) float64 {
	var s float64
	for _, k := range syms {
		s += math.Log(r.level(k, at) / base.level(k, at))
	}
	return s / float64(len(syms))
}

// mean averages f over the ticks of syms in [from, to).
func (r *scenRun) mean(syms []int, from, to time.Duration, f func(scenTick) float64) float64 {
	in := map[int]bool{}
	for _, k := range syms {
		in[k] = true
	}
	var s, n float64
	for _, tk := range r.ticks {
		if tk.at >= from && tk.at < to && in[tk.sym] {
			s += f(tk)
			n++
		}
	}
	return s / n
}

// realisedVol is the standard deviation of tick-to-tick log mid returns
// of syms in [from, to).
func (r *scenRun) realisedVol(syms []int, from, to time.Duration) float64 {
	var rets []float64
	for _, k := range syms {
		prev := 0.0
		for _, tk := range r.ticks {
			if tk.sym != k || tk.at < from || tk.at >= to {
				continue
			}
			if prev > 0 {
				rets = append(rets, math.Log(tk.mid/prev))
			}
			prev = tk.mid
		}
	}
	return stddev(rets)
}

func (r *scenRun) all() []int {
	out := make([]int, len(r.syms))
	for i := range out {
		out[i] = i
	}
	return out
}

func (r *scenRun) find(sym string) int {
	for i, s := range r.syms {
		if s == sym {
			return i
		}
	}
	return -1
}

func (r *scenRun) sector(name string) []int {
	var out []int
	for i, s := range r.sectors {
		if s == name {
			out = append(out, i)
		}
	}
	return out
}

func builtin(t *testing.T, name string) *Scenario {
	t.Helper()
	sc, err := BuiltinScenario(name)
	if err != nil {
		t.Fatalf("BuiltinScenario(%q): %v", name, err)
	}
	return sc
}

func spreadOf(tk scenTick) float64 { return tk.spread }
func volumeOf(tk scenTick) float64 { return tk.volume }

const m = time.Minute

func TestScenarioFlashCrash(t *testing.T) {
	base := runScenario(t, nil, 25*m)
	r := runScenario(t, builtin(t, "flash-crash"), 25*m)
	all := r.all()
	before, bottom, after, later := r.shift(base, all, 2*m-time.Second), r.shift(base, all, 5*m), r.shift(base, all, 16*m), r.shift(base, all, 25*m)
	t.Logf("market shift vs plain run: before %.4f, bottom %.4f, after %.4f, later %.4f", before, bottom, after, later)
	if math.Abs(before) > 0.001 {
		t.Errorf("shift before the crash = %.4f, want 0", before)
	}
	if want := math.Log(0.93); math.Abs(bottom-want) > 0.005 {
		t.Errorf("shift at the bottom = %.4f, want %.4f (7%% drop)", bottom, want)
	}
	if want := 0.4 * math.Log(0.93); math.Abs(after-want) > 0.005 || math.Abs(later-after) > 0.002 {
		t.Errorf("shift after recovery = %.4f then %.4f, want %.4f (60%% of the drop won back) and no further move", after, later, want)
	}
	sBefore, sIn, sAfter := r.mean(all, 0, 2*m, spreadOf), r.mean(all, 2*m, 5*m, spreadOf), r.mean(all, 16*m, 25*m, spreadOf)
	bAfter := base.mean(all, 16*m, 25*m, spreadOf)
	t.Logf("mean relative spread: before %.6f, in the fall %.6f, after %.6f (plain %.6f)", sBefore, sIn, sAfter, bAfter)
	if sIn < 2.5*sBefore {
		t.Errorf("spread in the fall %.6f, want above 2.5x before (%.6f)", sIn, sBefore)
	}
	if sAfter > 1.1*bAfter {
		t.Errorf("spread after the window %.6f, want as in the plain run (%.6f)", sAfter, bAfter)
	}
	vBefore, vIn := r.mean(all, 0, 2*m, volumeOf), r.mean(all, 2*m, 5*m, volumeOf)
	if vIn < 3*vBefore {
		t.Errorf("volume per tick in the fall %.0f, want above 3x before (%.0f)", vIn, vBefore)
	}
	if rv, bv := r.realisedVol(all, 2*m, 5*m), base.realisedVol(all, 2*m, 5*m); rv < 2*bv {
		t.Errorf("realised volatility in the fall %.6f, want above 2x the plain run's %.6f", rv, bv)
	}
}

func TestScenarioHalt(t *testing.T) {
	r := runScenario(t, builtin(t, "halt"), 15*m)
	k := r.find("NVDA")
	var lastBefore, firstAfter scenTick
	for _, tk := range r.ticks {
		if tk.sym != k {
			continue
		}
		if tk.at >= 2*m && tk.at < 7*m {
			t.Fatalf("NVDA tick at %s, inside the halt", tk.at)
		}
		if tk.at < 2*m {
			lastBefore = tk
		} else if firstAfter.at == 0 {
			firstAfter = tk
		}
	}
	for _, tr := range r.trades {
		if tr.sym == k && tr.at >= 2*m && tr.at < 7*m {
			t.Fatalf("NVDA trade at %s, inside the halt", tr.at)
		}
	}
	var others int
	for _, tr := range r.trades {
		if tr.at >= 2*m && tr.at < 7*m {
			others++
		}
	}
	if others == 0 {
		t.Errorf("no trades at all during the halt, want the other symbols trading")
	}
	gap := math.Log(firstAfter.mid / lastBefore.mid)
	t.Logf("NVDA: last tick at %s, reopening at %s, gap %.4f", lastBefore.at, firstAfter.at, gap)
	if firstAfter.at < 7*m || firstAfter.at > 7*m+5*time.Second {
		t.Errorf("reopening tick at %s, want just after 7m", firstAfter.at)
	}
	if gap > -0.05 {
		t.Errorf("reopening gap %.4f, want about log(0.92) = %.4f", gap, math.Log(0.92))
	}
	nv := []int{k}
	if vb, va := r.mean(nv, 0, 2*m, volumeOf), r.mean(nv, 7*m, 8*m, volumeOf); va < 3*vb {
		t.Errorf("NVDA volume per tick after reopening %.0f, want above 3x before (%.0f)", va, vb)
	}
}

func TestScenarioRegimeShift(t *testing.T) {
	base := runScenario(t, nil, 32*m)
	r := runScenario(t, builtin(t, "regime-shift"), 32*m)
	all := r.all()
	ratio := func(from, to time.Duration) float64 {
		return r.realisedVol(all, from, to) / base.realisedVol(all, from, to)
	}
	pre, turb, calm := ratio(0, 2*m), ratio(3*m, 17*m), ratio(18*m, 32*m)
	t.Logf("realised volatility vs plain run: before %.2f, turbulent %.2f, calm %.2f", pre, turb, calm)
	if math.Abs(pre-1) > 0.05 {
		t.Errorf("volatility ratio before the shift = %.2f, want 1", pre)
	}
	if turb < 2 {
		t.Errorf("volatility ratio in the turbulent regime = %.2f, want about 2.5", turb)
	}
	if calm > 0.7 {
		t.Errorf("volatility ratio in the calm regime = %.2f, want about 0.5", calm)
	}
	if tv, cv := r.realisedVol(all, 3*m, 17*m), r.realisedVol(all, 18*m, 32*m); tv < 3*cv {
		t.Errorf("turbulent volatility %.6f, want above 3x calm %.6f", tv, cv)
	}
}

func TestScenarioNewsShock(t *testing.T) {
	base := runScenario(t, nil, 25*m)
	r := runScenario(t, builtin(t, "news-shock"), 25*m)
	k := r.find("TSLA")
	var others []int
	for i := range r.syms {
		if i != k {
			others = append(others, i)
		}
	}
	jump := r.shift(base, []int{k}, 2*m+2*time.Second)
	rest := r.shift(base, others, 2*m+2*time.Second)
	t.Logf("TSLA shift after the news %.4f, other symbols %.5f", jump, rest)
	if want := math.Log(1.09); math.Abs(jump-want) > 0.01 {
		t.Errorf("TSLA jump = %.4f, want %.4f", jump, want)
	}
	if math.Abs(rest) > 0.001 {
		t.Errorf("other symbols moved %.4f, want 0", rest)
	}
	ts := []int{k}
	v1 := r.realisedVol(ts, 2*m+time.Second, 5*m) / base.realisedVol(ts, 2*m+time.Second, 5*m)
	v2 := r.realisedVol(ts, 8*m, 11*m) / base.realisedVol(ts, 8*m, 11*m)
	v3 := r.realisedVol(ts, 21*m, 25*m) / base.realisedVol(ts, 21*m, 25*m)
	t.Logf("TSLA volatility vs plain run: first 3 minutes %.2f, 6-9 minutes after %.2f, after the window %.2f", v1, v2, v3)
	if v1 < 2.5 || v2 >= v1 || v2 < 1.05 || math.Abs(v3-1) > 0.05 {
		t.Errorf("TSLA volatility ratios %.2f, %.2f, %.2f: want a spike above 2.5 that decays back to 1", v1, v2, v3)
	}
	if vb, va := r.mean(ts, 0, 2*m, volumeOf), r.mean(ts, 2*m, 3*m, volumeOf); va < 4*vb {
		t.Errorf("TSLA volume per tick after the news %.0f, want above 4x before (%.0f)", va, vb)
	}
}

func TestScenarioOpeningGap(t *testing.T) {
	base := runScenario(t, nil, 15*m)
	r := runScenario(t, builtin(t, "opening-gap"), 15*m)
	for _, tk := range r.ticks {
		if tk.at >= m && tk.at < 6*m {
			t.Fatalf("%s tick at %s, while the market is closed", r.syms[tk.sym], tk.at)
		}
	}
	for _, tr := range r.trades {
		if tr.at >= m && tr.at < 6*m {
			t.Fatalf("trade at %s, while the market is closed", tr.at)
		}
	}
	var shifts []float64
	for k := range r.syms {
		shifts = append(shifts, r.shift(base, []int{k}, 6*m+5*time.Second))
	}
	mu, sd := mean(shifts), stddev(shifts)
	t.Logf("opening gap per symbol vs plain run: mean %.4f, dispersion %.4f", mu, sd)
	if want := math.Log(0.98); math.Abs(mu-want) > 0.008 {
		t.Errorf("mean gap = %.4f, want %.4f", mu, want)
	}
	if sd < 0.008 || sd > 0.025 {
		t.Errorf("gap dispersion = %.4f, want about 0.015", sd)
	}
	all := r.all()
	if vb, va := r.mean(all, 0, m, volumeOf), r.mean(all, 6*m, 7*m, volumeOf); va < 2.5*vb {
		t.Errorf("volume per tick after the open %.0f, want above 2.5x before (%.0f)", va, vb)
	}
}

func TestScenarioSectorRotation(t *testing.T) {
	base := runScenario(t, nil, 25*m)
	r := runScenario(t, builtin(t, "sector-rotation"), 25*m)
	tech, energy := r.sector("Technology"), r.sector("Energy")
	var rest []int
	for i, s := range r.sectors {
		if s != "Technology" && s != "Energy" {
			rest = append(rest, i)
		}
	}
	tHalf, eHalf := r.shift(base, tech, 12*m), r.shift(base, energy, 12*m)
	tEnd, eEnd, oEnd := r.shift(base, tech, 23*m), r.shift(base, energy, 23*m), r.shift(base, rest, 23*m)
	t.Logf("rotation shift vs plain run: Technology %.4f then %.4f, Energy %.4f then %.4f, others %.5f", tHalf, tEnd, eHalf, eEnd, oEnd)
	want := math.Log(1.05)
	if math.Abs(tEnd+want) > 0.003 || math.Abs(eEnd-want) > 0.003 {
		t.Errorf("end of rotation: Technology %.4f, Energy %.4f; want -%.4f and +%.4f", tEnd, eEnd, want, want)
	}
	if math.Abs(tHalf+want/2) > 0.003 || math.Abs(eHalf-want/2) > 0.003 {
		t.Errorf("half way: Technology %.4f, Energy %.4f; want half the move", tHalf, eHalf)
	}
	if math.Abs(oEnd) > 0.001 {
		t.Errorf("other sectors moved %.4f, want 0", oEnd)
	}
}

// TestScenarioInvariants runs every built-in scenario through the model
// checks: trades inside the quote, cash never negative, balances that
// reconcile, and the same stream for the same seed.
func TestScenarioInvariants(t *testing.T) {
	for _, name := range BuiltinScenarios() {
		t.Run(name, func(t *testing.T) {
			cfg := scenConfig(builtin(t, name))
			cfg.Users = 1000
			r := collect(t, cfg, 150_000)
			for _, f := range r.failures {
				t.Error(f)
			}
			if r.nTrades < 10_000 {
				t.Errorf("%d trades, want users trading throughout", r.nTrades)
			}
			for id, u := range r.users {
				if bal, _ := r.sim.Balance(id); bal != u.balance {
					t.Errorf("user %d: balance %s, want %s from the trades", id, bal, u.balance)
				}
			}
			if a, b := streamHash(t, cfg, 50_000), streamHash(t, cfg, 50_000); a != b {
				t.Errorf("same seed: hashes %s and %s differ", a, b)
			}
		})
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "events:\n  - kind: crash\n    bogus: 1\n", "field bogus"},
		{"unknown kind", "events:\n  - kind: meltdown\n", `kind "meltdown" is not one of crash`},
		{"bad duration", "events:\n  - kind: regime\n    duration: soon\n", `events[0]: duration "soon" is not a duration`},
		{"crash up", "events:\n  - kind: crash\n    duration: 1m\n    move: 0.1\n", "move 0.1 must be negative"},
		{"no events", "name: x\n", "no events"},
		{"rotation sectors", "events:\n  - kind: rotation\n    duration: 1m\n    move: 0.02\n", "from and to sectors are required"},
		{"past repeat", "repeat: 5m\nevents:\n  - kind: regime\n    at: 4m\n    duration: 2m\n", "past repeat 5m"},
		{"multiplier", "events:\n  - kind: regime\n    duration: 1m\n    vol: -2\n", "vol -2 must be in [0, 50]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.yaml), "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseScenario error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	cfg := scenConfig(&Scenario{Name: "x", Events: []ScenarioEvent{{Kind: EventHalt, Duration: m, Sectors: []string{"Tech"}}}})
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), `sector "Tech" is not in the universe`) {
		t.Errorf("New with an unknown sector: %v, want an error naming it", err)
	}
	if _, err := BuiltinScenario("nope"); err == nil || !strings.Contains(err.Error(), "flash-crash") {
		t.Errorf("unknown built-in: %v, want the list of built-ins", err)
	}
}

func TestScenarioRepeat(t *testing.T) {
	sc := builtin(t, "demo")
	if sc.Repeat != 30*m {
		t.Fatalf("demo repeat = %s, want 30m", sc.Repeat)
	}
	r := runScenario(t, sc, 50*m)
	k := r.find("NVDA")
	for _, tk := range r.ticks {
		if tk.sym == k && ((tk.at >= 14*m && tk.at < 17*m) || (tk.at >= 44*m && tk.at < 47*m)) {
			t.Fatalf("NVDA tick at %s, inside a halt of the demo (at 14m and again at 44m)", tk.at)
		}
	}
	var second int
	for _, tk := range r.ticks {
		if tk.sym == k && tk.at >= 47*m && tk.at < 48*m {
			second++
		}
	}
	if second == 0 {
		t.Errorf("no NVDA ticks after the second halt")
	}
}
