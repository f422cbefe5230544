package processor

import (
	"container/heap"
	"context"
	"time"
)

// Timers: time-relative predicates flip as time passes, without events and without
// sweeps (DESIGN invariant 4). Every contact record carries NextDue, the earliest
// instant at which a time-relative predicate of its workspace changes outcome for it
// (operators.RuleSet.NextFlip), or when its tombstone may be purged. The Store indexes
// records by NextDue (t|p|due|key, written with the record in the same batch, rebuilt
// by restores). The loop keeps the timers due within timerHorizon in a min-heap,
// refilled by range scans of the index; due timers fire inside ordinary windows, so
// their transitions (reason "time") are exactly once like any other. The cost is
// proportional to the contacts that are due, and idle cost does not depend on the
// number of contacts.

// timerHorizon is how far ahead timers are loaded into memory.
const timerHorizon = time.Minute

// timerEntry is one armed timer.
type timerEntry struct {
	due time.Time
	p   int32
	key string
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// timers is the loop's near-future view of the timer index.
type timers struct {
	heap timerHeap
	// loadedUntil: for each owned partition, every timer due at or before this
	// instant is in the heap, has fired, or is stale.
	loadedUntil map[int32]time.Time
	nextLoad    time.Time
}

// due reports whether timers need attention at now: one is due, or it is time to
// load the next stretch of the index.
func (t *timers) due(now time.Time) bool {
	return (len(t.heap) > 0 && !t.heap[0].due.After(now)) || !now.Before(t.nextLoad)
}

// reset forgets the in-memory timers: they are reloaded from the committed index
// (after an aborted window, whose popped timers must fire again).
func (t *timers) reset() {
	t.heap = t.heap[:0]
	clear(t.loadedUntil)
	t.nextLoad = time.Time{}
}

// loadTimers loads, for every owned partition, the timers due up to now+timerHorizon
// that are not loaded yet.
func (p *Processor) loadTimers(now time.Time) error {
	t := &p.timers
	if now.Before(t.nextLoad) {
		return nil
	}
	until := now.Add(timerHorizon)
	for id := range p.parts {
		after := t.loadedUntil[id]
		err := p.cfg.Store.ScanTimers(id, after, until, func(due time.Time, key string) bool {
			heap.Push(&t.heap, timerEntry{due: due, p: id, key: key})
			return true
		})
		if err != nil {
			return err
		}
		t.loadedUntil[id] = until
	}
	t.nextLoad = now.Add(timerHorizon / 2)
	p.m.timersPending.Set(float64(len(t.heap)))
	return nil
}

// armed is called after a commit for a record whose NextDue changed: a timer due
// within the loaded stretch goes straight into the heap.
func (p *Processor) armed(id int32, due time.Time, key string) {
	if due.IsZero() {
		return
	}
	if lu, ok := p.timers.loadedUntil[id]; ok && !due.After(lu) {
		heap.Push(&p.timers.heap, timerEntry{due: due, p: id, key: key})
	}
}

// fireTimers fires up to budget due timers in the window and returns the budget left.
func (w *window) fireTimers(ctx context.Context, budget int) (int, error) {
	t := &w.p.timers
	for len(t.heap) > 0 && budget > 0 && !t.heap[0].due.After(w.now) {
		e := heap.Pop(&t.heap).(timerEntry)
		pt := w.p.parts[e.p]
		if pt == nil {
			continue // the partition moved away
		}
		o, err := w.contact(e.p, e.key)
		if err != nil {
			return 0, err
		}
		c := o.c
		if !c.NextDue.Equal(e.due) {
			if !o.isDirty && o.exists && o.origDue.Equal(c.NextDue) {
				w.staleTimers = append(w.staleTimers, e)
			}
			continue // stale: the record was re-armed since
		}
		budget--
		w.p.m.timerLateness.Observe(w.now.Sub(e.due).Seconds())
		if c.IsTombstone() {
			if until := c.FenceUntil(); !until.IsZero() && w.now.Before(until) {
				c.NextDue = until
			} else {
				w.purge(pt, e.key, o)
				continue
			}
			w.markDirty(pt.id, e.key, o)
			continue
		}
		ws := workspaceOf(e.key)
		c.NextDue = time.Time{}
		if wr := w.p.rules.ws[ws]; wr != nil && !c.IsNew() {
			a := c.Attrs(ws, w.p.rules, w.p.cfg.ExclusionTag)
			for _, i := range wr.rs.TimeRelative() {
				w.evalSegment(ctx, pt, e.key, o, wr.segs[i], &a, ReasonTime, Cause{DueAt: e.due})
			}
			c.NextDue = wr.rs.NextFlip(&a, w.now)
		}
		w.markDirty(pt.id, e.key, o)
	}
	w.p.m.timersPending.Set(float64(len(t.heap)))
	return budget, nil
}

// purge deletes an expired tombstone: its record, dense id and timer go, and the
// changelog gets a Kafka tombstone so that compaction forgets the contact.
func (w *window) purge(pt *partition, key string, o *overlay) {
	o.purgeDense = o.c.DenseID
	o.c.Expire(w.now)
	o.purged = true
	w.markDirty(pt.id, key, o)
}
