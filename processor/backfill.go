package processor

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/segmentd/segmentd/state"
)

// Backfills: a new, changed or deleted definition is applied to every contact of its
// workspace in each owned partition, and a catalog change to every contact who bought
// the product (DESIGN invariant 6). Both run in bounded chunks inside ordinary
// windows, with their cursor in the partition meta, so they commit with the
// transitions they produce and resume where they stopped after a crash or a move.
// Both are idempotent: they compare a fresh evaluation with the memberships the
// contact record carries.

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

// backfill advances partition pt's pending backfills by at most budget contacts and
// returns the budget left.
func (w *window) backfill(ctx context.Context, pt *partition, budget int) (int, error) {
	view := w.metaView(pt)
	var keys []string
	for k, sm := range view.Segments {
		if sm.Backfilling {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if budget <= 0 {
			return 0, nil
		}
		var err error
		if budget, err = w.backfillSegment(ctx, pt, k, budget); err != nil {
			return 0, err
		}
	}
	var scans []string
	for k := range view.CatalogScans {
		scans = append(scans, k)
	}
	slices.Sort(scans)
	for _, k := range scans {
		if budget <= 0 {
			return 0, nil
		}
		var err error
		if budget, err = w.catalogScan(ctx, pt, k, budget); err != nil {
			return 0, err
		}
	}
	return budget, nil
}

func (w *window) backfillSegment(ctx context.Context, pt *partition, segKey string, budget int) (int, error) {
	sm := w.meta(pt).Segments[segKey]
	ws, segID, _ := strings.Cut(segKey, "/")
	si := w.p.rules.segs[segKey]
	if si != nil && si.Incarnation != sm.Incarnation {
		si = nil // a newer incarnation: reconcile will start its own backfill
	}
	cursor, done := sm.Cursor, true
	err := w.p.cfg.Store.ScanContacts(pt.id, ws+"/", sm.Cursor, func(key string, c *state.Contact) (bool, error) {
		if budget <= 0 {
			done = false
			return false, nil
		}
		budget--
		cursor = key
		o := w.adopt(pt.id, key, c)
		if o.c.IsNew() || o.c.IsTombstone() {
			return true, nil
		}
		if si == nil {
			w.removeSegment(ctx, pt, key, o, segID, sm.Version)
			return true, nil
		}
		a := o.c.Attrs(ws, w.p.rules, w.p.cfg.ExclusionTag)
		w.evalSegment(ctx, pt, key, o, si, &a, ReasonDefinition, Cause{})
		if wr := w.p.rules.ws[ws]; wr != nil {
			if due := wr.rs.NextFlip(&a, w.now); !due.Equal(o.c.NextDue) {
				o.c.NextDue = due
				w.markDirty(pt.id, key, o)
			}
		}
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	switch {
	case !done:
		sm.Cursor = cursor
		w.setSegmentMeta(pt, segKey, &sm)
	case sm.Deleted:
		w.setSegmentMeta(pt, segKey, nil)
		w.p.cfg.Logger.Info("segment deletion applied", "partition", pt.id, "segment", segKey)
	default:
		sm.Backfilling, sm.Cursor = false, ""
		w.setSegmentMeta(pt, segKey, &sm)
		w.p.cfg.Logger.Info("segment backfilled", "partition", pt.id, "segment", segKey, "version", sm.Version)
	}
	return budget, nil
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
func (w *window) catalogScan(ctx context.Context, pt *partition, scanKey string, budget int) (int, error) {
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
		return budget, nil
	}
	it := bm.Iterator()
	it.AdvanceIfNeeded(uint32(after + 1))
	if after == 0 {
		it = bm.Iterator()
	}
	for it.HasNext() {
		if budget <= 0 {
			m.CatalogScans[scanKey] = strconv.FormatUint(after, 10)
			return 0, nil
		}
		dense := it.Next()
		after = uint64(dense)
		budget--
		key, err := w.p.cfg.Store.ContactKeyByDense(pt.id, dense)
		if err != nil {
			continue // purged contact
		}
		o, err := w.contact(pt.id, key)
		if err != nil {
			return 0, err
		}
		if o.c.IsNew() || o.c.IsTombstone() || o.c.DenseID != dense {
			continue
		}
		a := o.c.Attrs(ws, w.p.rules, w.p.cfg.ExclusionTag)
		for _, i := range segIdx {
			w.evalSegment(ctx, pt, key, o, wr.segs[i], &a, ReasonCatalog, Cause{ProductID: productID})
		}
	}
	delete(m.CatalogScans, scanKey)
	return budget, nil
}
