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
// the processing loop reads with snapshot().
type globalLogs struct {
	mu struct {
		sync.Mutex
		segments []globalEntry
		catalog  []globalEntry
		caughtUp bool
		segRead  map[int32]int64 // next offset to read per partition of the segments topic
		readCh   chan struct{}   // closed (and cleared) on every advance: see readUpTo
	}
	changed chan struct{} // receives a token (non-blocking) on every append
}

func newGlobalLogs() *globalLogs {
	return &globalLogs{changed: make(chan struct{}, 1)}
}

// snapshot returns the entries appended since the given lengths.
func (g *globalLogs) snapshot(segFrom, catFrom int) (seg, cat []globalEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.segments[segFrom:], g.mu.catalog[catFrom:]
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
	g.mu.segments = append(g.mu.segments, seg...)
	g.mu.catalog = append(g.mu.catalog, cat...)
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
