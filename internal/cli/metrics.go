package cli

import (
	"net"

	"github.com/spf13/cobra"
)

// metricsPortAnnotation holds, on a standalone service's command, the port
// its /metrics listens on unless configured.
const metricsPortAnnotation = "tradestream_metrics_port"

// withMetricsPort gives cmd its own default metrics port, so that the
// standalone services keep out of each other's way on one machine (gen
// 9465, sink 9466, alerts run 9467, dash 9468); `up` keeps 9464.
func withMetricsPort(cmd *cobra.Command, port string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[metricsPortAnnotation] = port
	return cmd
}

// defaultMetricsAddr sets the metrics address to the command's own
// default port before the file and the environment are loaded, so that an
// address given by flag, variable or file is used exactly as given (and an
// empty one turns metrics off).
func (r *root) defaultMetricsAddr(cmd *cobra.Command) {
	var port string
	for c := cmd; c != nil && port == ""; c = c.Parent() {
		port = c.Annotations[metricsPortAnnotation]
	}
	if port == "" || cmd.Flags().Changed("metrics-addr") {
		return
	}
	host, _, err := net.SplitHostPort(r.cfg.Metrics.Addr)
	if err != nil {
		return
	}
	r.cfg.Metrics.Addr = net.JoinHostPort(host, port)
}
