package processor

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// applyEvent applies one decoded event to its contact and produces the transitions it
// causes: only the segments containing a predicate whose outcome changed are
// evaluated: the work per event follows what changed, not the number of segments.
//
// key is ev.ContactKey(). pre, if not nil, is the contact as the store held it at the
// window's start, read ahead of the loop; it is used only if the window has no copy of
// its own.
func (w *window) applyEvent(ctx context.Context, pt *partition, ev *events.Event, key string, pre *prefetched) error {
	o, adopted, err := w.contactPrefetched(pt.id, key, pre)
	if err != nil {
		return err
	}
	c := o.c
	fresh := c.IsNew() || c.IsTombstone()
	ws := ev.Workspace
	var before operators.Attrs
	switch {
	case fresh:
	case adopted && pre.hasAttrs:
		before = pre.attrs // derived from the same record by the preparer
	default:
		before = c.Attrs(ws, w.catalog(pt, c.DenseID, false), w.opts.exclusionTag)
	}
	if !fresh {
		w.catchUp(ctx, pt, key, o, &before)    // versions the backfill has not brought it to yet
		if w.catchUpCatalog(ctx, pt, key, o) { // catalog records the scans have not brought it to yet
			before = c.Attrs(ws, w.catalog(pt, c.DenseID, false), w.opts.exclusionTag)
		}
	}
	out := c.ApplyBounded(ev, w.now, w.opts.maxContactBytes)
	w.m.events.WithLabelValues(ev.Topic, outcomeNames[out]).Inc()
	switch out {
	case state.TooLarge:
		return errContactTooLarge
	case state.Duplicate, state.Missing, state.Stale, state.Unchanged:
		return nil // the record did not change: nothing to write or evaluate
	case state.Deleted:
		cause := Cause{Topic: ev.Topic, DeliveryID: ev.DeliveryID}
		w.removeAll(ctx, pt, key, o, ReasonEvent, cause)
		w.reindex(pt.id, ws, o.c.DenseID, &before, &operators.Attrs{})
		w.reindexAttrs(pt.id, ws, o.c.DenseID, &before, nil, fresh)
		c.NextDue = c.FenceUntil() // purge the tombstone when the fence expires
		w.markDirty(pt.id, key, o)
		return nil
	}
	if c.DenseID == 0 {
		c.DenseID = w.nextDense(pt)
	}
	if fresh {
		w.markFresh(pt, key, c.DenseID)
		w.markCatalogFresh(pt, c.DenseID)
	}
	o.exists = true
	w.markDirty(pt.id, key, o)
	after := c.Attrs(ws, w.catalog(pt, c.DenseID, false), w.opts.exclusionTag)
	w.reindex(pt.id, ws, c.DenseID, &before, &after)
	w.reindexAttrs(pt.id, ws, c.DenseID, &before, &after, fresh)
	wr := w.rules.ws[ws]
	if wr == nil {
		return nil
	}
	var cand []int
	if w.opts.naive {
		cand = (*w.cand)[:0]
		for i := range wr.segs {
			cand = append(cand, i)
		}
	} else {
		cand = wr.rs.Affected(&before, &after, w.now, (*w.cand)[:0])
	}
	if fresh {
		cand = unionSorted(cand, wr.rs.MatchEmpty())
	}
	if due := c.NextDue; !due.IsZero() && !due.After(w.now) {
		cand = unionSorted(cand, wr.rs.TimeRelative())
	}
	*w.cand = cand
	cause := Cause{Topic: ev.Topic, DeliveryID: ev.DeliveryID}
	w.evalSegments(ctx, pt, key, o, wr, cand, &after, ReasonEvent, cause)
	w.m.evaluationsPerEvent.Observe(float64(len(cand)))
	c.NextDue = wr.rs.NextFlip(&after, w.now)
	if until := c.FenceUntil(); !until.IsZero() && (c.NextDue.IsZero() || until.Before(c.NextDue)) {
		c.NextDue = until // a re-created contact forgets its deletion fence then
	}
	return nil
}

// outcomeNames label the events metric by what Apply did.
var outcomeNames = [...]string{
	state.Applied:   "applied",
	state.Unchanged: "unchanged",
	state.Duplicate: "duplicate",
	state.Stale:     "stale",
	state.Missing:   "missing",
	state.Deleted:   "deleted",
	state.TooLarge:  "too_large",
}

// errContactTooLarge is applyEvent's report of an event refused by ApplyBounded: the
// caller dead-letters it (ReasonContactTooLarge).
var errContactTooLarge = errors.New("contact too large")

// unionSorted merges the ascending unique b into the ascending unique a.
func unionSorted(a, b []int) []int {
	if len(b) == 0 {
		return a
	}
	for _, x := range b {
		i, found := slices.BinarySearch(a, x)
		if !found {
			a = slices.Insert(a, i, x)
		}
	}
	return a
}

// membership finds the entry of (segment, incarnation) in c, or returns the index
// where it would be inserted and false.
func membership(c *state.Contact, seg string, inc int64) (int, bool) {
	ms := c.Memberships
	i := sort.Search(len(ms), func(i int) bool {
		if ms[i].Segment != seg {
			return ms[i].Segment > seg
		}
		return ms[i].Incarnation >= inc
	})
	return i, i < len(ms) && ms[i].Segment == seg && ms[i].Incarnation == inc
}

// evalSegment evaluates one segment for one contact and produces the transition if
// its membership changed.
func (w *window) evalSegment(ctx context.Context, pt *partition, key string, o *overlay, si *segInfo, a *operators.Attrs, reason string, cause Cause) bool {
	w.settleOldIncarnations(ctx, pt, key, o, si.ID, si.Incarnation, si.Version)
	c := o.c
	match := si.Seg.Match(withMemberships(c, si.Seg, a), w.now)
	w.m.evaluations.Inc()
	i, found := membership(c, si.ID, si.Incarnation)
	if match == (found && c.Memberships[i].Member()) {
		return false
	}
	if !found {
		c.Memberships = slices.Insert(c.Memberships, i, state.Membership{Segment: si.ID, Incarnation: si.Incarnation})
	}
	if reason == ReasonDefinition {
		cause.SegmentVersion = si.Version
	}
	w.transition(ctx, pt, key, o, i, si.Workspace, si.Version, reason, cause)
	return true
}

// transition flips membership entry i of a contact and produces the record.
func (w *window) transition(ctx context.Context, pt *partition, key string, o *overlay, i int, ws string, version int64, reason string, cause Cause) {
	c := o.c
	m := &c.Memberships[i]
	m.N++
	added := m.Member()
	at := w.now
	if reason == ReasonTime {
		at = cause.DueAt // the instant the condition flipped
	}
	t := Transition{
		Added:          added,
		ID:             transitionID(key, c.DenseID, m.Segment, m.Incarnation, m.N),
		Workspace:      ws,
		SegmentID:      m.Segment,
		SegmentVersion: version,
		CustomerID:     customerIDOf(key),
		OccurredAt:     at,
		Reason:         reason,
		Cause:          cause,
	}
	w.emit(ctx, &t, key)
	w.deltas = append(w.deltas, memberDelta{p: pt.id, seg: ws + "/" + m.Segment, dense: c.DenseID, add: added})
	w.markDirty(pt.id, key, o)
}

// settleOldIncarnations removes a contact from earlier incarnations of a segment (a
// segment deleted and re-created), so that records keep alternating per segment id.
func (w *window) settleOldIncarnations(ctx context.Context, pt *partition, key string, o *overlay, segID string, inc, version int64) {
	c := o.c
	for i := 0; i < len(c.Memberships); i++ {
		m := c.Memberships[i]
		if m.Segment != segID || m.Incarnation == inc {
			continue
		}
		if m.Member() {
			w.transition(ctx, pt, key, o, i, workspaceOf(key), version, ReasonDefinition, Cause{SegmentVersion: version})
		}
		c.Memberships = slices.Delete(c.Memberships, i, i+1)
		i--
		w.markDirty(pt.id, key, o)
	}
}

// removeAll removes a contact from every segment it is a member of (it was deleted).
func (w *window) removeAll(ctx context.Context, pt *partition, key string, o *overlay, reason string, cause Cause) {
	ws := workspaceOf(key)
	for i := range o.c.Memberships {
		if !o.c.Memberships[i].Member() {
			continue
		}
		version := int64(1)
		if si := w.rules.segs[ws+"/"+o.c.Memberships[i].Segment]; si != nil {
			version = si.Version
		} else if sm, ok := w.metaView(pt).Segments[ws+"/"+o.c.Memberships[i].Segment]; ok {
			version = sm.Version
		}
		w.transition(ctx, pt, key, o, i, ws, version, reason, cause)
	}
}

// reindex records the changes of a contact's lists and reachability for the
// audience bitmaps, applied after the commit.
func (w *window) reindex(p int32, ws string, dense uint32, before, after *operators.Attrs) {
	if dense == 0 {
		return
	}
	if rb, ra := reachable(before), reachable(after); rb != ra {
		w.idx = append(w.idx, indexDelta{p: p, reach: true, key: ws, dense: dense, add: ra})
	}
	if slices.Equal(before.Lists, after.Lists) {
		return
	}
	for _, l := range before.Lists {
		if _, found := slices.BinarySearch(after.Lists, l); !found {
			w.idx = append(w.idx, indexDelta{p: p, key: ws + "/" + l, dense: dense})
		}
	}
	for _, l := range after.Lists {
		if _, found := slices.BinarySearch(before.Lists, l); !found {
			w.idx = append(w.idx, indexDelta{p: p, key: ws + "/" + l, dense: dense, add: true})
		}
	}
}
