package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradestream/tradestream/internal/metrics"
	"github.com/tradestream/tradestream/internal/status"
)

func TestReplicationCollector(t *testing.T) {
	tests := []struct {
		name string
		repl *status.Replication
		want map[string]float64 // series name (with its one label value, if any) -> value
	}{
		{"none to show", nil, map[string]float64{}},
		{"standby and read url", &status.Replication{
			Standbys: []status.Standby{
				{Name: "tradestream_replica", State: "streaming", LagBytes: 4096, LagSeconds: 0.25},
				{Name: "hidden", State: "streaming", LagBytes: -1},
			},
			Read: &status.ReadServer{Standby: true, LagBytes: 8192, LagSeconds: 1.5},
		}, map[string]float64{
			"tradestream_pg_replication_lag_bytes/tradestream_replica":   4096,
			"tradestream_pg_replication_lag_seconds/tradestream_replica": 0.25,
			"tradestream_pg_replication_lag_seconds/hidden":              0,
			"tradestream_pg_read_lag_bytes":                              8192,
			"tradestream_pg_read_lag_seconds":                            1.5,
			"tradestream_pg_read_standby":                                1,
			"tradestream_pg_replication_error":                           0,
		}},
		{"unreadable", &status.Replication{Error: "pg_stat_replication: connection refused"},
			map[string]float64{"tradestream_pg_replication_error": 1}},
		{"promoted read server", &status.Replication{Read: &status.ReadServer{}}, map[string]float64{
			"tradestream_pg_read_lag_bytes": 0, "tradestream_pg_read_lag_seconds": 0,
			"tradestream_pg_read_standby": 0, "tradestream_pg_replication_error": 0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(metrics.NewReplicationCollector(fixedSource{status.Snapshot{Replication: tt.repl}}))
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					key := mf.GetName()
					for _, l := range m.GetLabel() {
						key += "/" + l.GetValue()
					}
					got[key] = m.GetGauge().GetValue()
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got series %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s: got %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}
