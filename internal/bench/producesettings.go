package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/format"
)

// maxInFlight is how many produce requests franz-go keeps in flight per
// broker when idempotent (against Kafka 1.0 and later); the Java tool is
// given the same.
const maxInFlight = 5

// zstdLevel is the zstd level both sides compress at: franz-go's default
// (klauspost/compress SpeedDefault, "roughly level 3") and the Java
// client's compression.zstd.level default.
const zstdLevel = 3

// apacheProps are the producer properties ProducerPerformance is given:
// each setting the generator's producer has (kafka.ProducerOptions) set
// explicitly, so neither side runs on a default the other lacks.
func apacheProps(k config.Kafka) map[string]string {
	p := map[string]string{
		"acks":                                  "all",
		"enable.idempotence":                    "true",
		"compression.type":                      k.Compression,
		"linger.ms":                             strconv.FormatInt(k.Linger.Milliseconds(), 10),
		"batch.size":                            strconv.Itoa(k.BatchBytes),
		"max.in.flight.requests.per.connection": strconv.Itoa(maxInFlight),
		"client.id":                             "bench-apache",
	}
	if k.Compression == "zstd" {
		p["compression.zstd.level"] = strconv.Itoa(zstdLevel)
	}
	return p
}

// produceSettings are the settings both sides of a run share, as the
// result records them.
func produceSettings(o ProduceOptions, topic string) map[string]string {
	s := map[string]string{
		"records": strconv.FormatInt(o.Record, 10), "topic": topic, "partitions": strconv.Itoa(o.Partitions),
		"acks": "all", "idempotent": "true", "compression": o.Kafka.Compression,
		"linger": o.Kafka.Linger.String(), "batch_bytes": strconv.Itoa(o.Kafka.BatchBytes),
		"max_in_flight": strconv.Itoa(maxInFlight), "max_buffered_records": strconv.Itoa(o.Kafka.MaxBufferedRecords),
		"brokers": strings.Join(o.Kafka.Brokers, ","), "users": strconv.Itoa(o.Gen.Users),
		"format": strings.ToLower(formatName(o)),
	}
	if o.Kafka.Compression == "zstd" {
		s["compression_level"] = strconv.Itoa(zstdLevel)
	}
	return s
}

// headerText names the generator records' headers: a registry format's
// records carry no schema header (their schema id says it).
func headerText(o ProduceOptions) string {
	if f, _ := format.Parse(o.Gen.Format); f.Registered() {
		return "two headers (produced_at, run_id)"
	}
	return "three headers (schema, produced_at, run_id)"
}

// formatName names the generator's value format for the differences.
func formatName(o ProduceOptions) string {
	f, err := format.Parse(o.Gen.Format)
	if err != nil {
		return "JSON"
	}
	if f == format.JSON {
		return "JSON"
	}
	return f.String()
}

// produceDifferences lists what still differs between the two sides of a
// run, once topic, partitions, value sizes and producer settings are the
// same: what the Java tool cannot be told to do like the generator.
func produceDifferences(o ProduceOptions, res ProduceResult) []string {
	var genParts, apacheParts []int
	for _, r := range res.Tradestream {
		genParts = append(genParts, r.Written.PartitionsWritten)
	}
	for _, r := range res.Apache {
		apacheParts = append(apacheParts, r.Written.PartitionsWritten)
	}
	d := []string{
		"keys and headers: every generator record has a key (the user id, or the symbol of a price) " +
			"and " + headerText(o) + "; the Java tool's records have neither. " +
			"Neither side counts them in MiB/s",
		"partitioning: the generator's keyed records are hashed over the partitions (sticky-key partitioner); " +
			"the Java tool's unkeyed records fill one partition at a time, switching after batch.size bytes " +
			"(Kafka's built-in partitioner). Partitions written per run: generator " +
			spread(genParts) + " of " + strconv.Itoa(o.Partitions) +
			", Java tool " + spread(apacheParts) + " of " + strconv.Itoa(o.Partitions),
		"record order: the Java tool sends payloads drawn at random (with replacement) from the file of the run's " +
			"own records; the generator sends its stream in order. Mean value sizes: generator " +
			meanSizes(res) + ", payload file " + strconv.FormatFloat(res.AvgRecordBytes, 'f', 1, 64) + " bytes",
		"work: the generator's time includes the market simulation and " + formatName(o) + " encoding of every record; " +
			"the Java tool reads its payloads into memory before its time starts",
		"buffering: the generator's producer holds at most " + strconv.Itoa(o.Kafka.MaxBufferedRecords) +
			" records (max_buffered_records); the Java producer at most buffer.memory bytes (32 MiB, its default)",
		"requests: a Java produce request carries at most max.request.size (1 MiB, its default) of batches; " +
			"franz-go puts a batch of every ready partition in one request, up to 100 MiB",
		"process: the Java tool runs in its own JVM (-Xmx1g), its JIT warming up within its time; " +
			"the generator runs in the benchmark's process with a new client each run",
	}
	if f, _ := format.Parse(o.Gen.Format); f.Registered() {
		d[2] = "record values: ProducerPerformance reads its payload file as UTF-8 text, which binary " + f.String() +
			" records are not, so it sends its own random values of --record-size " + strconv.Itoa(int(res.AvgRecordBytes+0.5)) +
			" bytes, the mean size of the generator's " + f.String() + " records (generator " + meanSizes(res) +
			"); random letters compress differently from the generator's records. The generator registers its schemas " +
			"(one subject per event) before its time starts"
	}
	if impl := codecImpls(o.Kafka.Compression); impl != "" {
		d = append(d, "compression: the same codec, different implementations ("+impl+"); franz-go bounds a batch's uncompressed bytes "+
			"by batch_bytes, the Java producer its estimated compressed bytes by batch.size, so the Java "+
			"tool's batches hold more records")
	}
	if o.Kafka.Linger%time.Millisecond != 0 {
		d = append(d, fmt.Sprintf("linger: the generator lingers %v, the Java tool %d ms (linger.ms is whole milliseconds)",
			o.Kafka.Linger, o.Kafka.Linger.Milliseconds()))
	}
	if o.Record > maxPayloads {
		d = append(d, fmt.Sprintf("payloads: the file holds the run's first %d records, the generator sends %d",
			int64(maxPayloads), o.Record))
	}
	return d
}

// codecImpls names the two sides' implementations of codec ("" for
// none).
func codecImpls(codec string) string {
	switch codec {
	case "zstd":
		return "klauspost/compress at its default level, roughly 3, with a 64 KiB window, against zstd-jni at compression.zstd.level=3"
	case "lz4":
		return "pierrec/lz4 against lz4-java"
	case "snappy":
		return "klauspost/compress/s2 in snappy mode against snappy-java"
	case "gzip":
		return "klauspost/compress/gzip against java.util.zip, each at its default level"
	}
	return ""
}

// spread is how many partitions the runs wrote to: "6", or "2-4" when
// runs differ.
func spread(counts []int) string {
	if len(counts) == 0 {
		return "none"
	}
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// meanSizes is the generator runs' mean value sizes.
func meanSizes(res ProduceResult) string {
	var parts []string
	for _, r := range res.Tradestream {
		parts = append(parts, strconv.FormatFloat(r.AvgRecordBytes, 'f', 1, 64))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " / ") + " bytes"
}
