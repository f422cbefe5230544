package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// mark is a measurement at one instant of a throughput run.
type mark struct {
	at      time.Time
	done    int64 // events committed since the run began
	cpu     time.Duration
	bcpu    time.Duration // broker
	machine time.Duration // every CPU of the machine, busy
	self    time.Duration // the harness
	m       metrics
}

func (r *run) mark(ctx context.Context, s *sut, at time.Time, done int64) mark {
	mk := mark{at: at, done: done, machine: machineCPU(), self: selfCPUTime()}
	mk.cpu, _ = s.cpu()
	if r.brokerPID > 0 {
		mk.bcpu, _ = procCPU(r.brokerPID)
	}
	if s.httpAddr != "" {
		mk.m, _ = s.scrape(ctx)
	}
	return mk
}

// throughput starts s if it is not running and times it until its group's committed
// offsets reach the current end of the events topic.
func (r *run) throughput(ctx context.Context, s *sut, phase string) (*Throughput, error) {
	end, err := r.adm.endOffsets(ctx, s.events)
	if err != nil {
		return nil, err
	}
	c0, err := r.adm.committed(ctx, s.group, s.events)
	if err != nil {
		return nil, err
	}
	events := remaining(end, c0)
	t := &Throughput{System: s.kind, Phase: phase, Events: events}
	t0 := time.Now()
	if !s.running() {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	timeout := 15*time.Minute + time.Duration(events/300)*time.Second
	var first, last mark
	var samples []Point
	progressAt, lastDone := time.Now(), int64(-1)
	for {
		if err := s.exitErr(); err != nil {
			return nil, err
		}
		cm, err := r.adm.committed(ctx, s.group, s.events)
		now := time.Now()
		if err == nil {
			done := events - remaining(end, cm)
			if done != lastDone {
				progressAt, lastDone = now, done
			} else if now.Sub(progressAt) > stallTimeout {
				return nil, r.stalled(ctx, s, now.Sub(progressAt))
			}
			samples = append(samples, Point{T: now.Sub(t0).Seconds(), V: float64(done)})
			if first.at.IsZero() && done > 0 {
				first = r.mark(ctx, s, now, done)
			}
			if done >= events {
				last = r.mark(ctx, s, now, done)
				break
			}
		}
		if now.Sub(t0) > timeout {
			return nil, fmt.Errorf("%s did not catch up within %v", s.name, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.WallSeconds = last.at.Sub(t0).Seconds()
	t.MeasuredEvents = last.done - first.done
	t.Seconds = last.at.Sub(first.at).Seconds()
	if t.MeasuredEvents < events/5 || t.Seconds <= 0 {
		// Too short to exclude start-up: the whole run is the window.
		r.note("%s %s: the run is too short for a sustained window; using wall time", s.kind, phase)
		t.MeasuredEvents, t.Seconds = events, t.WallSeconds
		first.cpu, first.bcpu, first.m = 0, 0, nil
	}
	t.EventsPerSecond = float64(t.MeasuredEvents) / t.Seconds
	t.CPUSeconds = (last.cpu - first.cpu).Seconds()
	if first.machine > 0 {
		t.Cores, t.OtherCores = coreShares(first, last)
	}
	if t.MeasuredEvents > 0 {
		t.CPUSecondsPerMillion = t.CPUSeconds / float64(t.MeasuredEvents) * 1e6
		if r.brokerPID > 0 && first.bcpu > 0 {
			t.BrokerCPUSecondsPerMillion = (last.bcpu - first.bcpu).Seconds() / float64(t.MeasuredEvents) * 1e6
		}
	}
	if last.m != nil {
		h := last.m.histogram("segmentd_segment_evaluations_per_event")
		if first.m != nil {
			h = h.sub(first.m.histogram("segmentd_segment_evaluations_per_event"))
			t.Transitions = last.m.sum("segmentd_transitions_total") - first.m.sum("segmentd_transitions_total")
		} else {
			t.Transitions = last.m.sum("segmentd_transitions_total")
		}
		t.EvaluationsPerEvent = finite(h.mean())
		t.RSSBytes = int64(last.m.sum("process_resident_memory_bytes"))
	} else if rss, err := procRSS(s.pid()); err == nil {
		t.RSSBytes = rss
	}
	t.Series = rateSeries(samples)
	return t, nil
}

// stallTimeout is how long a process may commit nothing while it has input before
// the phase fails: a window is bounded (commit interval, records, backfill chunk), so
// minutes without a commit are a livelock, not slowness.
const stallTimeout = 3 * time.Minute

// stalled describes a process that stopped making progress: its window counts and
// the last warning of its log.
func (r *run) stalled(ctx context.Context, s *sut, d time.Duration) error {
	msg := fmt.Sprintf("%s committed no input for %s", s.name, d.Round(time.Second))
	if m, err := s.scrape(ctx); err == nil {
		msg += fmt.Sprintf(" (windows: %.0f committed, %.0f aborted)",
			m.sum("segmentd_transactions_total", "result", "committed"), m.sum("segmentd_transactions_total", "result", "aborted"))
	}
	if w := lastWarning(s.logPath); w != "" {
		msg += "; last warning in its log: " + w
	}
	return errors.New(msg)
}

// lastWarning returns the last WARN or ERROR line among the last 32 MiB of a log.
func lastWarning(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 32<<20 {
		_, _ = f.Seek(fi.Size()-32<<20, 0)
	}
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			last = line
		}
	}
	if len(last) > 600 {
		last = last[:600] + "…"
	}
	return last
}

// rateSeries turns cumulative counts into a rate per second, over steps of at least
// one second, and of at least 1/80 of the span so that long runs (whose windows
// commit seconds apart) do not alias.
func rateSeries(samples []Point) []Point {
	var out []Point
	if len(samples) == 0 {
		return nil
	}
	step := max(1, (samples[len(samples)-1].T-samples[0].T)/80)
	prev := samples[0]
	for _, s := range samples[1:] {
		if dt := s.T - prev.T; dt >= step {
			out = append(out, Point{T: s.T, V: (s.V - prev.V) / dt})
			prev = s
		}
	}
	return out
}

// latency produces live events at rate on an open loop for LatencyDuration and
// matches each output to the event that caused it.
func (r *run) latency(ctx context.Context, s *sut, rate float64) (*Latency, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("no rate to run at")
	}
	ends, err := r.adm.endOffsets(ctx, s.membership)
	if err != nil {
		return nil, err
	}
	offs := map[int32]kgo.Offset{}
	for p, o := range ends {
		offs[p] = kgo.NewOffset().At(o)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(r.cfg.Brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.membership: offs}), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cons.Close()

	type match struct{ sched, lat time.Duration }
	var mu sync.Mutex
	pending := map[string]time.Time{} // delivery id → scheduled instant
	var matched []match
	var outputs int64
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var v struct {
			Reason string `json:"reason"`
			Cause  struct {
				DeliveryID string `json:"delivery_id"`
			} `json:"cause"`
		}
		for cctx.Err() == nil {
			fs := cons.PollFetches(cctx)
			got := time.Now()
			fs.EachRecord(func(rec *kgo.Record) {
				v.Reason, v.Cause.DeliveryID = "", ""
				if json.Unmarshal(rec.Value, &v) != nil || v.Reason != "event" {
					return
				}
				mu.Lock()
				outputs++
				if at, ok := pending[v.Cause.DeliveryID]; ok {
					delete(pending, v.Cause.DeliveryID)
					matched = append(matched, match{sched: at.Sub(r.start), lat: got.Sub(at)})
				}
				mu.Unlock()
			})
		}
	}()

	var m0, m1 metrics // segmentd's own figures; none for a process without /metrics
	if s.httpAddr != "" {
		if m0, err = s.scrape(ctx); err != nil {
			return nil, err
		}
	}
	cpu0, _ := s.cpu()
	mk0 := r.mark(ctx, s, time.Now(), 0)
	// The records are generated before the clock starts, so that building ~5 KB
	// JSON orders does not take CPU from segmentd on this small machine; their
	// payload instants are those of a schedule starting now, a few seconds before
	// the real one (the record timestamp is the real scheduled instant).
	genStart := time.Now()
	pre := make([]*kgo.Record, 0, int(rate*r.cfg.LatencyDuration.Seconds())+1)
	for i := range cap(pre) {
		rec := r.g.Next(genStart.Add(time.Duration(float64(i) / rate * float64(time.Second))))
		r.count(rec.Key)
		pre = append(pre, load.Record(r.events, rec))
	}
	r.logf("latency: %d records generated in %s", len(pre), time.Since(genStart).Round(time.Millisecond))
	st, err := r.prod.OpenLoop(ctx, load.OpenLoopConfig{
		Rate: rate, Duration: r.cfg.LatencyDuration,
		Next: func(time.Time) *kgo.Record {
			if len(pre) == 0 { // rounding: one more than planned
				rec := r.g.Next(time.Now())
				r.count(rec.Key)
				return load.Record(r.events, rec)
			}
			rec := pre[0]
			pre[0], pre = nil, pre[1:]
			return rec
		},
		Sent: func(sched time.Time, rec *kgo.Record) {
			if id := load.DeliveryID(rec); id != "" {
				mu.Lock()
				if _, dup := pending[id]; !dup {
					pending[id] = sched
				}
				mu.Unlock()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	stopped := time.Now()
	mk1 := r.mark(ctx, s, stopped, 0)
	end, err := r.adm.endOffsets(ctx, s.events)
	if err != nil {
		return nil, err
	}
	for {
		if err := s.exitErr(); err != nil {
			return nil, err
		}
		cm, err := r.adm.committed(ctx, s.group, s.events)
		if err == nil && remaining(end, cm) == 0 {
			break
		}
		if time.Since(stopped) > 5*time.Minute {
			return nil, fmt.Errorf("%s did not catch up within 5 minutes of the end of the open loop", s.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	caughtUp := time.Since(stopped)
	time.Sleep(2 * time.Second) // let the consumer read the last committed outputs
	cancel()
	wg.Wait()
	if s.httpAddr != "" {
		if m1, err = s.scrape(ctx); err != nil {
			return nil, err
		}
	}
	cpu1, _ := s.cpu()

	l := &Latency{Rate: rate, Seconds: r.cfg.LatencyDuration.Seconds(), Events: st.Scheduled, Outputs: outputs,
		EventsWithOuput: int64(len(matched)),
		SendLateP99Ms:   ms(st.LateP99), SendLateMaxMs: ms(st.LateMax), SendLate10ms: st.Late10ms, AckP99Ms: ms(st.AckP99),
		CatchUpSeconds: caughtUp.Seconds()}
	if st.Scheduled > 0 {
		l.CPUSecondsPerMillion = (cpu1 - cpu0).Seconds() / float64(st.Scheduled) * 1e6
	}
	l.Cores, l.OtherCores = coreShares(mk0, mk1)
	lats := make([]time.Duration, len(matched))
	for i, m := range matched {
		lats[i] = m.lat
	}
	slices.Sort(lats)
	q := func(f float64) float64 {
		if len(lats) == 0 {
			return math.NaN()
		}
		return ms(lats[min(len(lats)-1, int(f*float64(len(lats))))])
	}
	l.P50, l.P90, l.P99, l.P999 = q(0.5), q(0.9), q(0.99), q(0.999)
	if len(lats) > 0 {
		l.Max = ms(lats[len(lats)-1])
	}
	h := m1.histogram("segmentd_event_to_output_seconds").sub(m0.histogram("segmentd_event_to_output_seconds"))
	l.MetricP50, l.MetricP99, l.MetricP999 = 1000*h.quantile(0.5), 1000*h.quantile(0.99), 1000*h.quantile(0.999)
	l.MetricCount = h.count
	ch := m1.histogram("segmentd_transaction_commit_seconds").sub(m0.histogram("segmentd_transaction_commit_seconds"))
	l.CommitP50Ms, l.CommitP99Ms = finite(1000*ch.quantile(0.5)), finite(1000*ch.quantile(0.99))
	wh := m1.histogram("segmentd_window_records").sub(m0.histogram("segmentd_window_records"))
	l.MeanWindowRecords, l.Windows = finite(wh.mean()), wh.count
	// Per second of schedule: p50 and p99.
	slices.SortFunc(matched, func(a, b match) int { return int(a.sched - b.sched) })
	origin := st.Start.Sub(r.start)
	for i := 0; i < len(matched); {
		sec := int((matched[i].sched - origin) / time.Second)
		j := i
		var bucket []time.Duration
		for j < len(matched) && int((matched[j].sched-origin)/time.Second) == sec {
			bucket = append(bucket, matched[j].lat)
			j++
		}
		slices.Sort(bucket)
		l.SeriesP50 = append(l.SeriesP50, Point{T: float64(sec) + 0.5, V: ms(bucket[len(bucket)/2])})
		l.SeriesP99 = append(l.SeriesP99, Point{T: float64(sec) + 0.5, V: ms(bucket[min(len(bucket)-1, len(bucket)*99/100)])})
		i = j
	}
	if st.Late10ms > 0 {
		r.note("the open-loop producer sent %d of %d events more than 10 ms late (p99 %.1f ms, max %.1f ms); their latency counts from the scheduled instant", st.Late10ms, st.Scheduled, l.SendLateP99Ms, l.SendLateMaxMs)
	}
	return l, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// coreShares returns the cores the process under test used between two marks, and
// the cores used by everything else on the machine but it, the broker and the
// harness: other people's work.
func coreShares(a, b mark) (cores, others float64) {
	el := b.at.Sub(a.at).Seconds()
	if el <= 0 {
		return 0, 0
	}
	cores = (b.cpu - a.cpu).Seconds() / el
	others = ((b.machine - a.machine) - (b.cpu - a.cpu) - (b.bcpu - a.bcpu) - (b.self - a.self)).Seconds() / el
	return cores, max(others, 0)
}

// memory reads segmentd's footprint.
func (r *run) memory(ctx context.Context, s *sut) (*Memory, error) {
	m, err := s.scrape(ctx)
	if err != nil {
		return nil, err
	}
	mem := &Memory{
		Contacts:         len(r.keys),
		RSSBytes:         m.sum("process_resident_memory_bytes"),
		GoHeapInuseBytes: m.sum("go_memstats_heap_inuse_bytes"),
		PebbleDiskBytes:  m.sum("segmentd_pebble_disk_usage_bytes"),
		PebbleMemtable:   m.sum("segmentd_pebble_memtable_bytes"),
		PebbleCache:      m.sum("segmentd_pebble_block_cache_bytes"),
	}
	if mem.Contacts > 0 {
		mem.RSSPerContact = mem.RSSBytes / float64(mem.Contacts)
		mem.PebblePerContact = mem.PebbleDiskBytes / float64(mem.Contacts)
	}
	r.logf("memory: RSS %d MB (%.0f B/contact), Go heap %d MB, Pebble %d MB on disk (%.0f B/contact) for %d contacts",
		int64(mem.RSSBytes)>>20, mem.RSSPerContact, int64(mem.GoHeapInuseBytes)>>20, int64(mem.PebbleDiskBytes)>>20, mem.PebblePerContact, mem.Contacts)
	return mem, nil
}

// largestShop returns the workspace with the most contacts.
func (r *run) largestShop() (string, int) {
	best, n := "", -1
	for _, ws := range r.g.Workspaces() {
		if r.wsContacts[ws] > n {
			best, n = ws, r.wsContacts[ws]
		}
	}
	return best, n
}

// backfill puts a new segment for the largest shop on the segments topic and times
// segmentd until every contact of the shop has been evaluated against it.
func (r *run) backfill(ctx context.Context, s *sut) (*Backfill, error) {
	ws, expect := r.largestShop()
	segs, err := load.Definitions(load.DefinitionConfig{Workspaces: []string{ws}, PerWorkspace: 1, Seed: uint64(r.cfg.Seed) + 99, IDPrefix: "backfill"})
	if err != nil {
		return nil, err
	}
	m0, err := s.scrape(ctx)
	if err != nil {
		return nil, err
	}
	cpu0, _ := s.cpu()
	b0 := m0.sum("segmentd_backfill_contacts_total")
	bl := newBackfillLog(fileSize(s.logPath), func(seg string) bool { return seg == string(segs[0].Key) })
	r.logf("backfill: new segment %s over %d contacts of %s", segs[0].Key, expect, ws)
	t0 := time.Now()
	if err := r.prod.Client().ProduceSync(ctx, &kgo.Record{Topic: r.segTopic, Key: segs[0].Key, Value: segs[0].Value}).FirstErr(); err != nil {
		return nil, err
	}
	var lastVisited float64
	lastChange := time.Now()
	var m metrics
	for {
		if err := s.exitErr(); err != nil {
			return nil, err
		}
		m, err = s.scrape(ctx)
		now := time.Now()
		if err == nil {
			visited := m.sum("segmentd_backfill_contacts_total") - b0
			if visited != lastVisited {
				lastVisited, lastChange = visited, now
			}
			pending := m.sum("segmentd_backfills_pending")
			if pending == 0 && visited >= 0.95*float64(expect) {
				break
			}
			if pending == 0 && visited > 0 && now.Sub(lastChange) > 2*time.Second {
				r.note("backfill visited %.0f contacts, expected about %d", visited, expect)
				break
			}
		}
		if now.Sub(t0) > 15*time.Minute {
			return nil, fmt.Errorf("backfill not done after 15 minutes (%.0f contacts visited)", lastVisited)
		}
		time.Sleep(20 * time.Millisecond)
	}
	el := lastChange.Sub(t0)
	cpu1, _ := s.cpu()
	b := &Backfill{Workspace: ws, Segment: segs[0].ID, Contacts: lastVisited, Seconds: el.Seconds(),
		Transitions: m.sum("segmentd_transitions_total", "reason", "definition") - m0.sum("segmentd_transitions_total", "reason", "definition")}
	if b.Seconds > 0 {
		b.ContactsPerSecond = b.Contacts / b.Seconds
		b.SecondsFor1M = 1e6 / b.ContactsPerSecond
	}
	if b.Contacts > 0 {
		b.CPUSecondsPerMContact = (cpu1 - cpu0).Seconds() / b.Contacts * 1e6
	}
	if err := bl.read(s.logPath); err != nil {
		r.note("backfill: reading segmentd's log for the modes: %v", err)
	}
	b.BackfillModes = backfillModes(m0, m, bl.steps)
	return b, nil
}

// catalogMap implements state.Catalog over the catalog records.
type catalogMap map[string]map[string][]string

func (c catalogMap) Collections(ws, product string) []string { return c[ws][product] }

// scan is the seed product's method: evaluate the segment's rules over every contact
// of the workspace. It reads the stopped segmentd's Pebble store.
func (r *run) scan(s *sut) (*Scan, error) {
	ws, _ := r.largestShop()
	var segs []*operators.Segment
	var first *operators.Segment
	for _, rec := range r.g.Segments() {
		if !strings.HasPrefix(string(rec.Key), ws+"/") {
			continue
		}
		d, err := operators.ParseDefinition(rec.Value)
		if err != nil {
			return nil, err
		}
		c, err := operators.Compile(d)
		if err != nil {
			return nil, err
		}
		segs = append(segs, c)
	}
	for _, ls := range r.segments {
		if ls.Workspace != ws {
			continue
		}
		c, err := operators.Compile(ls.Def)
		if err != nil {
			return nil, err
		}
		segs = append(segs, c)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("no segments for %s", ws)
	}
	first = segs[0] // a demo segment: high-ltv-lapsed
	store, err := state.Open(s.dataDir, state.Options{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	parts, err := store.Partitions()
	if err != nil {
		return nil, err
	}
	cat := catalogMap(r.catalog)
	const exclusion = "exclude_from_galantis"
	now := time.Now()
	var attrs []operators.Attrs
	storeScan := func(collect bool) (time.Duration, int, int, error) {
		t0 := time.Now()
		n, members := 0, 0
		for _, p := range parts {
			err := store.ScanContacts(p, ws+"/", "", func(_ string, c *state.Contact) (bool, error) {
				if c.IsNew() || c.IsTombstone() {
					return true, nil
				}
				a := c.Attrs(ws, cat, exclusion)
				n++
				if first.Match(&a, now) {
					members++
				}
				if collect {
					attrs = append(attrs, a)
				}
				return true, nil
			})
			if err != nil {
				return 0, 0, 0, err
			}
		}
		return time.Since(t0), n, members, nil
	}
	// The first pass reads from a cold block cache and collects the attributes; the
	// second, timed one is a periodic job's steady state.
	if _, _, _, err := storeScan(true); err != nil {
		return nil, err
	}
	el, n, members, err := storeScan(false)
	if err != nil {
		return nil, err
	}
	sc := &Scan{Workspace: ws, Contacts: n, Segments: len(segs), Members: members, StoreSeconds: el.Seconds()}
	best := time.Duration(math.MaxInt64)
	for range 5 {
		t0 := time.Now()
		k := 0
		for i := range attrs {
			if first.Match(&attrs[i], now) {
				k++
			}
		}
		best = min(best, time.Since(t0))
	}
	sc.MemorySeconds = best.Seconds()
	t0 := time.Now()
	for i := range attrs {
		for _, sg := range segs {
			sg.Match(&attrs[i], now)
		}
	}
	sc.AllSegmentsSeconds = time.Since(t0).Seconds()
	if n > 0 {
		sc.StoreNsPerContact = float64(el.Nanoseconds()) / float64(n)
		sc.StoreSecondsFor1M = sc.StoreNsPerContact * 1e6 / 1e9
		sc.MemoryNsPerContact = float64(best.Nanoseconds()) / float64(n)
	}
	return sc, nil
}

// restore deletes segmentd's data dir, restarts it and times the restore of every
// partition from the changelog.
func (r *run) restore(ctx context.Context, s *sut) (*Restore, error) {
	if err := os.RemoveAll(s.dataDir); err != nil {
		return nil, err
	}
	logStart := fileSize(s.logPath)
	t0 := time.Now()
	if err := s.start(); err != nil {
		return nil, err
	}
	var readyAt time.Time
	var m metrics
	for {
		if err := s.exitErr(); err != nil {
			return nil, err
		}
		now := time.Now()
		if readyAt.IsZero() && s.ready(ctx) {
			readyAt = now
		}
		var err error
		m, err = s.scrape(ctx)
		if err == nil && !readyAt.IsZero() && m.sum("segmentd_partitions_assigned") == float64(s.partitions) &&
			m.sum("segmentd_partitions_restoring") == 0 {
			break
		}
		if now.Sub(t0) > 30*time.Minute {
			return nil, fmt.Errorf("restore not done after 30 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	done := time.Now()
	rs := &Restore{Records: m.sum("segmentd_restore_records_total"), Contacts: len(r.keys), Seconds: done.Sub(t0).Seconds(),
		ReadySeconds: readyAt.Sub(t0).Seconds(), Partitions: s.partitions}
	if readyAt.Before(done.Add(-500 * time.Millisecond)) {
		r.note("/readyz answered 200 %.1f s before every partition was assigned and restored: readiness says nothing of partitions not yet assigned", done.Sub(readyAt).Seconds())
	}
	took, n := restoreLog(s.logPath, logStart)
	rs.RestoreSeconds = took.Seconds()
	if n != s.partitions {
		r.note("restore: %d \"restored partition\" log lines for %d partitions", n, s.partitions)
	}
	if rs.RestoreSeconds <= 0 {
		rs.RestoreSeconds = rs.Seconds
	}
	rs.RecordsPerSecond = rs.Records / rs.RestoreSeconds
	rs.ContactsPerSecond = float64(rs.Contacts) / rs.RestoreSeconds
	rs.SecondsFor1M = 1e6 / rs.ContactsPerSecond
	rs.RecordsPerContact = rs.Records / float64(rs.Contacts)
	rs.SecondsFor1MCompacted = 1e6 / rs.RecordsPerSecond
	if r.res.Memory != nil {
		r.res.Memory.RSSAfterRestore = m.sum("process_resident_memory_bytes")
	}
	return rs, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// restoreLog returns the span of segmentd's "restored partition" log lines written
// after offset from: from the earliest start (line time less its "took") to the
// latest end. Partitions restore a few at a time, so the span, not the sum of the
// "took", is the time the restore took.
func restoreLog(path string, from int64) (time.Duration, int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	if _, err := f.Seek(from, 0); err != nil {
		return 0, 0
	}
	var first, last time.Time
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var v struct {
			Time time.Time       `json:"time"`
			Msg  string          `json:"msg"`
			Took json.RawMessage `json:"took"`
		}
		if json.Unmarshal(sc.Bytes(), &v) != nil || v.Msg != "restored partition" {
			continue
		}
		// slog's JSON handler writes a Duration as integer nanoseconds; the text
		// handler as a string.
		var took time.Duration
		var ns int64
		var str string
		if json.Unmarshal(v.Took, &ns) == nil {
			took = time.Duration(ns)
		} else if json.Unmarshal(v.Took, &str) == nil {
			if d, err := time.ParseDuration(str); err == nil {
				took = d
			} else {
				continue
			}
		} else {
			continue
		}
		if s := v.Time.Add(-took); first.IsZero() || s.Before(first) {
			first = s
		}
		if v.Time.After(last) {
			last = v.Time
		}
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return last.Sub(first), n
}
