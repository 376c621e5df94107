package cli

import (
	"github.com/spf13/cobra"
)

func (r *root) dashCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dash",
		Short: "Serve the live web dashboard",
		Long: `Serve the web dashboard: candlesticks with volume, the trade tape, top movers,
user and account breakdowns, alerts and the pipeline's health (produce and
consume rates, lag per partition and in seconds, end-to-end latency, dead
letters, rows written per second).

Live data is read from Kafka from the latest offsets without a consumer group
(any number of dashboards can run side by side) and pushed to the page over
Server-Sent Events, at most 10 frames a second per browser; history comes from
PostgreSQL. The health panel follows the sink group --group (the sink's
TRADESTREAM_SINK_GROUP); its figures are those of tradestream status, sampled
once a second and also exported on /metrics. The dashboard listens on
127.0.0.1:8080 by default. Writing alert rules from the page needs --token
(or TRADESTREAM_DASHBOARD_TOKEN).`,
		Example: "  tradestream dash\n  TRADESTREAM_DASHBOARD_TOKEN=$(openssl rand -hex 16) tradestream dash --addr 127.0.0.1:9000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.env().RunDashboard(cmd.Context())
		},
	}
	r.cfg.Dashboard.Bind(cmd.Flags())
	r.cfg.Sink.BindGroup(cmd.Flags())
	return withMetricsPort(cmd, "9468")
}
