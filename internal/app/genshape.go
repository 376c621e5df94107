package app

import (
	"fmt"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/gen"
	"github.com/tradestream/tradestream/internal/rate"
)

// RateText writes a generator rate for people: "full speed", "200
// events/s", "5MB/s" or a shape with its unit ("ramp:1000..20000/5m
// events/s").
func RateText(s rate.Shape) string {
	switch {
	case !s.Paced():
		return "full speed"
	case s.Bytes():
		return s.String() + " bytes/s"
	}
	return s.String() + " events/s"
}

// GrowUsers makes `gen users --count N` with N above --users write N
// users rather than stop at the population: it raises g.Users to the
// count and returns the line that says so ("" when nothing changed).
// Other targets count prices and trades too, so their count says nothing
// about the population.
func GrowUsers(g *config.Gen, target string) string {
	if target != "users" || g.Count <= int64(g.Users) {
		return ""
	}
	msg := fmt.Sprintf("gen users: --count %d is more than --users %d; generating %d users", g.Count, g.Users, g.Count)
	g.Users = int(g.Count)
	return msg
}

// injection returns the generator's faults for g, chosen by seed, or nil
// without --inject.
func injection(g config.Gen, seed uint64) *gen.Injection {
	if !g.Inject.Any() {
		return nil
	}
	return &gen.Injection{Rates: g.Inject, Seed: seed, ManifestPath: g.InjectManifest}
}
