package gen

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/market"
)

// SeededStart is the simulated start of a run given a seed but no start
// time: a fixed Monday at the New York open, so that seeded runs are
// identical whenever they are made.
var SeededStart = time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)

// NewSim builds the simulated market cfg describes and returns it with the
// seed used (cfg.Seed, or a random one when that is 0). The start is
// cfg.Start (see StartTime), else SeededStart when a seed was given, else
// now.
func NewSim(cfg config.Gen, now time.Time) (*market.Sim, uint64, error) {
	return NewSimOf(cfg, now, market.KindAll)
}

// NewSimOf is NewSim for a market that only needs to produce the given
// kinds (prices alone are much cheaper without simulating trades); the
// events of those kinds are the same as NewSim's.
func NewSimOf(cfg config.Gen, now time.Time, kinds market.Kind) (*market.Sim, uint64, error) {
	seed := cfg.Seed
	start := now
	if seed != 0 {
		start = SeededStart
	} else {
		seed = RandomSeed()
	}
	if cfg.Start != "" {
		t, err := StartTime(cfg.Start, now)
		if err != nil {
			return nil, 0, err
		}
		start = t
	}
	universe := market.DefaultUniverse()
	if cfg.SymbolsFile != "" {
		f, err := os.Open(cfg.SymbolsFile)
		if err != nil {
			return nil, 0, fmt.Errorf("symbols: %w", err)
		}
		defer f.Close()
		if universe, err = market.ParseUniverse(f); err != nil {
			return nil, 0, fmt.Errorf("symbols file %s: %w", cfg.SymbolsFile, err)
		}
	}
	scenario, err := LoadScenario(cfg)
	if err != nil {
		return nil, 0, err
	}
	sim, err := market.New(market.Config{
		Seed:         seed,
		Users:        cfg.Users,
		Universe:     universe,
		Start:        start,
		TickInterval: cfg.TickInterval,
		TradeSchema:  cfg.TradeSchema,
		Kinds:        kinds,
		Scenario:     scenario,
	})
	if err != nil {
		return nil, 0, err
	}
	return sim, seed, nil
}

// StartOpen is the --start that begins the calendar in New York's trading
// hours: now when the exchange is open, else the latest open, so that a
// demo at night or at the weekend shows a busy market.
const StartOpen = "open"

// StartTime resolves a --start value: an RFC 3339 time, or StartOpen.
func StartTime(s string, now time.Time) (time.Time, error) {
	if strings.EqualFold(strings.TrimSpace(s), StartOpen) {
		if market.InSession(now) {
			return now, nil
		}
		return market.LatestOpen(now), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("start: %q is neither an RFC 3339 time nor %q", s, StartOpen)
	}
	return t, nil
}

// RandomSeed returns a random non-zero seed.
func RandomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}

// NewRunID returns a random run id for the run_id header.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
