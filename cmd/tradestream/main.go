// Command tradestream is a real-time trading data streaming system: see
// `tradestream --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tradestream/tradestream/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSIO())
	stop()
	os.Exit(code)
}
