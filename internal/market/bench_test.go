package market

import (
	"testing"
	"time"
)

func benchSim(b *testing.B, users int) *Sim {
	b.Helper()
	s, err := New(Config{
		Seed: 1, Users: users, Universe: DefaultUniverse(),
		Start: time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC),
	})
	if err != nil {
		b.Fatal(err)
	}
	for range users { // skip the user phase
		s.Next()
	}
	return s
}

// BenchmarkSimNext measures the amortised cost of one event of the mixed
// stream (about 40 prices and the round's trades per round).
func BenchmarkSimNext(b *testing.B) {
	s := benchSim(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		s.Next()
	}
}

// BenchmarkSimNextPrices asks for prices only; trades are still simulated.
func BenchmarkSimNextPrices(b *testing.B) {
	s := benchSim(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		s.NextOf(KindPrice)
	}
}

// BenchmarkSimNextJSON is Next plus the wire encoding, what a generator
// does per record.
func BenchmarkSimNextJSON(b *testing.B) {
	s := benchSim(b, 10_000)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.Next().AppendJSON(buf[:0])
	}
}

// BenchmarkNewUsers measures drawing user profiles.
func BenchmarkNewUsers(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Config{Seed: 1, Users: 1000, Universe: DefaultUniverse(), Start: time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimPricesOnly is a Sim configured for prices alone: no trades
// are simulated.
func BenchmarkSimPricesOnly(b *testing.B) {
	s, err := New(Config{
		Seed: 1, Users: 10_000, Universe: DefaultUniverse(), Kinds: KindPrice,
		Start: time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Next()
	}
}
