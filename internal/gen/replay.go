package gen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradestream/tradestream/internal/clock"
	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/market"
)

// maxTickErrors is how many malformed lines ParseTicks reports before it
// stops reading.
const maxTickErrors = 10

// ParseTicks reads recorded ticks from CSV or JSON lines (a first
// significant character '{' means JSON lines). Columns or keys: symbol,
// time (RFC 3339; "ts" also accepted in JSON), bid, ask, last, volume, and
// an optional sector. CSV needs a header line naming the columns, in any
// order; blank lines and lines starting with '#' are skipped. Malformed
// lines are an error, each named by its line number (up to ten), never
// skipped: a replay is all of the file or nothing. Ticks must be in time
// order. The second result maps symbols to the sectors the file names.
func ParseTicks(r io.Reader) ([]market.Tick, map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read ticks: %w", err)
	}
	p := &tickParser{sectors: map[string]string{}}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		p.jsonLines(data)
	} else {
		p.csv(data)
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, nil, fmt.Errorf("parse ticks: %w", err)
	}
	if len(p.ticks) == 0 {
		return nil, nil, errors.New("parse ticks: no ticks")
	}
	return p.ticks, p.sectors, nil
}

type tickParser struct {
	ticks   []market.Tick
	sectors map[string]string
	errs    []error
}

func (p *tickParser) bad(line int, format string, args ...any) bool {
	p.errs = append(p.errs, fmt.Errorf("line %d: "+format, append([]any{line}, args...)...))
	return len(p.errs) < maxTickErrors
}

var tickColumns = []string{"symbol", "time", "bid", "ask", "last", "volume"}

func (p *tickParser) csv(data []byte) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment, cr.FieldsPerRecord, cr.TrimLeadingSpace = '#', -1, true
	col := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			p.bad(line, "%v", err)
			return
		}
		if len(col) == 0 {
			for i, name := range rec {
				col[strings.ToLower(strings.TrimSpace(name))] = i
			}
			for _, name := range tickColumns {
				if _, ok := col[name]; !ok {
					p.bad(line, "header %q lacks column %q (want symbol,time,bid,ask,last,volume[,sector])", strings.Join(rec, ","), name)
					return
				}
			}
			continue
		}
		field := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) < len(col) {
			if !p.bad(line, "want %d fields, got %d", len(col), len(rec)) {
				return
			}
			continue
		}
		if !p.add(line, field("symbol"), field("time"), field("bid"), field("ask"), field("last"), field("volume"), field("sector")) {
			return
		}
	}
}

type jsonTick struct {
	Symbol string          `json:"symbol"`
	Time   string          `json:"time"`
	TS     string          `json:"ts"`
	Bid    json.RawMessage `json:"bid"`
	Ask    json.RawMessage `json:"ask"`
	Last   json.RawMessage `json:"last"`
	Volume json.RawMessage `json:"volume"`
	Sector string          `json:"sector"`
}

func (p *tickParser) jsonLines(data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var jt jsonTick
		if err := json.Unmarshal(text, &jt); err != nil {
			if !p.bad(line, "not a JSON object: %v", err) {
				return
			}
			continue
		}
		if jt.Time == "" {
			jt.Time = jt.TS
		}
		unq := func(raw json.RawMessage) string { return strings.Trim(string(raw), `"`) }
		if !p.add(line, jt.Symbol, jt.Time, unq(jt.Bid), unq(jt.Ask), unq(jt.Last), unq(jt.Volume), jt.Sector) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		p.errs = append(p.errs, err)
	}
}

// add validates one row and appends it; false stops the parse.
func (p *tickParser) add(line int, symbol, ts, bid, ask, last, volume, sector string) bool {
	var errs []string
	sym, ok := event.NormalizeSymbol(symbol)
	if !ok {
		errs = append(errs, fmt.Sprintf("symbol %q must match ^[A-Z][A-Z0-9.]{0,9}$", symbol))
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		errs = append(errs, fmt.Sprintf("time %q is not RFC 3339", ts))
	}
	price := func(name, s string) event.Decimal {
		d, err := event.ParseDecimal(s)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s %q is not a positive price", name, s))
		}
		return d
	}
	tk := market.Tick{Symbol: sym, Time: t, Bid: price("bid", bid), Ask: price("ask", ask), Last: price("last", last)}
	if tk.Volume, err = strconv.ParseInt(volume, 10, 64); err != nil || tk.Volume < 0 {
		errs = append(errs, fmt.Sprintf("volume %q is not a non-negative integer", volume))
	}
	if len(errs) == 0 && tk.Ask < tk.Bid {
		errs = append(errs, fmt.Sprintf("ask %s is below bid %s", tk.Ask, tk.Bid))
	}
	if n := len(p.ticks); len(errs) == 0 && n > 0 && t.Before(p.ticks[n-1].Time) {
		errs = append(errs, fmt.Sprintf("time %s is before the previous line's %s; ticks must be in time order", ts, p.ticks[n-1].Time.Format(time.RFC3339Nano)))
	}
	if len(errs) > 0 {
		return p.bad(line, "%s", strings.Join(errs, "; "))
	}
	if sector = strings.TrimSpace(sector); sector != "" {
		p.sectors[sym] = sector
	}
	p.ticks = append(p.ticks, tk)
	return true
}

// ReplayUniverse returns the instruments of the ticks, in order of first
// appearance: the sector from the file, else from the built-in universe,
// else "Other".
func ReplayUniverse(ticks []market.Tick, sectors map[string]string) []market.Instrument {
	known := map[string]market.Instrument{}
	for _, in := range market.DefaultUniverse() {
		known[in.Symbol] = in
	}
	seen := map[string]bool{}
	var out []market.Instrument
	for _, tk := range ticks {
		if seen[tk.Symbol] {
			continue
		}
		seen[tk.Symbol] = true
		in := market.Instrument{Symbol: tk.Symbol, Sector: "Other", StartPrice: tk.Last, Volatility: 0.3}
		if k, ok := known[tk.Symbol]; ok {
			in.Sector, in.Volatility, in.AvgVolume = k.Sector, k.Volatility, k.AvgVolume
		}
		if s, ok := sectors[tk.Symbol]; ok {
			in.Sector = s
		}
		out = append(out, in)
	}
	return out
}

// ShiftTicks moves every tick by d (re-timestamping a recording to now).
func ShiftTicks(ticks []market.Tick, d time.Duration) {
	for i := range ticks {
		ticks[i].Time = ticks[i].Time.Add(d)
	}
}

// TickFeed is a market.Feed over ticks in memory.
type TickFeed struct {
	ticks []market.Tick
	pos   int
}

// NewTickFeed returns a feed of ticks.
func NewTickFeed(ticks []market.Tick) *TickFeed { return &TickFeed{ticks: ticks} }

// Next implements market.Feed.
func (f *TickFeed) Next() (market.Tick, bool) {
	if f.pos >= len(f.ticks) {
		return market.Tick{}, false
	}
	f.pos++
	return f.ticks[f.pos-1], true
}

// PacedSource paces a replaying market by its event time: each round is
// sent once the wall clock has run (round time - first) / speed since
// the start, so speed 1 replays in real time and 60 an hour a minute;
// speed 0 does not wait.
type PacedSource struct {
	src       *MarketSource
	sim       *market.Sim
	ctx       context.Context
	speed     float64
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	wallStart time.Time
	first     time.Time
	round     int64
}

// NewPacedSource returns a Source of sim's events through src, paced by
// event time at speed (0: as fast as possible) under ctx.
func NewPacedSource(ctx context.Context, sim *market.Sim, src *MarketSource, speed float64, now func() time.Time) *PacedSource {
	return &PacedSource{src: src, sim: sim, ctx: ctx, speed: speed, now: now, sleep: clock.Sleep}
}

// WithSleep makes p wait with sleep instead of clock.Sleep (with a clock
// of its own in now, a test can check the pacing without waiting).
func (p *PacedSource) WithSleep(sleep func(context.Context, time.Duration) error) *PacedSource {
	p.sleep = sleep
	return p
}

// Next implements Source.
func (p *PacedSource) Next(r *kgo.Record) bool {
	if !p.src.Next(r) {
		return false
	}
	if p.speed <= 0 || p.sim.Round() == p.round {
		return true
	}
	p.round = p.sim.Round()
	if p.first.IsZero() {
		p.first, p.wallStart = p.sim.Now(), p.now()
		return true
	}
	due := p.wallStart.Add(time.Duration(float64(p.sim.Now().Sub(p.first)) / p.speed))
	if wait := due.Sub(p.now()); wait > 0 {
		if p.sleep(p.ctx, wait) != nil {
			return false
		}
	}
	return true
}

// NewReplaySim builds the replaying market of cfg's users over ticks: seed
// cfg.Seed (random when 0), users, tick interval and trade schema from cfg.
func NewReplaySim(cfg config.Gen, ticks []market.Tick, sectors map[string]string) (*market.Sim, uint64, error) {
	seed := cfg.Seed
	if seed == 0 {
		seed = RandomSeed()
	}
	sim, err := market.NewReplay(market.Config{
		Seed: seed, Users: cfg.Users, Universe: ReplayUniverse(ticks, sectors), Start: ticks[0].Time,
		TickInterval: cfg.TickInterval, TradeSchema: cfg.TradeSchema,
	}, NewTickFeed(ticks))
	return sim, seed, err
}
