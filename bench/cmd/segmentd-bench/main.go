// Command segmentd-bench is segmentd's end-to-end benchmark (package bench/harness):
//
//	segmentd-bench [run] [-profile short|full] [flags]   run the benchmark
//	segmentd-bench plot RESULTS.json [OUTDIR]           redraw the Markdown and PNG
//	segmentd-bench passthrough [flags]                  the pass-through baseline (run by the harness)
//	segmentd-bench cleanup [-brokers B] PREFIX          delete the topics of a run kept with -keep
//
// It needs a real Kafka broker (`make kafka-up`: 127.0.0.1:19092) and the Go
// toolchain (it builds ./cmd/segmentd).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/segmentd/segmentd/bench/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, args)
	case "plot":
		err = plotCmd(args)
	case "passthrough":
		err = passthroughCmd(ctx, args)
	case "cleanup":
		err = cleanupCmd(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q: run, plot, passthrough or cleanup", cmd)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "segmentd-bench:", err)
		os.Exit(1)
	}
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("segmentd-bench run", flag.ContinueOnError)
	profile := fs.String("profile", "short", "configuration: short (make bench) or full (make bench-full)")
	brokers := fs.String("brokers", "127.0.0.1:19092", "Kafka brokers, comma-separated")
	out := fs.String("out", "bench/results", "directory of <profile>.json, .md and .png")
	work := fs.String("work", "", "directory for data dirs, logs and binaries (default: a temp dir, removed)")
	segmentd := fs.String("segmentd", "", "prebuilt segmentd binary (default: go build ./cmd/segmentd)")
	skip := fs.String("skip", "", "phases to skip, comma-separated: naive, passthrough, latency, backfill, preview, definitions, scan, restore, timers, kstreams")
	kstreamsJar := fs.String("kstreams-jar", "", "prebuilt bench/peers/kstreams jar (default: mvn package, if java and mvn are on PATH)")
	keep := fs.Bool("keep", false, "keep topics, data dirs and logs")
	name := fs.String("name", "", "name of the results files (default: the profile)")
	var over struct {
		workspaces, contacts, segments, live, partitions int
		skew                                             float64
		latency                                          time.Duration
		timers                                           string
		timerRate                                        float64
		timerSpread                                      time.Duration
		timerBurst                                       int
		burst, previews                                  int
		burstTimeout                                     time.Duration
	}
	fs.IntVar(&over.workspaces, "workspaces", 0, "override: shops")
	fs.IntVar(&over.contacts, "contacts-per-workspace", 0, "override: mean contacts per shop")
	fs.IntVar(&over.segments, "random-segments", -1, "override: random segments per shop (plus 6 demo segments)")
	fs.IntVar(&over.live, "live-events", 0, "override: live events preloaded for the throughput runs")
	fs.IntVar(&over.partitions, "partitions", 0, "override: partitions of the events topic")
	fs.Float64Var(&over.skew, "skew", -1, "override: Zipf skew of shop sizes")
	fs.DurationVar(&over.latency, "latency-duration", 0, "override: length of the open-loop latency run")
	fs.StringVar(&over.timers, "timer-contacts", "", "override: sizes of the timer benchmark, comma-separated (e.g. 10000,100000)")
	fs.Float64Var(&over.timerRate, "timer-rate", 0, "override: timers per second falling due during the timer benchmark's stream")
	fs.DurationVar(&over.timerSpread, "timer-spread", 0, "override: length of the timer benchmark's stream")
	fs.IntVar(&over.timerBurst, "timer-burst", -1, "override: timers due at one instant after the stream (capacity; 0: none)")
	fs.IntVar(&over.burst, "burst-definitions", -1, "override: new definitions produced at once in the definitions phase (short 40, full 10000; 0 skips it)")
	fs.DurationVar(&over.burstTimeout, "burst-timeout", 0, "override: how long the definitions phase waits for the burst to be backfilled (short 2m, full 10m)")
	fs.IntVar(&over.previews, "preview-requests", -1, "override: requests to each preview route in the preview phase (short 50, full 100; 0 skips it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg harness.Config
	switch *profile {
	case "short":
		cfg = harness.Short()
	case "full":
		cfg = harness.Full()
	default:
		return fmt.Errorf("unknown profile %q: short or full", *profile)
	}
	cfg.Brokers = strings.Split(*brokers, ",")
	if *name != "" {
		cfg.Profile = *name
	}
	cfg.OutDir, cfg.WorkDir, cfg.Segmentd, cfg.Keep, cfg.KStreamsJar = *out, *work, *segmentd, *keep, *kstreamsJar
	if *skip != "" {
		cfg.Skip = strings.Split(*skip, ",")
	}
	if over.workspaces > 0 {
		cfg.Workspaces = over.workspaces
	}
	if over.contacts > 0 {
		cfg.ContactsPerWorkspace = over.contacts
	}
	if over.segments >= 0 {
		cfg.RandomSegments = over.segments
	}
	if over.live > 0 {
		cfg.LiveEvents = over.live
	}
	if over.partitions > 0 {
		cfg.Partitions = over.partitions
	}
	if over.skew >= 0 {
		cfg.Skew = over.skew
	}
	if over.latency > 0 {
		cfg.LatencyDuration = over.latency
	}
	if over.timers != "" {
		cfg.TimerContacts = nil
		for _, s := range strings.Split(over.timers, ",") {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil {
				return fmt.Errorf("-timer-contacts: %q: %w", s, err)
			}
			cfg.TimerContacts = append(cfg.TimerContacts, n)
		}
	}
	if over.timerRate > 0 {
		cfg.TimerRate = over.timerRate
	}
	if over.timerSpread > 0 {
		cfg.TimerSpread = over.timerSpread
	}
	if over.timerBurst >= 0 {
		cfg.TimerBurst = over.timerBurst
	}
	if over.burst >= 0 {
		cfg.BurstDefinitions = over.burst
	}
	if over.burstTimeout > 0 {
		cfg.BurstTimeout = over.burstTimeout
	}
	if over.previews >= 0 {
		cfg.PreviewRequests = over.previews
	}
	res, err := harness.Run(ctx, cfg)
	if res != nil {
		fmt.Println(harness.Markdown(res))
	}
	return err
}

func plotCmd(args []string) error {
	if len(args) < 1 {
		return errors.New("usage: segmentd-bench plot RESULTS.json [OUTDIR]")
	}
	res, err := harness.ReadResults(args[0])
	if err != nil {
		return err
	}
	dir := filepath.Dir(args[0])
	if len(args) > 1 {
		dir = args[1]
	}
	return harness.WriteResults(res, dir)
}

func passthroughCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("segmentd-bench passthrough", flag.ContinueOnError)
	var cfg harness.PassthroughConfig
	brokers := fs.String("brokers", "127.0.0.1:19092", "Kafka brokers, comma-separated")
	fs.StringVar(&cfg.Group, "group", "", "consumer group")
	fs.StringVar(&cfg.In, "in", "", "input topic")
	fs.StringVar(&cfg.Out, "out", "", "output topic")
	fs.StringVar(&cfg.TransactionalID, "transactional-id", "", "transactional id")
	fs.DurationVar(&cfg.CommitInterval, "commit-interval", 100*time.Millisecond, "commit window")
	fs.IntVar(&cfg.MaxWindowRecords, "max-window-records", 10000, "input records per window at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Group == "" || cfg.In == "" || cfg.Out == "" || cfg.TransactionalID == "" {
		return errors.New("passthrough: --group, --in, --out and --transactional-id are required")
	}
	cfg.Brokers = strings.Split(*brokers, ",")
	return harness.RunPassthrough(ctx, cfg)
}

func cleanupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("segmentd-bench cleanup", flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:19092", "Kafka brokers, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || !strings.HasPrefix(fs.Arg(0), "bench-") {
		return errors.New("usage: segmentd-bench cleanup [-brokers B] bench-<profile>-<id>")
	}
	names, err := harness.DeleteTopics(ctx, strings.Split(*brokers, ","), fs.Arg(0)+".")
	fmt.Printf("deleted %d topics\n", len(names))
	return err
}
