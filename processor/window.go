package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// window is one commit window: everything decided between Begin and End of one
// Kafka transaction. Contacts read during the window are kept in an overlay; at the
// end each changed contact is written once to the changelog (in the transaction)
// and to a Pebble batch, which is committed only if the transaction commits
// (Pebble never runs ahead of Kafka). Bitmaps and partition metas change only after
// the commit.
type window struct {
	windowDeps
	now      time.Time
	contacts map[contactRef]*overlay
	dirty    []contactRef
	metas    map[int32]*state.PartitionMeta // copies being modified
	segDirty map[int32]map[string]bool      // segment metas changed (written one key each)
	dense    map[int32]uint32               // next dense id per partition, when assigned in the window
	deltas   []memberDelta                  // bitmap changes to apply after commit
	idx      []indexDelta                   // list and reachability changes, after commit
	attrs    []attrDelta                    // attribute index changes, after commit
	records  int                            // input records processed
	outputs  int                            // transitions produced
	causes   []time.Time                    // timestamps of input records that caused outputs
	// staleTimers are index entries found not to match their record's NextDue.
	staleTimers []timerEntry
	// pendingSegs: per partition, workspace → segments being backfilled (a cache
	// for catchUp, dropped when a segment starts or ends a backfill).
	pendingSegs map[int32]map[string][]string
	// cats caches the catalogs of contacts of partitions with pending catalog steps
	// (window.catalog).
	cats map[catKey]*catalogAt
	// catalogChanged: the window applied catalog records or completed a catalog
	// step (pruneCatalog).
	catalogChanged bool
	// catalogQueued: the partitions with pending catalog steps, whose contacts'
	// attributes depend on the scans' progress (window.catalog): preparation leaves
	// them to the loop. Set by applyGlobals; read by the preparation workers.
	catalogQueued map[int32]bool
	// cacheEpoch is the cache's epoch when the window began; cacheHits the contacts
	// the window took from the cache (contactcache.go).
	cacheEpoch uint64
	cacheHits  []contactRef
	// queries: per partition and workspace (key), the query over the attribute
	// index that the window's backfill steps share (windowQuery).
	queries map[contactRef]*operators.Query
	// timed: per partition and workspace, the contacts with a timer in the store
	// (backfill.go, timedContacts).
	timed map[contactRef][]string
	// algebraDecided counts the contacts the backfills' queries read from the store
	// to decide what the index could not (for segmentd_backfill_contacts_read_total).
	algebraDecided int

	mu struct {
		sync.Mutex
		err           error           // first produce error: the window must abort
		changelogNext map[int32]int64 // per partition, offset after the last changelog record
		refused       []refusal       // records refused (bound.go)
	}
	buf []byte
	// enc is room for the records flush encodes: each is appended after the last
	// and kept (the changelog record holds it until produced), a new chunk when
	// the room runs out, instead of a buffer grown per record.
	enc []byte
}

// encChunk is the size of the chunks flush encodes records into; a chunk with less
// than encRoom bytes left is replaced.
const (
	encChunk = 64 << 10
	encRoom  = 8 << 10
)

type contactRef struct {
	p   int32
	key string
}

type overlay struct {
	c          *state.Contact
	exists     bool      // a record exists in the store (or was written in this window)
	isDirty    bool      // the record must be written
	origDue    time.Time // NextDue of the stored record: its timer index entry
	purged     bool      // an expired tombstone to delete
	purgeDense uint32    // its dense id
}

// indexDelta is a change of a list bitmap (key "<ws>/<list>") or, with reach, of a
// workspace's reachable bitmap (key "<ws>").
type indexDelta struct {
	p     int32
	reach bool
	key   string
	dense uint32
	add   bool
}

type memberDelta struct {
	p     int32
	seg   string // "<ws>/<segment id>"
	dense uint32
	add   bool
}

// newWindow starts a window with deps at the clock's instant.
func newWindow(deps windowDeps) *window {
	w := &window{windowDeps: deps, now: deps.clock(), contacts: map[contactRef]*overlay{}, metas: map[int32]*state.PartitionMeta{},
		segDirty: map[int32]map[string]bool{}, dense: map[int32]uint32{}, pendingSegs: map[int32]map[string][]string{},
		cats: map[catKey]*catalogAt{}}
	w.mu.changelogNext = map[int32]int64{}
	if deps.cache != nil {
		w.cacheEpoch = deps.cache.epoch
	}
	if deps.attrBuf != nil {
		w.attrs, *deps.attrBuf = (*deps.attrBuf)[:0], nil
	}
	return w
}

// contact returns the window's copy of a contact, reading the store on first use.
func (w *window) contact(p int32, key string) (*overlay, error) {
	ref := contactRef{p, key}
	if o := w.contacts[ref]; o != nil {
		return o, nil
	}
	o := &overlay{}
	rc, err := w.readContact(p, key)
	switch {
	case err == nil:
		o.c, o.exists = rc.c, true
		if rc.cached {
			w.cacheHits = append(w.cacheHits, ref)
		}
	case errors.Is(err, state.ErrNotFound):
		o.c = &state.Contact{}
	default:
		return nil, err
	}
	o.origDue = o.c.NextDue
	w.contacts[ref] = o
	return o, nil
}

// contactPrefetched is contact, using the preparer's read of the store if the window
// has no copy of its own. adopted reports that the window now uses pre's contact.
func (w *window) contactPrefetched(p int32, key string, pre *prefetched) (o *overlay, adopted bool, err error) {
	ref := contactRef{p, key}
	if o := w.contacts[ref]; o != nil {
		return o, false, nil
	}
	if pre == nil || !pre.done || pre.err != nil {
		o, err := w.contact(p, key)
		return o, false, err
	}
	o = &overlay{c: pre.c, exists: pre.found}
	if pre.cached {
		w.cacheHits = append(w.cacheHits, ref)
	}
	if !pre.found {
		o.c = &state.Contact{}
	}
	o.origDue = o.c.NextDue
	w.contacts[ref] = o
	return o, pre.found, nil
}

func (w *window) markDirty(p int32, key string, o *overlay) {
	if !o.isDirty {
		o.isDirty = true
		w.dirty = append(w.dirty, contactRef{p, key})
	}
}

// meta returns the window's modifiable copy of partition pt's meta.
func (w *window) meta(pt *partition) *state.PartitionMeta {
	if m := w.metas[pt.id]; m != nil {
		return m
	}
	m := pt.meta.Clone()
	w.metas[pt.id] = &m
	return &m
}

// setSegmentMeta records what partition pt has applied of a segment (nil: forget it).
func (w *window) setSegmentMeta(pt *partition, segKey string, sm *state.SegmentMeta) {
	m := w.meta(pt)
	if old := m.Segments[segKey]; (sm != nil && sm.Backfilling) != old.Backfilling {
		delete(w.pendingSegs, pt.id)
	}
	if sm == nil {
		delete(m.Segments, segKey)
	} else {
		if m.Segments == nil {
			m.Segments = map[string]state.SegmentMeta{}
		}
		m.Segments[segKey] = *sm
	}
	if w.segDirty[pt.id] == nil {
		w.segDirty[pt.id] = map[string]bool{}
	}
	w.segDirty[pt.id][segKey] = true
}

// nextDense assigns the next dense id of a partition (kept apart from the meta, which
// only changes with definitions and the catalog, so that events never copy it).
func (w *window) nextDense(pt *partition) uint32 {
	d, ok := w.dense[pt.id]
	if !ok {
		d = max(pt.meta.NextDense, 1)
	}
	w.dense[pt.id] = d + 1
	return d
}

// produce sends a record in the window's transaction. A record larger than the
// producer accepts, or one the brokers refuse as too large, is refused (bound.go):
// the window aborts and its contact is quarantined.
func (w *window) produce(ctx context.Context, r *kgo.Record) {
	if n := recordSize(r); n > maxProduceRecordBytes {
		w.mu.Lock()
		w.refuseLocked(r, n, "record_too_large", fmt.Errorf("%d bytes, over the %d a record may take", n, maxProduceRecordBytes))
		w.mu.Unlock()
		return
	}
	w.sink.Produce(ctx, r, func(r *kgo.Record, err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if refusedErr(err) {
				w.refuseLocked(r, recordSize(r), "broker_refused", err)
				return
			}
			if w.mu.err == nil {
				w.mu.err = fmt.Errorf("produce to %s: %w", r.Topic, err)
			}
			return
		}
		if r.Topic == w.opts.topics.Changelog && r.Offset+1 > w.mu.changelogNext[r.Partition] {
			w.mu.changelogNext[r.Partition] = r.Offset + 1
		}
	})
}

// emit produces a transition record.
func (w *window) emit(ctx context.Context, t *Transition, key string) {
	w.buf = t.AppendJSON(w.buf[:0])
	w.produce(ctx, &kgo.Record{
		Topic:   w.opts.topics.Membership,
		Key:     []byte(key),
		Value:   append([]byte(nil), w.buf...),
		Headers: []kgo.RecordHeader{{Key: "type", Value: []byte(t.Type())}},
	})
	w.outputs++
	w.m.transitions.WithLabelValues(t.Type(), t.Reason).Inc()
}

// deadLetter produces a record to the dead-letter topic. A dead letter larger than
// a record may be goes without the original value (said in its detail and the log):
// producing it would be refused on every run of the window.
func (w *window) deadLetter(ctx context.Context, r *events.Record, reason events.Reason, detail string) {
	dl := deadLetter(w.opts.topics.DLQ, r, reason, detail)
	if n := recordSize(dl); n > maxProduceRecordBytes {
		cp := *r
		cp.Value = nil
		detail = fmt.Sprintf("%s (the %d-byte value is omitted: a record may take at most %d bytes)", detail, len(r.Value), maxProduceRecordBytes)
		dl = deadLetter(w.opts.topics.DLQ, &cp, reason, detail)
		w.m.recordsRefused.WithLabelValues("dead_letter_value_omitted").Inc()
		w.opts.logger.Warn("dead letter too large: produced without its value", "topic", w.opts.topics.DLQ,
			"key", string(r.Key), "bytes", n, "reason", reason)
	}
	w.produce(ctx, dl)
	w.m.deadLetters.WithLabelValues(string(reason)).Inc()
	w.opts.logger.Debug("dead-lettered record", "reason", reason, "detail", detail)
}

// flush writes every changed contact and meta of the window to the changelog and to
// the Pebble batch.
func (w *window) flush(ctx context.Context, batch *state.Batch) error {
	for _, e := range w.staleTimers {
		if err := batch.DeleteTimer(e.p, e.due, e.key); err != nil {
			return err
		}
	}
	for _, ref := range w.dirty {
		o := w.contacts[ref]
		if !o.origDue.IsZero() && (o.purged || !o.origDue.Equal(o.c.NextDue)) {
			if err := batch.DeleteTimer(ref.p, o.origDue, ref.key); err != nil {
				return err
			}
		}
		if o.purged {
			if err := batch.DeleteContact(ref.p, ref.key, o.purgeDense); err != nil {
				return err
			}
			w.produce(ctx, &kgo.Record{Topic: w.opts.topics.Changelog, Partition: ref.p, Key: []byte(ref.key)})
			continue
		}
		if !o.c.NextDue.IsZero() && !o.origDue.Equal(o.c.NextDue) {
			if err := batch.PutTimer(ref.p, o.c.NextDue, ref.key); err != nil {
				return err
			}
		}
		if cap(w.enc)-len(w.enc) < encRoom {
			w.enc = make([]byte, 0, encChunk)
		}
		room := w.enc[len(w.enc):]
		enc, over, err := o.c.AppendBounded(room, w.opts.maxContactBytes)
		if err != nil {
			return fmt.Errorf("encode contact %s: %w", ref.key, err)
		}
		if cap(enc) == cap(room) { // encoded in the chunk, not in a larger array of its own
			w.enc = w.enc[:len(w.enc)+len(enc)]
		}
		enc = enc[:len(enc):len(enc)]
		if over {
			// What the contact keeps exactly is over the bound (a record of a
			// release without it, or memberships of very many segments): written
			// all the same, while the producer accepts it.
			w.m.contactsOverBound.Inc()
			w.opts.logger.Warn("contact record over --max-contact-bytes", "partition", ref.p, "contact", ref.key,
				"bytes", len(enc), "max_contact_bytes", w.opts.maxContactBytes)
		}
		if err := batch.PutContactEncoded(ref.p, ref.key, o.c.DenseID, enc); err != nil {
			return err
		}
		w.produce(ctx, &kgo.Record{Topic: w.opts.topics.Changelog, Partition: ref.p, Key: []byte(ref.key), Value: enc})
	}
	for p, d := range w.dense {
		if w.metas[p] != nil {
			w.metas[p].NextDense = d
			continue
		}
		if pt := w.parts[p]; pt != nil {
			base := pt.meta // shallow: only read, and Segments is not in the base record
			base.NextDense = d
			enc, err := base.MarshalBinary()
			if err != nil {
				return err
			}
			if err := batch.PutMetaEncoded(p, enc); err != nil {
				return err
			}
			w.produce(ctx, &kgo.Record{Topic: w.opts.topics.Changelog, Partition: p, Key: []byte(state.MetaKey), Value: enc})
		}
	}
	for p, m := range w.metas {
		enc, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		if err := batch.PutMetaEncoded(p, enc); err != nil {
			return err
		}
		w.produce(ctx, &kgo.Record{Topic: w.opts.topics.Changelog, Partition: p, Key: []byte(state.MetaKey), Value: enc})
		for segKey := range w.segDirty[p] {
			var sm *state.SegmentMeta
			var enc []byte
			if v, ok := m.Segments[segKey]; ok {
				sm = &v
				if enc, err = json.Marshal(sm); err != nil {
					return err
				}
			}
			if err := batch.PutSegmentMeta(p, segKey, sm); err != nil {
				return err
			}
			w.produce(ctx, &kgo.Record{Topic: w.opts.topics.Changelog, Partition: p, Key: []byte(state.SegmentMetaKey(segKey)), Value: enc})
		}
	}
	return nil
}

// err returns the first produce error of the window.
func (w *window) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.err
}

// committed applies the window to the in-memory partition state after its
// transaction committed: metas, bitmaps, the product index and the timer heap.
// restoring reports that a partition is being restored (which may need any step
// of the histories): the histories are pruned only when it is false.
func (w *window) committed(restoring bool) {
	defer func() {
		if restoring || len(w.parts) == 0 {
			return
		}
		if len(w.segDirty) > 0 {
			pruneHistory(w.rules, w.parts)
		}
		if w.catalogChanged {
			pruneCatalog(w.rules, w.parts)
		}
	}()
	for p, m := range w.metas {
		if pt := w.parts[p]; pt != nil {
			pt.meta = *m
			if len(w.segDirty[p]) > 0 {
				pt.pending = nil
			}
		}
	}
	for p, d := range w.dense {
		if pt := w.parts[p]; pt != nil {
			pt.meta.NextDense = d
		}
	}
	for _, d := range w.deltas {
		pt := w.parts[d.p]
		if pt == nil {
			continue
		}
		if d.add {
			pt.bitmap(pt.members, d.seg).Add(d.dense)
		} else if b := pt.members[d.seg]; b != nil {
			b.Remove(d.dense)
		}
	}
	for _, d := range w.idx {
		pt := w.parts[d.p]
		if pt == nil {
			continue
		}
		m := pt.lists
		if d.reach {
			m = pt.reachable
		}
		if d.add {
			pt.bitmap(m, d.key).Add(d.dense)
		} else if b := m[d.key]; b != nil {
			b.Remove(d.dense)
		}
	}
	w.applyAttrDeltas()
	defer w.cache.committed(w) // after the loop below: it reads the contacts
	var prodKey []byte         // "<ws>/<product id>", looked up without a string per product
	for _, ref := range w.dirty {
		if pt := w.parts[ref.p]; pt != nil {
			o := w.contacts[ref]
			if !o.purged && !o.origDue.Equal(o.c.NextDue) {
				w.timers.armed(ref.p, o.c.NextDue, ref.key)
			}
			if o.c.DenseID != 0 && !o.c.IsTombstone() {
				pt.setCustomer(o.c.DenseID, customerIDOf(ref.key))
				ws := workspaceOf(ref.key)
				for _, prod := range o.c.PurchasedProducts() {
					prodKey = append(append(append(prodKey[:0], ws...), '/'), prod...)
					b := pt.products[string(prodKey)]
					if b == nil {
						b = pt.bitmap(pt.products, string(prodKey))
					}
					b.Add(o.c.DenseID)
				}
			}
		}
	}
}
