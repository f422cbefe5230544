package processor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Backfills: a new, changed or deleted definition is applied to every contact of its
// workspace in each owned partition, and a catalog change to every contact who bought
// the product. Both run in bounded steps inside ordinary
// windows (what fits in the window's interval, at most Config.BackfillChunk
// contacts), with their cursor in the partition meta, so they commit with the
// transitions they produce and resume where they stopped after a crash or a move.
// Both are idempotent: they compare a fresh evaluation with the memberships the
// contact record carries.
//
// A step reads and evaluates the contacts on worker goroutines, one per CPU (Pebble
// reads are safe concurrently; a worker owns the records it decodes). A worker only
// decides, from the stored record, whether the step changes the contact: a
// transition, an old incarnation's entry to forget, or a new NextDue. The contacts
// it changes, and those the window already holds its own copy of, go back to the
// loop goroutine in scan order, which evaluates them again on the window's copy and
// produces the changes as before; the others cost no copy, no write and no output.

// reconcileSegments marks the backfills partition pt needs so that its applied
// segments match the live ones. keys limits the check to some segments (nil: all).
func (w *window) reconcileSegments(pt *partition, keys []string) {
	view := w.metaView(pt)
	if keys == nil {
		for k := range w.p.rules.segs {
			keys = append(keys, k)
		}
		for k := range view.Segments {
			if _, live := w.p.rules.segs[k]; !live {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		si := w.p.rules.segs[k]
		sm, known := view.Segments[k]
		switch {
		case si == nil && (!known || sm.Deleted):
			continue
		case si == nil:
			sm.Deleted, sm.Backfilling, sm.Cursor = true, true, ""
		case known && !sm.Deleted && sm.Incarnation == si.Incarnation && sm.RulesKey == si.RulesKey:
			continue
		default:
			sm = state.SegmentMeta{Incarnation: si.Incarnation, Version: si.Version, RulesKey: si.RulesKey, Backfilling: true}
		}
		w.setSegmentMeta(pt, k, &sm)
		view = w.meta(pt)
	}
}

// metaView returns the window's copy of pt's meta if it has one, else the committed
// meta, for reading only.
func (w *window) metaView(pt *partition) *state.PartitionMeta {
	if m := w.metas[pt.id]; m != nil {
		return m
	}
	return &pt.meta
}

// backfillBudget bounds the backfill work of one window: at most left more
// contacts, and no step started (no chunk of contacts read) after deadline.
type backfillBudget struct {
	left     int
	deadline time.Time
}

func (b *backfillBudget) spent() bool { return b.left <= 0 || !time.Now().Before(b.deadline) }

// backfill advances partition pt's pending backfills within budget.
func (w *window) backfill(ctx context.Context, pt *partition, budget *backfillBudget) error {
	view := w.metaView(pt)
	var keys []string
	for k, sm := range view.Segments {
		if sm.Backfilling {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if budget.spent() {
			return nil
		}
		if err := w.backfillSegment(ctx, pt, k, budget); err != nil {
			return err
		}
	}
	var scans []string
	for k := range view.CatalogScans {
		scans = append(scans, k)
	}
	slices.Sort(scans)
	for _, k := range scans {
		if budget.spent() {
			return nil
		}
		if err := w.catalogScan(ctx, pt, k, budget); err != nil {
			return err
		}
	}
	return nil
}

func (w *window) backfillSegment(ctx context.Context, pt *partition, segKey string, budget *backfillBudget) error {
	sm := w.meta(pt).Segments[segKey]
	ws, segID, _ := strings.Cut(segKey, "/")
	si := w.p.rules.segs[segKey]
	if si != nil && si.Incarnation != sm.Incarnation {
		si = nil // a newer incarnation: reconcile will start its own backfill
	}
	f := segmentFilter{segID: segID, si: si, now: w.now}
	var cat state.Catalog
	if si != nil {
		f.wr = w.p.rules.ws[ws]
		cat = w.catalogFor(f.wr, si)
	}
	excl := w.p.cfg.ExclusionTag
	sc := w.newScan(pt, ws+"/", budget)
	sc.eval = func(ch *scanChunk, c *state.Contact) error {
		for i := range ch.items {
			it := &ch.items[i]
			if it.own {
				continue
			}
			enc := ch.buf[it.enc[0]:it.enc[1]]
			if f.si == nil {
				// A deleted segment: only the records with an entry of it change.
				live, has, err := state.SegmentEntry(enc, segID)
				if err != nil {
					return fmt.Errorf("scan partition %d: decode %s: %w", pt.id, it.key, err)
				}
				if it.skip = !live || !has; it.skip {
					continue
				}
			}
			if err := c.UnmarshalBinary(enc); err != nil {
				return fmt.Errorf("scan partition %d: decode %s: %w", pt.id, it.key, err)
			}
			if c.IsNew() || c.IsTombstone() {
				it.skip = true
				continue
			}
			if f.si != nil {
				a := c.Attrs(ws, cat, excl)
				if it.skip = !f.changes(c, &a); it.skip {
					ch.evals++
					continue
				}
				it.a = new(operators.Attrs)
				*it.a = a
			}
			it.c, c = c, new(state.Contact)
		}
		return nil
	}
	cursor := ""
	end, err := sc.run(func(it *scanItem) {
		cursor = it.key
		o := w.scanned(pt.id, it)
		if o == nil || o.c.IsNew() || o.c.IsTombstone() {
			return
		}
		if si == nil {
			w.removeSegment(ctx, pt, it.key, o, segID, sm.Version)
			return
		}
		a := it.attrs(o, func() operators.Attrs { return o.c.Attrs(ws, cat, excl) })
		w.evalSegment(ctx, pt, it.key, o, si, a, ReasonDefinition, Cause{})
		if f.wr != nil {
			if due := f.wr.rs.NextFlip(a, w.now); !due.Equal(o.c.NextDue) {
				o.c.NextDue = due
				w.markDirty(pt.id, it.key, o)
			}
		}
	}, func(emit func(scanItem, []byte) bool) (bool, error) {
		end := true
		err := w.p.cfg.Store.ScanContactEncodings(pt.id, ws+"/", sm.Cursor, func(key, enc []byte) (bool, error) {
			end = emit(scanItem{key: string(key)}, enc)
			return end, nil
		})
		return end, err
	})
	if err != nil {
		return err
	}
	switch {
	case !end:
		if cursor != "" {
			sm.Cursor = cursor
			w.setSegmentMeta(pt, segKey, &sm)
		}
	case sm.Deleted:
		w.setSegmentMeta(pt, segKey, nil)
		w.p.cfg.Logger.Info("segment deletion applied", "partition", pt.id, "segment", segKey)
	default:
		sm.Backfilling, sm.Cursor = false, ""
		w.setSegmentMeta(pt, segKey, &sm)
		w.p.cfg.Logger.Info("segment backfilled", "partition", pt.id, "segment", segKey, "version", sm.Version)
	}
	return nil
}

// catalogFor returns the catalog to derive attributes with for evaluating si and
// the workspace's timers: nil (no collection is looked up, the costliest part of
// the attributes) unless si has a purchased_collection condition, the only one that
// reads them.
func (w *window) catalogFor(wr *wsRules, si *segInfo) state.Catalog {
	if wr == nil || !slices.Contains(wr.segs, si) {
		return w.p.rules
	}
	for _, i := range wr.rs.UsingField("purchased_collection") {
		if wr.segs[i] == si {
			return w.p.rules
		}
	}
	return nil
}

// segmentFilter decides from a stored record whether a backfill of a live segment
// changes the contact (state.SegmentEntry does for a deleted one). It must never
// miss a change that the loop's evaluation (evalSegment with
// settleOldIncarnations, the NextDue update) would make. Workers share it: it only
// reads.
type segmentFilter struct {
	segID string
	si    *segInfo
	wr    *wsRules // the workspace's rules, for NextDue (segment backfills)
	now   time.Time
}

// flips reports whether evaluating the live segment on c (attributes a) produces a
// transition or forgets an old incarnation's entry.
func (f *segmentFilter) flips(c *state.Contact, a *operators.Attrs) bool {
	member := false
	for _, m := range c.Memberships {
		if m.Segment != f.segID {
			continue
		}
		if m.Incarnation != f.si.Incarnation {
			return true
		}
		member = m.Member()
	}
	return f.si.Seg.Match(a, f.now) != member
}

// changes reports whether a backfill of the live segment changes c: a flip, or a
// new NextDue.
func (f *segmentFilter) changes(c *state.Contact, a *operators.Attrs) bool {
	return f.flips(c, a) || (f.wr != nil && !f.wr.rs.NextFlip(a, f.now).Equal(c.NextDue))
}

// removeSegment removes a contact from a deleted segment and forgets the entries.
func (w *window) removeSegment(ctx context.Context, pt *partition, key string, o *overlay, segID string, version int64) {
	c := o.c
	for i := 0; i < len(c.Memberships); i++ {
		if c.Memberships[i].Segment != segID {
			continue
		}
		if c.Memberships[i].Member() {
			w.transition(ctx, pt, key, o, i, workspaceOf(key), version, ReasonDefinition, Cause{SegmentVersion: version})
		}
		c.Memberships = slices.Delete(c.Memberships, i, i+1)
		i--
		w.markDirty(pt.id, key, o)
	}
}

// catalogScan re-evaluates, for contacts who bought a product whose collections
// changed, the segments with a purchased_collection condition.
func (w *window) catalogScan(ctx context.Context, pt *partition, scanKey string, budget *backfillBudget) error {
	m := w.meta(pt)
	ws, productID, _ := strings.Cut(scanKey, "/product/")
	after := uint64(0)
	if cur := m.CatalogScans[scanKey]; cur != "" {
		after, _ = strconv.ParseUint(cur, 10, 32)
	}
	wr := w.p.rules.ws[ws]
	var segIdx []int
	if wr != nil {
		segIdx = wr.rs.UsingField("purchased_collection")
	}
	bm := pt.products[ws+"/"+productID]
	if bm == nil || len(segIdx) == 0 {
		delete(m.CatalogScans, scanKey)
		return nil
	}
	filters := make([]segmentFilter, len(segIdx))
	for j, i := range segIdx {
		filters[j] = segmentFilter{segID: wr.segs[i].ID, si: wr.segs[i], now: w.now}
	}
	excl := w.p.cfg.ExclusionTag
	sc := w.newScan(pt, ws+"/", budget)
	sc.eval = func(ch *scanChunk, c *state.Contact) error {
		for i := range ch.items {
			it := &ch.items[i]
			key, err := w.p.cfg.Store.ContactKeyByDense(pt.id, it.dense)
			if err != nil {
				it.skip = true // purged contact
				continue
			}
			if it.key = key; sc.own[key] {
				it.own = true
				continue
			}
			switch err := w.p.cfg.Store.Contact(pt.id, key, c); {
			case errors.Is(err, state.ErrNotFound):
				it.skip = true
				continue
			case err != nil:
				return err
			}
			if c.IsNew() || c.IsTombstone() || c.DenseID != it.dense {
				it.skip = true
				continue
			}
			a := c.Attrs(ws, w.p.rules, excl)
			it.skip = true
			for j := range filters {
				if filters[j].flips(c, &a) {
					it.skip = false
					break
				}
			}
			if it.skip {
				ch.evals += len(filters)
				continue
			}
			it.c, c = c, new(state.Contact)
			it.a = new(operators.Attrs)
			*it.a = a
		}
		return nil
	}
	end, err := sc.run(func(it *scanItem) {
		after = uint64(it.dense)
		o := w.scanned(pt.id, it)
		if o == nil || o.c.IsNew() || o.c.IsTombstone() || o.c.DenseID != it.dense {
			return
		}
		a := it.attrs(o, func() operators.Attrs { return o.c.Attrs(ws, w.p.rules, excl) })
		for _, i := range segIdx {
			w.evalSegment(ctx, pt, it.key, o, wr.segs[i], a, ReasonCatalog, Cause{ProductID: productID})
		}
	}, func(emit func(scanItem, []byte) bool) (bool, error) {
		it := bm.Iterator()
		if after > 0 {
			it.AdvanceIfNeeded(uint32(after + 1))
		}
		for it.HasNext() {
			if !emit(scanItem{dense: it.Next()}, nil) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if !end {
		m.CatalogScans[scanKey] = strconv.FormatUint(after, 10)
		return nil
	}
	delete(m.CatalogScans, scanKey)
	return nil
}

// scanChunkSize is how many contacts a worker takes at a time.
const scanChunkSize = 256

// scanItem is one contact of a backfill step.
type scanItem struct {
	key   string
	dense uint32           // catalog scans: the contact's dense id
	enc   [2]int           // segment scans: its encoding is chunk.buf[enc[0]:enc[1]]
	own   bool             // the window holds its own copy: the loop evaluates that one
	skip  bool             // the step does not change the contact
	c     *state.Contact   // the stored record, decoded by the worker, if it changes
	a     *operators.Attrs // and the attributes the worker derived from it
}

// attrs returns the attributes of the window's copy o of the item's contact: the
// worker's if o is the record the worker decoded (the loop changes only its
// memberships and NextDue, which attributes do not depend on), else derive().
func (it *scanItem) attrs(o *overlay, derive func() operators.Attrs) *operators.Attrs {
	if it.a != nil && o.c == it.c {
		return it.a
	}
	a := derive()
	return &a
}

// scanChunk is a run of consecutive items, evaluated by one worker.
type scanChunk struct {
	items []scanItem
	buf   []byte
	evals int   // segment evaluations of unchanged contacts (for the metric)
	err   error // the worker's, which ends the step
	done  chan struct{}
}

// backfillScan is one step of a backfill: contacts come from a source in order,
// workers evaluate them (eval), and the loop goroutine applies them in order.
type backfillScan struct {
	w      *window
	budget *backfillBudget
	// own holds the keys (of the scanned workspace) of the contacts the window has
	// its own copy of: those are evaluated by the loop, on that copy. Read by the
	// workers; the keys the step adds to the window are ones already scanned.
	own  map[string]bool
	eval func(ch *scanChunk, scratch *state.Contact) error
}

func (w *window) newScan(pt *partition, prefix string, budget *backfillBudget) *backfillScan {
	sc := &backfillScan{w: w, budget: budget}
	for ref := range w.contacts {
		if ref.p == pt.id && strings.HasPrefix(ref.key, prefix) {
			if sc.own == nil {
				sc.own = map[string]bool{}
			}
			sc.own[ref.key] = true
		}
	}
	return sc
}

// run runs the step. source calls emit with each item in order (and the record's
// encoding, copied, for segment scans) until emit returns false, which it does once
// the budget is spent; source reports whether it reached the end of the range. apply
// is called on the calling goroutine for every item, in source order, unless
// the step ends with an error. run reports whether the source reached its end and
// every item was applied.
func (sc *backfillScan) run(apply func(*scanItem), source func(emit func(scanItem, []byte) bool) (bool, error)) (bool, error) {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *scanChunk, workers)
	order := make(chan *scanChunk, 2*workers)
	stop := make(chan struct{})
	for range workers {
		go func() {
			var c state.Contact
			for ch := range work {
				ch.err = sc.eval(ch, &c)
				close(ch.done)
			}
		}()
	}
	var (
		end    bool
		srcErr error
	)
	go func() {
		defer close(order)
		defer close(work)
		var ch *scanChunk
		send := func() bool {
			select {
			case order <- ch:
			case <-stop:
				return false
			}
			work <- ch
			ch = nil
			return !sc.budget.spent()
		}
		end, srcErr = source(func(it scanItem, enc []byte) bool {
			if ch == nil {
				ch = &scanChunk{items: make([]scanItem, 0, min(scanChunkSize, max(sc.budget.left, 1))), done: make(chan struct{})}
				if enc != nil {
					ch.buf = make([]byte, 0, cap(ch.items)*max(2*len(enc), 512))
				}
			}
			if enc != nil {
				it.enc = [2]int{len(ch.buf), len(ch.buf) + len(enc)}
				ch.buf = append(ch.buf, enc...)
			}
			if it.key != "" && sc.own[it.key] {
				it.own = true
			}
			ch.items = append(ch.items, it)
			sc.budget.left--
			if len(ch.items) < cap(ch.items) {
				return true
			}
			return send()
		})
		if ch != nil && len(ch.items) > 0 {
			send()
		}
	}()
	var err error
	for ch := range order {
		<-ch.done
		if err != nil {
			continue // drain: the workers and the source end
		}
		if ch.err != nil {
			err = ch.err
			close(stop)
			continue
		}
		sc.w.p.m.evaluations.Add(float64(ch.evals))
		for i := range ch.items {
			apply(&ch.items[i])
		}
	}
	if err == nil {
		err = srcErr
	}
	return end && err == nil, err
}

// scanned returns the window's copy of a scanned contact the step changes: the one
// the window holds, else the worker's decoded record, adopted. It returns nil for a
// contact the step does not change.
func (w *window) scanned(p int32, it *scanItem) *overlay {
	ref := contactRef{p, it.key}
	if o := w.contacts[ref]; o != nil {
		return o
	}
	if it.skip || it.c == nil {
		return nil
	}
	o := &overlay{c: it.c, exists: true, origDue: it.c.NextDue}
	w.contacts[ref] = o
	return o
}
