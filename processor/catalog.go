package processor

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Order of catalog changes (SPEC §4.3). Every valid record of the catalog topic is
// a step. A partition whose contacts bought the record's product queues the step
// (PartitionMeta.CatalogSteps) and applies its steps one at a time, in topic order:
// the scan of a step re-evaluates the buyers of its product against the catalog as
// of that step (the later records of the queue not yet applied), so a contact's
// transition names the product whose record flipped it, and two records of one
// product are two steps, whatever the batching.
//
// A contact sees the catalog as of the steps it has reached (window.catalog): the
// steps up to the scan's cursor (CatalogCursor, by dense id) or up to the step it
// is marked as having reached (CatalogAhead). An event or a timer that reaches an
// existing contact before the scans do first brings it through its pending steps,
// in topic order, with the transitions the scans would have produced
// (catchUpCatalog), and marks it as having reached the last one, so that the scans
// skip it; a contact created meanwhile is marked the same way (it starts with the
// catalog in force). Its output does not depend on how far the scans got. Scans
// recorded by an earlier release (steps of position 0, against the latest
// mapping) are applied first, without catch-up.
//
// The rules keep each product's records (rules.catHist) while a queued step of an
// owned partition needs the mapping before it, plus the last keepCatalogSteps of
// every product for partitions assigned later (pruneCatalog). A partition assigned
// later whose queue names a step older than what is kept sees the records in
// between collapse into the oldest kept one.

// catKey identifies a cached catalog: partition, the queue (by its ends and length)
// and from which step the contact has yet to reach.
type catKey struct {
	p            int32
	first, last  int64
	n, from      int
	allCollected bool
}

// catalog returns the catalog contact dense of partition pt sees (see above);
// all derives collections whether or not a rule reads them. Loop goroutine only.
func (w *window) catalog(pt *partition, dense uint32, all bool) state.Catalog {
	return w.catalogFrom(pt, w.catalogReached(pt, dense), all)
}

// catalogReached returns how many steps of pt's queue contact dense has reached.
func (w *window) catalogReached(pt *partition, dense uint32) int {
	m := w.metaView(pt)
	if len(m.CatalogSteps) == 0 || dense == 0 {
		return 0
	}
	from := 0
	if dense <= m.CatalogCursor {
		from = 1
	}
	for pos, d := range m.CatalogAhead {
		if d.Bitmap != nil && d.Contains(dense) {
			i := sort.Search(len(m.CatalogSteps), func(i int) bool { return m.CatalogSteps[i].Pos > pos })
			from = max(from, i)
			break
		}
	}
	return from
}

// catchUpCatalog brings existing contact o (key) of partition pt through the
// catalog steps it has yet to reach, in order, as their scans would, and marks it
// as having reached the last one. It reports whether it did (attributes derived
// before are stale).
func (w *window) catchUpCatalog(ctx context.Context, pt *partition, key string, o *overlay) bool {
	dense := o.c.DenseID
	steps := w.metaView(pt).CatalogSteps
	from := w.catalogReached(pt, dense)
	if from >= len(steps) || steps[0].Pos == 0 {
		return false
	}
	ws := workspaceOf(key)
	if wr := w.rules.ws[ws]; wr != nil {
		segIdx := wr.rs.UsingField("purchased_collection")
		for i := from; i < len(steps) && len(segIdx) > 0; i++ {
			pws, productID, _ := strings.Cut(steps[i].Product, "/product/")
			if bm := pt.products[pws+"/"+productID]; pws != ws || bm == nil || !bm.Contains(dense) {
				continue
			}
			a := o.c.Attrs(ws, w.catalogFrom(pt, i+1, false), w.opts.exclusionTag)
			w.evalSegments(ctx, pt, key, o, wr, segIdx, &a, ReasonCatalog, Cause{ProductID: productID})
		}
	}
	w.markCatalogAhead(pt, dense, steps[len(steps)-1].Pos)
	return true
}

// markCatalogFresh marks a contact that has just come into existence (or back
// from a deletion) as having reached every catalog step pt has queued.
func (w *window) markCatalogFresh(pt *partition, dense uint32) {
	steps := w.metaView(pt).CatalogSteps
	if len(steps) == 0 || steps[0].Pos == 0 || w.catalogReached(pt, dense) >= len(steps) {
		return
	}
	w.markCatalogAhead(pt, dense, steps[len(steps)-1].Pos)
}

// markCatalogAhead records that contact dense has reached catalog step pos.
func (w *window) markCatalogAhead(pt *partition, dense uint32, pos int64) {
	if dense == 0 {
		return // not a stored contact: no scan reaches it
	}
	m := w.meta(pt) // the window's deep copy
	for p, d := range m.CatalogAhead {
		if d.Bitmap == nil || (d.CheckedRemove(dense) && d.IsEmpty()) {
			delete(m.CatalogAhead, p)
		}
	}
	if m.CatalogAhead == nil {
		m.CatalogAhead = map[int64]state.DenseSet{}
	}
	d := m.CatalogAhead[pos]
	if d.Bitmap == nil {
		d = state.DenseSet{Bitmap: roaring.New()}
		m.CatalogAhead[pos] = d
	}
	d.Add(dense)
}

// catalogFrom returns the catalog of a contact that has reached the first from
// steps of pt's queue.
func (w *window) catalogFrom(pt *partition, from int, all bool) state.Catalog {
	steps := w.metaView(pt).CatalogSteps
	if from >= len(steps) {
		if all {
			return allCollections{w.rules}
		}
		return w.rules
	}
	k := catKey{p: pt.id, first: steps[0].Pos, last: steps[len(steps)-1].Pos, n: len(steps), from: from, allCollected: all}
	c := w.cats[k]
	if c == nil {
		c = w.rules.newCatalogAt(steps[from:], all)
		w.cats[k] = c
	}
	return c
}

// catalogsFor returns, for a backfill that derives attributes with base (nil,
// the rules or allCollections), the catalog to derive those of contact dense with
// in partition pt. The result is safe for the scan's workers.
func (w *window) catalogsFor(pt *partition, base state.Catalog) func(dense uint32) state.Catalog {
	m := w.metaView(pt)
	if base == nil || len(m.CatalogSteps) == 0 {
		return func(uint32) state.Catalog { return base }
	}
	_, all := base.(allCollections)
	before, reached := w.catalogFrom(pt, 0, all), w.catalogFrom(pt, 1, all)
	cursor := m.CatalogCursor
	type mark struct {
		d   *roaring.Bitmap
		cat state.Catalog
	}
	var marks []mark // contacts marked ahead: a copy, for the workers
	for pos, d := range m.CatalogAhead {
		if d.Bitmap != nil && !d.IsEmpty() {
			i := sort.Search(len(m.CatalogSteps), func(i int) bool { return m.CatalogSteps[i].Pos > pos })
			marks = append(marks, mark{d.Clone(), w.catalogFrom(pt, max(i, 1), all)})
		}
	}
	return func(dense uint32) state.Catalog {
		for _, mk := range marks {
			if mk.d.Contains(dense) {
				return mk.cat
			}
		}
		if dense != 0 && dense <= cursor {
			return reached
		}
		return before
	}
}

// queueCatalogStep queues the step of a valid catalog entry for partition pt, if
// a contact of pt bought its product.
func (w *window) queueCatalogStep(pt *partition, e *globalEntry) {
	if pt.products[e.Catalog.Workspace+"/"+e.Catalog.ProductID] == nil {
		return // nobody here bought it
	}
	m := w.meta(pt)
	s := state.CatalogStep{Pos: stepPos(e.Partition, e.Offset), Product: e.Key}
	i := sort.Search(len(m.CatalogSteps), func(i int) bool { return m.CatalogSteps[i].Pos > s.Pos })
	m.CatalogSteps = slices.Insert(slices.Clone(m.CatalogSteps), i, s)
}

// catalogSteps advances partition pt's queue of catalog steps within budget, one
// step after the other.
func (w *window) catalogSteps(ctx context.Context, pt *partition, budget *backfillBudget) error {
	if m := w.metaView(pt); len(m.CatalogScans) > 0 {
		// Scans recorded by an earlier release: steps of the latest mapping, first.
		m := w.meta(pt)
		keys := make([]string, 0, len(m.CatalogScans))
		for k := range m.CatalogScans {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		old := make([]state.CatalogStep, len(keys))
		for i, k := range keys {
			old[i] = state.CatalogStep{Product: k}
		}
		m.CatalogSteps = append(old, m.CatalogSteps...)
		m.CatalogScans, m.CatalogCursor = nil, 0
	}
	for len(w.metaView(pt).CatalogSteps) > 0 {
		if budget.spent() {
			return nil
		}
		done, err := w.catalogScan(ctx, pt, budget)
		if err != nil || !done {
			return err
		}
		m := w.meta(pt)
		m.CatalogSteps, m.CatalogCursor = slices.Clone(m.CatalogSteps[1:]), 0
		w.catalogChanged = true
		// Marks of steps before the next one: every contact has reached them now.
		for p := range m.CatalogAhead {
			if len(m.CatalogSteps) == 0 || p < m.CatalogSteps[0].Pos {
				delete(m.CatalogAhead, p)
			}
		}
		if len(m.CatalogAhead) == 0 {
			m.CatalogAhead = nil
		}
	}
	return nil
}

// catalogScan re-evaluates, for the contacts who bought the product of pt's first
// catalog step, the segments with a purchased_collection condition, against the
// catalog as of that step. It reports whether the step is complete.
func (w *window) catalogScan(ctx context.Context, pt *partition, budget *backfillBudget) (bool, error) {
	m := w.meta(pt)
	step := m.CatalogSteps[0]
	if part, off := posRecord(step.Pos); step.Pos != 0 && off >= w.rules.catRead[part] {
		// A record this process has not read yet (the partition came from a process
		// that read further): its mapping is not known here yet.
		return false, nil
	}
	ws, productID, _ := strings.Cut(step.Product, "/product/")
	after := m.CatalogCursor
	wr := w.rules.ws[ws]
	var segIdx []int
	if wr != nil {
		segIdx = wr.rs.UsingField("purchased_collection")
	}
	bm := pt.products[ws+"/"+productID]
	if bm == nil || len(segIdx) == 0 {
		return true, nil
	}
	cat := w.catalogFrom(pt, 1, false)          // the catalog as of this step
	skip := aheadFrom(m.CatalogAhead, step.Pos) // contacts an event brought through this step already
	filters := make([]segmentFilter, len(segIdx))
	for j, i := range segIdx {
		filters[j] = segmentFilter{segID: wr.segs[i].ID, si: wr.segs[i], now: w.now}
	}
	excl := w.opts.exclusionTag
	sc := w.newScan(pt, ws+"/", budget)
	sc.eval = func(ch *scanChunk, c *state.Contact) error {
		for i := range ch.items {
			it := &ch.items[i]
			key, err := w.store.ContactKeyByDense(pt.id, it.dense)
			if err != nil {
				it.skip = true // purged contact
				continue
			}
			if it.key = key; sc.own[key] {
				it.own = true
				continue
			}
			switch err := w.store.Contact(pt.id, key, c); {
			case errors.Is(err, state.ErrNotFound):
				it.skip = true
				continue
			case err != nil:
				return err
			}
			if c.IsNew() || c.IsTombstone() || c.DenseID != it.dense || (skip != nil && skip.Contains(it.dense)) {
				it.skip = true
				continue
			}
			a := c.Attrs(ws, cat, excl)
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
		after = it.dense
		o := w.scanned(pt.id, it)
		if o == nil || o.c.IsNew() || o.c.IsTombstone() || o.c.DenseID != it.dense || (skip != nil && skip.Contains(it.dense)) {
			return
		}
		a := it.attrs(o, func() operators.Attrs { return o.c.Attrs(ws, cat, excl) })
		w.catchUp(ctx, pt, it.key, o, a)
		w.evalSegments(ctx, pt, it.key, o, wr, segIdx, a, ReasonCatalog, Cause{ProductID: productID})
	}, func(emit func(scanItem, []byte) bool) (bool, error) {
		it := bm.Iterator()
		if after > 0 {
			it.AdvanceIfNeeded(after + 1)
		}
		for it.HasNext() {
			if !emit(scanItem{dense: it.Next()}, nil) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return false, err
	}
	if !end {
		w.meta(pt).CatalogCursor = after
		return false, nil
	}
	return true, nil
}

// keepCatalogSteps is how many records of each product's history are kept once no
// owned partition needs them, for partitions assigned later (see pruneCatalog).
const keepCatalogSteps = 4

// pruneCatalog (after a window that applied catalog records or completed a
// step) drops the records of the products' histories that no owned
// partition needs: those before the record preceding a product's first queued step,
// except the last keepCatalogSteps of each product. A partition assigned later with
// a step of a product older than the kept records sees them collapse into the
// oldest kept one, which needs a product changed more than keepCatalogSteps times
// while its partition had no owner.
func pruneCatalog(r *rules, parts map[int32]*partition) {
	need := map[string]int64{} // product → position of its first queued step
	for _, pt := range parts {
		for _, s := range pt.meta.CatalogSteps {
			if s.Pos == 0 {
				continue
			}
			if n, ok := need[s.Product]; !ok || s.Pos < n {
				need[s.Product] = s.Pos
			}
		}
	}
	r.catalogMu.Lock()
	defer r.catalogMu.Unlock()
	for key := range r.catLong {
		h := r.catHist[key]
		drop := len(h) - keepCatalogSteps
		if pos, ok := need[key]; ok {
			i := sort.Search(len(h), func(i int) bool { return h[i].Pos >= pos })
			drop = min(drop, i-1) // keep the record before it: the mapping the step starts from
		}
		if drop > 0 {
			h = slices.Clone(h[drop:])
			r.catHist[key] = h
			r.catPruned[key] = true
		}
		if len(h) <= keepCatalogSteps {
			delete(r.catLong, key)
		}
	}
}
