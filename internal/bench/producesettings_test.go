package bench

import (
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
)

// TestApachePropsMatchTheGeneratorsProducer checks that every producer
// setting of the generator is passed to the Java tool explicitly, and
// that what cannot be matched is listed as a difference.
func TestApachePropsMatchTheGeneratorsProducer(t *testing.T) {
	tests := []struct {
		name        string
		compression string
		linger      time.Duration
		records     int64
		want        map[string]string
		differences []string // topics that must be listed
		absent      []string // topics that must not be
	}{
		{
			name: "zstd", compression: "zstd", linger: 5 * time.Millisecond, records: 1_000,
			want: map[string]string{
				"acks": "all", "enable.idempotence": "true", "compression.type": "zstd", "compression.zstd.level": "3",
				"linger.ms": "5", "batch.size": "1048576", "max.in.flight.requests.per.connection": "5",
			},
			differences: []string{"keys and headers", "partitioning", "record order", "compression"},
			absent:      []string{"linger", "payloads"},
		},
		{
			name: "no compression, sub-millisecond linger, more records than payloads", compression: "none",
			linger: 1500 * time.Microsecond, records: maxPayloads + 1,
			want: map[string]string{
				"acks": "all", "enable.idempotence": "true", "compression.type": "none", "compression.zstd.level": "",
				"linger.ms": "1", "batch.size": "1048576", "max.in.flight.requests.per.connection": "5",
			},
			differences: []string{"keys and headers", "linger", "payloads"},
			absent:      []string{"compression"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := config.Default().Kafka
			k.Compression, k.Linger, k.BatchBytes = tt.compression, tt.linger, 1<<20
			props := apacheProps(k)
			for key, want := range tt.want {
				if got := props[key]; got != want {
					t.Errorf("%s: got %q, want %q", key, got, want)
				}
			}
			o := ProduceOptions{Kafka: k, Record: tt.records, Partitions: 6}
			ds := produceDifferences(o, ProduceResult{})
			for _, topic := range tt.differences {
				if !hasDifference(ds, topic) {
					t.Errorf("got differences %q, want one on %s", ds, topic)
				}
			}
			for _, topic := range tt.absent {
				if hasDifference(ds, topic) {
					t.Errorf("got differences %q, want none on %s", ds, topic)
				}
			}
		})
	}
}
