// Package bench holds the harnesses behind `tradestream bench` and
// BENCHMARKS.md: each measures tradestream against a yardstick in the same
// run, on the same services, and reports both rates and their ratio.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ApacheProducerResult is the summary line of Apache Kafka's
// ProducerPerformance tool.
type ApacheProducerResult struct {
	Records       int64   `json:"records"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	AvgLatencyMs  float64 `json:"avg_latency_ms"`
	MaxLatencyMs  float64 `json:"max_latency_ms"`
	// PeakRSSMiB is the tool's JVM's peak resident memory (VmHWM).
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// ApacheProducer runs org.apache.kafka.tools.ProducerPerformance.
type ApacheProducer struct {
	// Jars is the directory of Kafka's jars (TRADESTREAM_KAFKA_JARS).
	Jars string
	// Java is the java binary; empty means "java" from PATH.
	Java string
	// Log4jConfig is an optional log4j2 configuration file.
	Log4jConfig string
	// RecordSize, for a run without a payload file, is the size of the
	// tool's own (random) record values.
	RecordSize int
}

var summaryLine = regexp.MustCompile(`^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency`)

// Run produces records to topic: payloads are taken from payloadFile (one
// per line, as the tool picks them at random) so both sides send the same
// bytes; props are producer properties (acks, compression.type, ...).
func (a ApacheProducer) Run(ctx context.Context, brokers string, topic string, records int64, payloadFile string, props map[string]string, log io.Writer) (ApacheProducerResult, error) {
	java := a.Java
	if java == "" {
		java = "java"
	}
	if _, err := os.Stat(filepath.Join(a.Jars)); err != nil {
		return ApacheProducerResult{}, fmt.Errorf("kafka jars: %w (run scripts/stack up, which fetches them, and source .stack/env)", err)
	}
	args := []string{"-Xmx1g", "-cp", filepath.Join(a.Jars, "*")}
	if a.Log4jConfig != "" {
		args = append(args, "-Dlog4j2.configurationFile="+a.Log4jConfig)
	}
	args = append(args, "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.FormatInt(records, 10),
		"--throughput", "-1")
	if payloadFile != "" {
		args = append(args, "--payload-file", payloadFile)
	} else {
		args = append(args, "--record-size", strconv.Itoa(a.RecordSize))
	}
	args = append(args, "--producer-props", "bootstrap.servers="+brokers)
	for k, v := range props {
		args = append(args, k+"="+v)
	}
	cmd := exec.CommandContext(ctx, java, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return ApacheProducerResult{}, err
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return ApacheProducerResult{}, fmt.Errorf("start ProducerPerformance: %w", err)
	}
	var res ApacheProducerResult
	rss := samplePeakRSS(cmd.Process.Pid)
	found := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if log != nil {
			fmt.Fprintln(log, line)
		}
		m := summaryLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		res.Records, _ = strconv.ParseInt(m[1], 10, 64)
		res.RecordsPerSec, _ = strconv.ParseFloat(m[2], 64)
		res.MBPerSec, _ = strconv.ParseFloat(m[3], 64)
		res.AvgLatencyMs, _ = strconv.ParseFloat(m[4], 64)
		res.MaxLatencyMs, _ = strconv.ParseFloat(m[5], 64)
		found = true
	}
	res.PeakRSSMiB = rss() // before Wait reaps the process and its /proc entry
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("ProducerPerformance: %w", err)
	}
	if !found {
		return res, fmt.Errorf("ProducerPerformance printed no summary line")
	}
	return res, nil
}
