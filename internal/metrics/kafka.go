package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// KafkaHooks returns the franz-go option that exports one client's own
// metrics through the kprom plugin on reg, under tradestream_kafka_*, with
// the constant label client=name. Name each client of a process
// differently ("gen", "sink", "alerts-consumer", ...): the label is what
// keeps several clients' series apart on one registry. The metrics are
// registered when the client is created and unregistered when it closes.
//
// Exported, per client (broker series carry node_id, produce and fetch
// series carry topic):
//
//	tradestream_kafka_connects_total, _connect_errors_total, _disconnects_total
//	tradestream_kafka_write_bytes_total, _write_errors_total, _read_bytes_total, _read_errors_total
//	tradestream_kafka_request_duration_e2e_seconds (histogram, write to response read)
//	tradestream_kafka_request_throttled_seconds (histogram)
//	tradestream_kafka_produce_records_total, _produce_batches_total
//	tradestream_kafka_produce_compressed_bytes_total, _produce_uncompressed_bytes_total
//	tradestream_kafka_fetch_records_total, _fetch_batches_total
//	tradestream_kafka_fetch_compressed_bytes_total, _fetch_uncompressed_bytes_total
//	tradestream_kafka_buffered_produce_records_total, _buffered_produce_bytes
//	tradestream_kafka_buffered_fetch_records_total, _buffered_fetch_bytes
//
// A nil reg gives an option that does nothing.
func KafkaHooks(reg prometheus.Registerer, name string) kgo.Opt {
	if reg == nil {
		return kgo.WithHooks()
	}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"client": name}, reg)
	m := kprom.NewMetrics("tradestream",
		kprom.Subsystem("kafka"),
		kprom.Registerer(tolerant{wrapped}),
		kprom.Gatherer(prometheus.NewRegistry()), // unused: reg's owner serves /metrics
		kprom.FetchAndProduceDetail(kprom.ByTopic, kprom.Records, kprom.Batches,
			kprom.CompressedBytes, kprom.UncompressedBytes, kprom.ConsistentNaming),
		kprom.BrokerLabels(kprom.BrokerNodeID),
		kprom.Histograms(kprom.RequestDurationE2E, kprom.RequestThrottled),
		kprom.NativeBucketFactor(1), // classic buckets only, for every Prometheus and Grafana
	)
	return kgo.WithHooks(m)
}

// tolerant is a Registerer that ignores a collector already registered
// under the same name and labels. kprom registers through promauto, which
// panics on any registration error; two live clients given the same name
// would otherwise crash the process. The second client's series are then
// simply not exported.
type tolerant struct{ prometheus.Registerer }

func (t tolerant) Register(c prometheus.Collector) error {
	err := t.Registerer.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return nil
	}
	return err
}

func (t tolerant) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}
