package processor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// The attribute index (operators.Index) of each owned partition and workspace lets a
// definition be evaluated as bitmap algebra instead of a scan of the store. It
// follows the contact records exactly as the other bitmaps do: built by
// partition.load from the stored records, changed only after a window's
// transaction committed (window.committed applies the attrDeltas the window
// recorded), so it is never ahead of Kafka. Queries read it on the loop goroutine
// (inLoop). The partition also keeps each dense id's customer id, for samples.

// attrDelta is a contact's change of attributes, applied to the index after the
// commit: from before (added: none) to after (removed: none).
type attrDelta struct {
	p              int32
	ws             string
	dense          uint32
	before, after  operators.Attrs
	added, removed bool
}

// attrIndex returns the index of workspace ws, creating it.
func (pt *partition) attrIndex(ws string) *operators.Index {
	x := pt.attrs[ws]
	if x == nil {
		x = operators.NewIndex()
		pt.attrs[ws] = x
	}
	return x
}

// setCustomer records the customer id of a dense id.
func (pt *partition) setCustomer(dense uint32, id int64) {
	if int(dense) >= len(pt.customers) {
		pt.customers = slices.Grow(pt.customers, int(dense)+1-len(pt.customers))[:dense+1]
	}
	pt.customers[dense] = id
}

// customer returns the customer id of a dense id (0 if unknown).
func (pt *partition) customer(dense uint32) int64 {
	if int(dense) < len(pt.customers) {
		return pt.customers[dense]
	}
	return 0
}

// mergeAttrs adds the indexes and customer ids of q, built over other contacts of the
// same partition, to pt.
func (pt *partition) mergeAttrs(q *partition) {
	for ws, x := range q.attrs {
		if d := pt.attrs[ws]; d != nil {
			d.Merge(x)
		} else {
			pt.attrs[ws] = x
		}
	}
	for dense, id := range q.customers {
		if id != 0 {
			pt.setCustomer(uint32(dense), id)
		}
	}
}

// reindexAttrs records a contact's change of attributes for the index. fresh: the
// contact was not indexed (new or re-created); after nil: it is deleted.
func (w *window) reindexAttrs(p int32, ws string, dense uint32, before, after *operators.Attrs, fresh bool) {
	if dense == 0 {
		return
	}
	d := attrDelta{p: p, ws: ws, dense: dense, before: *before, added: fresh, removed: after == nil}
	if after != nil {
		d.after = *after
	}
	w.attrs = append(w.attrs, d)
}

// applyAttrDeltas applies the window's attribute changes after the commit.
func (w *window) applyAttrDeltas() {
	for i := range w.attrs {
		d := &w.attrs[i]
		pt := w.parts[d.p]
		if pt == nil {
			continue
		}
		var before, after *operators.Attrs
		if !d.added {
			before = &d.before
		}
		if !d.removed {
			after = &d.after
		}
		pt.attrIndex(d.ws).Update(d.dense, before, after)
	}
	if w.attrBuf != nil {
		// A delta is two Attrs: growing a new list every window was a quarter of the
		// bytes a window allocated (BenchmarkWindowLive).
		clear(w.attrs) // drop the references to the contacts' slices
		*w.attrBuf = w.attrs[:0]
	}
}

// indexQuery returns a query over the index of workspace ws in partition pt at now:
// contacts the index cannot decide are read from the store, and purchased
// collections are narrowed to the buyers of their products.
func (p *Processor) indexQuery(pt *partition, ws string, now time.Time) *operators.Query {
	return newIndexQuery(pt, ws, now, p.cfg.Store, p.rules, p.cfg.ExclusionTag)
}

// windowQuery returns the query of window w over the index of workspace ws in
// partition pt at the window's instant, shared by the backfill steps of the window
// (predicates common to several definitions are computed once). The index and the
// member bitmaps change only after the commit, so they hold for the whole window;
// the contacts the window changed are the overlay's, which the backfills evaluate
// one by one.
func (w *window) windowQuery(pt *partition, ws string) *operators.Query {
	k := contactRef{pt.id, ws}
	if q := w.queries[k]; q != nil {
		return q
	}
	if w.queries == nil {
		w.queries = map[contactRef]*operators.Query{}
	}
	q := newIndexQuery(pt, ws, w.now, w.store, w.rules, w.opts.exclusionTag)
	w.queries[k] = q
	return q
}

// newIndexQuery is indexQuery over a store reader and rules.
func newIndexQuery(pt *partition, ws string, now time.Time, store storeReader, r *rules, exclusionTag string) *operators.Query {
	x := pt.attrs[ws]
	if x == nil {
		x = operators.NewIndex()
	}
	cat := allCollections{r}
	q := x.NewQuery(now, func(dense uint32) (*operators.Attrs, error) {
		key, err := store.ContactKeyByDense(pt.id, dense)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", pt.id, err)
		}
		var c state.Contact
		if err := store.Contact(pt.id, key, &c); err != nil {
			return nil, fmt.Errorf("partition %d: %s: %w", pt.id, key, err)
		}
		c.Expire(now)
		if c.IsNew() || c.IsTombstone() {
			return nil, nil
		}
		a := c.Attrs(ws, cat, exclusionTag)
		a.Segments = memberIDs(&c, nil) // for segment references
		return &a, nil
	})
	q.Collections = func(names []string) *roaring.Bitmap {
		return collectionBuyers(r, pt, ws, names)
	}
	q.Segments = func(id string) *roaring.Bitmap {
		// The member bitmaps hold what the records' memberships say (memberIDs).
		if b := pt.members[ws+"/"+id]; b != nil {
			return b
		}
		return roaring.New()
	}
	return q
}

// collectionBuyers returns the contacts of pt who bought a product that the catalog
// puts in one of the collections named (lower case): a superset of those whose
// purchased collections include one of them.
func collectionBuyers(r *rules, pt *partition, ws string, names []string) *roaring.Bitmap {
	r.catalogMu.RLock()
	defer r.catalogMu.RUnlock()
	var bs []*roaring.Bitmap
	for prod, colls := range r.catalog[ws] {
		for _, c := range colls {
			if _, in := slices.BinarySearch(names, strings.ToLower(strings.TrimSpace(c))); in {
				if b := pt.products[ws+"/"+prod]; b != nil {
					bs = append(bs, b)
				}
				break
			}
		}
	}
	return roaring.FastOr(bs...)
}

// matching returns, per owned partition, the contacts of ws that seg matches at now,
// from the attribute indexes. It runs on the loop goroutine.
func (p *Processor) matching(seg *operators.Segment, ws string, now time.Time) (map[int32]*roaring.Bitmap, error) {
	out := make(map[int32]*roaring.Bitmap, len(p.parts))
	for id, pt := range p.parts {
		m, err := p.indexQuery(pt, ws, now).Members(seg)
		if err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, nil
}

// lowestCustomers adds the customer ids of the dense ids of b to ids, keeping the n
// lowest (keepLowest).
func lowestCustomers(ids []int64, pt *partition, b *roaring.Bitmap, n int) []int64 {
	if n <= 0 {
		return ids
	}
	it := b.Iterator()
	for it.HasNext() {
		ids = keepLowest(ids, pt.customer(it.Next()), n)
	}
	return ids
}
