package market

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tradestream/tradestream/internal/event"
)

// Instrument is one tradable symbol of the simulated universe.
type Instrument struct {
	// Symbol is the ticker, matching ^[A-Z][A-Z0-9.]{0,9}$.
	Symbol string
	// Sector groups instruments that share a sector factor.
	Sector string
	// StartPrice is the price at the start of the simulation.
	StartPrice event.Decimal
	// Volatility is the annualised volatility of returns over regular
	// trading hours, e.g. 0.30 for 30%.
	Volatility float64
	// AvgVolume is the average daily volume in shares; zero derives it from
	// the price (about $2bn traded a day).
	AvgVolume int64
}

// Bounds for instrument parameters.
const (
	maxStartPrice = 1_000_000
	maxVolatility = 5.0
)

// validate reports the problems of one instrument, prefixed with its
// position and symbol.
func (in Instrument) validate(i int) []error {
	var errs []error
	where := fmt.Sprintf("universe[%d] %q", i, in.Symbol)
	if !event.ValidSymbol(in.Symbol) {
		errs = append(errs, fmt.Errorf("%s: symbol must match ^[A-Z][A-Z0-9.]{0,9}$", where))
	}
	if strings.TrimSpace(in.Sector) == "" {
		errs = append(errs, fmt.Errorf("%s: sector is empty", where))
	}
	if in.StartPrice <= 0 || in.StartPrice > maxStartPrice*event.Unit {
		errs = append(errs, fmt.Errorf("%s: start price %s must be in (0, %d]", where, in.StartPrice, maxStartPrice))
	}
	if !(in.Volatility > 0 && in.Volatility <= maxVolatility) {
		errs = append(errs, fmt.Errorf("%s: volatility %v must be in (0, %v]", where, in.Volatility, maxVolatility))
	}
	if in.AvgVolume < 0 {
		errs = append(errs, fmt.Errorf("%s: average volume %d is negative", where, in.AvgVolume))
	}
	return errs
}

// avgVolume returns AvgVolume or, if zero, a volume worth about $2bn.
func (in Instrument) avgVolume() float64 {
	if in.AvgVolume > 0 {
		return float64(in.AvgVolume)
	}
	return max(10_000, 2e9/in.StartPrice.Float64())
}

// DefaultUniverse returns 40 large US equities in 8 sectors with start
// prices, volatilities and daily volumes of a plausible recent order of
// magnitude. The slice is new on every call.
func DefaultUniverse() []Instrument {
	d := event.MustParseDecimal
	return []Instrument{
		{"AAPL", "Technology", d("187.25"), 0.25, 55_000_000},
		{"MSFT", "Technology", d("415.50"), 0.24, 22_000_000},
		{"NVDA", "Technology", d("121.40"), 0.50, 300_000_000},
		{"AVGO", "Technology", d("165.30"), 0.42, 25_000_000},
		{"ORCL", "Technology", d("142.80"), 0.32, 8_000_000},

		{"GOOGL", "Communication Services", d("168.20"), 0.30, 25_000_000},
		{"META", "Communication Services", d("505.10"), 0.38, 14_000_000},
		{"NFLX", "Communication Services", d("680.40"), 0.38, 4_000_000},
		{"DIS", "Communication Services", d("98.60"), 0.28, 9_000_000},
		{"VZ", "Communication Services", d("40.10"), 0.20, 18_000_000},

		{"JPM", "Financials", d("198.40"), 0.22, 9_000_000},
		{"BAC", "Financials", d("39.20"), 0.26, 38_000_000},
		{"GS", "Financials", d("465.70"), 0.26, 2_200_000},
		{"V", "Financials", d("276.30"), 0.20, 6_000_000},
		{"BRK.B", "Financials", d("412.10"), 0.16, 3_500_000},

		{"UNH", "Health Care", d("512.30"), 0.24, 3_500_000},
		{"JNJ", "Health Care", d("152.60"), 0.16, 7_000_000},
		{"LLY", "Health Care", d("780.90"), 0.32, 3_000_000},
		{"PFE", "Health Care", d("28.40"), 0.24, 40_000_000},
		{"MRK", "Health Care", d("126.80"), 0.20, 8_000_000},

		{"XOM", "Energy", d("113.50"), 0.24, 16_000_000},
		{"CVX", "Energy", d("155.20"), 0.24, 8_000_000},
		{"COP", "Energy", d("112.40"), 0.30, 7_000_000},
		{"SLB", "Energy", d("47.80"), 0.32, 11_000_000},
		{"EOG", "Energy", d("124.60"), 0.30, 3_000_000},

		{"AMZN", "Consumer Discretionary", d("182.70"), 0.32, 45_000_000},
		{"TSLA", "Consumer Discretionary", d("248.50"), 0.60, 95_000_000},
		{"HD", "Consumer Discretionary", d("345.20"), 0.22, 3_500_000},
		{"MCD", "Consumer Discretionary", d("268.40"), 0.18, 3_000_000},
		{"NKE", "Consumer Discretionary", d("93.20"), 0.30, 10_000_000},

		{"PG", "Consumer Staples", d("165.30"), 0.15, 7_000_000},
		{"KO", "Consumer Staples", d("62.40"), 0.14, 14_000_000},
		{"PEP", "Consumer Staples", d("168.90"), 0.16, 5_500_000},
		{"WMT", "Consumer Staples", d("68.20"), 0.18, 16_000_000},
		{"COST", "Consumer Staples", d("845.10"), 0.20, 2_000_000},

		{"CAT", "Industrials", d("335.60"), 0.28, 3_000_000},
		{"BA", "Industrials", d("178.30"), 0.35, 8_000_000},
		{"HON", "Industrials", d("205.40"), 0.20, 3_500_000},
		{"UPS", "Industrials", d("138.70"), 0.25, 4_000_000},
		{"GE", "Industrials", d("168.90"), 0.30, 5_000_000},
	}
}

// ParseUniverse reads a symbol list in CSV or YAML.
//
// CSV: one instrument per line as symbol,sector,price,volatility with an
// optional fifth column avg_volume; blank lines and lines starting with '#'
// are skipped, as is a header line starting with "symbol".
//
//	symbol,sector,price,volatility,avg_volume
//	AAPL,Technology,187.25,0.25,55000000
//
// YAML: a list of mappings with the same keys (or that list under an
// "instruments" key); the document is taken as YAML when its first
// significant line starts with "-" or "instruments:".
//
//   - {symbol: AAPL, sector: Technology, price: "187.25", volatility: 0.25}
//
// Symbols are normalised (trimmed, upper-cased). Every problem found is
// reported, with its line, in one joined error; the result is also
// checked for duplicates.
func ParseUniverse(r io.Reader) ([]Instrument, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read universe: %w", err)
	}
	var out []Instrument
	if looksLikeYAML(data) {
		out, err = parseUniverseYAML(data)
	} else {
		out, err = parseUniverseCSV(data)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("parse universe: no instruments")
	}
	var errs []error
	seen := make(map[string]bool, len(out))
	for i, in := range out {
		errs = append(errs, in.validate(i)...)
		if seen[in.Symbol] {
			errs = append(errs, fmt.Errorf("universe[%d] %q: duplicate symbol", i, in.Symbol))
		}
		seen[in.Symbol] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse universe: %w", err)
	}
	return out, nil
}

func looksLikeYAML(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		return strings.HasPrefix(line, "-") || strings.HasPrefix(line, "instruments:")
	}
	return false
}

func parseUniverseCSV(data []byte) ([]Instrument, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var (
		out  []Instrument
		errs []error
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse universe csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == 0 && len(errs) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "symbol") {
			continue // header
		}
		if len(rec) < 4 || len(rec) > 5 {
			errs = append(errs, fmt.Errorf("line %d: want 4 or 5 fields (symbol,sector,price,volatility[,avg_volume]), got %d", line, len(rec)))
			continue
		}
		avg := ""
		if len(rec) == 5 {
			avg = rec[4]
		}
		in, ferrs := parseFields(rec[0], rec[1], rec[2], rec[3], avg)
		for _, e := range ferrs {
			errs = append(errs, fmt.Errorf("line %d: %w", line, e))
		}
		if len(ferrs) == 0 {
			out = append(out, in)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse universe csv: %w", err)
	}
	return out, nil
}

// yamlInstrument is the YAML shape of an instrument; numbers are read as
// strings so that prices never pass through a float.
type yamlInstrument struct {
	Symbol     string `yaml:"symbol"`
	Sector     string `yaml:"sector"`
	Price      string `yaml:"price"`
	Volatility string `yaml:"volatility"`
	AvgVolume  string `yaml:"avg_volume"`
}

func parseUniverseYAML(data []byte) ([]Instrument, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse universe yaml: %w", err)
	}
	list := &doc
	if list.Kind == yaml.DocumentNode && len(list.Content) == 1 {
		list = list.Content[0]
	}
	if list.Kind == yaml.MappingNode {
		var found *yaml.Node
		for i := 0; i+1 < len(list.Content); i += 2 {
			if list.Content[i].Value == "instruments" {
				found = list.Content[i+1]
			}
		}
		if found == nil {
			return nil, errors.New("parse universe yaml: want a list or an \"instruments\" key")
		}
		list = found
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("parse universe yaml: line %d: want a list of instruments", list.Line)
	}
	var (
		out  []Instrument
		errs []error
	)
	for _, item := range list.Content {
		var yi yamlInstrument
		if err := item.Decode(&yi); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", item.Line, err))
			continue
		}
		in, ferrs := parseFields(yi.Symbol, yi.Sector, yi.Price, yi.Volatility, yi.AvgVolume)
		for _, e := range ferrs {
			errs = append(errs, fmt.Errorf("line %d: %w", item.Line, e))
		}
		if len(ferrs) == 0 {
			out = append(out, in)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse universe yaml: %w", err)
	}
	return out, nil
}

// parseFields turns the text fields of one instrument into an Instrument,
// returning every field problem.
func parseFields(symbol, sector, price, vol, avg string) (Instrument, []error) {
	var errs []error
	sym, ok := event.NormalizeSymbol(symbol)
	if !ok {
		errs = append(errs, fmt.Errorf("symbol %q must match ^[A-Z][A-Z0-9.]{0,9}$", symbol))
	}
	sector = strings.TrimSpace(sector)
	if sector == "" {
		errs = append(errs, fmt.Errorf("symbol %q: sector is empty", symbol))
	}
	p, err := event.ParseDecimal(strings.TrimSpace(price))
	if err != nil {
		errs = append(errs, fmt.Errorf("symbol %q: price: %w", symbol, err))
	} else if p <= 0 {
		errs = append(errs, fmt.Errorf("symbol %q: price %s must be positive", symbol, p))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(vol), 64)
	if err != nil {
		errs = append(errs, fmt.Errorf("symbol %q: volatility %q is not a number", symbol, vol))
	} else if !(v > 0 && v <= maxVolatility) {
		errs = append(errs, fmt.Errorf("symbol %q: volatility %v must be in (0, %v]", symbol, v, maxVolatility))
	}
	var a int64
	if s := strings.TrimSpace(avg); s != "" {
		a, err = strconv.ParseInt(s, 10, 64)
		if err != nil || a < 0 {
			errs = append(errs, fmt.Errorf("symbol %q: avg_volume %q must be a non-negative integer", symbol, avg))
		}
	}
	return Instrument{Symbol: sym, Sector: sector, StartPrice: p, Volatility: v, AvgVolume: a}, errs
}
