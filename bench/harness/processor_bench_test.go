package harness

import (
	"context"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// Flags of BenchmarkLiveProcessor (after -args).
var (
	benchProfile      = flag.String("harness.cpuprofile", "", "write a CPU profile of the timed processing only (first iteration) to this file")
	benchWorkspaces   = flag.Int("harness.workspaces", 2, "shops")
	benchContacts     = flag.Int("harness.contacts-per-workspace", 10000, "mean contacts per shop")
	benchSegments     = flag.Int("harness.random-segments", 16, "random segments per shop (plus 7 demo segments)")
	benchLive         = flag.Int("harness.live-events", 100000, "live events per iteration")
	benchNaive        = flag.Bool("harness.naive", false, "naive evaluation (every segment on every event)")
	benchRate         = flag.Float64("harness.rate", 0, "produce the live events on an open loop at this rate (events/s) while processing, instead of preloading them")
	benchCacheMB      = flag.Int("harness.cache-mb", 0, "Pebble block cache in MiB (0: segmentd's default)")
	benchMemtableMB   = flag.Int("harness.memtable-mb", 0, "Pebble memtable size in MiB (0: segmentd's default)")
	benchContactCache = flag.Int("harness.contact-cache", 0, "decoded contacts kept across windows (0 or negative: off, segmentd's default)")
	benchLog          = flag.Bool("harness.log", false, "log the processor at debug level to stderr (slow windows, restores)")
)

// benchEnv is a seeded in-process processor on the real broker.
type benchEnv struct {
	b      *testing.B
	ctx    context.Context
	g      *gen.Generator
	prod   *load.Producer
	adm    *kadm.Client
	topics processor.Topics
	group  string
	reg    *prometheus.Registry
	done   chan error
}

// newBenchEnv creates the topics, produces the definitions, the catalog and the
// history, starts a processor and waits until it has consumed the history.
func newBenchEnv(b *testing.B) *benchEnv {
	broker := kafkatest.Real(b)
	ctx := context.Background()
	const partitions = 6
	compact := map[string]*string{"cleanup.policy": ptr("compact")}
	e := &benchEnv{b: b, ctx: ctx, done: make(chan error, 1), reg: prometheus.NewRegistry(), group: kafkatest.UniqueName("bench-group")}
	e.topics = processor.Topics{
		Events:     []string{broker.Topic(b, "bench-events", partitions, nil)},
		Segments:   broker.Topic(b, "bench-segments", 1, compact),
		Catalog:    broker.Topic(b, "bench-catalog", 1, compact),
		Membership: broker.Topic(b, "bench-membership", partitions, nil),
		Changelog:  broker.Topic(b, "bench-changelog", partitions, compact),
		DLQ:        broker.Topic(b, "bench-dlq", partitions, nil),
	}
	e.g = gen.New(gen.Config{Seed: 1, Workspaces: *benchWorkspaces, ContactsPerWorkspace: *benchContacts, Skew: 1, Start: time.Now()})
	segs, err := load.Definitions(load.DefinitionConfig{Workspaces: e.g.Workspaces(), PerWorkspace: *benchSegments, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	if e.prod, err = load.NewProducer(broker.Addrs); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.prod.Close)
	e.adm = kadm.NewClient(e.prod.Client())
	var globals []*kgo.Record
	for _, s := range e.g.Segments() {
		globals = append(globals, &kgo.Record{Topic: e.topics.Segments, Key: s.Key, Value: s.Value})
	}
	for _, s := range segs {
		globals = append(globals, &kgo.Record{Topic: e.topics.Segments, Key: s.Key, Value: s.Value})
	}
	for _, c := range e.g.Catalog() {
		globals = append(globals, &kgo.Record{Topic: e.topics.Catalog, Key: c.Key, Value: c.Value})
	}
	if err := e.prod.Client().ProduceSync(ctx, globals...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	next, stop := iter.Pull(e.g.History())
	hist, err := e.prod.Preload(ctx, func() *kgo.Record {
		r, ok := next()
		if !ok {
			return nil
		}
		return load.Record(e.topics.Events[0], r)
	})
	stop()
	if err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(b.TempDir(), state.Options{CacheSize: int64(*benchCacheMB) << 20, MemTableSize: uint64(*benchMemtableMB) << 20})
	if err != nil {
		b.Fatal(err)
	}
	proc, err := processor.New(processor.Config{
		Brokers: broker.Addrs, Group: e.group, Topics: e.topics, Partitions: partitions, Store: store,
		NaiveEvaluation: *benchNaive, Registerer: e.reg, Logger: benchLogger(),
		ContactCache: *benchContactCache,
	})
	if err != nil {
		b.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	go func() { e.done <- proc.Run(pctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-e.done; err != nil {
			b.Error(err)
		}
		store.Close()
	})
	seedStart := time.Now()
	e.caughtUp()
	b.Logf("seed: %d history events of %d contacts in %s", hist.Records, sum(e.g.Contacts()), time.Since(seedStart).Round(time.Millisecond))
	return e
}

// caughtUp waits until the group's committed offsets reach the end of the events.
func (e *benchEnv) caughtUp() {
	ends, err := e.adm.ListEndOffsets(e.ctx, e.topics.Events[0])
	if err != nil {
		e.b.Fatal(err)
	}
	for {
		committed, err := e.adm.FetchOffsets(e.ctx, e.group)
		if err == nil {
			left := int64(0)
			ends.Each(func(o kadm.ListedOffset) {
				c, _ := committed.Lookup(o.Topic, o.Partition)
				left += max(0, o.Offset-max(c.At, 0))
			})
			if left == 0 {
				return
			}
		}
		select {
		case err := <-e.done:
			e.b.Fatalf("processor stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// profile starts the CPU profile of -harness.cpuprofile, if set, and returns the
// function that stops it.
func profile(b *testing.B) func() {
	if *benchProfile == "" {
		return func() {}
	}
	f, err := os.Create(*benchProfile)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// BenchmarkLiveProcessor is the harness's live workload run in-process, so that the
// hot path can be profiled: processor.Processor with a Pebble store on disk and
// exactly-once transactions on the real broker (kafkatest.Real; SEGMENTD_TEST_KAFKA to
// point at another), 6 partitions, internal/gen's history of the shops as the seed (not
// timed), then per iteration live events preloaded (not timed) and consumed (timed,
// until the group's committed offsets reach the end). The profile flag covers only
// the timed processing of the first iteration, not the generator or the producer:
//
//	go test ./bench/harness -run '^$' -bench LiveProcessor -benchtime 1x -timeout 30m \
//	    -args -harness.cpuprofile=/tmp/cpu.pprof
//	go tool pprof -top -nodecount 40 /tmp/cpu.pprof
//
// Compare runs with benchstat (-count 5).
func BenchmarkLiveProcessor(b *testing.B) {
	e := newBenchEnv(b)
	var events int64
	var cpu, wall time.Duration
	evals0 := evaluations(b, e.reg)
	e2o0 := histogramOf(b, e.reg, "segmentd_event_to_output_seconds")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n := *benchLive
		if *benchRate <= 0 {
			if _, err := e.prod.Preload(e.ctx, func() *kgo.Record {
				if n == 0 {
					return nil
				}
				n--
				return load.Record(e.topics.Events[0], e.g.Next(time.Now()))
			}); err != nil {
				b.Fatal(err)
			}
		}
		stop := func() {}
		if i == 0 {
			stop = profile(b)
		}
		cpu0, t0 := selfCPU(), time.Now()
		b.StartTimer()
		if *benchRate > 0 {
			// Open loop: the profile then includes the generator and the producer
			// (internal/gen, kgo's produce path), on the same cores as in production.
			if _, err := e.prod.OpenLoop(e.ctx, load.OpenLoopConfig{
				Rate: *benchRate, Duration: time.Duration(float64(n) / *benchRate * float64(time.Second)),
				Next: func(sched time.Time) *kgo.Record { return load.Record(e.topics.Events[0], e.g.Next(sched)) },
			}); err != nil {
				b.Fatal(err)
			}
		}
		e.caughtUp()
		b.StopTimer()
		cpu += selfCPU() - cpu0
		wall += time.Since(t0)
		events += int64(*benchLive)
		stop()
		b.StartTimer()
	}
	b.StopTimer()
	evals := evaluations(b, e.reg).sub(evals0)
	if *benchRate > 0 {
		e2o := histogramOf(b, e.reg, "segmentd_event_to_output_seconds").sub(e2o0)
		b.ReportMetric(e2o.mean()*1000, "mean-event-to-output-ms")
	}
	b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
	b.ReportMetric(cpu.Seconds()/float64(events)*1e6, "cpu-s/Mevents")
	b.ReportMetric(evals.mean(), "evals/event")
}

// BenchmarkBackfillProcessor times the backfill of a new segment over every contact
// of the largest shop with no other traffic: from the definition's produce until
// segmentd_backfills_pending is 0 again; then, likewise, the deletion of that segment
// (which removes its members). Each iteration adds, then deletes, one more segment.
// The CPU profile covers the first iteration's creation.
//
//	SEGMENTD_TEST_KAFKA=127.0.0.1:19092 go test ./bench/harness -run '^$' -bench BackfillProcessor \
//	    -benchtime 1x -timeout 30m -args -harness.workspaces 2 -harness.contacts-per-workspace 50000
func BenchmarkBackfillProcessor(b *testing.B) {
	e := newBenchEnv(b)
	ws := e.g.Workspaces()[0]
	var contacts, deleted, windows, commitSeconds, transitions float64
	var wall, delWall, cpu time.Duration
	// run produces one segments-topic record and waits until a backfill over the
	// shop's contacts is over; it returns the contacts backfilled and the time taken.
	run := func(key, value []byte) (float64, time.Duration) {
		before := gather(b, e.reg, "segmentd_backfill_contacts_total")
		t0 := time.Now()
		if err := e.prod.Client().ProduceSync(e.ctx, &kgo.Record{Topic: e.topics.Segments, Key: key, Value: value}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		want := float64(e.g.Contacts()[0]) * 0.95
		for gather(b, e.reg, "segmentd_backfill_contacts_total")-before < want || gather(b, e.reg, "segmentd_backfills_pending") > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		return gather(b, e.reg, "segmentd_backfill_contacts_total") - before, time.Since(t0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		segs, err := load.Definitions(load.DefinitionConfig{Workspaces: []string{ws}, PerWorkspace: 1, Seed: uint64(100 + i), IDPrefix: fmt.Sprintf("backfill%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		windows0, commit0 := gather(b, e.reg, "segmentd_transactions_total"), histogramOf(b, e.reg, "segmentd_transaction_commit_seconds")
		transitions0 := gather(b, e.reg, "segmentd_transitions_total")
		stop := func() {}
		if i == 0 {
			stop = profile(b)
		}
		cpu0 := selfCPU()
		b.StartTimer()
		n, d := run(segs[0].Key, segs[0].Value)
		b.StopTimer()
		cpu += selfCPU() - cpu0
		stop()
		contacts += n
		wall += d
		windows += gather(b, e.reg, "segmentd_transactions_total") - windows0
		commitSeconds += histogramOf(b, e.reg, "segmentd_transaction_commit_seconds").sub(commit0).sum
		transitions += gather(b, e.reg, "segmentd_transitions_total") - transitions0
		n, d = run(segs[0].Key, nil)
		deleted += n
		delWall += d
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(contacts/wall.Seconds(), "contacts/s")
	b.ReportMetric(deleted/delWall.Seconds(), "delete-contacts/s")
	b.ReportMetric(cpu.Seconds()/contacts*1e6, "cpu-s/Mcontacts")
	b.ReportMetric(transitions/contacts, "transitions/contact")
	b.ReportMetric(wall.Seconds()*1000/windows, "ms/window")
	b.ReportMetric(commitSeconds*1000/windows, "commit-ms/window")
}

// gather returns the sum of a counter or gauge of the processor's registry.
func gather(b *testing.B, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

func evaluations(b *testing.B, reg *prometheus.Registry) histogram {
	return histogramOf(b, reg, "segmentd_segment_evaluations_per_event")
}

// histogramOf returns the sum and count of a histogram of the processor's registry.
func histogramOf(b *testing.B, reg *prometheus.Registry, name string) histogram {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var h histogram
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			h.sum += m.GetHistogram().GetSampleSum()
			h.count += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return h
}

// selfCPU returns this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ptr[T any](v T) *T { return &v }

func benchLogger() *slog.Logger {
	if *benchLog {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
