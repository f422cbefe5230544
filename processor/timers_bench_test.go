package processor

import (
	"context"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/internal/kafkatest"
)

// BenchmarkTimerFiring measures how fast one processor fires timers that are all
// overdue at once (its capacity, in timers/s) and the process CPU per timer: it
// seeds contacts each with one timer (bench/load.TimerSeed) due an hour ahead on the
// test clock, then moves the clock two hours on. On the in-process kfake broker the
// CPU includes the broker's; with SEGMENTD_TEST_KAFKA it does not. For profiling:
//
//	go test ./processor -run '^$' -bench TimerFiring -benchtime 1x -cpuprofile cpu.out
//
// SEGMENTD_BENCH_TIMERS sets the number of contacts (default 20000);
// SEGMENTD_BENCH_TIMERS_PROFILE names a file for a CPU profile of the firing alone.
func BenchmarkTimerFiring(b *testing.B) {
	broker := benchBroker(b)
	n := 20000
	if s := os.Getenv("SEGMENTD_BENCH_TIMERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, broker, func(c *Config) { c.CommitInterval = 100 * time.Millisecond })
		segs, err := load.TimerSegments(ws)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range segs {
			h.putSegment(ws, s.ID, string(s.Value))
		}
		time.Sleep(300 * time.Millisecond)
		first := h.now().Add(time.Hour)
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = load.TimerSeed(h.cfg.Topics.Events[0], ws, int64(1_000_001+i), i%load.NumTimerKinds, first.Add(time.Duration(i)*time.Millisecond))
		}
		if err := h.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		waitConsumed(b, h)
		fired0 := timersFired(b, h)
		cpu0 := processCPU()
		defer startTimersProfile(b)()
		start := time.Now()
		b.StartTimer()
		h.advance(2 * time.Hour)
		for timersFired(b, h)-fired0 < float64(n) {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("only %.0f of %d timers fired after 10 minutes", timersFired(b, h)-fired0, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		pprof.StopCPUProfile()
		cpu := processCPU() - cpu0
		b.ReportMetric(float64(n)/el.Seconds(), "timers/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/timer")
		b.Logf("%d timers fired in %s, process CPU %s", n, el.Round(time.Millisecond), cpu.Round(time.Millisecond))
		h.stop()
		b.StartTimer()
	}
}

// waitConsumed waits until the processor's group committed every event produced.
func waitConsumed(b testing.TB, h *harness) {
	adm := kadm.NewClient(h.prod)
	ends, err := adm.ListEndOffsets(context.Background(), h.cfg.Topics.Events[0])
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if kafkatest.CaughtUp(context.Background(), adm, h.cfg.Group, ends) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("events not consumed after 10 minutes")
}

// timersFired is the count of segmentd_timer_lateness_seconds.
func timersFired(t testing.TB, h *harness) float64 {
	var m dto.Metric
	if err := h.proc.m.timerLateness.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return float64(m.GetHistogram().GetSampleCount())
}

// processCPU is the CPU time (user and system) of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTimerStream measures steady operation on the wall clock: contacts whose
// timers fall due one after the other at SEGMENTD_BENCH_TIMER_RATE per second
// (default 1000) for 10 s. It reports the process CPU per timer over the stream
// (with SEGMENTD_TEST_KAFKA, the broker's is not included; the test's consumer of
// the outputs is) and the lateness quantiles of segmentd_timer_lateness_seconds.
// SEGMENTD_BENCH_TIMERS_PROFILE names a file for a CPU profile of the stream.
func BenchmarkTimerStream(b *testing.B) {
	broker := benchBroker(b)
	rate := 1000.0
	if s := os.Getenv("SEGMENTD_BENCH_TIMER_RATE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatal(err)
		}
		rate = v
	}
	const spread = 10 * time.Second
	n := int(rate * spread.Seconds())
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, broker, func(c *Config) { c.CommitInterval = 100 * time.Millisecond; c.Now = time.Now })
		first := time.Now().Round(0).Add(15 * time.Second)
		seedTimers(b, h, n, first, time.Duration(float64(time.Second)/rate))
		if time.Now().After(first) {
			b.Fatal("seeding took longer than 15 s")
		}
		time.Sleep(time.Until(first))
		defer startTimersProfile(b)()
		var h0 dto.Metric
		if err := h.proc.m.timerLateness.(prometheus.Metric).Write(&h0); err != nil {
			b.Fatal(err)
		}
		cpu0 := processCPU()
		b.StartTimer()
		for timersFired(b, h)-float64(h0.GetHistogram().GetSampleCount()) < float64(n) {
			if time.Since(first) > 2*time.Minute {
				b.Fatalf("not every timer fired 2 minutes after the first")
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cpu := processCPU() - cpu0
		pprof.StopCPUProfile()
		var h1 dto.Metric
		if err := h.proc.m.timerLateness.(prometheus.Metric).Write(&h1); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/timer")
		b.ReportMetric(histQuantile(h0.GetHistogram(), h1.GetHistogram(), 0.5), "p50-s")
		b.ReportMetric(histQuantile(h0.GetHistogram(), h1.GetHistogram(), 0.99), "p99-s")
		b.Logf("%d timers at %.0f/s, process CPU %s", n, rate, cpu.Round(time.Millisecond))
		h.stop()
		b.StartTimer()
	}
}

// histQuantile interpolates quantile q of the observations between two snapshots
// of a histogram, as Prometheus's histogram_quantile.
func histQuantile(h0, h1 *dto.Histogram, q float64) float64 {
	total := float64(h1.GetSampleCount() - h0.GetSampleCount())
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for i, bk := range h1.GetBucket() {
		c := float64(bk.GetCumulativeCount() - h0.GetBucket()[i].GetCumulativeCount())
		if c >= rank {
			if c == prevCount {
				return bk.GetUpperBound()
			}
			return prevBound + (bk.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = bk.GetUpperBound(), c
	}
	return math.Inf(1)
}

// startTimersProfile starts a CPU profile into SEGMENTD_BENCH_TIMERS_PROFILE, if set,
// and returns what stops it.
func startTimersProfile(b *testing.B) (stop func()) {
	path := os.Getenv("SEGMENTD_BENCH_TIMERS_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
