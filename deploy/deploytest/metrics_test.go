package deploytest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/segmentd/segmentd/internal/testenv"
	"github.com/segmentd/segmentd/state"
)

type metricKind string

const (
	counter   metricKind = "counter"
	gauge     metricKind = "gauge"
	histogram metricKind = "histogram"
	summary   metricKind = "summary"
)

// metricSource says where a known metric comes from, and so how it is checked.
type metricSource int

const (
	// code: defined as prometheus.XxxOpts{Name: "segmentd_..."} in segmentd's Go code
	// (processor/metrics.go). Must be found there with the same type: renaming one
	// breaks the test.
	code metricSource = iota
	// pebble: state.Collector, Pebble's metrics read on scrape. Checked by gathering a
	// collector of an in-memory store.
	pebble
	// kafkaClient: franz-go's plugin/kprom as processor.New registers it (namespace
	// segmentd, subsystem kafka). Checked by registering kprom on a client.
	kafkaClient
	// goRuntime: client_golang's Go and process collectors, which cmd/segmentd
	// registers. Checked by gathering them.
	goRuntime
	// scrape: written by Prometheus itself for each target.
	scrape
	// planned: being added to segmentd's code. Absent from the code is a note, not a
	// failure; present, the type must match.
	planned
)

func (s metricSource) String() string {
	return [...]string{"code", "pebble", "kafkaClient", "goRuntime", "scrape", "planned"}[s]
}

type knownMetric struct {
	kind   metricKind
	source metricSource
}

// knownMetrics are the metrics the rules and the dashboard may name. Each segmentd_*
// one needs a dashboard panel (TestDashboardShowsEverySegmentdMetric). When a planned
// metric lands in the code, change its source to code.
var knownMetrics = map[string]knownMetric{
	// processor/metrics.go
	"segmentd_events_total":                  {counter, code}, // {topic, result}
	"segmentd_dead_letters_total":            {counter, code}, // {reason}
	"segmentd_guest_orders_total":            {counter, code},
	"segmentd_transitions_total":             {counter, code}, // {type, reason}
	"segmentd_segment_evaluations_total":     {counter, code},
	"segmentd_segment_evaluations_per_event": {histogram, code},
	"segmentd_transactions_total":            {counter, code}, // {result}
	"segmentd_transaction_commit_seconds":    {histogram, code},
	"segmentd_window_records":                {histogram, code},
	"segmentd_restore_records_total":         {counter, code},
	"segmentd_partitions_assigned":           {gauge, code},
	"segmentd_partitions_restoring":          {gauge, code},
	"segmentd_backfill_contacts_total":       {counter, code}, // {mode}
	"segmentd_backfill_contacts_read_total":  {counter, code}, // {mode}
	"segmentd_backfills_pending":             {gauge, code},
	"segmentd_ready":                         {gauge, code},
	"segmentd_consumer_lag":                  {gauge, code}, // {topic, partition}
	"segmentd_event_to_output_seconds":       {histogram, code},
	"segmentd_attribute_index_bytes":         {gauge, code}, // {partition}

	// cmd/segmentd/version.go
	"segmentd_build_info": {gauge, code}, // {version, revision, goversion}

	// admin/metrics.go
	"segmentd_admin_requests_total":  {counter, code},   // {route, code}
	"segmentd_admin_request_seconds": {histogram, code}, // {route}

	// Being added (issue 6).
	"segmentd_timers_pending":         {gauge, code},
	"segmentd_timer_lateness_seconds": {histogram, code},

	// state/metrics.go
	"segmentd_pebble_disk_usage_bytes":         {gauge, pebble},
	"segmentd_pebble_memtable_bytes":           {gauge, pebble},
	"segmentd_pebble_read_amplification":       {gauge, pebble},
	"segmentd_pebble_tables":                   {gauge, pebble},
	"segmentd_pebble_l0_tables":                {gauge, pebble},
	"segmentd_pebble_compactions_total":        {counter, pebble},
	"segmentd_pebble_flushes_total":            {counter, pebble},
	"segmentd_pebble_block_cache_hits_total":   {counter, pebble},
	"segmentd_pebble_block_cache_misses_total": {counter, pebble},
	"segmentd_pebble_block_cache_bytes":        {gauge, pebble},

	// franz-go kprom (labels node_id, and topic for fetch and produce).
	"segmentd_kafka_fetch_bytes_total":            {counter, kafkaClient},
	"segmentd_kafka_produce_bytes_total":          {counter, kafkaClient},
	"segmentd_kafka_connect_errors_total":         {counter, kafkaClient},
	"segmentd_kafka_read_errors_total":            {counter, kafkaClient},
	"segmentd_kafka_write_errors_total":           {counter, kafkaClient},
	"segmentd_kafka_request_duration_e2e_seconds": {histogram, kafkaClient},

	// Go and process collectors.
	"go_goroutines":                 {gauge, goRuntime},
	"go_memstats_heap_inuse_bytes":  {gauge, goRuntime},
	"go_memstats_heap_alloc_bytes":  {gauge, goRuntime},
	"go_memstats_next_gc_bytes":     {gauge, goRuntime},
	"go_gc_duration_seconds":        {summary, goRuntime},
	"process_resident_memory_bytes": {gauge, goRuntime},
	"process_cpu_seconds_total":     {counter, goRuntime},

	"up": {gauge, scrape},
}

// resolveSeries maps a series name as PromQL reads it to its known metric:
// name_bucket, name_sum and name_count of a histogram, name, name_sum and name_count of
// a summary.
func resolveSeries(name string) (string, error) {
	if m, ok := knownMetrics[name]; ok {
		if m.kind == histogram {
			return "", fmt.Errorf("%s is a histogram: read %[1]s_bucket, _sum or _count", name)
		}
		return name, nil
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		m, known := knownMetrics[base]
		switch {
		case !known:
		case m.kind == histogram, m.kind == summary && suffix != "_bucket":
			return base, nil
		default:
			return "", fmt.Errorf("%s: %s is a %s, it has no %s series", name, base, m.kind, suffix)
		}
	}
	return "", fmt.Errorf("unknown metric %s: not in deploytest's knownMetrics (metrics_test.go); renamed, or a typo?", name)
}

// codeMetric is a metric defined in segmentd's Go code.
type codeMetric struct {
	kind metricKind
	file string
}

var metricDefRE = regexp.MustCompile(`prometheus\.(Counter|Gauge|Histogram|Summary)Opts\{\s*Name:\s*"(segmentd_[a-z0-9_]+)"`)

// codeMetrics finds the metrics defined as prometheus.XxxOpts{Name: "segmentd_..."} in
// the repository's non-test Go files (processor/metrics.go today).
func codeMetrics(t *testing.T) map[string]codeMetric {
	t.Helper()
	root := testenv.RepoRoot(t)
	found := map[string]codeMetric{}
	for _, path := range goSources(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		for _, m := range metricDefRE.FindAllStringSubmatch(string(src), -1) {
			found[m[2]] = codeMetric{kind: metricKind(strings.ToLower(m[1])), file: rel}
		}
	}
	return found
}

// goSources lists the repository's non-test Go files outside deploy/ and testdata.
func goSources(t *testing.T) []string {
	t.Helper()
	root := testenv.RepoRoot(t)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "bin" ||
				path == filepath.Join(root, "deploy")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCodeMetrics checks the known metrics against segmentd's code: a code one must be
// defined, with the same type; a planned one is a note until it is.
func TestCodeMetrics(t *testing.T) {
	defined := codeMetrics(t)
	if _, ok := defined["segmentd_events_total"]; !ok {
		t.Fatalf("found no segmentd metric definitions in the code (looked for %s): has the way metrics are defined changed?", metricDefRE)
	}
	for _, name := range sortedKeys(knownMetrics) {
		m := knownMetrics[name]
		c, inCode := defined[name]
		switch {
		case m.source != code && m.source != planned:
		case inCode && c.kind != m.kind:
			t.Errorf("%s: defined as a %s in %s; the dashboard and the alerts read it as a %s", name, c.kind, c.file, m.kind)
		case m.source == code && !inCode:
			t.Errorf("%s: not defined in the code any more (renamed or removed?); the dashboard and the alerts read it", name)
		case m.source == code:
		case inCode:
			t.Logf("note: planned metric %s is now defined in %s: make its source code in metrics_test.go", name, c.file)
		default:
			t.Logf("note: planned metric %s is not in the code yet; its panels and alerts stay empty until it is", name)
		}
	}
	for _, name := range sortedKeys(defined) {
		if _, ok := knownMetrics[name]; !ok {
			t.Logf("note: %s (%s) is not on the dashboard: add it to knownMetrics and give it a panel", name, defined[name].file)
		}
	}
}

// checkGathered compares the known metrics of source with what was gathered from it.
func checkGathered(t *testing.T, source metricSource, gathered map[string]metricKind, noteUnknown bool) {
	t.Helper()
	for _, name := range sortedKeys(knownMetrics) {
		m := knownMetrics[name]
		if m.source != source {
			continue
		}
		kind, ok := gathered[name]
		switch {
		case !ok && strings.HasPrefix(name, "process_") && runtime.GOOS != "linux":
			t.Logf("note: %s not gathered on %s (the process collector is Linux-first)", name, runtime.GOOS)
		case !ok:
			t.Errorf("%s: not produced by the %s metrics (renamed or removed?); the dashboard or the alerts read it", name, source)
		case kind != m.kind:
			t.Errorf("%s: a %s, the dashboard and the alerts read it as a %s", name, kind, m.kind)
		}
	}
	if noteUnknown {
		for _, name := range sortedKeys(gathered) {
			if _, ok := knownMetrics[name]; !ok {
				t.Logf("note: %s is not on the dashboard: add it to knownMetrics and give it a panel", name)
			}
		}
	}
}

func gatherKinds(t *testing.T, g prometheus.Gatherer) map[string]metricKind {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]metricKind{}
	for _, f := range families {
		kinds[f.GetName()] = map[dto.MetricType]metricKind{
			dto.MetricType_COUNTER:   counter,
			dto.MetricType_GAUGE:     gauge,
			dto.MetricType_HISTOGRAM: histogram,
			dto.MetricType_SUMMARY:   summary,
		}[f.GetType()]
	}
	return kinds
}

// TestPebbleMetrics gathers state.Collector over an in-memory store.
func TestPebbleMetrics(t *testing.T) {
	store, err := state.Open("deploytest", state.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(state.NewCollector(store))
	checkGathered(t, pebble, gatherKinds(t, reg), true)
}

// describingRegisterer records what is registered on it: metric vectors without
// children are not gathered, but they describe themselves.
type describingRegisterer struct{ kinds map[string]metricKind }

var fqNameRE = regexp.MustCompile(`fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)"`)

func (r *describingRegisterer) Register(c prometheus.Collector) error {
	var kind metricKind
	switch c.(type) {
	case *prometheus.CounterVec:
		kind = counter
	case *prometheus.GaugeVec:
		kind = gauge
	case *prometheus.HistogramVec:
		kind = histogram
	case *prometheus.SummaryVec:
		kind = summary
	default:
		// A single metric (a GaugeFunc looks like a CounterFunc): ask it.
		ch := make(chan prometheus.Metric, 16)
		go func() { c.Collect(ch); close(ch) }()
		for m := range ch {
			var pb dto.Metric
			if err := m.Write(&pb); err != nil {
				return err
			}
			name := fqNameRE.FindStringSubmatch(m.Desc().String())
			if name == nil {
				return fmt.Errorf("deploytest: no name in %s", m.Desc())
			}
			switch {
			case pb.Counter != nil:
				r.kinds[name[1]] = counter
			case pb.Gauge != nil:
				r.kinds[name[1]] = gauge
			case pb.Histogram != nil:
				r.kinds[name[1]] = histogram
			case pb.Summary != nil:
				r.kinds[name[1]] = summary
			}
		}
		return nil
	}
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			r.kinds[m[1]] = kind
		}
	}
	return nil
}

func (r *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *describingRegisterer) Unregister(prometheus.Collector) bool { return true }

// kpromCall is how processor.New creates the client metrics; the test builds them the
// same way.
const kpromCall = `kprom.NewMetrics("segmentd", kprom.Subsystem("kafka"), kprom.Registerer(cfg.Registerer),
		kprom.Histograms(kprom.RequestDurationE2E))`

// TestKafkaClientMetrics registers kprom, as processor.New configures it, on a client
// and checks the segmentd_kafka_* metrics the dashboard reads.
func TestKafkaClientMetrics(t *testing.T) {
	src := readRepoFile(t, "processor/processor.go")
	if !strings.Contains(string(src), kpromCall) {
		t.Fatalf("processor/processor.go no longer calls %s: update TestKafkaClientMetrics and the segmentd_kafka_* names", kpromCall)
	}
	reg := &describingRegisterer{kinds: map[string]metricKind{}}
	m := kprom.NewMetrics("segmentd", kprom.Subsystem("kafka"), kprom.Registerer(reg), kprom.Histograms(kprom.RequestDurationE2E))
	// The client only registers the hooks' metrics; it never reaches this address.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.WithHooks(m))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	checkGathered(t, kafkaClient, reg.kinds, false)
}

// TestRuntimeMetrics gathers client_golang's Go and process collectors, which
// cmd/segmentd registers, and checks the runtime metrics the dashboard reads.
func TestRuntimeMetrics(t *testing.T) {
	runSrc := string(readRepoFile(t, "cmd/segmentd/run.go"))
	for _, c := range []string{"collectors.NewGoCollector(", "collectors.NewProcessCollector("} {
		if !strings.Contains(runSrc, c) {
			t.Errorf("cmd/segmentd/run.go no longer registers %s...): the dashboard's Go runtime row reads its metrics", c)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	checkGathered(t, goRuntime, gatherKinds(t, reg), false)
}

func TestResolveSeries(t *testing.T) {
	for name, want := range map[string]string{
		"segmentd_events_total":                              "segmentd_events_total",
		"segmentd_transaction_commit_seconds_bucket":         "segmentd_transaction_commit_seconds",
		"segmentd_segment_evaluations_per_event_sum":         "segmentd_segment_evaluations_per_event",
		"go_gc_duration_seconds":                             "go_gc_duration_seconds",
		"go_gc_duration_seconds_count":                       "go_gc_duration_seconds",
		"segmentd_kafka_request_duration_e2e_seconds_bucket": "segmentd_kafka_request_duration_e2e_seconds",
	} {
		if got, err := resolveSeries(name); err != nil || got != want {
			t.Errorf("resolveSeries(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{
		"segmentd_event_total",                // typo
		"segmentd_transaction_commit_seconds", // a histogram has no bare series
		"segmentd_events_total_count",         // a counter has no _count
		"go_gc_duration_seconds_bucket",       // a summary has no buckets
	} {
		if got, err := resolveSeries(name); err == nil {
			t.Errorf("resolveSeries(%s) = %q, want an error", name, got)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
