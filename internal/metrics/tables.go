package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// TableCollector exports the per-table figures of the latest snapshot of
// a LagSource (the status sampler's table statistics): it never queries
// PostgreSQL itself, so these series agree with `tradestream status` and
// the dashboard's health panel.
//
//	tradestream_pg_table_rows_inserted_total{table}   n_tup_ins, partitions summed into their table
//	tradestream_pg_table_rows_updated_total{table}    n_tup_upd, likewise
//	tradestream_pg_table_live_rows{table}             the row count the snapshot shows (n_live_tup unless exact)
//	tradestream_pg_table_size_bytes{table}            total size with indexes and partitions
//	tradestream_pg_partition_size_bytes{table,partition}
//
// The per-table counters sum over the current partitions, so dropping a
// partition past retention looks like a counter reset to Prometheus,
// which rate() handles.
type TableCollector struct {
	src                                   LagSource
	inserted, updated, live, size, partSz *prometheus.Desc
}

// NewTableCollector returns a collector of src's latest table figures.
func NewTableCollector(src LagSource) *TableCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tradestream_pg_"+name, help, labels, nil)
	}
	return &TableCollector{
		src:      src,
		inserted: d("table_rows_inserted_total", "Rows inserted per table (pg_stat_user_tables.n_tup_ins, partitions summed into their table).", "table"),
		updated:  d("table_rows_updated_total", "Rows updated per table (pg_stat_user_tables.n_tup_upd, partitions summed into their table).", "table"),
		live:     d("table_live_rows", "Rows per table as `tradestream status` shows them (n_live_tup estimates, partitions summed).", "table"),
		size:     d("table_size_bytes", "Total size per table, indexes, TOAST and partitions included.", "table"),
		partSz:   d("partition_size_bytes", "Total size of each partition of a partitioned table.", "table", "partition"),
	}
}

// Describe implements prometheus.Collector.
func (c *TableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inserted, c.updated, c.live, c.size, c.partSz} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *TableCollector) Collect(ch chan<- prometheus.Metric) {
	snap, ok := c.src.Latest()
	if !ok {
		return
	}
	for _, t := range snap.Tables {
		ch <- prometheus.MustNewConstMetric(c.inserted, prometheus.CounterValue, float64(t.Inserted), t.Name)
		ch <- prometheus.MustNewConstMetric(c.updated, prometheus.CounterValue, float64(t.Updated), t.Name)
		ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, float64(t.Rows), t.Name)
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(t.Bytes), t.Name)
		for _, p := range t.PartitionSizes {
			ch <- prometheus.MustNewConstMetric(c.partSz, prometheus.GaugeValue, float64(p.Bytes), t.Name, p.Name)
		}
	}
}
