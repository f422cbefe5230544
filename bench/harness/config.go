package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Phases that Config.Skip may name.
const (
	PhaseNaive       = "naive"       // the naive-evaluation baseline (seed and live)
	PhasePassthrough = "passthrough" // the pass-through baseline
	PhaseLatency     = "latency"     // the open-loop latency run
	PhaseBackfill    = "backfill"    // the new-segment backfill
	PhaseScan        = "scan"        // the full-scan baseline
	PhaseRestore     = "restore"     // the restore from the changelog
	PhaseTimers      = "timers"      // the timer benchmark
	PhaseKStreams    = "kstreams"    // the Kafka Streams peer and the differential check
	PhaseDefinitions = "definitions" // a burst of new definitions at once (issue 14)
	PhasePreview     = "preview"     // latency of the admin API's previews and estimates (issue 14)
)

var phases = []string{PhaseNaive, PhasePassthrough, PhaseLatency, PhaseBackfill, PhasePreview, PhaseDefinitions, PhaseScan, PhaseRestore, PhaseTimers, PhaseKStreams}

// Config configures a benchmark run. Short and Full return the two standard ones.
type Config struct {
	// Profile names the configuration ("short", "full", or anything).
	Profile string
	// Brokers of the real Kafka cluster. Default 127.0.0.1:19092 (deploy/local-kafka).
	Brokers []string

	// Workspaces, ContactsPerWorkspace (mean) and Skew are the internal/gen shape: shop
	// i holds a share of the contacts proportional to 1/(i+1)^Skew.
	Workspaces           int
	ContactsPerWorkspace int
	Skew                 float64
	// RandomSegments per workspace, drawn over every field and operator by
	// load.Definitions, in addition to internal/gen's 6 demo segments.
	RandomSegments int
	// LiveEvents is the number of live events preloaded for the maximum-throughput runs.
	LiveEvents int
	// Partitions of the events topic (and so of the changelog).
	Partitions int
	// CommitInterval of segmentd and of the pass-through loop (segmentd's default 100ms).
	CommitInterval time.Duration

	// LatencyFraction of the measured maximum rate is the open-loop rate of the
	// latency run, which lasts LatencyDuration.
	LatencyFraction float64
	LatencyDuration time.Duration

	// BurstDefinitions new definitions, spread evenly over the shops, are produced to
	// the segments topic at once by the definitions phase, which waits at most
	// BurstTimeout for every one to be backfilled; 0 skips the phase.
	BurstDefinitions int
	BurstTimeout     time.Duration
	// PreviewRequests is the number of requests to each of the admin API's
	// segments:preview, segments/{id}:preview and audiences:estimate over the largest
	// shop in the preview phase; 0 skips the phase.
	PreviewRequests int

	// TimerContacts are the sizes of the timer benchmark; each size runs its own
	// segmentd with TimerWorkspaces shops. At each size, TimerRate timers per second
	// fall due during TimerSpread (the stream: normal operation; a small size has
	// fewer), then TimerBurst at one instant (the capacity), as far as the contacts
	// go; the others' timers are days to months away. Idle CPU is measured over
	// TimerIdle.
	TimerContacts   []int
	TimerWorkspaces int
	TimerRate       float64
	TimerSpread     time.Duration
	TimerBurst      int
	TimerIdle       time.Duration

	// Seed of the traffic and of the definitions.
	Seed int64
	// OutDir receives <Profile>.json, <Profile>.md and <Profile>.png.
	OutDir string `json:"-"` // a path of this machine: not in the results
	// WorkDir holds data dirs, logs and the built binary; default a new temp dir,
	// removed at the end unless Keep.
	WorkDir string `json:"-"` // a path of this machine: not in the results
	// Repo is the segmentd repository to build ./cmd/segmentd from; default: found
	// by walking up from the working directory to go.mod.
	Repo string `json:"-"` // a path of this machine: not in the results
	// Segmentd is a prebuilt segmentd binary; default: build one.
	Segmentd string `json:"-"` // a path of this machine: not in the results
	// Self is the executable that runs the pass-through loop with the argument
	// "passthrough"; default os.Executable().
	Self string `json:"-"` // a path of this machine: not in the results
	// KStreamsJar is a prebuilt bench/peers/kstreams jar; default: build it with mvn
	// (the kstreams phase is skipped, with a note, without java and mvn).
	KStreamsJar string `json:"-"` // a path of this machine: not in the results
	// Skip names phases to leave out (Phase* constants).
	Skip []string
	// Keep leaves the topics, data dirs and logs in place.
	Keep bool
	// Progress receives progress lines; default os.Stderr.
	Progress io.Writer `json:"-"`
}

// Short is `make bench`: 2 shops × (16 random + 6 demo) segments, 50,000 contacts,
// 200,000 live events, a burst of 40 new definitions, 50 requests to each preview
// endpoint, timers at 10k and 100k contacts. About 10 minutes on a
// 2-core machine with the broker on the same box.
func Short() Config {
	return Config{
		Profile:              "short",
		Workspaces:           2,
		ContactsPerWorkspace: 25_000,
		Skew:                 1,
		RandomSegments:       16,
		LiveEvents:           200_000,
		Partitions:           6,
		CommitInterval:       100 * time.Millisecond,
		LatencyFraction:      0.5,
		LatencyDuration:      45 * time.Second,
		BurstDefinitions:     40,
		BurstTimeout:         2 * time.Minute,
		PreviewRequests:      50,
		TimerContacts:        []int{10_000, 100_000},
		TimerWorkspaces:      2,
		TimerRate:            1000,
		TimerSpread:          10 * time.Second,
		TimerBurst:           20_000,
		TimerIdle:            30 * time.Second,
		Seed:                 1,
		OutDir:               "bench/results",
	}
}

// Full is `make bench-full`, issue 7's target configuration: 100 shops × (96 random +
// 6 demo) segments, 1,000,000 contacts (skewed: the largest shop has about 190,000),
// 2,000,000 live events, exactly-once on, a burst of 10,000 new definitions (issue
// 14's), 100 requests to each preview endpoint, timers at 10k, 100k and 1M contacts. It
// takes hours on a 2-core machine.
func Full() Config {
	c := Short()
	c.Profile = "full"
	c.Workspaces = 100
	c.ContactsPerWorkspace = 10_000
	c.RandomSegments = 96
	c.LiveEvents = 2_000_000
	c.LatencyDuration = 120 * time.Second
	c.BurstDefinitions = 10_000
	c.BurstTimeout = 10 * time.Minute
	c.PreviewRequests = 100
	c.TimerContacts = []int{10_000, 100_000, 1_000_000}
	c.TimerRate = 2000
	c.TimerSpread = 30 * time.Second
	c.TimerBurst = 100_000
	c.TimerIdle = 60 * time.Second
	return c
}

func (c *Config) ensureDefaults() {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{"127.0.0.1:19092"}
	}
	if c.Profile == "" {
		c.Profile = "custom"
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.LatencyFraction == 0 {
		c.LatencyFraction = 0.5
	}
	if c.TimerWorkspaces == 0 {
		c.TimerWorkspaces = 1
	}
	if c.BurstTimeout == 0 {
		c.BurstTimeout = 2 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = os.Stderr
	}
	if c.OutDir == "" {
		c.OutDir = "."
	}
}

// Validate reports whether c is usable.
func (c *Config) Validate() error {
	var errs []error
	if c.Workspaces < 1 || c.ContactsPerWorkspace < 1 {
		errs = append(errs, errors.New("workspaces and contacts per workspace must be positive"))
	}
	if c.RandomSegments < 0 || c.LiveEvents < 1 || c.Partitions < 1 {
		errs = append(errs, errors.New("random segments must be ≥ 0, live events and partitions ≥ 1"))
	}
	if c.LatencyFraction <= 0 || c.LatencyFraction > 1 || c.LatencyDuration <= 0 {
		errs = append(errs, errors.New("latency fraction must be in (0, 1] and latency duration positive"))
	}
	if c.BurstDefinitions < 0 || c.PreviewRequests < 0 || c.BurstTimeout < 0 {
		errs = append(errs, errors.New("burst definitions, burst timeout and preview requests must be ≥ 0"))
	}
	for _, n := range c.TimerContacts {
		if n < 3*c.TimerWorkspaces {
			errs = append(errs, fmt.Errorf("timer size %d is too small", n))
		}
	}
	if len(c.TimerContacts) > 0 && (c.TimerRate <= 0 || c.TimerSpread <= 0 || c.TimerBurst < 0) {
		errs = append(errs, errors.New("timer rate and spread must be positive, timer burst ≥ 0"))
	}
	for _, s := range c.Skip {
		if !slices.Contains(phases, s) {
			errs = append(errs, fmt.Errorf("unknown phase %q to skip (known: %v)", s, phases))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) skip(phase string) bool { return slices.Contains(c.Skip, phase) }
