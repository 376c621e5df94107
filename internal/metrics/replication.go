package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// ReplicationCollector exports PostgreSQL's streaming replication from the
// latest snapshot of a LagSource (the status sampler's), so these series
// agree with `tradestream status`:
//
//	tradestream_pg_replication_lag_bytes{standby}    primary's WAL position minus the standby's replay position
//	tradestream_pg_replication_lag_seconds{standby}  pg_stat_replication.replay_lag
//	tradestream_pg_read_lag_bytes                    the read URL's server, behind the primary
//	tradestream_pg_read_lag_seconds                  age of its last replayed transaction while behind
//	tradestream_pg_read_standby                      1 while the read URL's server is a standby
//	tradestream_pg_replication_error                 1 when replication could not be read
//
// Nothing is exported while there is no replication to show (no read URL
// and no standby); the byte lag of a standby whose position this role may
// not see (it needs pg_monitor) is left out.
type ReplicationCollector struct {
	src                                               LagSource
	lagBytes, lagSeconds, readBytes, readSeconds, std *prometheus.Desc
	failed                                            *prometheus.Desc
}

// NewReplicationCollector returns a collector of src's latest replication
// figures.
func NewReplicationCollector(src LagSource) *ReplicationCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tradestream_pg_"+name, help, labels, nil)
	}
	return &ReplicationCollector{
		src:         src,
		lagBytes:    d("replication_lag_bytes", "Bytes of WAL a standby has not replayed (pg_current_wal_lsn() - replay_lsn on the primary).", "standby"),
		lagSeconds:  d("replication_lag_seconds", "A standby's replay lag (pg_stat_replication.replay_lag).", "standby"),
		readBytes:   d("read_lag_bytes", "Bytes of WAL the read URL's server has not replayed."),
		readSeconds: d("read_lag_seconds", "Age of the last transaction the read URL's server replayed, while it is behind."),
		std:         d("read_standby", "1 while the read URL's server is a standby (in recovery), 0 when it is a primary."),
		failed:      d("replication_error", "1 when PostgreSQL replication could not be read in the latest sample."),
	}
}

// Describe implements prometheus.Collector.
func (c *ReplicationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lagBytes, c.lagSeconds, c.readBytes, c.readSeconds, c.std, c.failed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ReplicationCollector) Collect(ch chan<- prometheus.Metric) {
	snap, ok := c.src.Latest()
	if !ok || snap.Replication == nil {
		return
	}
	r := snap.Replication
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, sb := range r.Standbys {
		if sb.LagBytes >= 0 {
			gauge(c.lagBytes, float64(sb.LagBytes), sb.Name)
		}
		gauge(c.lagSeconds, sb.LagSeconds, sb.Name)
	}
	if rs := r.Read; rs != nil {
		gauge(c.readBytes, float64(rs.LagBytes))
		gauge(c.readSeconds, rs.LagSeconds)
		standby := 0.0
		if rs.Standby {
			standby = 1
		}
		gauge(c.std, standby)
	}
	failed := 0.0
	if r.Error != "" {
		failed = 1
	}
	gauge(c.failed, failed)
}
