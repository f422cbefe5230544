package harness

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Issue 7's targets.
const (
	targetEventsPerSecond   = 50_000
	targetPassthroughShare  = 0.5
	targetP99Ms             = 250
	targetRSSPerContact     = 1024
	targetBackfill1MSeconds = 2
	targetRestore1MSeconds  = 15
)

func evaluateTargets(res *Results) []Target {
	var ts []Target
	if l := res.Live; l != nil {
		ts = append(ts, Target{Name: "sustained throughput", Target: "≥ 50,000 events/s",
			Measured: fmt.Sprintf("%.0f events/s", l.EventsPerSecond), Met: l.EventsPerSecond >= targetEventsPerSecond})
		if p := res.Passthrough; p != nil && p.EventsPerSecond > 0 {
			share := l.EventsPerSecond / p.EventsPerSecond
			ts = append(ts, Target{Name: "share of pass-through", Target: "≥ 50%",
				Measured: fmt.Sprintf("%.0f%% (%.0f of %.0f events/s)", 100*share, l.EventsPerSecond, p.EventsPerSecond), Met: share >= targetPassthroughShare})
		}
	}
	if l := res.Latency; l != nil {
		ts = append(ts, Target{Name: "p99 event-to-output latency at half the max rate", Target: "≤ 250 ms",
			Measured: fmt.Sprintf("%.0f ms at %.0f events/s (p50 %.0f ms)", l.P99, l.Rate, l.P50), Met: l.P99 <= targetP99Ms && !math.IsNaN(l.P99) && l.P99 >= 0})
	}
	if m := res.Memory; m != nil && m.Contacts > 0 {
		ts = append(ts, Target{Name: "RSS per contact", Target: "≤ 1 KiB",
			Measured: fmt.Sprintf("%.0f B (%d MB for %d contacts)", m.RSSPerContact, int64(m.RSSBytes)>>20, m.Contacts), Met: m.RSSPerContact <= targetRSSPerContact,
			Note: extrapolationNote(m.Contacts)})
	}
	if b := res.Backfill; b != nil {
		ts = append(ts, Target{Name: "new segment backfilled over 1M contacts", Target: "≤ 2 s",
			Measured: fmt.Sprintf("%.1f s (%.0f contacts/s over %.0f contacts)", b.SecondsFor1M, b.ContactsPerSecond, b.Contacts), Met: b.SecondsFor1M <= targetBackfill1MSeconds,
			Note: extrapolationNote(int(b.Contacts))})
	}
	if r := res.Restore; r != nil {
		ts = append(ts, Target{Name: "1M-contact partition restored", Target: "≤ 15 s",
			Measured: fmt.Sprintf("%.1f s (%.0f contacts/s, %.0f changelog records/s)", r.SecondsFor1M, r.ContactsPerSecond, r.RecordsPerSecond), Met: r.SecondsFor1M <= targetRestore1MSeconds,
			Note: fmt.Sprintf("extrapolated from %d contacts over %d partitions restored one after the other, with %.1f changelog records per contact as measured; %.1f s if compacted to one record per contact", r.Contacts, r.Partitions, r.RecordsPerContact, r.SecondsFor1MCompacted)})
	}
	return ts
}

// Issue 14's targets.
const (
	target14Backfill1MSeconds = 1
	target14Burst             = 10_000
	target14BurstSeconds      = 60
	target14PreviewP99Ms      = 100
	target14Restore1MSeconds  = 8
	target14RSSPerContact     = 1024
)

func evaluateTargets14(res *Results) []Target {
	var ts []Target
	if b := res.Backfill; b != nil {
		ts = append(ts, Target{Name: "new segment over the largest shop", Target: "≤ 1 s per 1M contacts",
			Measured: fmt.Sprintf("%.2f s over %.0f contacts: %.2f s per 1M (%s)", b.Seconds, b.Contacts, b.SecondsFor1M, modeOrUnknown(b.Mode)),
			Met:      b.SecondsFor1M > 0 && b.SecondsFor1M <= target14Backfill1MSeconds, Note: extrapolationNote(int(b.Contacts))})
	}
	if d := res.Definitions; d != nil && d.Definitions > 0 {
		t := Target{Name: "10,000 definitions created at once", Target: "all backfilled ≤ 60 s"}
		scaled := d.Seconds * target14Burst / float64(d.Definitions)
		if d.TimedOut {
			t.Measured = fmt.Sprintf("timed out after %.0f s, %.0f pending; %d of %d backfilled (%s)", d.TimeoutSeconds, d.PendingAtEnd, d.Segments, d.Definitions, modeOrUnknown(d.Mode))
		} else {
			t.Measured = fmt.Sprintf("%d in %.1f s (%.0f definitions/s; %s)", d.Definitions, d.Seconds, d.DefinitionsPerSecond, modeOrUnknown(d.Mode))
			t.Met = scaled <= target14BurstSeconds
		}
		var notes []string
		if d.Definitions != target14Burst && !d.TimedOut {
			notes = append(notes, fmt.Sprintf("measured with %d definitions, %.1f s for 10,000 extrapolated linearly", d.Definitions, scaled))
		}
		if d.Contacts < 1_000_000 {
			notes = append(notes, fmt.Sprintf("over the %d contacts of %d shops", d.Contacts, d.Workspaces))
		}
		t.Note = strings.Join(notes, "; ")
		ts = append(ts, t)
	}
	if p := res.Preview; p != nil && len(p.Endpoints) > 0 {
		worst, errs := 0.0, 0
		var parts []string
		for _, e := range p.Endpoints {
			worst = math.Max(worst, e.P99Ms)
			if math.IsNaN(e.P99Ms) {
				worst = math.NaN()
			}
			errs += e.Errors
			parts = append(parts, fmt.Sprintf("%s %.1f ms", previewName(e.Route), e.P99Ms))
		}
		measured := strings.Join(parts, ", ")
		if errs > 0 {
			measured += fmt.Sprintf("; %d errors", errs)
		}
		note := ""
		if p.Contacts < 1_000_000 {
			note = fmt.Sprintf("over the %d contacts of %s, not extrapolated", p.Contacts, p.Workspace)
		}
		ts = append(ts, Target{Name: "segments:preview / change preview / audiences:estimate p99", Target: "≤ 100 ms",
			Measured: measured, Met: !math.IsNaN(worst) && worst <= target14PreviewP99Ms && errs == 0, Note: note})
	}
	if r := res.Restore; r != nil && r.RecordsPerSecond > 0 {
		ts = append(ts, Target{Name: "1M-contact partition restored (compacted changelog) incl. index", Target: "≤ 8 s",
			Measured: fmt.Sprintf("%.1f s (%.0f changelog records/s)", r.SecondsFor1MCompacted, r.RecordsPerSecond), Met: r.SecondsFor1MCompacted <= target14Restore1MSeconds,
			Note: fmt.Sprintf("extrapolated at one record per contact from %.0f records over %d partitions; %.1f s with this run's %.1f records per contact", r.Records, r.Partitions, r.SecondsFor1M, r.RecordsPerContact)})
	}
	if m := res.Memory; m != nil && m.Contacts > 0 {
		ts = append(ts, Target{Name: "RSS per contact, index included", Target: "≤ 1 KiB",
			Measured: fmt.Sprintf("%.0f B (%d MB for %d contacts)", m.RSSPerContact, int64(m.RSSBytes)>>20, m.Contacts), Met: m.RSSPerContact <= target14RSSPerContact,
			Note: extrapolationNote(m.Contacts)})
	}
	return ts
}

func modeOrUnknown(mode string) string {
	if mode == "" {
		return "mode unknown"
	}
	return "mode " + mode
}

// previewName is the short name of a preview route: "segments:preview".
func previewName(route string) string {
	switch route {
	case previewRoutes[1]:
		return "change preview"
	case previewRoutes[2]:
		return "audiences:estimate"
	}
	return "segments:preview"
}

func extrapolationNote(n int) string {
	if n >= 1_000_000 {
		return ""
	}
	return fmt.Sprintf("measured at %d contacts, extrapolated linearly", n)
}

func writeResults(res *Results, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, res.Profile)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".md", []byte(Markdown(res)), 0o644); err != nil {
		return err
	}
	png, err := Plot(res)
	if err != nil {
		return err
	}
	return os.WriteFile(base+".png", png, 0o644)
}

// ReadResults reads a results JSON file.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &res, nil
}

// WriteResults writes res as <dir>/<profile>.{json,md,png}.
func WriteResults(res *Results, dir string) error { return writeResults(res, dir) }

// Markdown renders the results as Markdown tables.
func Markdown(res *Results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.Machine
	w("### segmentd benchmark `%s`, %s\n\n", res.Profile, res.Started.UTC().Format("2006-01-02 15:04 MST"))
	w("Machine: %d CPUs (%s), %.1f GiB RAM, Linux %s; %s; Apache Kafka %s at %s (same machine); segmentd %s. ",
		m.CPUs, m.CPUModel, float64(m.MemoryBytes)/(1<<30), m.Kernel, m.GoVersion, m.KafkaVersion, m.Brokers, m.SegmentdBuild)
	w("Load average (1/5/15 min, runnable/total, last pid) before: `%s`, after: `%s`; 1-min max %.2f, mean %.2f over the run. ",
		res.LoadAvg.Start, res.LoadAvg.End, res.LoadAvg.Max1, res.LoadAvg.Mean1)
	w("Run took %s.\n\n", res.Finished.Sub(res.Started).Round(1e9))
	d := res.Data
	c := res.Config
	w("Data: %d shops (skew %.1f; the largest has %d contacts), %d contacts in all, %d segments (%d random over %d of %d field×operator pairs, and internal/gen's 6 demo segments per shop), %d catalog products. ",
		d.Workspaces, c.Skew, d.LargestShop, d.Contacts, d.Segments, d.RandomSegments, d.PairsCovered, d.PairsTotal, d.CatalogProducts)
	w("History: %d events (%d MB). Live: %d events (%d MB, %.0f B mean; mix %.0f%% orders, %.0f%% customers, %.0f%% messaging; orders/create %.0f B, customers %.0f B, message statuses %.0f B). ",
		d.HistoryRecords, d.HistoryBytes>>20, d.LiveRecords, d.LiveBytes>>20, float64(d.LiveBytes)/math.Max(1, float64(d.LiveRecords)),
		100*d.LiveMix.Orders, 100*d.LiveMix.Customers, 100*d.LiveMix.Messaging, d.LiveMix.MeanOrderBytes, d.LiveMix.MeanCustomerBytes, d.LiveMix.MeanStatusBytes)
	w("%d partitions, commit interval %s, exactly-once (one transaction per window) in every system.\n\n", c.Partitions, c.CommitInterval)

	if res.Live == nil && res.Seed == nil && res.Passthrough == nil {
		w("**Maximum throughput**: no run completed (see the errors below).\n\n")
	} else {
		w("**Maximum throughput** (events topic preloaded; the process started; timed from its first commit until its group's committed offsets reach the end):\n\n")
		throughputTable(&b, res)
	}
	if l := res.Latency; l != nil {
		w("**Event-to-output latency**, open loop at %.0f events/s (%.0f%% of segmentd's maximum) for %.0f s: %d events, %d caused at least one transition (%d transitions with reason `event`). ",
			l.Rate, 100*c.LatencyFraction, l.Seconds, l.Events, l.EventsWithOuput, l.Outputs)
		w("Measured from the event's scheduled instant (its record timestamp) to the harness's `read_committed` consumer receiving the first output naming it in `cause.delivery_id`; the producer never slowed the schedule (send lateness p99 %.1f ms, max %.1f ms, %d sends over 10 ms late). ",
			l.SendLateP99Ms, l.SendLateMaxMs, l.SendLate10ms)
		w("`segmentd_event_to_output_seconds` (timestamp → commit, without the consumer's fetch; interpolated within exponential buckets) is shown beside it. segmentd used %.1f CPU-s per million events at this rate (%.2f cores), in %.0f windows of %.0f input records on average, whose flush and commit took %.0f ms (p50) and %.0f ms (p99) (`segmentd_transaction_commit_seconds`); other people's work used %.2f of the machine's %d cores meanwhile.\n\n",
			l.CPUSecondsPerMillion, l.Cores, l.Windows, l.MeanWindowRecords, l.CommitP50Ms, l.CommitP99Ms, l.OtherCores, res.Machine.CPUs)
		w("| | p50 | p90 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|\n")
		w("| output received by a consumer | %.0f ms | %.0f ms | **%.0f ms** | %.0f ms | %.0f ms |\n", l.P50, l.P90, l.P99, l.P999, l.Max)
		w("| `segmentd_event_to_output_seconds` | %.0f ms | | %.0f ms | %.0f ms | |\n\n", l.MetricP50, l.MetricP99, l.MetricP999)
	}
	if s := res.Scan; s != nil {
		w("**The seed product's method: a full scan.** Evaluating one segment over all %d contacts of %s (the largest shop) takes %.0f ms reading segmentd's Pebble store (%.0f ns per contact: read, decode, derive attributes, match; %.1f s for 1M contacts) and %.1f ms over attributes already in memory (%.0f ns per contact); all %d segments of the shop over in-memory attributes take %.0f ms. ",
			s.Contacts, s.Workspace, 1000*s.StoreSeconds, s.StoreNsPerContact, s.StoreSecondsFor1M, 1000*s.MemorySeconds, s.MemoryNsPerContact, s.Segments, 1000*s.AllSegmentsSeconds)
		if l := res.Latency; l != nil {
			w("A periodic job detects a change at best one scan later and on average half a period plus a scan later; segmentd delivers it in %.0f ms (p50), %.0f ms (p99), whatever the shop's size. ", l.P50, l.P99)
		}
		w("\n\n")
	}
	if mm := res.Memory; mm != nil {
		w("**Memory** after the latency run: RSS %d MB for %d contacts (%.0f B per contact), Go heap in use %d MB, Pebble memtables %d MB and block cache %d MB; Pebble on disk %d MB (%.0f B per contact).",
			int64(mm.RSSBytes)>>20, mm.Contacts, mm.RSSPerContact, int64(mm.GoHeapInuseBytes)>>20, int64(mm.PebbleMemtable)>>20, int64(mm.PebbleCache)>>20, int64(mm.PebbleDiskBytes)>>20, mm.PebblePerContact)
		if mm.RSSAfterRestore > 0 {
			w(" After the restore (state rebuilt, no traffic): RSS %d MB.", int64(mm.RSSAfterRestore)>>20)
		}
		w("\n\n")
	}
	if bf := res.Backfill; bf != nil {
		w("**Backfill** of a new segment (`%s`) over %s: %.0f contacts in %.2f s from the definition's produce to `segmentd_backfills_pending` 0 (%.0f contacts/s, %.1f CPU-s per million contacts, %.0f transitions). Path: %s.\n\n",
			bf.Segment, bf.Workspace, bf.Contacts, bf.Seconds, bf.ContactsPerSecond, bf.CPUSecondsPerMContact, bf.Transitions, bf.BackfillModes)
	}
	if p := res.Preview; p != nil {
		previewSection(&b, p)
	}
	if d := res.Definitions; d != nil {
		definitionsSection(&b, d)
	}
	if rs := res.Restore; rs != nil {
		w("**Restore** with the data dir deleted: %.0f changelog records (%d contacts, %.1f records per contact: the changelog was not compacted yet) over %d partitions in %.2f s of restore (first partition's start to last partition's end per the \"restored partition\" logs, which include loading the bitmaps; two partitions restore at a time; %.0f records/s, %.0f contacts/s); every partition assigned and restored %.2f s after the start; `/readyz` first answered 200 after %.2f s. A 1M-contact partition at these rates: %.1f s with this changelog, %.1f s fully compacted (one record per contact).\n\n",
			rs.Records, rs.Contacts, rs.RecordsPerContact, rs.Partitions, rs.RestoreSeconds, rs.RecordsPerSecond, rs.ContactsPerSecond, rs.Seconds, rs.ReadySeconds, rs.SecondsFor1M, rs.SecondsFor1MCompacted)
	}
	if len(res.Timers) > 0 {
		w("**Timers** (issue 5): contacts with one time-relative timer each (days_since_last_order gt 30, lifecycle_stage is at_risk, last_engaged_at in_last_days 7), seeded with one ~300 B Form B event per contact. At each size, the *stream*: timers falling due one after the other at up to %.0f/s for up to %s (normal operation), while the other contacts' timers are days to months away; its CPU per timer covers the window from 62 s before the first timer (the load into memory) until every timer fired, less the idle CPU, and lateness is `segmentd_timer_lateness_seconds` (from the instant until the window fires the timer; the window commits right after) over the stream. Then the *burst*: up to %d timers due at one instant, fired at the process's capacity (timers/s from the instant until the last fired; CPU per timer from 2 s before, less idle).\n\n", c.TimerRate, c.TimerSpread, c.TimerBurst)
		w("| contacts | months away | stream | fired | CPU per timer | raw | lateness p50 | lateness p99 | burst | capacity | CPU per timer | idle CPU | RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, t := range res.Timers {
			p99 := fmt.Sprintf("%.3f s", t.LatenessP99)
			if t.LatenessOverflow {
				p99 = fmt.Sprintf("≥ %.0f s", t.LatenessP99)
			}
			stream, burst, capacity, bcpu := "–", "–", "–", "–"
			if t.Stream > 0 { // not in results from before the stream
				stream = fmt.Sprintf("%d at %.0f/s", t.Stream, t.StreamRate)
			}
			if t.Burst > 0 {
				burst = fmt.Sprintf("%d in %.2f s", t.Burst, t.BurstSeconds)
				capacity = fmt.Sprintf("%.0f/s", t.BurstRate)
				bcpu = fmt.Sprintf("%.1f µs", t.BurstCPUMicrosPerTimer)
			}
			w("| %d | %d | %s | %.0f | %.1f µs | %.1f µs | %.3f s | %s | %s | %s | %s | %.3f CPU-s/min | %d MB |\n", t.Contacts, t.Far, stream,
				t.Fired, t.CPUMicrosPerTimer, t.RawCPUMicrosPerTimer, t.LatenessP50, p99, burst, capacity, bcpu, t.IdleCPUPerMinute, int64(t.RSSBytes)>>20)
		}
		w("\n")
	}
	if p := res.KStreams; p != nil {
		peerSection(&b, res, p)
	}
	if len(res.Targets) > 0 {
		w("**Issue 7 targets:**\n\n| target | goal | measured | |\n|---|---|---|---|\n")
		for _, t := range res.Targets {
			w("%s", targetRow(t))
		}
		w("\n")
	}
	if len(res.Targets14) > 0 {
		w("**Issue 14 targets:**\n\n| target | goal | measured | |\n|---|---|---|---|\n")
		for _, t := range res.Targets14 {
			w("%s", targetRow(t))
		}
		w("\n")
	}
	for _, n := range res.Notes {
		w("- Note: %s\n", n)
	}
	for _, e := range res.Errors {
		w("- **Error**: %s\n", e)
	}
	return b.String()
}

// targetRow is a row of a targets table.
func targetRow(t Target) string {
	met := "**not met**"
	if t.Met {
		met = "met"
	}
	note := ""
	if t.Note != "" {
		note = " (" + t.Note + ")"
	}
	return fmt.Sprintf("| %s | %s | %s%s | %s |\n", t.Name, t.Target, t.Measured, note, met)
}

// previewSection writes the preview phase.
func previewSection(b *strings.Builder, p *Preview) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	n := 0
	if len(p.Endpoints) > 0 {
		n = p.Endpoints[0].Requests
	}
	w("**Previews** over %s (%d contacts), the admin API of the running segmentd: %d requests per route, one at a time, interleaved, each with a new random definition from `load.Definitions`' deck (the change preview replaces one of the shop's segments; the estimate includes 1–3 of the shop's segments and excludes 0–1); time from send to the whole answer read. An error is an answer other than 200 or one without the SPEC §8 fields (or with inconsistent counts).\n\n",
		p.Workspace, p.Contacts, n)
	w("| route | requests | errors | p50 | p99 | max | mean | count answered |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, e := range p.Endpoints {
		w("| `%s` | %d | %d | %.1f ms | **%.1f ms** | %.1f ms | %.1f ms | %d–%d |\n", e.Route, e.Requests, e.Errors, e.P50Ms, e.P99Ms, e.MaxMs, e.MeanMs, e.MinCount, e.MaxCount)
	}
	w("\n")
}

// definitionsSection writes the definitions phase.
func definitionsSection(b *strings.Builder, d *Definitions) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("**%d definitions created at once** over %d shops (%d contacts), random rules from `load.Definitions`' deck, produced to the segments topic in %.2f s; timed from the first produce until every one of the %d partitions logged `segment backfilled` for every new segment and `segmentd_backfills_pending` stayed 0 for 1 s. ",
		d.Definitions, d.Workspaces, d.Contacts, d.ProduceSeconds, d.Partitions)
	if d.TimedOut {
		w("**Timed out after %.0f s, %.0f backfills pending**: %d of %d definitions backfilled in every partition (%d of %d partition steps).",
			d.TimeoutSeconds, d.PendingAtEnd, d.Segments, d.Definitions, d.Backfilled, d.Definitions*d.Partitions)
	} else {
		w("All backfilled in **%.2f s** (%.1f definitions/s).", d.Seconds, d.DefinitionsPerSecond)
	}
	w(" segmentd used %.1f CPU-s meanwhile and produced %.0f transitions (`segmentd_transitions_total{reason=\"definition\"}`); RSS at the end %d MB. Path: %s.\n\n",
		d.CPUSeconds, d.Transitions, int64(d.RSSBytes)>>20, d.BackfillModes)
}

func throughputTable(b *strings.Builder, res *Results) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("| system | events | events/s | vs pass-through | vs naive | CPU-s per M events | cores used | broker CPU-s per M events | evaluations per event | RSS | others' cores |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var pass, naiveLive, naiveSeed float64
	if res.Passthrough != nil {
		pass = res.Passthrough.EventsPerSecond
	}
	if res.LiveNaive != nil {
		naiveLive = res.LiveNaive.EventsPerSecond
	}
	if res.SeedNaive != nil {
		naiveSeed = res.SeedNaive.EventsPerSecond
	}
	row := func(label string, t *Throughput, passRef, naiveRef float64) {
		if t == nil {
			return
		}
		ratio := func(ref float64) string {
			if ref <= 0 || t.EventsPerSecond == ref {
				return "—"
			}
			return fmt.Sprintf("%.2f×", t.EventsPerSecond/ref)
		}
		evals := "—"
		if t.EvaluationsPerEvent > 0 {
			evals = fmt.Sprintf("%.2f", t.EvaluationsPerEvent)
		}
		bcpu := "—"
		if t.BrokerCPUSecondsPerMillion > 0 {
			bcpu = fmt.Sprintf("%.1f", t.BrokerCPUSecondsPerMillion)
		}
		w("| %s | %d | **%.0f** | %s | %s | %.1f | %.2f | %s | %s | %d MB | %.2f |\n", label, t.Events, t.EventsPerSecond, ratio(passRef), ratio(naiveRef),
			t.CPUSecondsPerMillion, t.Cores, bcpu, evals, t.RSSBytes>>20, t.OtherCores)
	}
	row("segmentd, live", res.Live, pass, naiveLive)
	row("segmentd --bench-naive-evaluation, live", res.LiveNaive, pass, 0)
	row("pass-through (franz-go, no state), live", res.Passthrough, 0, 0)
	row("segmentd, history (import)", res.Seed, 0, naiveSeed)
	row("segmentd --bench-naive-evaluation, history", res.SeedNaive, 0, 0)
	w("\n\"Others' cores\": CPU used on the machine by anything but the process, the broker and the harness (other engineers' work) during the window, out of %d.\n\n", res.Machine.CPUs)

}

// peerSection writes the kstreams phase: segmentd against the Kafka Streams peer.
func peerSection(b *strings.Builder, res *Results, p *Peer) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("**segmentd vs Kafka Streams** (issue 16; bench/peers/kstreams, kafka-streams 4.1.1, exactly_once_v2, commit interval 100 ms, 2 stream threads): both from the first live offset with empty state, over the same %d events (the preloaded live events, and the main latency run's if it ran), on %d definitions restricted to the peer's rule subset (orders_count, total_spent, country, language, consent_status, tag, purchased_brand); one system at a time.\n\n",
		peerEvents(p), p.Segments)
	w("| system | events/s | CPU-s per M events | p99 latency at %.0f%% of its max | RSS | state on disk |\n|---|---:|---:|---:|---:|---:|\n", 100*res.Config.LatencyFraction)
	row := func(name string, t *Throughput, l *Latency, disk int64) {
		if t == nil {
			w("| %s | – | – | – | – | – |\n", name)
			return
		}
		lat := "not run"
		if l != nil {
			lat = fmt.Sprintf("%.0f ms (at %.0f/s; p50 %.0f ms)", l.P99, l.Rate, l.P50)
		}
		w("| %s | %.0f | %.1f | %s | %d MB | %.1f MB |\n", name, t.EventsPerSecond, t.CPUSecondsPerMillion, lat, t.RSSBytes>>20, float64(disk)/(1<<20))
	}
	row("segmentd (subset)", p.Segmentd, p.SegmentdLatency, p.SegmentdDiskBytes)
	row("Kafka Streams peer", p.KStreams, p.KStreamsLatency, p.KStreamsDiskBytes)
	w("\n")
	if p.Ratio > 0 {
		w("segmentd ÷ Kafka Streams: **%.2f×** the throughput", p.Ratio)
		if p.Segmentd.CPUSecondsPerMillion > 0 {
			w(", %.2f× less CPU per event", p.KStreams.CPUSecondsPerMillion/p.Segmentd.CPUSecondsPerMillion)
		}
		if p.Segmentd.RSSBytes > 0 {
			w(", %.2f× less RSS", float64(p.KStreams.RSSBytes)/float64(p.Segmentd.RSSBytes))
		}
		w(" (goal: ≥ 3× the throughput).\n\n")
	}
	if d := p.Diff; d != nil {
		if d.Differing == 0 {
			w("Differential check: **identical** — %d transitions from segmentd, %d from the peer, over %d (contact, segment) pairs.\n\n", d.Segmentd, d.KStreams, d.Pairs)
		} else {
			w("Differential check: **%d of %d (contact, segment) pairs differ** (%d transitions from segmentd, %d from the peer); e.g.:\n\n", d.Differing, d.Pairs, d.Segmentd, d.KStreams)
			for _, e := range d.Examples {
				w("- `%s`\n", e)
			}
			w("\n")
		}
	}
}

func peerEvents(p *Peer) int64 {
	if p.Segmentd != nil {
		return p.Segmentd.Events
	}
	return 0
}
