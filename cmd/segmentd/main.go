// Command segmentd keeps customer segments of Shopify stores up to date from a Kafka
// stream. See README.md for the commands and flags, and ../../ARCHITECTURE.md for how
// it works. The commands are listed in cli.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		reportError(os.Stderr, err)
		os.Exit(exitCode(err))
	}
}
