package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"golang.org/x/sync/errgroup"
)

// Processor is one segmentd process: it consumes the events topics in a consumer
// group, keeps the owned partitions' contacts in the Store, and produces membership
// transitions, changelog records and dead letters in one transaction per window.
//
// Goroutines: Run is the processing loop and owns rules, parts and every window;
// Run starts the globals reader and waits for it before returning. franz-go calls
// the assignment callbacks on its own goroutine: they restore partitions into the
// Store and hand them to the loop through mu.
type Processor struct {
	cfg   Config
	m     *metrics
	kprom *kprom.Metrics // franz-go client metrics of the group session
	logs  *globalLogs
	sess  *kgo.GroupTransactSession

	// Owned by the loop goroutine.
	rules     *rules
	parts     map[int32]*partition
	segCursor int // entries of logs.segments applied to rules (a count of entries read)
	catCursor int
	reconcile map[int32]bool // partitions needing a full reconcile with the global topics
	timers    timers
	// moved: partitions revoked from this process, and when; their local data is
	// deleted after Config.StaleDataGrace unless they come back.
	moved   map[int32]time.Time
	cand    []int
	refWork []int         // scratch of evalSegments (references.go), owned by the loop
	attrBuf []attrDelta   // the attribute changes of the last committed window, cleared: reused (attrindex.go)
	prepBuf []prepared    // the preparations of the last poll, cleared: reused (prepare.go)
	recBuf  []*kgo.Record // processFetches scratch
	cache   *contactCache // decoded contacts kept across windows (contactcache.go; nil: off)
	// quarantine: contacts a produced record of which the brokers refused (bound.go);
	// their input records are dead-lettered until the process restarts.
	quarantine map[string]quarantined
	// windowCap, if not 0, caps the input records of a window below MaxWindowRecords
	// after windows aborted for running out of time (bound.go).
	windowCap int
	// defsWait: partitions whose full reconcile waits for the definitions their
	// meta says they applied to be read (waitForDefinitions), since when.
	defsWait map[int32]time.Time
	// indexGaugesAt: when the attribute index gauges were last set (zero: set them
	// at the next turn of the loop).
	indexGaugesAt time.Time

	mu struct {
		sync.Mutex
		assigned map[int32]int // partition → number of events topics assigned
		handoff  []handoff     // assignment changes for the loop, in order
		// dropping: partitions whose local data the loop is deleting
		// (dropMovedPartitions), each with a channel closed when it is done; a
		// restore of one waits for it.
		dropping map[int32]chan struct{}
	}
	// leaving: the goroutine leaving the group after a failed restore (onAssigned),
	// waited for by run once the session is closed.
	leaving   sync.WaitGroup
	restoring atomic.Int32
	ready     atomic.Bool
	lastPing  atomic.Int64 // unix ns of the last successful broker round trip

	// For queries (query.go): closures to run on the loop, the latest published
	// snapshot of the live segments, and the owned partitions.
	queries chan func()
	// queryWake ends the loop's wait for input when a query arrives (inLoop), so
	// that an idle process answers at once rather than after a CommitInterval.
	queryWake chan struct{}
	view      atomic.Pointer[rulesView]
	owned     atomic.Pointer[[]int32]
	// segApplied is segCursor as of the last applyGlobalsToRules, for the admin
	// API's read-your-writes waits (sync.go).
	segApplied progress

	// crashAt, set by tests only, simulates a kill: when it returns true at a point
	// of a window ("before-commit", "after-commit"), the loop returns errCrashed
	// without ending the transaction or applying the window to the store.
	crashAt func(point string) bool
}

// errCrashed is what Run returns after a simulated kill (Processor.crashAt).
var errCrashed = errors.New("simulated crash")

// handoff is an assignment change from a callback to the loop: pt != nil adds a
// restored partition, pt == nil drops partition id.
type handoff struct {
	id int32
	pt *partition
}

// New validates cfg and builds a Processor. It starts nothing: see Run.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid processor config: %w", err)
	}
	cfg.ensureDefaults()
	if cfg.TransactionalID == "" {
		suffix := cfg.InstanceID
		if suffix == "" {
			var b [6]byte
			_, _ = rand.Read(b[:])
			suffix = hex.EncodeToString(b[:])
		}
		cfg.TransactionalID = cfg.Group + "-" + suffix
	}
	p := &Processor{
		cfg:       cfg,
		logs:      newGlobalLogs(),
		rules:     newRules(),
		parts:     map[int32]*partition{},
		reconcile: map[int32]bool{},
		defsWait:  map[int32]time.Time{},
		timers:    timers{loadedUntil: map[int32]time.Time{}},
		moved:     map[int32]time.Time{},
		queries:   make(chan func()),
		queryWake: make(chan struct{}, 1),
	}
	p.view.Store(p.rules.view())
	p.owned.Store(&[]int32{})
	p.mu.assigned = map[int32]int{}
	p.m = newMetrics(cfg.Registerer, p.Ready, cfg.SegmentMemberMetrics)
	p.cache = newContactCache(cfg.ContactCache, p.m)
	// The request-time histogram is exported only when enabled; the dashboard reads it.
	p.kprom = kprom.NewMetrics("segmentd", kprom.Subsystem("kafka"), kprom.Registerer(cfg.Registerer),
		kprom.Histograms(kprom.RequestDurationE2E))
	return p, nil
}

// Topics returns the topic names in effect (defaults filled in).
func (p *Processor) Topics() Topics { return p.cfg.Topics }

// Ready reports whether the process has read the definitions and catalog and
// restored every assigned partition.
func (p *Processor) Ready() bool { return p.ready.Load() && p.restoring.Load() == 0 }

// BrokerReachable reports whether the group client can reach a broker: a cached
// answer younger than 5 s, else a metadata round trip bounded by ctx.
func (p *Processor) BrokerReachable(ctx context.Context) bool {
	if !p.ready.Load() {
		return false
	}
	if last := p.lastPing.Load(); last != 0 && time.Since(time.Unix(0, last)) < 5*time.Second {
		return true
	}
	if err := p.sess.Client().Ping(ctx); err != nil {
		return false
	}
	p.lastPing.Store(time.Now().UnixNano())
	return true
}

// Run creates the topics if needed, reads the segments and catalog topics, joins the
// group and processes until ctx is canceled or a fatal error occurs. Once ctx is
// canceled (a shutdown), an error that its cancellation caused is not a failure: it
// is logged and Run returns nil.
func (p *Processor) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil && ctx.Err() != nil {
			p.cfg.Logger.Warn("error while shutting down", "err", err)
			err = nil
		}
	}()
	return p.run(ctx)
}

func (p *Processor) run(ctx context.Context) error {
	if err := ensureTopics(ctx, &p.cfg); err != nil {
		return err
	}
	reader, err := newGlobalsReader(&p.cfg, p.logs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); reader.run(ctx) }()
	defer wg.Wait()
	defer cancel()

	p.cfg.Logger.Info("reading segment definitions and catalog", "segments_topic", p.cfg.Topics.Segments, "catalog_topic", p.cfg.Topics.Catalog)
	for !p.logs.caughtUp() {
		select {
		case <-ctx.Done():
			return nil
		case <-p.logs.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.applyGlobalsToRules()
	p.cfg.Logger.Info("definitions loaded", "segments", len(p.rules.segs))

	if err := p.joinGroup(); err != nil {
		return err
	}
	defer p.leaving.Wait() // after Close, which ends a leave in progress
	defer p.sess.Close()
	p.ready.Store(true)
	p.cfg.Logger.Info("processing", "group", p.cfg.Group, "events_topics", p.cfg.Topics.Events, "transactional_id", p.cfg.TransactionalID)
	return p.loop(ctx)
}

func (p *Processor) joinGroup() error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topics.Events...),
		kgo.TransactionalID(p.cfg.TransactionalID),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.Balancers(balancer(len(p.cfg.Topics.Events))),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(outputPartitioner(p.cfg.Topics.Changelog)),
		kgo.OnPartitionsAssigned(p.onAssigned),
		kgo.OnPartitionsRevoked(p.onRevoked),
		kgo.OnPartitionsLost(p.onRevoked),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.WithHooks(p.kprom),
	}, p.cfg.KafkaOptions...)
	if p.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(p.cfg.InstanceID))
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("create transactional group client: %w", err)
	}
	p.sess = sess
	return nil
}

// balancer picks the group balancer. With one events topic, cooperative-sticky: a
// rebalance moves only the partitions that must move. With several, the range
// assignor, which gives partition p of every (equally partitioned) topic to the same
// member: all events of a contact, whatever their topic, meet in one process.
func balancer(eventsTopics int) kgo.GroupBalancer {
	if eventsTopics > 1 {
		return kgo.RangeBalancer()
	}
	return kgo.CooperativeStickyBalancer()
}

// outputPartitioner sends changelog records to the partition set on the record (the
// input partition) and everything else by key hash, as Kafka's default partitioner.
func outputPartitioner(changelog string) kgo.Partitioner {
	byKey := kgo.StickyKeyPartitioner(nil)
	return partitionerFunc(func(topic string) kgo.TopicPartitioner {
		if topic == changelog {
			return kgo.ManualPartitioner().ForTopic(topic)
		}
		return byKey.ForTopic(topic)
	})
}

type partitionerFunc func(string) kgo.TopicPartitioner

func (f partitionerFunc) ForTopic(t string) kgo.TopicPartitioner { return f(t) }

// onAssigned restores newly assigned partitions (franz-go's goroutine; fetching of
// these partitions starts after it returns).
func (p *Processor) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	var fresh []int32
	drops := map[int32]chan struct{}{}
	p.mu.Lock()
	for _, ps := range assigned {
		for _, id := range ps {
			p.mu.assigned[id]++
			if p.mu.assigned[id] == 1 {
				fresh = append(fresh, id)
				if ch := p.mu.dropping[id]; ch != nil {
					drops[id] = ch
				}
			}
		}
	}
	p.mu.Unlock()
	slices.Sort(fresh)
	// Partitions are restored restoreParallelism at a time: a restore is mostly
	// fetching and writing on one goroutine, and loading decodes on every core.
	var g errgroup.Group
	g.SetLimit(restoreParallelism)
	var leave sync.Once
	for _, id := range fresh {
		g.Go(func() error {
			if ch := drops[id]; ch != nil {
				<-ch // its old data is being deleted: restore after that
			}
			p.restoring.Add(1)
			p.m.restoring.Inc()
			pt, err := p.openPartition(ctx, id)
			p.restoring.Add(-1)
			p.m.restoring.Dec()
			if err != nil {
				// Without its state the partition cannot be processed; leaving the
				// group lets another process (or this one, after a restart) take it.
				// LeaveGroup waits for this callback to return: it runs on a
				// goroutine of its own, which run waits for.
				p.cfg.Logger.Error("restore partition failed; leaving the group", "partition", id, "err", err)
				leave.Do(func() { p.leaving.Go(p.sess.Client().LeaveGroup) })
				return nil
			}
			p.mu.Lock()
			p.mu.handoff = append(p.mu.handoff, handoff{id: id, pt: pt})
			p.mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // the restores report their errors themselves
}

// restoreParallelism is how many partitions onAssigned restores at once.
const restoreParallelism = 2

func (p *Processor) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range revoked {
		for _, id := range ps {
			if p.mu.assigned[id]--; p.mu.assigned[id] <= 0 {
				delete(p.mu.assigned, id)
				p.mu.handoff = append(p.mu.handoff, handoff{id: id})
			}
		}
	}
}

// openPartition restores partition id from its changelog and builds its bitmaps and
// indexes: from the records already in the store, then from those the restore writes,
// as it writes them (loader).
func (p *Processor) openPartition(ctx context.Context, id int32) (*partition, error) {
	start := time.Now()
	pt := newPartition(id)
	ld := newLoader(pt, p.cfg.ExclusionTag)
	if err := ld.scanStore(p.cfg.Store); err != nil {
		ld.abort()
		return nil, fmt.Errorf("load partition %d: %w", id, err)
	}
	scanned := time.Since(start)
	n, err := restore(ctx, &p.cfg, id, p.cfg.Logger, ld)
	p.m.restoredRecords.Add(float64(n))
	if err != nil {
		ld.abort()
		return nil, err
	}
	finishStart := time.Now()
	if err := ld.finish(p.cfg.Store); err != nil {
		return nil, fmt.Errorf("load partition %d: %w", id, err)
	}
	p.cfg.Logger.Info("restored partition", "partition", id, "records", n,
		"took", time.Since(start).Round(time.Millisecond), "stored_scan", scanned.Round(time.Millisecond),
		"index_finish", time.Since(finishStart).Round(time.Millisecond), "read_back", ld.readBack)
	return pt, nil
}

// drainHandoffs applies assignment changes handed over by the callbacks.
func (p *Processor) drainHandoffs() {
	p.mu.Lock()
	hs := p.mu.handoff
	p.mu.handoff = nil
	p.mu.Unlock()
	for _, h := range hs {
		// Restore writes the store of a partition being assigned: its cached
		// contacts (of an earlier ownership) are stale.
		p.cache.dropPartition(h.id)
		if h.pt != nil {
			p.parts[h.id] = h.pt
			delete(p.moved, h.id)
			p.reconcile[h.id] = true
			delete(p.defsWait, h.id)
			delete(p.timers.loadedUntil, h.id)
			p.timers.nextLoad = time.Time{} // load its timers now
			p.cfg.Logger.Info("partition assigned", "partition", h.id, "next_dense", h.pt.meta.NextDense)
		} else {
			delete(p.parts, h.id)
			p.moved[h.id] = time.Now()
			delete(p.reconcile, h.id)
			delete(p.timers.loadedUntil, h.id)
			for _, t := range p.cfg.Topics.Events {
				p.m.lag.DeleteLabelValues(t, strconv.Itoa(int(h.id)))
			}
			p.m.deleteIndexGauges(h.id)
			p.cfg.Logger.Info("partition revoked", "partition", h.id)
		}
	}
	p.m.partitions.Set(float64(len(p.parts)))
	if len(hs) > 0 {
		p.indexGaugesAt = time.Time{}
		ids := p.sortedPartitions()
		p.owned.Store(&ids)
	}
}

// applyGlobalsToRules applies new segments and catalog entries to the rules and
// returns them.
func (p *Processor) applyGlobalsToRules() (seg, cat []globalEntry) {
	seg, cat = p.logs.snapshot(p.segCursor, p.catCursor)
	p.segCursor += len(seg)
	p.catCursor += len(cat)
	defer p.segApplied.set(p.segCursor) // once the rules have them
	copied := false
	for i := range seg {
		if seg[i].Err == nil && seg[i].Def != nil {
			if err := p.rules.checkReferences(seg[i].Def); err != nil {
				seg = rejectReferences(seg, i, err, &copied)
			}
		}
		if seg[i].Err == nil {
			p.rules.applySegment(&seg[i])
		}
		p.rules.segRead[seg[i].Partition] = seg[i].Offset + 1
	}
	if len(seg) > 0 {
		p.view.Store(p.rules.view())
	}
	for i := range cat {
		if cat[i].Err == nil {
			p.rules.applyCatalog(&cat[i])
		}
		p.rules.catRead[cat[i].Partition] = cat[i].Offset + 1
	}
	return seg, cat
}

func (p *Processor) pendingWork() bool {
	if len(p.reconcile) > 0 {
		return true
	}
	seg, cat := p.logs.snapshot(p.segCursor, p.catCursor)
	if len(seg)+len(cat) > 0 {
		return true
	}
	// Timers wait for a CommitInterval since the previous window (timers.wait), so
	// that a stream of them fires in batches.
	return p.backfillsPending() > 0 ||
		(p.timers.due(p.cfg.Now()) && time.Since(p.timers.lastWindow) >= p.cfg.CommitInterval)
}

// backfillsPending counts the unfinished backfills of the owned partitions.
func (p *Processor) backfillsPending() int {
	n := 0
	for _, pt := range p.parts {
		n += len(pt.meta.CatalogScans) + len(pt.meta.CatalogSteps)
		for _, sm := range pt.meta.Segments {
			if sm.Backfilling {
				n++
			}
		}
	}
	return n
}

func (p *Processor) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		// Wait for input at most a CommitInterval, and only until the timers need a
		// window: a timer due in 5 ms is not left waiting for 100 ms.
		var fs kgo.Fetches
		if wait := p.timers.wait(p.cfg.Now(), time.Since(p.timers.lastWindow), p.cfg.CommitInterval, p.cfg.CommitInterval); wait > 0 {
			pctx, cancel := context.WithTimeout(ctx, wait)
			stop := p.wakeOnQuery(cancel)
			fs = p.sess.PollRecords(pctx, p.windowLimit())
			stop()
			cancel()
		} else {
			// A nil context takes what is buffered without waiting (franz-go).
			fs = p.sess.PollRecords(nil, p.windowLimit())
		}
		if fs.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		p.logFetchErrors(fs)
		p.drainHandoffs()
		p.updateIndexGauges()
		p.dropMovedPartitions()
		p.runQueries()
		if fs.NumRecords() == 0 && !p.pendingWork() {
			continue
		}
		p.timers.lastWindow = time.Now()
		if err := p.runWindow(ctx, fs); err != nil {
			return err
		}
	}
	return nil
}

// wakeOnQuery calls cancel (ending the loop's wait for input) when a query arrives,
// until the returned stop is called; stop returns when the watcher has ended.
func (p *Processor) wakeOnQuery(cancel context.CancelFunc) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-p.queryWake:
			cancel()
		case <-done:
		}
	}()
	return func() { close(done); <-exited }
}

// dropMovedPartitions deletes the local data of partitions that moved to another
// process more than Config.StaleDataGrace ago. A partition that comes back later is
// restored from its changelog from scratch.
func (p *Processor) dropMovedPartitions() {
	for id, at := range p.moved {
		if time.Since(at) < p.cfg.StaleDataGrace {
			continue
		}
		// A reassignment cannot start restoring the partition while its data is
		// being deleted: onAssigned waits for the dropping channel. The deletion
		// (a synced Pebble batch) runs outside p.mu.
		p.mu.Lock()
		owned := p.mu.assigned[id] > 0
		var done chan struct{}
		if !owned {
			done = make(chan struct{})
			if p.mu.dropping == nil {
				p.mu.dropping = map[int32]chan struct{}{}
			}
			p.mu.dropping[id] = done
		}
		p.mu.Unlock()
		if owned {
			continue // reassigned: its hand-off is on the way
		}
		err := p.cfg.Store.DropPartition(id)
		p.mu.Lock()
		delete(p.mu.dropping, id)
		p.mu.Unlock()
		close(done)
		if err != nil {
			p.cfg.Logger.Warn("drop local data of a moved partition", "partition", id, "err", err)
			continue
		}
		delete(p.moved, id)
		p.cfg.Logger.Info("dropped local data of a partition owned elsewhere", "partition", id)
	}
}

func (p *Processor) logFetchErrors(fs kgo.Fetches) {
	fs.EachError(func(t string, part int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		p.cfg.Logger.Warn("fetch error", "topic", t, "partition", part, "err", err)
	})
}
