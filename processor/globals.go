package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// globalEntry is one record of the segments or catalog topic, decoded. Both topics
// are read whole by every process (SPEC §3) into append-only logs; the processing loop
// consumes the logs at its own pace.
type globalEntry struct {
	Partition int32
	Offset    int64
	Record    events.Record // the original record, kept for the dead letter of an invalid one
	Key       string        // segments: "<ws>/<id>"; catalog: "<ws>/product/<id>"

	Def     *operators.Definition // segments: nil for a tombstone
	Catalog *events.CatalogEntry  // catalog
	Err     *events.Error         // invalid record: dead-lettered, otherwise ignored
}

// globalLogs holds what the globals reader has read. The reader goroutine appends;
// the processing loop reads with snapshot() and compacts with compact().
//
// Positions in the logs are counts of entries read (a logical length): the loop's
// cursors (Processor.segCursor, catCursor) and readUpTo's answer. Compaction keeps
// them valid: it replaces the entries before a position that every owned partition
// has applied by the last few of each key (globalLog), as Kafka compaction of the
// topics would, so that the logs stay bounded by the number of keys while the topics
// grow, and a full reconcile does not replay every entry since the start.
type globalLogs struct {
	mu struct {
		sync.Mutex
		segments globalLog
		catalog  globalLog
		caughtUp bool
		segRead  map[int32]int64 // next offset to read per partition of the segments topic
		readCh   chan struct{}   // closed (and cleared) on every advance: see readUpTo
	}
	changed chan struct{} // receives a token (non-blocking) on every append
}

// globalLog is one topic's entries: entries[:prefix] stand for the first base entries
// read (compacted), entries[prefix:] are every entry read after them.
type globalLog struct {
	entries []globalEntry
	prefix  int
	base    int
}

// length is the number of entries read.
func (l *globalLog) length() int { return l.base + len(l.entries) - l.prefix }

// since returns the entries read after the first n (n ≥ base: compaction only
// covers entries the loop has applied).
func (l *globalLog) since(n int) []globalEntry {
	return l.entries[l.prefix+max(n-l.base, 0):]
}

// upTo returns what stands for the first n entries read: the compacted prefix and the
// entries after it up to n.
func (l *globalLog) upTo(n int) []globalEntry {
	return l.entries[:l.prefix+max(n-l.base, 0)]
}

// compact compacts the first n entries read (n ≥ base): of each key it keeps the
// last keep entries, in their order. The slices returned earlier are not modified.
func (l *globalLog) compact(n, keep int) {
	end := l.prefix + n - l.base
	if n <= l.base || end <= l.prefix {
		return
	}
	head := l.entries[:end]
	count := map[string]int{}
	for i := range head {
		count[head[i].Key]++
	}
	kept := make([]globalEntry, 0, len(count)*keep+len(l.entries)-end)
	seen := map[string]int{}
	for i := range head {
		k := head[i].Key
		if seen[k]++; count[k]-seen[k] < keep {
			kept = append(kept, head[i])
		}
	}
	prefix := len(kept)
	l.entries = append(kept, l.entries[end:]...)
	l.prefix, l.base = prefix, n
}

func newGlobalLogs() *globalLogs {
	return &globalLogs{changed: make(chan struct{}, 1)}
}

// snapshot returns the entries read after the first segFrom and catFrom.
func (g *globalLogs) snapshot(segFrom, catFrom int) (seg, cat []globalEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.segments.since(segFrom), g.mu.catalog.since(catFrom)
}

// upTo returns what stands for the first segN and catN entries read (for a full
// reconcile: compacted, each key's last entries and every entry after them).
func (g *globalLogs) upTo(segN, catN int) (seg, cat []globalEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.segments.upTo(segN), g.mu.catalog.upTo(catN)
}

// tails returns, of the first segN and catN entries read, those after the compacted
// parts, with the positions they start at.
func (g *globalLogs) tails(segN, catN int) (segBase int, seg []globalEntry, catBase int, cat []globalEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, c := &g.mu.segments, &g.mu.catalog
	return s.base, s.entries[s.prefix : s.prefix+max(segN-s.base, 0)], c.base, c.entries[c.prefix : c.prefix+max(catN-c.base, 0)]
}

// counts returns the numbers of entries read.
func (g *globalLogs) counts() (seg, cat int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.segments.length(), g.mu.catalog.length()
}

// stored returns the numbers of entries held (after compaction).
func (g *globalLogs) stored() (seg, cat int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.mu.segments.entries), len(g.mu.catalog.entries)
}

// compact compacts the first segN and catN entries read, keeping the last keepSeg
// and keepCat entries of each key (globalLog.compact).
func (g *globalLogs) compact(segN, catN, keepSeg, keepCat int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if segN > g.mu.segments.base {
		g.mu.segments.compact(segN, keepSeg)
	}
	if catN > g.mu.catalog.base {
		g.mu.catalog.compact(catN, keepCat)
	}
}

func (g *globalLogs) caughtUp() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.caughtUp
}

// setCaughtUp records that the reader has read both topics up to where they ended
// when it started.
func (g *globalLogs) setCaughtUp() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.caughtUp = true
}

// add appends entries the reader read and the positions it reached in the segments
// topic (advanceLocked).
func (g *globalLogs) add(seg, cat []globalEntry, segRead map[int32]int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.segments.entries = append(g.mu.segments.entries, seg...)
	g.mu.catalog.entries = append(g.mu.catalog.entries, cat...)
	g.advanceLocked(segRead)
}

// globalsReader follows the segments and catalog topics from their start with
// read_committed. run is its goroutine; the Processor starts it and waits for it.
type globalsReader struct {
	cl       *kgo.Client
	adm      *kadm.Client
	segments string
	catalog  string
	logs     *globalLogs
	log      *slog.Logger
}

func newGlobalsReader(cfg *Config, logs *globalLogs) (*globalsReader, error) {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumeTopics(cfg.Topics.Segments, cfg.Topics.Catalog),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		// Transaction markers advance the position the admin API waits for
		// (Processor.SyncSegments); they are not entries.
		kgo.KeepControlRecords(),
	}, cfg.KafkaOptions...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create globals client: %w", err)
	}
	return &globalsReader{
		cl: cl, adm: kadm.NewClient(cl),
		segments: cfg.Topics.Segments, catalog: cfg.Topics.Catalog,
		logs: logs, log: cfg.Logger,
	}, nil
}

// run reads until ctx is done, then closes the client.
func (r *globalsReader) run(ctx context.Context) {
	defer r.cl.Close()
	// The end offsets at start: once read up to them, the process has the
	// definitions and catalog that existed when it started.
	var ends map[string]map[int32]int64
	for ends == nil && ctx.Err() == nil {
		listed, err := r.adm.ListEndOffsets(ctx, r.segments, r.catalog)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			r.log.Warn("list end offsets of segments and catalog topics", "err", err)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		ends = map[string]map[int32]int64{}
		listed.Each(func(o kadm.ListedOffset) {
			if ends[o.Topic] == nil {
				ends[o.Topic] = map[int32]int64{}
			}
			ends[o.Topic][o.Partition] = o.Offset
		})
	}
	pending := func() bool {
		for _, ps := range ends {
			if len(ps) > 0 {
				return true
			}
		}
		return false
	}
	markDone := func(topic string, p int32, next int64) {
		if e, ok := ends[topic][p]; ok && next >= e {
			delete(ends[topic], p)
		}
	}
	// Empty partitions count as read.
	for _, ps := range ends {
		for p, e := range ps {
			if e == 0 {
				delete(ps, p)
			}
		}
	}
	lastProgress := time.Now()
	for ctx.Err() == nil {
		if !r.logs.caughtUp() && (!pending() || time.Since(lastProgress) > 3*time.Second) {
			// The second condition covers transaction markers at the end of a
			// partition, which a read_committed consumer never returns.
			r.logs.setCaughtUp()
			r.notify()
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := r.cl.PollFetches(pctx)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				r.log.Warn("read global topic", "topic", t, "partition", p, "err", err)
			}
		})
		var seg, cat []globalEntry
		segRead := map[int32]int64{}
		fs.EachRecord(func(rec *kgo.Record) {
			lastProgress = time.Now()
			markDone(rec.Topic, rec.Partition, rec.Offset+1)
			if rec.Topic == r.segments {
				segRead[rec.Partition] = rec.Offset + 1
			}
			if rec.Attrs.IsControl() {
				return // a transaction marker: read, but not an entry
			}
			e := globalEntry{Partition: rec.Partition, Offset: rec.Offset, Key: string(rec.Key), Record: toEventsRecord(rec)}
			if rec.Topic == r.segments {
				decodeDefinitionEntry(&e)
			} else {
				decodeCatalogEntry(&e)
			}
			if e.Err == nil {
				e.Record = events.Record{} // only a dead letter needs the original bytes
			}
			if rec.Topic == r.segments {
				seg = append(seg, e)
			} else {
				cat = append(cat, e)
			}
		})
		if len(seg)+len(cat)+len(segRead) > 0 {
			r.logs.add(seg, cat, segRead)
			r.notify()
		}
	}
}

func (r *globalsReader) notify() {
	select {
	case r.logs.changed <- struct{}{}:
	default:
	}
}

func toEventsRecord(rec *kgo.Record) events.Record {
	r := events.Record{Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	if len(rec.Headers) > 0 {
		r.Headers = make([]events.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			r.Headers[i] = events.Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// Dead-letter reasons of the segments topic (the events package owns the others).
const (
	reasonInvalidDefinition events.Reason = "invalid_definition"
	reasonKeyMismatch       events.Reason = "key_mismatch"
)

// decodeDefinitionEntry parses a segments-topic record: key "<ws>/<id>", value a
// definition (SPEC §6) or nil (delete).
func decodeDefinitionEntry(e *globalEntry) {
	ws, id, ok := strings.Cut(e.Key, "/")
	if !ok || ws == "" || id == "" || strings.Contains(id, "/") {
		e.Err = &events.Error{Reason: reasonKeyMismatch, Detail: fmt.Sprintf("key %q is not <workspace>/<segment_id>", e.Key)}
		return
	}
	if e.Record.Value == nil {
		e.Key = strings.ToLower(ws) + "/" + id
		return
	}
	def, err := operators.ParseDefinition(e.Record.Value)
	if err != nil {
		e.Err = &events.Error{Reason: reasonInvalidDefinition, Detail: err.Error()}
		return
	}
	if def.Workspace != strings.ToLower(ws) || def.ID != id {
		e.Err = &events.Error{Reason: reasonKeyMismatch, Detail: fmt.Sprintf("key %q does not match definition %s/%s", e.Key, def.Workspace, def.ID)}
		return
	}
	e.Key = def.Workspace + "/" + def.ID
	e.Def = def
}

func decodeCatalogEntry(e *globalEntry) {
	ce, err := events.DecodeCatalog(&e.Record)
	if err != nil {
		var de *events.Error
		if !errors.As(err, &de) {
			de = &events.Error{Reason: "invalid_catalog", Detail: err.Error()}
		}
		e.Err = de
		return
	}
	e.Key = ce.Workspace + "/product/" + ce.ProductID
	e.Catalog = ce
}

// compactEvery is how many applied entries a log gathers after its compacted part
// before it is compacted again (at least as many as that part holds, so that the
// work of compaction is proportional to the entries read).
const compactEvery = 256

// compactLogs compacts the entries of the global logs that the rules and every owned
// partition have applied, keeping the last keepSteps definitions of each segment and
// the last keepCatalogSteps records of each product (globalLog.compact): as many as
// the histories keep, so that a partition assigned later with an older meta is
// brought up to date as from the pruned histories. Not while a partition is being
// restored: its meta may name any entry.
func (p *Processor) compactLogs() {
	if p.restoring.Load() > 0 || len(p.parts) == 0 {
		return
	}
	segBase, seg, catBase, cat := p.logs.tails(p.segCursor, p.catCursor)
	passed := func(es []globalEntry, offsets func(*partition) map[int32]int64) int {
		n := 0
		for i := range es {
			for _, pt := range p.parts {
				if es[i].Offset >= offsets(pt)[es[i].Partition] {
					return n
				}
			}
			n++
		}
		return n
	}
	segN := passed(seg, func(pt *partition) map[int32]int64 { return pt.meta.SegmentsOffsets })
	catN := passed(cat, func(pt *partition) map[int32]int64 { return pt.meta.CatalogOffsets })
	segHeld, catHeld := p.logs.stored()
	if segN < max(compactEvery, segHeld-len(seg)) {
		segN = 0
	}
	if catN < max(compactEvery, catHeld-len(cat)) {
		catN = 0
	}
	if segN+catN > 0 {
		p.logs.compact(segBase+segN, catBase+catN, keepSteps, keepCatalogSteps)
	}
}
