package market

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

// Price model. Each symbol's log price follows
//
//	r_i = sd_i * u_i - sd_i²/2,   u_i = a*M + b*S_sector(i) + c*E_i,   a²+b²+c² = 1
//
// where M, S and E are unit-variance GARCH(1,1) processes with Student-t
// innovations (market, sector and idiosyncratic), so returns have fat
// tails, volatility clusters, peers co-move (correlation a²+b² within a
// sector, a² across) and the price is a martingale (no autocorrelation to
// exploit). sd_i scales the instrument's annual volatility to the round
// length and the intraday U-shape. Quotes round to the 0.01 tick, with a
// spread proportional to price and current volatility.
const (
	tick            = event.Decimal(100) // 0.01
	tradingDays     = 252
	garchAlpha      = 0.05
	garchBeta       = 0.93
	garchOmega      = 1 - garchAlpha - garchBeta // unconditional variance 1
	marketLoading   = 0.4472135954999579         // sqrt(0.20)
	sectorLoading   = 0.5                        // sqrt(0.25)
	idioLoading     = 0.7416198487095663         // sqrt(1 - 0.20 - 0.25)
	meanAbsShock    = 0.78                       // E|u| for the mixture, for volume
	overnightShare  = 0.20                       // share of daily variance in the overnight gap
	extendedVolMult = 0.25                       // volatility outside regular hours
	extendedVolume  = 0.04                       // volume outside regular hours
	extendedSpread  = 2.5                        // spread widening outside regular hours
	extendedTrading = 0.05                       // user trading activity outside regular hours
	baseSpread      = 0.00008                    // spread as a fraction of price at 25% volatility
	maxSpread       = 0.02                       // spread cap as a fraction of price
	minLogPrice     = -4.605170185988091         // log(0.01)
	maxLogPrice     = 13.815510557964274         // log(1e6)
	hMin, hMax      = 0.05, 50.0                 // GARCH variance clamp
)

// garch advances a unit-mean GARCH(1,1) variance given the shock z drawn
// under variance h.
func garch(h, z float64) float64 {
	h = garchOmega + (garchAlpha*z*z+garchBeta)*h
	return min(max(h, hMin), hMax)
}

// intraday holds the U-shaped multipliers over the session, normalised so
// that the mean variance multiplier and the mean volume multiplier over a
// session are both 1 (keeping annual volatility and daily volume
// calibrated).
type intraday struct {
	volNorm, volumeNorm float64
}

func newIntraday() intraday {
	const n = 2340
	var v2, vol float64
	for i := range n {
		tau := (float64(i) + 0.5) / n
		v := volShapeRaw(tau)
		v2 += v * v
		vol += volumeShapeRaw(tau)
	}
	return intraday{volNorm: 1 / math.Sqrt(v2/n), volumeNorm: n / vol}
}

// Raw shapes: high at the open, a midday trough, a smaller rise into the close.
func volShapeRaw(tau float64) float64 {
	return 1 + 1.6*math.Exp(-tau/0.06) + 0.6*math.Exp(-(1-tau)/0.05)
}

func volumeShapeRaw(tau float64) float64 {
	return 1 + 2.2*math.Exp(-tau/0.07) + 1.8*math.Exp(-(1-tau)/0.05)
}

func spreadShape(tau float64) float64 {
	return 1 + 1.5*math.Exp(-tau/0.03)
}

// regime is what the time of day implies for one round.
type regime struct {
	vol, volume, spread, trading, skip float64
}

func (d intraday) regime(open bool, tau float64) regime {
	if !open {
		return regime{vol: extendedVolMult, volume: extendedVolume, spread: extendedSpread, trading: extendedTrading, skip: 0.8}
	}
	volume := volumeShapeRaw(tau) * d.volumeNorm
	return regime{
		vol:     volShapeRaw(tau) * d.volNorm,
		volume:  volume,
		spread:  spreadShape(tau),
		trading: volume,
		skip:    min(0.5, max(0.02, 0.1/volume)),
	}
}

// factor is a unit-variance GARCH process; shock is this round's draw.
type factor struct {
	h, shock float64
}

func (f *factor) step(r *rand.Rand) {
	z := studentT(r)
	f.shock = math.Sqrt(f.h) * z
	f.h = garch(f.h, z)
}

// symbolState is the price process and last quote of one instrument.
type symbolState struct {
	inst       Instrument
	sector     int
	logP       float64
	idio       factor
	varPerSec  float64 // variance of log returns per regular-hours second
	volPerSec  float64 // average shares per regular-hours second
	spreadBase float64 // spread fraction of price at unit variance and regime
	pendingVol float64 // volume since the last emitted tick
	emit       bool    // whether this round emits a tick
	halted     bool    // a scenario halted trading in the symbol
	quote      event.Price
}

// prices is the whole price model: the market, sector factors and symbols.
type prices struct {
	rng     *rand.Rand
	shape   intraday
	market  factor
	sectors []factor
	symbols []symbolState
	first   bool
}

func newPrices(rng *rand.Rand, universe []Instrument, sectorOf []int, nSectors int) *prices {
	p := &prices{
		rng:     rng,
		shape:   newIntraday(),
		market:  factor{h: 1},
		sectors: make([]factor, nSectors),
		symbols: make([]symbolState, len(universe)),
		first:   true,
	}
	for i := range p.sectors {
		p.sectors[i].h = 1
	}
	for i, in := range universe {
		p.symbols[i] = symbolState{
			inst:       in,
			sector:     sectorOf[i],
			logP:       math.Log(in.StartPrice.Float64()),
			idio:       factor{h: 1},
			varPerSec:  in.Volatility * in.Volatility / (tradingDays * sessionSeconds),
			volPerSec:  in.avgVolume() / sessionSeconds,
			spreadBase: baseSpread * in.Volatility / 0.25,
			quote:      event.Price{Symbol: in.Symbol, Sector: in.Sector},
		}
	}
	return p
}

// step advances every symbol by one round of dt seconds at time t. gap adds
// an overnight return (SessionRegular, first round of a day). It decides
// which symbols emit a tick this round and updates their quotes; the first
// round emits every symbol so that each has a quote before any trade.
//
// fx, when not nil, is the round's scenario effects: extra drift,
// volatility, spread and volume multipliers, halted symbols (which emit no
// tick). The model's random draws are the same with or without it.
func (p *prices) step(t time.Time, dt float64, rg regime, gap bool, fx *scenarioRun) {
	r := p.rng
	p.market.step(r)
	for i := range p.sectors {
		p.sectors[i].step(r)
	}
	volFactor := rg.vol * rg.vol * dt
	if gap {
		volFactor += overnightShare * sessionSeconds
	}
	for i := range p.symbols {
		s := &p.symbols[i]
		s.idio.step(r)
		u := marketLoading*p.market.shock + sectorLoading*p.sectors[s.sector].shock + idioLoading*s.idio.shock
		variance := s.varPerSec * volFactor
		drift, volume, spread := 0.0, 1.0, 1.0
		if fx != nil {
			variance *= fx.vol[i] * fx.vol[i]
			drift, volume, spread = fx.drift[i], fx.volume[i], fx.spread[i]
			s.halted = fx.halted[i]
		}
		s.logP += math.Sqrt(variance)*u - variance/2 + drift
		s.logP = min(max(s.logP, minLogPrice), maxLogPrice)

		// Volume grows with the size of the move; lognormal noise has mean 1.
		activity := 0.5 + 0.5*math.Abs(u)/meanAbsShock
		s.pendingVol += s.volPerSec * dt * rg.volume * volume * activity * logNormal(r, -0.18, 0.6)

		skip := r.Float64() < rg.skip
		s.emit = p.first || (!skip && !s.halted)
		if s.emit {
			s.requote(t, rg.spread*spread)
		}
	}
	p.first = false
}

// requote sets the symbol's quote from its latent price: a spread of at
// least one tick around the price rounded to the tick, last at the
// rounded price.
func (s *symbolState) requote(t time.Time, spreadMult float64) {
	price := math.Exp(s.logP)
	mid := price / tick.Float64() // in ticks
	frac := min(s.spreadBase*math.Sqrt(s.idio.h)*spreadMult, maxSpread)
	n := max(1, math.Round(mid*frac))
	bid := max(1, math.Round(mid-n/2))
	ask := bid + n
	last := min(max(math.Round(mid), bid), ask)

	q := &s.quote
	q.Seq++
	q.Time = t
	q.Bid = event.Decimal(bid) * tick
	q.Ask = event.Decimal(ask) * tick
	q.Last = event.Decimal(last) * tick
	q.Volume = int64(math.Round(s.pendingVol))
	s.pendingVol = 0
}
