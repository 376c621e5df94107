package gen

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/kafka"
	"github.com/tradestream/tradestream/internal/market"
)

// BenchmarkRunDryRun measures the generator's per-event path (draw, encode,
// schema and run_id headers, pool) with the output writing to io.Discard.
func BenchmarkRunDryRun(b *testing.B) {
	cfg := config.Default().Gen
	cfg.Seed, cfg.Users = 1, 1000
	sim, _, err := NewSim(cfg, time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	src := NewMarketSource(sim, market.KindAll, kafka.TopicNames("x."))
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := Run(context.Background(), Options{DryRun: io.Discard, Count: int64(b.N), RunID: "bench"}, src); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStampProducedAt measures the produced_at header the Kafka output
// adds to every record.
func BenchmarkStampProducedAt(b *testing.B) {
	p := &pool{}
	now := time.Date(2025, 3, 3, 14, 30, 0, 123456789, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		r := p.get()
		stampProducedAt(r, now)
		p.put(r)
	}
}
