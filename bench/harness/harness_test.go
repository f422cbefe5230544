package harness

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

const sampleMetrics = `# HELP segmentd_transitions_total Membership transitions produced.
# TYPE segmentd_transitions_total counter
segmentd_transitions_total{reason="event",type="UserAddedToSegment"} 10
segmentd_transitions_total{reason="time",type="UserAddedToSegment"} 3
segmentd_transitions_total{reason="event",type="UserRemovedFromSegment"} 5
segmentd_event_to_output_seconds_bucket{le="0.1"} 50
segmentd_event_to_output_seconds_bucket{le="0.2"} 90
segmentd_event_to_output_seconds_bucket{le="0.4"} 100
segmentd_event_to_output_seconds_bucket{le="+Inf"} 100
segmentd_event_to_output_seconds_sum 12.5
segmentd_event_to_output_seconds_count 100
process_resident_memory_bytes 7.3728e+07
segmentd_dead_letters_total{reason="a,b \"quoted\""} 1
`

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(sampleMetrics))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("segmentd_transitions_total"); got != 18 {
		t.Errorf("sum = %v", got)
	}
	if got := m.sum("segmentd_transitions_total", "reason", "event"); got != 15 {
		t.Errorf("sum reason=event = %v", got)
	}
	if got := m.sum("segmentd_dead_letters_total", "reason", `a,b "quoted"`); got != 1 {
		t.Errorf("quoted label: %v", got)
	}
	if got := m.sum("process_resident_memory_bytes"); got != 73728000 {
		t.Errorf("rss = %v", got)
	}
	h := m.histogram("segmentd_event_to_output_seconds")
	if h.count != 100 || h.mean() != 0.125 {
		t.Errorf("histogram %+v", h)
	}
	for _, tc := range []struct{ q, want float64 }{{0.5, 0.1}, {0.25, 0.05}, {0.7, 0.15}, {0.95, 0.3}, {1, 0.4}} {
		if got := h.quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if h.overflows(0.99) {
		t.Error("p99 within the finite buckets reported as overflow")
	}
	d := h.sub(h)
	if d.count != 0 || !math.IsNaN(d.quantile(0.5)) {
		t.Errorf("h - h = %+v", d)
	}
}

// TestParseTypedHistogram: a histogram declared as such (as client_golang exposes it)
// reads as the same _bucket, _sum and _count samples as the untyped lines above.
func TestParseTypedHistogram(t *testing.T) {
	const text = `# HELP segmentd_window_records Records per window.
# TYPE segmentd_window_records histogram
segmentd_window_records_bucket{partition="0",le="10"} 4
segmentd_window_records_bucket{partition="0",le="100"} 9
segmentd_window_records_bucket{partition="0",le="+Inf"} 10
segmentd_window_records_sum{partition="0"} 450
segmentd_window_records_count{partition="0"} 10
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds_sum 3
rpc_seconds_count 12
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	h := m.histogram("segmentd_window_records")
	if h.count != 10 || h.sum != 450 || len(h.bounds) != 3 || !math.IsInf(h.bounds[2], 1) || h.counts[1] != 9 {
		t.Errorf("histogram %+v", h)
	}
	if got := m.sum("segmentd_window_records_bucket", "partition", "0", "le", "100"); got != 9 {
		t.Errorf("bucket le=100: %v", got)
	}
	if got := m.sum("rpc_seconds", "quantile", "0.5"); got != 0.2 {
		t.Errorf("summary quantile: %v", got)
	}
	if got := m.sum("rpc_seconds_count"); got != 12 {
		t.Errorf("summary count: %v", got)
	}
	if _, err := parseMetrics(strings.NewReader("segmentd_x{a=\"1\" 2\n")); err == nil {
		t.Error("a malformed line parsed")
	}
}

func TestRateSeries(t *testing.T) {
	pts := []Point{{0, 0}, {0.5, 100}, {1, 1000}, {1.6, 1500}, {2.2, 3000}}
	got := rateSeries(pts)
	if len(got) != 2 || got[0].V != 1000 || math.Abs(got[1].V-2000/1.2) > 1e-9 {
		t.Errorf("rateSeries = %v", got)
	}
}

func TestHumanAndNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.9: 1, 11: 12, 51000: 60000, 250: 250} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 1500: "1.5k", 2e6: "2M", 2: "2", 0.5: "0.5", 250: "250"} {
		if got := human(v); got != want {
			t.Errorf("human(%v) = %q, want %q", v, got, want)
		}
	}
}

func sampleResults() *Results {
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	series := []Point{{1, 9000}, {2, 11000}, {3, 10500}}
	return &Results{
		Profile: "test", Started: start, Finished: start.Add(9 * time.Minute), Config: Short(),
		Machine:     Machine{CPUs: 2, CPUModel: "AMD EPYC", KafkaVersion: "4.1.1"},
		Live:        &Throughput{System: "segmentd", Phase: "live", Events: 200000, EventsPerSecond: 10500, Series: series, EvaluationsPerEvent: 0.6},
		LiveNaive:   &Throughput{System: "segmentd-naive", Phase: "live", Events: 200000, EventsPerSecond: 8000, Series: series},
		Passthrough: &Throughput{System: "passthrough", Phase: "live", Events: 200000, EventsPerSecond: 30000},
		Latency:     &Latency{Rate: 5250, P50: 90, P99: 210, SeriesP50: series[:2], SeriesP99: series},
		Memory:      &Memory{Contacts: 50000, RSSBytes: 300 << 20, RSSPerContact: 6291},
		Backfill:    &Backfill{Contacts: 33000, Seconds: 0.5, ContactsPerSecond: 66000, SecondsFor1M: 15},
		Restore:     &Restore{Contacts: 50000, SecondsFor1M: 40},
		Timers:      []Timers{{Contacts: 10000, Fired: 10000}},
	}
}

func TestReportAndPlot(t *testing.T) {
	res := sampleResults()
	res.Targets = evaluateTargets(res)
	if len(res.Targets) != 6 {
		t.Fatalf("%d targets", len(res.Targets))
	}
	met := map[string]bool{}
	for _, tg := range res.Targets {
		met[tg.Name] = tg.Met
	}
	if met["sustained throughput"] || !met["p99 event-to-output latency at half the max rate"] || met["share of pass-through"] {
		t.Errorf("targets %+v", res.Targets)
	}
	md := Markdown(res)
	for _, want := range []string{"| segmentd, live | 200000 | **10500** | 0.35× | 1.31× |", "**not met**", "p99 event-to-output latency"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := Plot(res)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 1200 || img.Bounds().Dy() != 1180 {
		t.Errorf("plot is %v", img.Bounds())
	}
	// An empty run still plots.
	if _, err := Plot(&Results{Profile: "empty"}); err != nil {
		t.Fatal(err)
	}
}

func TestProcCPU(t *testing.T) {
	if _, err := procCPU(1); err != nil {
		t.Fatalf("reading the CPU time of a process from /proc: %v", err)
	}
	start := time.Now()
	for time.Since(start) < 50*time.Millisecond {
	}
	if d, err := procCPU(selfPID()); err != nil || d <= 0 {
		t.Errorf("procCPU(self) = %v, %v", d, err)
	}
	if rss, err := procRSS(selfPID()); err != nil || rss < 1<<20 {
		t.Errorf("procRSS(self) = %v, %v", rss, err)
	}
}

func TestMachineFromProc(t *testing.T) {
	start := time.Now()
	c0 := machineCPU()
	for time.Since(start) < 50*time.Millisecond {
	}
	if c1 := machineCPU(); c0 <= 0 || c1 <= c0 {
		t.Errorf("machine CPU %v then %v: want positive and growing", c0, c1)
	}
	if l := loadAvg1(); l < 0 {
		t.Errorf("load average %v", l)
	}
	if m := machineInfo(nil, "."); m.MemoryBytes < 1<<20 {
		t.Errorf("machine memory %d bytes", m.MemoryBytes)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{Short(), Full()} {
		c.ensureDefaults()
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c.Profile, err)
		}
	}
	c := Short()
	c.Skip = []string{"nope"}
	if c.Validate() == nil {
		t.Error("unknown phase accepted")
	}
	c = Short()
	c.Skip = []string{PhaseDefinitions, PhasePreview}
	if err := c.Validate(); err != nil {
		t.Errorf("skipping the issue 14 phases: %v", err)
	}
	c.BurstDefinitions = -1
	if c.Validate() == nil {
		t.Error("negative burst accepted")
	}
}

func selfPID() int { return os.Getpid() }
