package status

import (
	"strings"
	"testing"
	"time"
)

func TestGroupTrend(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name    string
		lag     int64
		h       []trendPoint
		trend   Trend
		consume float64
		catchUp float64
		parts   []PartitionState
		keeping bool
	}{
		{"one sample", 10, []trendPoint{{at: at(0), lag: 10}}, "", 0, -1, nil, false},
		{"caught up, one sample", 0, []trendPoint{{at: at(0)}}, "", 0, 0, nil, false},
		{"shrinking", 100, []trendPoint{
			{at: at(0), lag: 300, committed: 1000, end: 1300},
			{at: at(10), lag: 200, committed: 1200, end: 1400},
			{at: at(20), lag: 100, committed: 1400, end: 1500},
		}, Shrinking, 20, 10, nil, false}, // drains 10/s: 100 records left take 10 s
		{"growing", 500, []trendPoint{
			{at: at(0), lag: 100, committed: 1000, end: 1100},
			{at: at(10), lag: 500, committed: 1100, end: 1600},
		}, Growing, 10, -1, nil, false},
		{"flat within 1%", 1005, []trendPoint{
			{at: at(0), lag: 1000, committed: 0, end: 1000},
			{at: at(10), lag: 1005, committed: 50, end: 1055},
		}, Flat, 5, -1, nil, false}, // 201 s of its consumption behind
		{"flat, two seconds of consumption behind", 1005, []trendPoint{
			{at: at(0), lag: 1000, committed: 0, end: 1000},
			{at: at(10), lag: 1005, committed: 5000, end: 6005},
		}, Flat, 500, 0, nil, true},
		{"caught up and flat", 0, []trendPoint{{at: at(0)}, {at: at(5)}}, Flat, 0, 0, nil, false},
		// A live consumer trails the producer by what is in flight: its lag
		// grows from 2 to 13 records by noise, none older than 0.1 s.
		{"keeping up, lag growing by noise", 13, []trendPoint{
			{at: at(0), lag: 2, committed: 1000, end: 1002},
			{at: at(10), lag: 13, committed: 3000, end: 3013},
		}, Growing, 200, 0, []PartitionState{{Lag: 9, LagSeconds: 0.1}, {Lag: 4, LagSeconds: 0.05}, {Lag: 0}}, true},
		{"keeping pace a minute behind", 12000, []trendPoint{
			{at: at(0), lag: 12000, committed: 1000, end: 13000},
			{at: at(10), lag: 12000, committed: 3000, end: 15000},
		}, Flat, 200, -1, []PartitionState{{Lag: 6000, LagSeconds: 0.5}, {Lag: 6000, LagSeconds: 60}}, false},
		{"stopped, records just produced", 13, []trendPoint{
			{at: at(0), lag: 2, committed: 1000, end: 1002},
			{at: at(10), lag: 13, committed: 1000, end: 1013},
		}, Growing, 0, -1, []PartitionState{{Lag: 13, LagSeconds: 0.1}}, false},
		{"keeping up, the lag's age not read yet", 13, []trendPoint{
			{at: at(0), lag: 2, committed: 1000, end: 1002},
			{at: at(10), lag: 13, committed: 3000, end: 3013},
		}, Growing, 200, 0, []PartitionState{{Lag: 13}}, true},
		{"one partition stuck behind a flowing group", 13, []trendPoint{
			{at: at(0), lag: 2, committed: 1000, end: 1002},
			{at: at(10), lag: 13, committed: 3000, end: 3013},
		}, Growing, 200, -1, []PartitionState{{Lag: 8, LagSeconds: 0.2}, {Lag: 5, LagSeconds: 30}}, false},
		{"keeping up, lag shrinking by noise", 20, []trendPoint{
			{at: at(0), lag: 22, committed: 1000, end: 1022},
			{at: at(10), lag: 20, committed: 3930, end: 3950},
		}, Shrinking, 293, 0, []PartitionState{{Lag: 20, LagSeconds: 0.05}}, true}, // not "in 1m40s"
		{"falling behind: more than 10 s of consumption", 2500, []trendPoint{
			{at: at(0), lag: 500, committed: 1000, end: 1500},
			{at: at(10), lag: 2500, committed: 3000, end: 5500},
		}, Growing, 200, -1, []PartitionState{{Lag: 2500, LagSeconds: 4}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Group{Lag: tt.lag, Partitions: tt.parts}
			g.trend(tt.h)
			if g.Trend != tt.trend || g.ConsumeRate != tt.consume || g.CatchUpSeconds != tt.catchUp || g.KeepingUp != tt.keeping {
				t.Errorf("got trend %q, consume %v/s, catch-up %v s, keeping up %v; want %q, %v/s, %v s, %v",
					g.Trend, g.ConsumeRate, g.CatchUpSeconds, g.KeepingUp, tt.trend, tt.consume, tt.catchUp, tt.keeping)
			}
		})
	}
}

func TestRetentionRisk(t *testing.T) {
	hour := retention{deletes: true, after: time.Hour}
	tests := []struct {
		name string
		p    PartitionState
		r    retention
		want string
		left float64
		warn string
	}{
		{"fresh lag", PartitionState{Committed: 10, Start: 0, End: 15, Lag: 5, LagSeconds: 60}, hour, "", 3540, ""},
		{"past 80% of retention", PartitionState{Topic: "t", Committed: 10, Start: 0, End: 15, Lag: 5, LagSeconds: 3000}, hour, RetentionAtRisk, 600,
			"t/0: the oldest unconsumed record (offset 10) is 50m0s old, 10m0s from the topic's 1h0m0s retention"},
		{"below the log start", PartitionState{Topic: "t", Committed: 10, Start: 25, End: 15, Lag: 5}, hour, RetentionLost, -1,
			"t/0: committed offset 10 is below the log start offset 25: 15 records were deleted"},
		{"past the end", PartitionState{Topic: "t", Committed: 300, Start: 0, End: 160, Lag: -140}, hour, "", -1,
			"t/0: committed offset 300 is past the partition's end 160: the topic was recreated"},
		{"compacted topic", PartitionState{Committed: 10, End: 15, Lag: 5, LagSeconds: 1e6}, retention{deletes: false, after: time.Hour}, "", -1, ""},
		{"no lag", PartitionState{Committed: 10, End: 10, Lag: 0}, hour, "", -1, ""},
		{"no commit", PartitionState{Committed: -1, Start: 5, Lag: -1}, hour, "", -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Group
			p := tt.p
			retentionRisk(&p, tt.r, &g)
			if p.Retention != tt.want || p.RetentionLeftSeconds != tt.left {
				t.Errorf("got %q with %v s left, want %q with %v s", p.Retention, p.RetentionLeftSeconds, tt.want, tt.left)
			}
			if tt.warn == "" && len(g.Warnings) > 0 || tt.warn != "" && (len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], tt.warn)) {
				t.Errorf("got warnings %q, want %q", g.Warnings, tt.warn)
			}
		})
	}
}
