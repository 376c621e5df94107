package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/status"
)

// LagSource gives the latest pipeline snapshot; *status.Sampler is one,
// sampled in the background by its owner.
type LagSource interface {
	Latest() (status.Snapshot, bool)
}

// LagCollector exports the consumer lag of the latest snapshot of a
// LagSource: it never queries Kafka itself, so a scrape costs nothing and
// every scraper sees the same figures.
//
//	tradestream_kafka_consumer_lag{group,topic,partition}           records (log end minus committed)
//	tradestream_kafka_consumer_lag_seconds{group,topic,partition}   age of the oldest unconsumed record
//	tradestream_kafka_consumer_committed_offset{group,topic,partition}
//	tradestream_kafka_log_end_offset{topic,partition}
//	tradestream_kafka_consumer_group_lag{group}                     records, summed over partitions
//	tradestream_kafka_consumer_group_members{group}
//	tradestream_kafka_consumer_group_verdict{group,verdict}         1 for the current Burrow verdict, 0 for the others
//	tradestream_kafka_consumer_group_status{group}                  the verdict as Burrow's number: OK 1, WARN 2, STOP 4, STALL 5, REWIND 6
//	tradestream_kafka_consumer_group_lag_trend{group}               over the window: -1 shrinking, 0 flat, 1 growing (absent until two samples)
//	tradestream_kafka_consumer_group_consume_records_per_second{group}
//	tradestream_kafka_consumer_group_catch_up_seconds{group}        lag / its shrink rate: 0 caught up or keeping up, -1 not shrinking
//	tradestream_kafka_consumer_retention_left_seconds{group,topic,partition}  until the oldest unconsumed record reaches retention.ms
//	tradestream_kafka_consumer_retention_risk{group,topic,partition}          0 fine, 1 at risk (past 80% of retention), 2 lost (below the log start)
//	tradestream_kafka_topic_under_replicated_partitions{topic}
//	tradestream_kafka_topic_offline_partitions{topic}              partitions without a leader
//	tradestream_kafka_brokers{state}                               brokers up (in the metadata) and down (holding replicas, not answering)
//	tradestream_kafka_broker_up{broker}                            1 up, 0 down, per broker id
//	tradestream_kafka_sample_error                                 1 when topics and groups could not be read (they are unknown, not empty)
//	tradestream_kafka_lag_sample_age_seconds                        how old the snapshot is
type LagCollector struct {
	src LagSource

	lag, lagSeconds, committed, end, groupLag, members, verdict, verdictRank, underReplicated, age *prometheus.Desc
	trend, consumeRate, catchUp, retentionLeft, retentionRisk                                      *prometheus.Desc
	offline, brokers, brokerUp, sampleError                                                        *prometheus.Desc
}

// NewLagCollector returns a collector of src's latest snapshot.
func NewLagCollector(src LagSource) *LagCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tradestream_kafka_"+name, help, labels, nil)
	}
	part := []string{"group", "topic", "partition"}
	return &LagCollector{
		src:             src,
		lag:             d("consumer_lag", "Log end offset minus the group's committed offset, per partition.", part...),
		lagSeconds:      d("consumer_lag_seconds", "Age of the record at the group's committed offset (the oldest it has not consumed).", part...),
		committed:       d("consumer_committed_offset", "The group's committed offset.", part...),
		end:             d("log_end_offset", "The partition's log end offset (high watermark).", "topic", "partition"),
		groupLag:        d("consumer_group_lag", "The group's lag summed over its partitions.", "group"),
		members:         d("consumer_group_members", "Members of the group.", "group"),
		verdict:         d("consumer_group_verdict", "1 for the group's current Burrow verdict over the sampling window, 0 for the others.", "group", "verdict"),
		verdictRank:     d("consumer_group_status", "The group's current Burrow verdict as a number: OK 1, WARN 2, STOP 4, STALL 5, REWIND 6.", "group"),
		underReplicated: d("topic_under_replicated_partitions", "Partitions of the topic with fewer in-sync replicas than replicas.", "topic"),
		age:             d("lag_sample_age_seconds", "Age of the snapshot these lag figures come from."),
		trend:           d("consumer_group_lag_trend", "Where the group's lag went over the sampling window: -1 shrinking, 0 flat, 1 growing.", "group"),
		consumeRate:     d("consumer_group_consume_records_per_second", "Growth of the group's committed offsets over the sampling window.", "group"),
		catchUp:         d("consumer_group_catch_up_seconds", "Estimated time until the group's lag is zero at the lag's current shrink rate; 0 caught up or keeping up (consuming, a lag of at most "+strconv.Itoa(status.KeepUpSeconds)+"s of its consumption and no older record), -1 not shrinking.", "group"),
		retentionLeft:   d("consumer_retention_left_seconds", "Time until the oldest record the group has not consumed reaches the topic's retention.ms.", part...),
		retentionRisk:   d("consumer_retention_risk", "0: fine; 1: the oldest unconsumed record is past 80% of the topic's retention; 2: the committed offset is below the log start (records lost).", part...),
		offline:         d("topic_offline_partitions", "Partitions of the topic without a leader.", "topic"),
		brokers:         d("brokers", "Brokers up (listed in the cluster's metadata) and down (holding replicas of the topics shown but not listed: dead, fenced or not answering).", "state"),
		brokerUp:        d("broker_up", "1 when the broker is listed in the cluster's metadata, 0 when it holds replicas but is not.", "broker"),
		sampleError:     d("sample_error", "1 when the last sample could not read topics and groups (they are then unknown, not empty)."),
	}
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lag, c.lagSeconds, c.committed, c.end, c.groupLag, c.members, c.verdict, c.verdictRank, c.underReplicated, c.age,
		c.trend, c.consumeRate, c.catchUp, c.retentionLeft, c.retentionRisk, c.offline, c.brokers, c.brokerUp, c.sampleError} {
		ch <- d
	}
}

var (
	trendValue    = map[status.Trend]float64{status.Shrinking: -1, status.Flat: 0, status.Growing: 1}
	retentionRisk = map[string]float64{"": 0, status.RetentionAtRisk: 1, status.RetentionLost: 2}
)

var verdicts = []status.Verdict{status.OK, status.Warn, status.Stop, status.Stall, status.Rewind}

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	snap, ok := c.src.Latest()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ends := map[string]bool{}
	for _, g := range snap.Groups {
		gauge(c.groupLag, float64(g.Lag), g.Name)
		gauge(c.members, float64(g.Members), g.Name)
		gauge(c.verdictRank, float64(g.Verdict.Rank()), g.Name)
		if t, ok := trendValue[g.Trend]; ok {
			gauge(c.trend, t, g.Name)
			gauge(c.consumeRate, g.ConsumeRate, g.Name)
		}
		gauge(c.catchUp, g.CatchUpSeconds, g.Name)
		for _, v := range verdicts {
			val := 0.0
			if g.Verdict == v {
				val = 1
			}
			gauge(c.verdict, val, g.Name, string(v))
		}
		for _, p := range g.Partitions {
			num := strconv.Itoa(int(p.Partition))
			if p.End >= 0 && !ends[p.Topic+"/"+num] {
				ends[p.Topic+"/"+num] = true
				gauge(c.end, float64(p.End), p.Topic, num)
			}
			if p.Committed < 0 {
				continue
			}
			gauge(c.committed, float64(p.Committed), g.Name, p.Topic, num)
			gauge(c.lag, float64(max(p.Lag, 0)), g.Name, p.Topic, num)
			gauge(c.lagSeconds, p.LagSeconds, g.Name, p.Topic, num)
			gauge(c.retentionRisk, retentionRisk[p.Retention], g.Name, p.Topic, num)
			if p.RetentionLeftSeconds >= 0 {
				gauge(c.retentionLeft, p.RetentionLeftSeconds, g.Name, p.Topic, num)
			}
		}
	}
	for _, t := range snap.Topics {
		gauge(c.underReplicated, float64(t.UnderReplicated), t.Name)
		gauge(c.offline, float64(t.Offline), t.Name)
	}
	c.collectBrokers(snap, gauge)
	gauge(c.age, max(time.Since(snap.At).Seconds(), 0))
}

// collectBrokers exports the brokers up and down and whether the sample
// could read Kafka.
func (c *LagCollector) collectBrokers(snap status.Snapshot, gauge func(*prometheus.Desc, float64, ...string)) {
	up, down := 0, 0
	for _, b := range snap.Brokers {
		v := 1.0
		if b.Down {
			v, down = 0, down+1
		} else {
			up++
		}
		gauge(c.brokerUp, v, strconv.Itoa(int(b.ID)))
	}
	gauge(c.brokers, float64(up), "up")
	gauge(c.brokers, float64(down), "down")
	failed := 0.0
	if snap.KafkaError != "" {
		failed = 1
	}
	gauge(c.sampleError, failed)
}
