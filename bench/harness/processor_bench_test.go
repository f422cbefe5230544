package harness

import (
	"context"
	"flag"
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

	"github.com/segmentd/segmentd/bench/gen"
	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// Flags of BenchmarkLiveProcessor (after -args).
var (
	benchProfile    = flag.String("harness.cpuprofile", "", "write a CPU profile of the timed processing only (first iteration) to this file")
	benchWorkspaces = flag.Int("harness.workspaces", 2, "shops")
	benchContacts   = flag.Int("harness.contacts-per-workspace", 10000, "mean contacts per shop")
	benchSegments   = flag.Int("harness.random-segments", 16, "random segments per shop (plus 4 demo segments)")
	benchLive       = flag.Int("harness.live-events", 100000, "live events per iteration")
	benchNaive      = flag.Bool("harness.naive", false, "naive evaluation (every segment on every event)")
)

// BenchmarkLiveProcessor is the harness's live workload run in-process, so that the
// hot path can be profiled: processor.Processor with a Pebble store on disk and
// exactly-once transactions on the real broker (kafkatest.Real; SEGMENTD_TEST_KAFKA to
// point at another), 6 partitions, bench/gen's history of the shops as the seed (not
// timed), then per iteration live events preloaded (not timed) and consumed (timed,
// until the group's committed offsets reach the end). The profile flag covers only
// the timed processing, not the generator or the producer:
//
//	go test ./bench/harness -run '^$' -bench LiveProcessor -benchtime 1x -timeout 30m \
//	    -args -harness.cpuprofile=/tmp/cpu.pprof
//	go tool pprof -top -nodecount 40 /tmp/cpu.pprof
//
// Compare runs with benchstat (-count 5).
func BenchmarkLiveProcessor(b *testing.B) {
	broker := kafkatest.Real(b)
	ctx := context.Background()
	const partitions = 6
	compact := map[string]*string{"cleanup.policy": ptr("compact")}
	topics := processor.Topics{
		Events:     []string{broker.Topic(b, "bench-events", partitions, nil)},
		Segments:   broker.Topic(b, "bench-segments", 1, compact),
		Catalog:    broker.Topic(b, "bench-catalog", 1, compact),
		Membership: broker.Topic(b, "bench-membership", partitions, nil),
		Changelog:  broker.Topic(b, "bench-changelog", partitions, compact),
		DLQ:        broker.Topic(b, "bench-dlq", partitions, nil),
	}
	g := gen.New(gen.Config{Seed: 1, Workspaces: *benchWorkspaces, ContactsPerWorkspace: *benchContacts, Skew: 1, Start: time.Now()})
	segs, err := load.Definitions(load.DefinitionConfig{Workspaces: g.Workspaces(), PerWorkspace: *benchSegments, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	prod, err := load.NewProducer(broker.Addrs)
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	var globals []*kgo.Record
	for _, s := range g.Segments() {
		globals = append(globals, &kgo.Record{Topic: topics.Segments, Key: s.Key, Value: s.Value})
	}
	for _, s := range segs {
		globals = append(globals, &kgo.Record{Topic: topics.Segments, Key: s.Key, Value: s.Value})
	}
	for _, c := range g.Catalog() {
		globals = append(globals, &kgo.Record{Topic: topics.Catalog, Key: c.Key, Value: c.Value})
	}
	if err := prod.Client().ProduceSync(ctx, globals...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	next, stop := iter.Pull(g.History())
	hist, err := prod.Preload(ctx, func() *kgo.Record {
		r, ok := next()
		if !ok {
			return nil
		}
		return load.Record(topics.Events[0], r)
	})
	stop()
	if err != nil {
		b.Fatal(err)
	}

	store, err := state.Open(b.TempDir(), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	group := kafkatest.UniqueName("bench-group")
	proc, err := processor.New(processor.Config{
		Brokers: broker.Addrs, Group: group, Topics: topics, Partitions: partitions, Store: store,
		NaiveEvaluation: *benchNaive, Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proc.Run(pctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	adm := kadm.NewClient(prod.Client())
	caughtUp := func() {
		ends, err := adm.ListEndOffsets(ctx, topics.Events[0])
		if err != nil {
			b.Fatal(err)
		}
		for {
			committed, err := adm.FetchOffsets(ctx, group)
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
			case err := <-done:
				b.Fatalf("processor stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	seedStart := time.Now()
	caughtUp()
	b.Logf("seed: %d history events of %d contacts in %s", hist.Records, sum(g.Contacts()), time.Since(seedStart).Round(time.Millisecond))

	var events int64
	var cpu, wall time.Duration
	evals0 := evaluations(b, reg)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n := *benchLive
		if _, err := prod.Preload(ctx, func() *kgo.Record {
			if n == 0 {
				return nil
			}
			n--
			return load.Record(topics.Events[0], g.Next(time.Now()))
		}); err != nil {
			b.Fatal(err)
		}
		if i == 0 && *benchProfile != "" {
			f, err := os.Create(*benchProfile)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
		}
		cpu0, t0 := selfCPU(), time.Now()
		b.StartTimer()
		caughtUp()
		b.StopTimer()
		cpu += selfCPU() - cpu0
		wall += time.Since(t0)
		events += int64(*benchLive)
		if i == 0 && *benchProfile != "" {
			pprof.StopCPUProfile()
		}
		b.StartTimer()
	}
	b.StopTimer()
	evals := evaluations(b, reg).sub(evals0)
	b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
	b.ReportMetric(cpu.Seconds()/float64(events)*1e6, "cpu-s/Mevents")
	b.ReportMetric(evals.mean(), "evals/event")
}

func evaluations(b *testing.B, reg *prometheus.Registry) histogram {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var h histogram
	for _, mf := range mfs {
		if mf.GetName() != "segmentd_segment_evaluations_per_event" {
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
