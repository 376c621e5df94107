package market

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/event"
)

func TestConfigValidate(t *testing.T) {
	valid := smallConfig(1)
	tests := []struct {
		name string
		edit func(*Config)
		want []string // substrings of the joined error; none means valid
	}{
		{"valid", func(*Config) {}, nil},
		{"defaults left zero", func(c *Config) { c.TickInterval, c.TradeSchema, c.TradeActivity = 0, "", 0 }, nil},
		{"zero users", func(c *Config) { c.Users = 0 }, []string{"users is 0"}},
		{"too many users", func(c *Config) { c.Users = MaxUsers + 1 }, []string{"at most"}},
		{"empty universe", func(c *Config) { c.Universe = nil }, []string{"universe is empty"}},
		{"duplicate symbol", func(c *Config) { c.Universe = append(c.Universe, c.Universe[0]) }, []string{`"AAPL": duplicate symbol`}},
		{"bad instrument", func(c *Config) {
			c.Universe = []Instrument{{Symbol: "aapl", Sector: " ", StartPrice: 0, Volatility: -1, AvgVolume: -5}}
		}, []string{"symbol must match", "sector is empty", "start price 0.0000", "volatility -1", "average volume -5"}},
		{"no start", func(c *Config) { c.Start = time.Time{} }, []string{"start time is required"}},
		{"ancient start", func(c *Config) { c.Start = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC) }, []string{"outside 1990..2200"}},
		{"negative tick", func(c *Config) { c.TickInterval = -time.Second }, []string{"tick interval"}},
		{"tiny tick", func(c *Config) { c.TickInterval = time.Microsecond }, []string{"below 1ms"}},
		{"ragged tick", func(c *Config) { c.TickInterval = time.Millisecond + 1 }, []string{"whole number of microseconds"}},
		{"bad schema", func(c *Config) { c.TradeSchema = "trade/9" }, []string{`trade schema "trade/9"`}},
		{"bad session", func(c *Config) { c.Session = 7 }, []string{"session mode 7"}},
		{"negative activity", func(c *Config) { c.TradeActivity = -1 }, []string{"trade activity"}},
		{"bad fees", func(c *Config) { c.FeeRate, c.MinFee = event.Unit, -1 }, []string{"fee rate", "minimum fee"}},
		{"bad kinds", func(c *Config) { c.Kinds = 16 }, []string{"unknown event kinds"}},
		{"everything at once", func(c *Config) { c.Users, c.Universe, c.Start = 0, nil, time.Time{} },
			[]string{"users is 0", "universe is empty", "start time is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			cfg.Universe = append([]Instrument(nil), valid.Universe...)
			tc.edit(&cfg)
			err := cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := New(cfg); err != nil {
					t.Fatalf("New() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
			if _, err := New(cfg); err == nil {
				t.Errorf("New() accepted an invalid config")
			}
		})
	}
}

func TestDefaultUniverse(t *testing.T) {
	u := DefaultUniverse()
	sectors := map[string]int{}
	for _, in := range u {
		sectors[in.Sector]++
	}
	if len(u) < 35 || len(sectors) < 8 {
		t.Errorf("DefaultUniverse has %d symbols in %d sectors, want ~40 in ~8", len(u), len(sectors))
	}
	cfg := smallConfig(1)
	cfg.Universe = u
	if err := cfg.Validate(); err != nil {
		t.Errorf("DefaultUniverse invalid: %v", err)
	}
	u[0].Symbol = "CHANGED"
	if DefaultUniverse()[0].Symbol != "AAPL" {
		t.Errorf("DefaultUniverse shares its slice between calls")
	}
}

func TestParseUniverse(t *testing.T) {
	want := []Instrument{
		{"AAPL", "Technology", event.MustParseDecimal("187.25"), 0.25, 55_000_000},
		{"MSFT", "Technology", event.MustParseDecimal("415.5"), 0.24, 0},
		{"XOM", "Energy", event.MustParseDecimal("113.5"), 0.24, 16_000_000},
	}
	for _, file := range []string{"universe.csv", "universe.yaml"} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseUniverse(f)
			if err != nil {
				t.Fatalf("ParseUniverse: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseUniverse = %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseUniverseErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"empty", "", []string{"no instruments"}},
		{"only header", "symbol,sector,price,volatility\n", []string{"no instruments"}},
		{"field count", "AAPL,Technology,187.25\n", []string{"line 1: want 4 or 5 fields"}},
		{"bad values", "AAPL,Technology,abc,0.25\nMSFT,,-1,x\n1X,Energy,10,9\n",
			[]string{`line 1: symbol "AAPL": price: parse decimal "abc"`, "line 2: symbol \"MSFT\": sector is empty",
				"line 2: symbol \"MSFT\": price -1.0000 must be positive", `volatility "x" is not a number`,
				`line 3: symbol "1X" must match`, "volatility 9 must be in"}},
		{"too many decimals", "AAPL,Technology,187.25001,0.25\n", []string{"invalid decimal syntax"}},
		{"bad volume", "AAPL,Technology,187.25,0.25,lots\n", []string{`avg_volume "lots"`}},
		{"duplicate", "AAPL,Technology,187.25,0.25\naapl,Technology,187.25,0.25\n", []string{`universe[1] "AAPL": duplicate symbol`}},
		{"yaml not a list", "instruments: 5\n", []string{"want a list"}},
		{"yaml bad item", "- {symbol: AAPL, sector: Technology, price: abc, volatility: 0.25}\n- [1, 2]\n",
			[]string{`line 1: symbol "AAPL": price`, "line 2:"}},
		{"yaml syntax", "- {symbol: AAPL\n", []string{"parse universe yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseUniverse(strings.NewReader(tc.input))
			if err == nil {
				t.Fatalf("ParseUniverse(%q) = nil error, want %q", tc.input, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseUniverse error = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestParseUniverseReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := ParseUniverse(failingReader{boom}); !errors.Is(err, boom) {
		t.Errorf("ParseUniverse(failing reader) = %v, want it to wrap %v", err, boom)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestExchangeClock(t *testing.T) {
	var c exchangeClock
	tests := []struct {
		name string
		at   time.Time
		open bool
		tau  float64
		next time.Time // nextOpen(at)
	}{
		{"winter open", time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC), true, 0, time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC)},
		{"winter midday", time.Date(2025, 1, 6, 17, 45, 0, 0, time.UTC), true, 0.5, time.Date(2025, 1, 7, 14, 30, 0, 0, time.UTC)},
		{"winter close", time.Date(2025, 1, 6, 21, 0, 0, 0, time.UTC), false, 0, time.Date(2025, 1, 7, 14, 30, 0, 0, time.UTC)},
		{"winter early", time.Date(2025, 1, 6, 14, 29, 0, 0, time.UTC), false, 0, time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC)},
		{"summer open", time.Date(2025, 7, 7, 13, 30, 0, 0, time.UTC), true, 0, time.Date(2025, 7, 7, 13, 30, 0, 0, time.UTC)},
		{"summer 14:30 UTC", time.Date(2025, 7, 7, 20, 30, 0, 0, time.UTC), false, 0, time.Date(2025, 7, 8, 13, 30, 0, 0, time.UTC)},
		{"friday evening", time.Date(2025, 7, 11, 22, 0, 0, 0, time.UTC), false, 0, time.Date(2025, 7, 14, 13, 30, 0, 0, time.UTC)},
		{"saturday", time.Date(2025, 7, 12, 15, 0, 0, 0, time.UTC), false, 0, time.Date(2025, 7, 14, 13, 30, 0, 0, time.UTC)},
		{"spring forward week", time.Date(2025, 3, 8, 12, 0, 0, 0, time.UTC), false, 0, time.Date(2025, 3, 10, 13, 30, 0, 0, time.UTC)},
		{"fall back week", time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC), false, 0, time.Date(2025, 11, 3, 14, 30, 0, 0, time.UTC)},
		{"after midnight UTC", time.Date(2025, 7, 8, 2, 0, 0, 0, time.UTC), false, 0, time.Date(2025, 7, 8, 13, 30, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open, tau := c.session(tc.at)
			if open != tc.open || tau != tc.tau {
				t.Errorf("session(%s) = %v, %v, want %v, %v", tc.at, open, tau, tc.open, tc.tau)
			}
			if got := c.nextOpen(tc.at); !got.Equal(tc.next) {
				t.Errorf("nextOpen(%s) = %s, want %s", tc.at, got, tc.next)
			}
		})
	}
}

func TestLatestOpen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		at, want time.Time
	}{
		{"at the open", time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC), time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC)},
		{"midday", time.Date(2025, 1, 6, 17, 45, 0, 0, time.UTC), time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC)},
		{"before the open", time.Date(2025, 1, 7, 14, 29, 0, 0, time.UTC), time.Date(2025, 1, 6, 14, 30, 0, 0, time.UTC)},
		{"monday morning", time.Date(2025, 7, 14, 11, 0, 0, 0, time.UTC), time.Date(2025, 7, 11, 13, 30, 0, 0, time.UTC)},
		{"sunday", time.Date(2025, 7, 13, 15, 0, 0, 0, time.UTC), time.Date(2025, 7, 11, 13, 30, 0, 0, time.UTC)},
		{"across spring forward", time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC), time.Date(2025, 3, 7, 14, 30, 0, 0, time.UTC)},
	} {
		if got := LatestOpen(tc.at); !got.Equal(tc.want) {
			t.Errorf("%s: LatestOpen(%s) = %s, want %s", tc.name, tc.at, got, tc.want)
		}
		if InSession(tc.at) != (tc.at.Sub(tc.want) < 390*time.Minute) {
			t.Errorf("%s: InSession(%s) = %v", tc.name, tc.at, InSession(tc.at))
		}
	}
}
