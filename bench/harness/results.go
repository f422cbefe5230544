package harness

import (
	"encoding/json"
	"math"
	"time"
)

// Results are the figures of one run. Every rate is measured in this run; ratios
// compare systems measured in this run on the same broker and machine.
type Results struct {
	Profile  string    `json:"profile"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Config   Config    `json:"config"`
	Data     Data      `json:"data"`

	Seed        *Throughput  `json:"seed,omitempty"`        // segmentd over the history (import)
	SeedNaive   *Throughput  `json:"seed_naive,omitempty"`  // naive evaluation over the history
	Live        *Throughput  `json:"live,omitempty"`        // segmentd over the preloaded live events
	LiveNaive   *Throughput  `json:"live_naive,omitempty"`  // naive evaluation, same events
	Passthrough *Throughput  `json:"passthrough,omitempty"` // stateless exactly-once copy, same events
	Latency     *Latency     `json:"latency,omitempty"`     // open loop at LatencyFraction × Live
	Memory      *Memory      `json:"memory,omitempty"`      // after the latency run
	Backfill    *Backfill    `json:"backfill,omitempty"`    // a new segment over the largest shop
	Preview     *Preview     `json:"preview,omitempty"`     // admin API previews over the largest shop
	Definitions *Definitions `json:"definitions,omitempty"` // a burst of new definitions at once
	Scan        *Scan        `json:"scan,omitempty"`        // the seed product's method: a full scan
	Restore     *Restore     `json:"restore,omitempty"`     // from the changelog, data dir deleted
	Timers      []Timers     `json:"timers,omitempty"`      // per size
	KStreams    *Peer        `json:"kstreams,omitempty"`    // segmentd vs the Kafka Streams peer (issue 16)
	Targets     []Target     `json:"targets,omitempty"`     // issue 7
	Targets14   []Target     `json:"issue14_targets,omitempty"`
	Errors      []string     `json:"errors,omitempty"`        // phases that failed
	Notes       []string     `json:"notes,omitempty"`         // anything a reader must know
	LoadAvg     LoadAvg      `json:"load_average"`            // of the machine during the run
	Logs        string       `json:"logs,omitempty"`          // where the processes' logs are
	Topics      []string     `json:"topics_prefix,omitempty"` // topic name prefix
}

// Machine describes where the run happened.
type Machine struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model"`
	MemoryBytes   int64  `json:"memory_bytes"`
	Kernel        string `json:"kernel"`
	GoVersion     string `json:"go_version"`
	KafkaVersion  string `json:"kafka_version"`
	Brokers       string `json:"brokers"`
	SegmentdBuild string `json:"segmentd_build"` // git describe of the repo
}

// LoadAvg is the machine's load while the run lasted.
type LoadAvg struct {
	Start  string    `json:"start"` // /proc/loadavg
	End    string    `json:"end"`
	Max1   float64   `json:"max_1min"`
	Mean1  float64   `json:"mean_1min"`
	Series []float64 `json:"series_1min,omitempty"` // every 5 s
}

// Data describes the generated traffic.
type Data struct {
	Workspaces      int     `json:"workspaces"`
	Segments        int     `json:"segments"`        // in all, demo and random
	RandomSegments  int     `json:"random_segments"` // in all
	PairsCovered    int     `json:"pairs_covered"`   // (field, op) pairs of SPEC §6 used
	PairsTotal      int     `json:"pairs_total"`
	Contacts        int     `json:"contacts"` // distinct contact keys in all events
	LargestShop     int     `json:"largest_shop_contacts"`
	HistoryRecords  int64   `json:"history_records"`
	HistoryBytes    int64   `json:"history_bytes"`
	LiveRecords     int64   `json:"live_records"`
	LiveBytes       int64   `json:"live_bytes"`
	PreloadRate     float64 `json:"preload_records_per_second"` // producer, history
	LiveMix         Mix     `json:"live_mix"`
	CatalogProducts int     `json:"catalog_products"`
}

// Mix is the share of each kind of event.
type Mix struct {
	Orders, Customers, Messaging float64
	MeanOrderBytes               float64 `json:"mean_order_bytes"`
	MeanCustomerBytes            float64 `json:"mean_customer_bytes"`
	MeanStatusBytes              float64 `json:"mean_message_status_bytes"`
}

// Point is one sample of a time series: T seconds since the series' start.
type Point struct {
	T float64 `json:"t"`
	V float64 `json:"v"`
}

// Throughput is one maximum-throughput run: the events topic preloaded, the process
// started, timed until its group's committed offsets reach the end.
type Throughput struct {
	System string `json:"system"` // segmentd, segmentd-naive, passthrough
	Phase  string `json:"phase"`  // seed or live
	Events int64  `json:"events"` // input records of the phase
	// Sustained: from the first commit seen to the last, excluding start-up.
	MeasuredEvents  int64   `json:"measured_events"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	// Wall: from the start of the process to the end, start-up included.
	WallSeconds float64 `json:"wall_seconds"`
	// CPU of the process within the sustained window.
	CPUSeconds                 float64 `json:"cpu_seconds"`
	CPUSecondsPerMillion       float64 `json:"cpu_seconds_per_million_events"`
	BrokerCPUSecondsPerMillion float64 `json:"broker_cpu_seconds_per_million_events"`
	// segmentd only: segments evaluated per applied event (metric sum/count), and
	// transitions produced, over the window.
	EvaluationsPerEvent float64 `json:"evaluations_per_event,omitempty"`
	// Cores used by the process, and by the rest of the machine but the broker and the
	// harness (other people's work), within the window.
	Cores       float64 `json:"cores"`
	OtherCores  float64 `json:"other_cores"`
	Transitions float64 `json:"transitions,omitempty"`
	RSSBytes    int64   `json:"rss_bytes,omitempty"`
	Series      []Point `json:"series,omitempty"` // events/s over time
}

// Latency is the open-loop run.
type Latency struct {
	Rate            float64 `json:"rate"` // scheduled events/s
	Seconds         float64 `json:"seconds"`
	Events          int64   `json:"events"`
	EventsWithOuput int64   `json:"events_with_output"`
	Outputs         int64   `json:"outputs"` // membership records read, reason event
	// From the scheduled instant of the causing event (its record timestamp) to the
	// moment the harness's read_committed consumer received the first output it
	// caused, matched by cause.delivery_id. Milliseconds.
	P50, P90, P99, P999, Max float64
	// The same from segmentd_event_to_output_seconds (record timestamp → commit,
	// without the consumer's fetch), by bucket interpolation. Milliseconds.
	MetricP50, MetricP99, MetricP999 float64
	MetricCount                      float64 `json:"metric_count"`
	// How the producer kept to the schedule.
	SendLateP99Ms  float64 `json:"send_late_p99_ms"`
	SendLateMaxMs  float64 `json:"send_late_max_ms"`
	SendLate10ms   int64   `json:"send_late_over_10ms"`
	AckP99Ms       float64 `json:"ack_p99_ms"`
	CatchUpSeconds float64 `json:"catch_up_seconds"` // after the last event, until committed
	// segmentd's windows over the run: commit (flush + EndTxn) time and input records.
	CommitP50Ms       float64 `json:"commit_p50_ms"`
	CommitP99Ms       float64 `json:"commit_p99_ms"`
	MeanWindowRecords float64 `json:"mean_window_records"`
	Windows           float64 `json:"windows"`
	// CPU of segmentd over the run.
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_events"`
	Cores                float64 `json:"cores"`
	OtherCores           float64 `json:"other_cores"` // see Throughput.OtherCores
	SeriesP50            []Point `json:"series_p50"`
	SeriesP99            []Point `json:"series_p99"`
}

// Memory is segmentd's footprint after the latency run.
type Memory struct {
	Contacts         int     `json:"contacts"`
	RSSBytes         float64 `json:"rss_bytes"`
	GoHeapInuseBytes float64 `json:"go_heap_inuse_bytes"`
	PebbleDiskBytes  float64 `json:"pebble_disk_bytes"`
	PebbleMemtable   float64 `json:"pebble_memtable_bytes"`
	PebbleCache      float64 `json:"pebble_block_cache_bytes"`
	RSSPerContact    float64 `json:"rss_bytes_per_contact"`
	PebblePerContact float64 `json:"pebble_bytes_per_contact"`
	// After the restore, with state loaded and no traffic.
	RSSAfterRestore float64 `json:"rss_after_restore_bytes,omitempty"`
}

// Backfill is a new segment applied to every contact of the largest shop.
type Backfill struct {
	Workspace             string  `json:"workspace"`
	Segment               string  `json:"segment"`
	Contacts              float64 `json:"contacts"` // visited (segmentd_backfill_contacts_total)
	Seconds               float64 `json:"seconds"`  // definition produced → backfills_pending 0
	ContactsPerSecond     float64 `json:"contacts_per_second"`
	SecondsFor1M          float64 `json:"seconds_for_1m_contacts"`
	Transitions           float64 `json:"transitions"`
	CPUSecondsPerMContact float64 `json:"cpu_seconds_per_million_contacts"`
	BackfillModes
}

// BackfillModes is which path definition backfills took: per mode (algebra: decided
// from the attribute index's bitmaps; scan: every contact read from the store), the
// deltas of segmentd_backfill_contacts_total and _read_total over the phase and the
// partition steps completed ("segment step backfilled" log lines).
type BackfillModes struct {
	Mode           string             `json:"mode,omitempty"` // the modes used, "algebra", "scan" or "algebra+scan"
	ContactsByMode map[string]float64 `json:"contacts_by_mode,omitempty"`
	ReadByMode     map[string]float64 `json:"contacts_read_by_mode,omitempty"`
	StepsByMode    map[string]int     `json:"steps_by_mode,omitempty"`
}

// Definitions is a burst of new definitions produced to the segments topic at once,
// timed from the first produce until every partition logged "segment backfilled"
// for every one of them and segmentd_backfills_pending stayed 0.
type Definitions struct {
	Definitions    int     `json:"definitions"`
	Workspaces     int     `json:"workspaces"`
	Contacts       int     `json:"contacts"`
	Partitions     int     `json:"partitions"`
	ProduceSeconds float64 `json:"produce_seconds"`
	Seconds        float64 `json:"seconds"` // first produce → all backfilled, pending 0
	// DefinitionsPerSecond is Definitions / Seconds; on a timeout, the segments done
	// in every partition per second of the timeout.
	DefinitionsPerSecond float64 `json:"definitions_per_second"`
	// Backfilled counts (partition, segment) pairs with a "segment backfilled" log
	// line, of Definitions × Partitions; Segments the definitions done in every partition.
	Backfilled     int     `json:"backfilled_pairs"`
	Segments       int     `json:"segments_backfilled"`
	TimedOut       bool    `json:"timed_out,omitempty"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
	PendingAtEnd   float64 `json:"pending_at_end"` // segmentd_backfills_pending
	CPUSeconds     float64 `json:"cpu_seconds"`
	Transitions    float64 `json:"transitions"` // segmentd_transitions_total{reason="definition"} delta
	RSSBytes       float64 `json:"rss_bytes"`
	BackfillModes
}

// Preview is the latency of the admin API's reads of unsaved definitions over the
// largest shop: sequential requests, each timed from send to the body read.
type Preview struct {
	Workspace string            `json:"workspace"`
	Contacts  int               `json:"contacts"`
	Endpoints []PreviewEndpoint `json:"endpoints"`
}

// PreviewEndpoint is one route of the preview phase.
type PreviewEndpoint struct {
	Route    string  `json:"route"` // "POST /v1/workspaces/{ws}/segments:preview"
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"` // not 200, or not a well-formed answer
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	MeanMs   float64 `json:"mean_ms"`
	// The counts answered (count, or matching for a change preview).
	MinCount   int64  `json:"min_count"`
	MaxCount   int64  `json:"max_count"`
	FirstError string `json:"first_error,omitempty"`
}

// Scan is the seed product's method: the segment's rule evaluated over every contact
// of the workspace, as a periodic job would.
type Scan struct {
	Workspace string `json:"workspace"`
	Contacts  int    `json:"contacts"`
	Segments  int    `json:"segments"` // of the workspace
	// One segment over the records in Pebble (read, decode, derive attributes, match).
	StoreSeconds      float64 `json:"store_seconds"`
	StoreNsPerContact float64 `json:"store_ns_per_contact"`
	StoreSecondsFor1M float64 `json:"store_seconds_for_1m"`
	// One segment over attributes already in memory (a best case).
	MemorySeconds      float64 `json:"memory_seconds"`
	MemoryNsPerContact float64 `json:"memory_ns_per_contact"`
	// Every segment of the workspace over attributes in memory.
	AllSegmentsSeconds float64 `json:"all_segments_seconds"`
	Members            int     `json:"members"`
}

// Restore is a restart with the data dir deleted: every partition rebuilt from the
// changelog.
type Restore struct {
	Records           float64 `json:"records"` // segmentd_restore_records_total
	Contacts          int     `json:"contacts"`
	Seconds           float64 `json:"seconds"`         // start → all partitions restored and assigned
	ReadySeconds      float64 `json:"ready_seconds"`   // start → first /readyz 200
	RestoreSeconds    float64 `json:"restore_seconds"` // first restore start to last restore end, from the logs
	RecordsPerSecond  float64 `json:"records_per_second"`
	ContactsPerSecond float64 `json:"contacts_per_second"`
	SecondsFor1M      float64 `json:"seconds_for_1m_contacts"`
	// The changelog holds several records per contact until compaction; fully
	// compacted, a contact is one record.
	RecordsPerContact     float64 `json:"records_per_contact"`
	SecondsFor1MCompacted float64 `json:"seconds_for_1m_contacts_compacted"`
	Partitions            int     `json:"partitions"`
}

// Timers is the timer benchmark at one size: Stream timers fall due at StreamRate
// over StreamSeconds (the measured interval: Fired, lateness, CPU per timer), then
// Burst at one instant (the capacity: BurstRate); the Far others are days away.
type Timers struct {
	Contacts         int     `json:"contacts"`
	Far              int     `json:"far_contacts"`
	Stream           int     `json:"stream_timers"`
	StreamRate       float64 `json:"stream_timers_per_second"`
	StreamSeconds    float64 `json:"stream_seconds"`
	SeedSeconds      float64 `json:"seed_seconds"`
	SeedRate         float64 `json:"seed_events_per_second"`
	IdleSeconds      float64 `json:"idle_seconds"`
	IdleCPUPerMinute float64 `json:"idle_cpu_seconds_per_minute"`
	// Fired and what follows, to Note, are of the stream.
	Fired                float64 `json:"fired"` // segmentd_timer_lateness_seconds_count delta
	TimeTransitions      float64 `json:"time_transitions"`
	WindowSeconds        float64 `json:"window_seconds"`
	WindowCPUSeconds     float64 `json:"window_cpu_seconds"`
	CPUMicrosPerTimer    float64 `json:"cpu_us_per_timer"` // idle CPU subtracted
	RawCPUMicrosPerTimer float64 `json:"raw_cpu_us_per_timer"`
	LatenessP50          float64 `json:"lateness_p50_seconds"`
	LatenessP99          float64 `json:"lateness_p99_seconds"`
	// LatenessOverflow: p99 is beyond the histogram's highest bound (60 s), so
	// LatenessP99 is a lower bound.
	LatenessOverflow bool    `json:"lateness_p99_overflow,omitempty"`
	RSSBytes         float64 `json:"rss_bytes"`
	Note             string  `json:"note,omitempty"`
	// The burst: fired in BurstSeconds from their instant until the last fired,
	// BurstRate timers/s. Its CPU is from 2 s before the instant (the timers were
	// loaded into memory earlier).
	Burst                  int     `json:"burst_timers,omitempty"`
	BurstFired             float64 `json:"burst_fired,omitempty"`
	BurstSeconds           float64 `json:"burst_seconds,omitempty"`
	BurstRate              float64 `json:"burst_timers_per_second,omitempty"`
	BurstCPUMicrosPerTimer float64 `json:"burst_cpu_us_per_timer,omitempty"`
}

// Target is one target of issue 7.
type Target struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	Note     string `json:"note,omitempty"`
}

// Peer is the kstreams phase: segmentd and the Kafka Streams peer over the same live
// events (each from the first live offset with empty state) and the same definitions
// restricted to the peer's rule subset.
type Peer struct {
	Segments          int         `json:"segments"` // subset definitions
	Segmentd          *Throughput `json:"segmentd,omitempty"`
	KStreams          *Throughput `json:"kstreams,omitempty"`
	Ratio             float64     `json:"ratio"` // segmentd events/s ÷ the peer's
	SegmentdLatency   *Latency    `json:"segmentd_latency,omitempty"`
	KStreamsLatency   *Latency    `json:"kstreams_latency,omitempty"`
	SegmentdDiskBytes int64       `json:"segmentd_disk_bytes"` // data dir after the live run
	KStreamsDiskBytes int64       `json:"kstreams_disk_bytes"` // state dir after the live run
	Diff              *Diff       `json:"diff,omitempty"`
}

// Diff is the differential check: per (contact, segment), the sequence of transition
// types of both systems.
type Diff struct {
	Segmentd  int      `json:"segmentd_transitions"`
	KStreams  int      `json:"kstreams_transitions"`
	Pairs     int      `json:"pairs"`     // (contact, segment) pairs with a transition in either
	Differing int      `json:"differing"` // pairs whose sequences differ
	Examples  []string `json:"examples,omitempty"`
}

// MarshalJSON writes NaN and infinities as null.
func (l Latency) MarshalJSON() ([]byte, error) {
	type plain Latency
	p := plain(l)
	for _, f := range []*float64{&p.P50, &p.P90, &p.P99, &p.P999, &p.Max, &p.MetricP50, &p.MetricP99, &p.MetricP999} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = -1
		}
	}
	return json.Marshal(p)
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	return x
}
