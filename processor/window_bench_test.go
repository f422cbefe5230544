package processor

import (
	"flag"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/gen"
)

// BenchmarkWindowLive measures the work per live event of the window alone, with no
// broker: a Processor that never joins a group (windowRig) holds the definitions and
// catalog of internal/gen's shops and their contacts' history (loaded, untimed,
// through windows of the same kind), then each iteration runs one window of
// windowLiveEvents events of the live mix (25% orders ~5.7 KB, 15% customer, tag and
// consent ~1.4 KB, 60% message statuses ~310 B): decoding and prefetching on the
// workers, applying, evaluating, flushing to the changelog (a list) and committing the
// Pebble batch. It reports ns/event, allocs/event and B/event (the allocations of every
// goroutine of the process while the window runs) and cpu-ns/event (the CPU time of
// the process: the preparation workers run on other cores, so it exceeds ns/event
// when cores are free), and the share of contact reads the contact cache served
// (cache-hit-rate, with -window.contact-cache N: the cache is off by default). For
// profiling:
//
//	go test ./processor -run '^$' -bench WindowLive -benchtime 200x -count 6 \
//	    -cpuprofile cpu.out -memprofile mem.out
//	go tool pprof -top -nodecount 40 processor.test cpu.out
//
// -window.contact-cache N sets --contact-cache (0 or negative: off, the default).
var benchContactCache = flag.Int("window.contact-cache", 0, "BenchmarkWindowLive: --contact-cache (0 or negative: off)")

func BenchmarkWindowLive(b *testing.B) {
	const windowLiveEvents = 1000
	rig := newWindowRig(b, func(c *Config) { c.ContactCache = *benchContactCache })
	rig.p.cfg.Logger = testLogger(b)
	g := gen.New(gen.Config{Seed: 7, Workspaces: 2, ContactsPerWorkspace: 2000, Start: rig.now})
	for _, s := range g.Segments() {
		rig.global("definition", string(s.Key), string(s.Value))
	}
	for _, c := range g.Catalog() {
		rig.global("catalog", string(c.Key), string(c.Value))
	}
	rig.window(b, nil)
	topic := rig.p.cfg.Topics.Events[0]
	record := func(r gen.Record) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: toKgoHeaders(r.Headers), Timestamp: rig.now}
	}
	var recs []*kgo.Record
	flush := func() {
		rig.window(b, recs)
		recs = recs[:0]
	}
	for r := range g.History() {
		recs = append(recs, record(r))
		if len(recs) == windowLiveEvents {
			flush()
		}
	}
	flush()

	var events, mallocs, bytes uint64
	var cpu time.Duration
	var ms runtime.MemStats
	hits0, misses0 := testutil.ToFloat64(rig.p.m.contactCacheHits), testutil.ToFloat64(rig.p.m.contactCacheMisses)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		recs = recs[:0]
		for range windowLiveEvents {
			rig.now = rig.now.Add(time.Millisecond)
			recs = append(recs, record(g.Next(rig.now)))
		}
		runtime.ReadMemStats(&ms)
		m0, b0 := ms.Mallocs, ms.TotalAlloc
		cpu0 := processCPU()
		b.StartTimer()
		rig.window(b, recs)
		b.StopTimer()
		cpu += processCPU() - cpu0
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - m0
		bytes += ms.TotalAlloc - b0
		events += windowLiveEvents
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
	b.ReportMetric(float64(mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(bytes)/float64(events), "B/event")
	if hits, misses := testutil.ToFloat64(rig.p.m.contactCacheHits)-hits0, testutil.ToFloat64(rig.p.m.contactCacheMisses)-misses0; hits+misses > 0 {
		b.ReportMetric(hits/(hits+misses), "cache-hit-rate")
	}
}
