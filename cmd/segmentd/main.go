// Command segmentd keeps customer segments of Shopify stores up to date from a Kafka
// stream. See README.md for the commands and flags, and ../../ARCHITECTURE.md for how
// it works.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `segmentd keeps customer segments of Shopify stores up to date from Kafka.

Usage:
  segmentd run [flags]                    run the processor (embedded broker without --brokers)
  segmentd import --shop DOMAIN FILE...   load Shopify customers and orders (JSON Lines) as events
  segmentd tail [flags]                   follow the membership topic and print transitions
  segmentd segments apply -f FILE         validate and create or replace segments (JSON or YAML)
  segmentd segments list --workspace WS   list a workspace's segments with member counts
  segmentd contact get WORKSPACE ID       show a contact's profile, attributes and memberships
  segmentd version                        print the version, VCS revision and Go version (also --version)

Every flag can also be set with an environment variable SEGMENTD_<FLAG>, e.g.
--data-dir → SEGMENTD_DATA_DIR. Run "segmentd COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "segmentd:", err)
		}
		os.Exit(exitCode(err))
	}
}

// failure marks an error of a command's work, as opposed to its usage: the process
// exits 1 for a failure, 2 for a usage error.
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// exitCode is the exit status of a command that returned err: 0 without error, 1 for a
// failure (e.g. tail and import when Kafka or their topic is not there), 2 otherwise.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(failure)):
		return 1
	}
	return 2
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:])
	case "import":
		return importCommand(ctx, args[1:])
	case "tail":
		return tailCommand(ctx, args[1:])
	// Admin API clients (segments.go, contact.go).
	case "segments":
		return segmentsCommand(ctx, args[1:], os.Stdout, os.Stderr)
	case "contact":
		return contactCommand(ctx, args[1:], os.Stdout, os.Stderr)
	case "version", "--version", "-version":
		return versionCommand(os.Stdout)
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
