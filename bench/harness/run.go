package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/internal/testenv"
)

// Run runs the benchmark cfg describes against the real broker and writes
// <OutDir>/<Profile>.json, .md and .png. A phase that fails is recorded in
// Results.Errors and the run goes on with the next one where it can.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, start: time.Now()}
	r.res = &Results{Profile: cfg.Profile, Started: r.start, Config: cfg}
	if err := r.setup(ctx); err != nil {
		r.cleanup()
		return nil, err
	}
	defer r.cleanup()
	loads := startLoadSampler(ctx)
	r.res.LoadAvg.Start = readLoadAvg()
	r.res.Machine = machineInfo(cfg.Brokers, r.cfg.Repo)
	r.logf("machine: %d CPUs (%s), load average %s", r.res.Machine.CPUs, r.res.Machine.CPUModel, r.res.LoadAvg.Start)

	err := r.main(ctx)
	if err != nil {
		r.fail("main", err)
	}
	if !cfg.skip(PhaseKStreams) && ctx.Err() == nil && r.endHistory != nil {
		if err := r.kstreams(ctx); err != nil {
			r.fail(PhaseKStreams, err)
		}
	}
	if !cfg.skip(PhaseTimers) && ctx.Err() == nil {
		if err := r.timers(ctx); err != nil {
			r.fail(PhaseTimers, err)
		}
	}
	r.res.LoadAvg.End = readLoadAvg()
	loads.stop(&r.res.LoadAvg)
	r.res.Finished = time.Now()
	r.res.Targets = evaluateTargets(r.res)
	r.res.Targets14 = evaluateTargets14(r.res)
	if err := writeResults(r.res, cfg.OutDir); err != nil {
		return r.res, err
	}
	r.logf("done in %s; results in %s", time.Since(r.start).Round(time.Second), filepath.Join(cfg.OutDir, cfg.Profile+".{json,md,png}"))
	return r.res, ctx.Err()
}

type run struct {
	cfg   Config
	res   *Results
	start time.Time

	adm        *admin
	prod       *load.Producer
	prefix     string // of every topic, group and transactional id of the run
	work       string
	removeWork bool
	bin        string // segmentd
	self       string // segmentd-bench, for the pass-through loop
	brokerPID  int
	topics     []string // created, deleted at the end

	g          *gen.Generator
	events     string // the events topic of the main phases
	segTopic   string
	catTopic   string
	keys       map[string]struct{}
	wsContacts map[string]int
	segments   []load.Segment // random ones, for the scan
	catalog    map[string]map[string][]string
	endHistory map[int32]int64
	systems    []*sut
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "[%7s] %s\n", time.Since(r.start).Round(time.Second), fmt.Sprintf(format, args...))
}

func (r *run) fail(phase string, err error) {
	r.logf("ERROR in %s: %v", phase, err)
	r.res.Errors = append(r.res.Errors, phase+": "+err.Error())
}

func (r *run) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	r.logf("note: %s", n)
	r.res.Notes = append(r.res.Notes, n)
}

func (r *run) setup(ctx context.Context) error {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r.prefix = "bench-" + r.cfg.Profile + "-" + hex.EncodeToString(b[:])
	r.res.Topics = []string{r.prefix}
	if r.cfg.Repo == "" {
		root, err := testenv.FindRepoRoot()
		if err != nil {
			return err
		}
		r.cfg.Repo = root
	}
	r.work = r.cfg.WorkDir
	if r.work == "" {
		dir, err := os.MkdirTemp("", r.prefix+"-")
		if err != nil {
			return err
		}
		r.work, r.removeWork = dir, !r.cfg.Keep
	}
	if !r.removeWork {
		r.res.Logs = filepath.Join(r.work, "logs") // kept: say where
	}
	r.bin = r.cfg.Segmentd
	if r.bin == "" {
		r.logf("building segmentd from %s", r.cfg.Repo)
		bin, err := testenv.BuildSegmentd(ctx, r.cfg.Repo, r.work)
		if err != nil {
			return fmt.Errorf("build segmentd: %w", err)
		}
		r.bin = bin
	}
	r.self = r.cfg.Self
	if r.self == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		r.self = exe
	}
	adm, err := newAdmin(r.cfg.Brokers)
	if err != nil {
		return err
	}
	r.adm = adm
	if _, err := adm.adm.ListBrokers(ctx); err != nil {
		return fmt.Errorf("broker %v does not answer (start it with `make kafka-up`): %w", r.cfg.Brokers, err)
	}
	if _, port, ok := strings.Cut(r.cfg.Brokers[0], ":"); ok && strings.HasPrefix(r.cfg.Brokers[0], "127.0.0.1:") {
		r.brokerPID = brokerPID(port)
	}
	prod, err := load.NewProducer(r.cfg.Brokers)
	if err != nil {
		return err
	}
	r.prod = prod
	return nil
}

func (r *run) cleanup() {
	for _, s := range r.systems {
		if s.running() {
			_, _ = s.stop()
		}
	}
	if r.prod != nil {
		r.prod.Close()
	}
	if r.adm != nil {
		if !r.cfg.Keep && len(r.topics) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			if err := r.adm.deleteTopics(ctx, r.topics...); err != nil {
				r.logf("deleting topics: %v", err)
			}
			cancel()
		}
		r.adm.close()
	}
	if r.removeWork {
		_ = os.RemoveAll(r.work)
	}
}

func (r *run) topic(ctx context.Context, name string, partitions int32, compact bool) (string, error) {
	t := r.prefix + "." + name
	if err := r.adm.createTopic(ctx, t, partitions, compact); err != nil {
		return "", err
	}
	r.topics = append(r.topics, t)
	return t, nil
}

// sut is one system under test: a child process and its Kafka names.
type sut struct {
	*child
	kind       string // segmentd, segmentd-naive, passthrough
	group      string
	events     string
	membership string // segmentd: output topic; pass-through: its copy
	dataDir    string
	partitions int
}

// segmentd returns (without starting it) a segmentd process with its own group,
// output topics and data dir, reading events, segments and catalog.
func (r *run) segmentd(name, events, segments, catalog string, partitions int, naive bool) *sut {
	base := r.prefix + "." + name
	addr, _ := testenv.FreeAddr()
	s := &sut{kind: "segmentd", group: base + ".group", events: events, membership: base + ".membership",
		dataDir: filepath.Join(r.work, "data", name), partitions: partitions}
	args := []string{"run",
		"--brokers", strings.Join(r.cfg.Brokers, ","),
		"--group", s.group,
		"--events-topic", events, "--segments-topic", segments, "--catalog-topic", catalog,
		"--membership-topic", s.membership, "--changelog-topic", base + ".changelog", "--dlq-topic", base + ".dlq",
		"--data-dir", s.dataDir,
		"--partitions", fmt.Sprint(partitions),
		"--commit-interval", r.cfg.CommitInterval.String(),
		"--http-addr", addr,
		"--log-format", "json",
		"--log-level", "debug", // slow windows: the post-mortem of latency spikes
	}
	if naive {
		s.kind = "segmentd-naive"
		args = append(args, "--bench-naive-evaluation")
	}
	r.topics = append(r.topics, s.membership, base+".changelog", base+".dlq")
	s.child = &child{name: name, bin: r.bin, args: args, httpAddr: addr, logPath: filepath.Join(r.work, "logs", name+".log")}
	r.systems = append(r.systems, s)
	return s
}

// main runs every phase but the timers.
func (r *run) main(ctx context.Context) error {
	cfg := r.cfg
	var err error
	if r.events, err = r.topic(ctx, "events", int32(cfg.Partitions), false); err != nil {
		return err
	}
	if r.segTopic, err = r.topic(ctx, "segments", 1, true); err != nil {
		return err
	}
	if r.catTopic, err = r.topic(ctx, "catalog", 1, true); err != nil {
		return err
	}
	if err := r.produceGlobals(ctx); err != nil {
		return err
	}
	if err := r.produceHistory(ctx); err != nil {
		return err
	}

	inc := r.segmentd("segmentd", r.events, r.segTopic, r.catTopic, cfg.Partitions, false)
	r.logf("seed: segmentd consumes the history (%d events)", r.res.Data.HistoryRecords)
	if r.res.Seed, err = r.throughput(ctx, inc, "seed"); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	r.logThroughput(r.res.Seed)
	if _, err := inc.stop(); err != nil {
		r.note("stopping segmentd after the seed: %v", err)
	}

	var naive *sut
	if !cfg.skip(PhaseNaive) {
		naive = r.segmentd("naive", r.events, r.segTopic, r.catTopic, cfg.Partitions, true)
		r.logf("seed: naive segmentd consumes the history")
		if r.res.SeedNaive, err = r.throughput(ctx, naive, "seed"); err != nil {
			r.fail("naive seed", err)
			naive = nil
		} else {
			r.logThroughput(r.res.SeedNaive)
		}
		if naive != nil {
			if _, err := naive.stop(); err != nil {
				r.note("stopping naive segmentd: %v", err)
			}
		}
	}

	if r.endHistory, err = r.adm.endOffsets(ctx, r.events); err != nil {
		return err
	}
	if err := r.produceLive(ctx); err != nil {
		return err
	}

	if naive != nil {
		r.logf("live: naive segmentd")
		if r.res.LiveNaive, err = r.throughput(ctx, naive, "live"); err != nil {
			r.fail("naive live", err)
		} else {
			r.logThroughput(r.res.LiveNaive)
		}
		if _, err := naive.stop(); err != nil {
			r.note("stopping naive segmentd: %v", err)
		}
		_ = os.RemoveAll(naive.dataDir)
	}

	if !cfg.skip(PhasePassthrough) {
		if err := r.passthrough(ctx); err != nil {
			r.fail(PhasePassthrough, err)
		}
	}

	r.logf("live: segmentd")
	if r.res.Live, err = r.throughput(ctx, inc, "live"); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	r.logThroughput(r.res.Live)

	if !cfg.skip(PhaseLatency) {
		rate := cfg.LatencyFraction * r.res.Live.EventsPerSecond
		r.logf("latency: open loop at %.0f events/s (%.0f%% of %.0f) for %s", rate, 100*cfg.LatencyFraction, r.res.Live.EventsPerSecond, cfg.LatencyDuration)
		if r.res.Latency, err = r.latency(ctx, inc, rate); err != nil {
			r.fail(PhaseLatency, err)
		} else {
			l := r.res.Latency
			r.logf("latency: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms over %d events with output (metric p99 %.1f ms)", l.P50, l.P99, l.P999, l.EventsWithOuput, l.MetricP99)
		}
	}
	if r.res.Memory, err = r.memory(ctx, inc); err != nil {
		r.fail("memory", err)
	}
	if !cfg.skip(PhaseBackfill) {
		if r.res.Backfill, err = r.backfill(ctx, inc); err != nil {
			r.fail(PhaseBackfill, err)
		} else {
			b := r.res.Backfill
			r.logf("backfill: %.0f contacts in %.2f s (%.0f contacts/s); %s", b.Contacts, b.Seconds, b.ContactsPerSecond, b.BackfillModes)
		}
	}
	if !cfg.skip(PhasePreview) && cfg.PreviewRequests > 0 {
		if r.res.Preview, err = r.preview(ctx, inc); err != nil {
			r.fail(PhasePreview, err)
		} else {
			for _, e := range r.res.Preview.Endpoints {
				r.logf("preview: %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d requests (%d errors), counts %d–%d",
					e.Route, e.P50Ms, e.P99Ms, e.MaxMs, e.Requests, e.Errors, e.MinCount, e.MaxCount)
			}
		}
	}
	if !cfg.skip(PhaseDefinitions) && cfg.BurstDefinitions > 0 {
		if r.res.Definitions, err = r.definitions(ctx, inc); err != nil {
			r.fail(PhaseDefinitions, err)
		} else {
			d := r.res.Definitions
			status := "all backfilled"
			if d.TimedOut {
				status = fmt.Sprintf("timed out after %.0f s, %.0f pending", d.TimeoutSeconds, d.PendingAtEnd)
			}
			r.logf("definitions: %d definitions in %.2f s (%.1f definitions/s; %s), %.1f CPU-s, %.0f transitions; %s",
				d.Definitions, d.Seconds, d.DefinitionsPerSecond, status, d.CPUSeconds, d.Transitions, d.BackfillModes)
		}
	}
	if _, err := inc.stop(); err != nil {
		r.note("stopping segmentd: %v", err)
	}
	if !cfg.skip(PhaseScan) {
		if r.res.Scan, err = r.scan(inc); err != nil {
			r.fail(PhaseScan, err)
		} else {
			s := r.res.Scan
			r.logf("scan: %d contacts in %.3f s from the store, %.3f s in memory", s.Contacts, s.StoreSeconds, s.MemorySeconds)
		}
	}
	if !cfg.skip(PhaseRestore) {
		if r.res.Restore, err = r.restore(ctx, inc); err != nil {
			r.fail(PhaseRestore, err)
		} else {
			s := r.res.Restore
			r.logf("restore: %.0f records in %.2f s (ready after %.2f s)", s.Records, s.Seconds, s.ReadySeconds)
		}
		if _, err := inc.stop(); err != nil {
			r.note("stopping segmentd after the restore: %v", err)
		}
	}
	return nil
}

func (r *run) logThroughput(t *Throughput) {
	r.logf("%s %s: %.0f events/s sustained (%d events, %.1f s; %.1f s wall), %.1f CPU-s per million events, %.2f evaluations/event",
		t.System, t.Phase, t.EventsPerSecond, t.Events, t.Seconds, t.WallSeconds, t.CPUSecondsPerMillion, t.EvaluationsPerEvent)
}

// produceGlobals produces the segment definitions (demo and random) and the catalog.
func (r *run) produceGlobals(ctx context.Context) error {
	cfg := r.cfg
	r.g = gen.New(gen.Config{Seed: cfg.Seed, Workspaces: cfg.Workspaces, ContactsPerWorkspace: cfg.ContactsPerWorkspace,
		Skew: cfg.Skew, Start: time.Now()})
	wss := r.g.Workspaces()
	segs, err := load.Definitions(load.DefinitionConfig{Workspaces: wss, PerWorkspace: cfg.RandomSegments, Seed: uint64(cfg.Seed), Now: time.Now()})
	if err != nil {
		return err
	}
	r.segments = segs
	var recs []*kgo.Record
	demo := r.g.Segments()
	for _, s := range demo {
		recs = append(recs, &kgo.Record{Topic: r.segTopic, Key: s.Key, Value: s.Value})
	}
	pairs := map[load.Pair]bool{}
	for _, s := range segs {
		recs = append(recs, &kgo.Record{Topic: r.segTopic, Key: s.Key, Value: s.Value})
		for _, g := range s.Def.Groups {
			for _, c := range g.Conditions {
				pairs[load.Pair{Field: c.Field, Op: c.Op}] = true
			}
		}
	}
	r.catalog = map[string]map[string][]string{}
	cat := r.g.Catalog()
	for _, c := range cat {
		recs = append(recs, &kgo.Record{Topic: r.catTopic, Key: c.Key, Value: c.Value})
		var v struct {
			Workspace   string   `json:"workspace"`
			ProductID   string   `json:"product_id"`
			Collections []string `json:"collections"`
		}
		if err := json.Unmarshal(c.Value, &v); err != nil {
			return fmt.Errorf("catalog record %s: %w", c.Key, err)
		}
		if r.catalog[v.Workspace] == nil {
			r.catalog[v.Workspace] = map[string][]string{}
		}
		for i := range v.Collections {
			v.Collections[i] = strings.ToLower(v.Collections[i])
		}
		r.catalog[v.Workspace][v.ProductID] = v.Collections
	}
	if err := r.prod.Client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce definitions and catalog: %w", err)
	}
	d := &r.res.Data
	d.Workspaces = len(wss)
	d.Segments = len(demo) + len(segs)
	d.RandomSegments = len(segs)
	d.PairsCovered, d.PairsTotal = len(pairs), len(load.Pairs())
	d.CatalogProducts = len(cat)
	r.logf("definitions: %d segments in %d shops (%d random covering %d of %d field×operator pairs), %d catalog products",
		d.Segments, d.Workspaces, len(segs), d.PairsCovered, d.PairsTotal, d.CatalogProducts)
	return nil
}

// count records a produced events record's contact key.
func (r *run) count(key []byte) {
	if !load.IsContactKey(key) {
		return
	}
	if _, ok := r.keys[string(key)]; ok {
		return
	}
	k := string(key)
	r.keys[k] = struct{}{}
	ws, _, _ := strings.Cut(k, "/")
	r.wsContacts[ws]++
}

func (r *run) produceHistory(ctx context.Context) error {
	r.keys = map[string]struct{}{}
	r.wsContacts = map[string]int{}
	next, stop := iter.Pull(r.g.History())
	defer stop()
	r.logf("producing the history of %d contacts", sum(r.g.Contacts()))
	st, err := r.prod.Preload(ctx, func() *kgo.Record {
		rec, ok := next()
		if !ok {
			return nil
		}
		r.count(rec.Key)
		return load.Record(r.events, rec)
	})
	if err != nil {
		return fmt.Errorf("produce history: %w", err)
	}
	d := &r.res.Data
	d.HistoryRecords, d.HistoryBytes, d.PreloadRate = st.Records, st.Bytes, st.Rate()
	d.Contacts = len(r.keys)
	for _, n := range r.wsContacts {
		d.LargestShop = max(d.LargestShop, n)
	}
	r.logf("history: %d records, %d MB in %.1f s (%.0f records/s)", st.Records, st.Bytes>>20, st.Duration.Seconds(), st.Rate())
	return nil
}

func (r *run) produceLive(ctx context.Context) error {
	n := r.cfg.LiveEvents
	type kind struct {
		n     int
		bytes int
	}
	var orders, customers, messaging, orderBytes, custBytes, statusBytes kind
	st, err := r.prod.Preload(ctx, func() *kgo.Record {
		if n == 0 {
			return nil
		}
		n--
		rec := r.g.Next(time.Now())
		r.count(rec.Key)
		switch t := rec.Topic; {
		case strings.HasPrefix(t, "orders/"):
			orders.n++
			if t == "orders/create" {
				orderBytes.n++
				orderBytes.bytes += len(rec.Value)
			}
		case strings.HasPrefix(t, "customer"):
			customers.n++
			if t == "customers/create" || t == "customers/update" {
				custBytes.n++
				custBytes.bytes += len(rec.Value)
			}
		default:
			messaging.n++
			if t == "messages/status" {
				statusBytes.n++
				statusBytes.bytes += len(rec.Value)
			}
		}
		return load.Record(r.events, rec)
	})
	if err != nil {
		return fmt.Errorf("produce live events: %w", err)
	}
	d := &r.res.Data
	d.LiveRecords, d.LiveBytes = st.Records, st.Bytes
	tot := float64(st.Records)
	mean := func(k kind) float64 {
		if k.n == 0 {
			return 0
		}
		return float64(k.bytes) / float64(k.n)
	}
	d.LiveMix = Mix{Orders: float64(orders.n) / tot, Customers: float64(customers.n) / tot, Messaging: float64(messaging.n) / tot,
		MeanOrderBytes: mean(orderBytes), MeanCustomerBytes: mean(custBytes), MeanStatusBytes: mean(statusBytes)}
	d.Contacts = len(r.keys)
	for _, n := range r.wsContacts {
		d.LargestShop = max(d.LargestShop, n)
	}
	r.logf("live: %d records, %d MB in %.1f s (%.0f/s); mix %.0f/%.0f/%.0f%% orders/customers/messaging; %d contacts",
		st.Records, st.Bytes>>20, st.Duration.Seconds(), st.Rate(), 100*d.LiveMix.Orders, 100*d.LiveMix.Customers, 100*d.LiveMix.Messaging, d.Contacts)
	return nil
}

// passthrough measures the stateless exactly-once copy over the live events.
func (r *run) passthrough(ctx context.Context) error {
	out, err := r.topic(ctx, "passthrough.out", int32(r.cfg.Partitions), false)
	if err != nil {
		return err
	}
	group := r.prefix + ".passthrough.group"
	if err := r.adm.commit(ctx, group, r.events, r.endHistory); err != nil {
		return err
	}
	s := &sut{kind: "passthrough", group: group, events: r.events, membership: out, partitions: r.cfg.Partitions}
	s.child = &child{name: "passthrough", bin: r.self, logPath: filepath.Join(r.work, "logs", "passthrough.log"), args: []string{
		"passthrough", "--brokers", strings.Join(r.cfg.Brokers, ","), "--group", group, "--in", r.events, "--out", out,
		"--transactional-id", r.prefix + ".passthrough", "--commit-interval", r.cfg.CommitInterval.String(),
	}}
	r.systems = append(r.systems, s)
	r.logf("live: pass-through")
	t, err := r.throughput(ctx, s, "live")
	if _, serr := s.stop(); err == nil && serr != nil {
		r.note("stopping the pass-through: %v", serr)
	}
	if err != nil {
		return err
	}
	r.res.Passthrough = t
	r.logThroughput(t)
	return nil
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}
