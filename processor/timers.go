package processor

import (
	"container/heap"
	"context"
	"time"

	"github.com/segmentd/segmentd/operators"
)

// Timers: time-relative predicates flip as time passes, without events and without
// sweeps, at a cost per due contact. Every contact record carries NextDue, the earliest
// instant at which a time-relative predicate of its workspace changes outcome for it
// (operators.RuleSet.NextFlip), or when its tombstone may be purged. The Store indexes
// records by NextDue (t|p|due|key, written with the record in the same batch, rebuilt
// by restores). The loop keeps the timers due within timerHorizon in a min-heap,
// refilled by range scans of the index; due timers fire inside ordinary windows, so
// their transitions (reason "time") are exactly once like any other. The cost is
// proportional to the contacts that are due, and idle cost does not depend on the
// number of contacts.
//
// Timeliness: the loop waits for input no longer than until the next timer is due
// (timers.wait), so a timer fires within one CommitInterval of its instant plus the
// window's own work, while a steady stream of timers is still fired in batches, one
// window per CommitInterval at most. A window fires due timers for the time left of
// its CommitInterval (at least a quarter of it), not a fixed count; the records of
// the due contacts are read from the store by worker goroutines ahead of the serial
// evaluation (timerReads). segmentd_timer_lateness_seconds is observed when a timer
// fires (the clock when its batch is evaluated, not the window's start); its
// transition commits with the window, a flush and a commit later.

// timerHorizon is how far ahead timers are loaded into memory.
const timerHorizon = time.Minute

// timerBatch is how many due timers are taken from the heap at a time; the records
// of the next batch are read while the current one is evaluated.
const timerBatch = 256

// timerReadChunk is how many records a reader goroutine reads at a time.
const timerReadChunk = 32

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
	// lastWindow is when the loop last started a window (wall clock).
	lastWindow time.Time
}

// due reports whether timers need attention at now: one is due, or it is time to
// load the next stretch of the index.
func (t *timers) due(now time.Time) bool {
	return (len(t.heap) > 0 && !t.heap[0].due.After(now)) || !now.Before(t.nextLoad)
}

// wait returns how long the loop may wait for input, at most limit, before timers
// need a window: until the next timer is due or the next load of the index, but not
// sooner than gap after the previous window started (sinceWindow ago), so that a
// steady stream of timers fires in batches rather than in a transaction per timer.
func (t *timers) wait(now time.Time, sinceWindow, gap, limit time.Duration) time.Duration {
	d := min(limit, t.nextLoad.Sub(now))
	if len(t.heap) > 0 {
		d = min(d, t.heap[0].due.Sub(now))
	}
	return min(limit, max(d, gap-sinceWindow, 0))
}

// reset forgets the in-memory timers: they are reloaded from the committed index
// (after an aborted window, whose popped timers must fire again).
func (t *timers) reset() {
	t.heap = t.heap[:0]
	clear(t.loadedUntil)
	t.nextLoad = time.Time{}
}

// load loads, for every partition of parts, the timers due up to now+timerHorizon
// that are not loaded yet.
func (t *timers) load(store storeReader, parts map[int32]*partition, now time.Time, m *metrics) error {
	if now.Before(t.nextLoad) {
		return nil
	}
	until := now.Add(timerHorizon)
	for id := range parts {
		after := t.loadedUntil[id]
		err := store.ScanTimers(id, after, until, func(due time.Time, key string) bool {
			heap.Push(&t.heap, timerEntry{due: due, p: id, key: key})
			return true
		})
		if err != nil {
			return err
		}
		t.loadedUntil[id] = until
	}
	t.nextLoad = now.Add(timerHorizon / 2)
	m.timersPending.Set(float64(len(t.heap)))
	return nil
}

// armed is called after a commit for a record whose NextDue changed: a timer due
// within the loaded stretch goes straight into the heap.
func (t *timers) armed(id int32, due time.Time, key string) {
	if due.IsZero() {
		return
	}
	if lu, ok := t.loadedUntil[id]; ok && !due.After(lu) {
		heap.Push(&t.heap, timerEntry{due: due, p: id, key: key})
	}
}

// timerReads reads the records of a batch of due timers on worker goroutines
// (prefetch), like the preparation of input records.
type timerReads struct {
	entries []timerEntry
	reads   []prefetched
	run     *chunked // nil: nothing to read
}

// readTimers starts reading the records of entries whose contact the window has no
// copy of.
func (w *window) readTimers(entries []timerEntry) *timerReads {
	r := &timerReads{entries: entries, reads: make([]prefetched, len(entries))}
	var todo []int
	for i, e := range entries {
		if w.parts[e.p] != nil && w.contacts[contactRef{e.p, e.key}] == nil {
			todo = append(todo, i)
		}
	}
	if len(todo) > 0 {
		r.run = runChunked(len(todo), timerReadChunk, func(k int) {
			e := entries[todo[k]]
			w.prefetch(e.p, e.key, workspaceOf(e.key), &r.reads[todo[k]])
		})
	}
	return r
}

// wait waits for the reads to finish.
func (r *timerReads) wait() {
	if r.run != nil {
		r.run.finish()
	}
}

// popDue takes up to n timers due at or before w.now from the heap.
func (w *window) popDue(n int) []timerEntry {
	t := w.timers
	var out []timerEntry
	for len(out) < n && len(t.heap) > 0 && !t.heap[0].due.After(w.now) {
		out = append(out, heap.Pop(&t.heap).(timerEntry))
	}
	return out
}

// fireTimers fires the timers due at the window's instant, in due order, until they
// are all fired or the window's time is up: what is left of its CommitInterval from
// start, but at least a quarter of a CommitInterval from now, so that a window full
// of input still fires timers. Each batch's records are read while the previous
// batch is evaluated; a batch read but not fired goes back into the heap.
func (w *window) fireTimers(ctx context.Context, start time.Time, interval time.Duration) error {
	deadline := start.Add(interval)
	if floor := time.Now().Add(interval / 4); deadline.Before(floor) {
		deadline = floor
	}
	t := w.timers
	defer func() { w.m.timersPending.Set(float64(len(t.heap))) }()
	cur := w.readTimers(w.popDue(timerBatch))
	for {
		cur.wait()
		if len(cur.entries) == 0 {
			return nil
		}
		var next *timerReads
		if time.Now().Before(deadline) {
			next = w.readTimers(w.popDue(timerBatch))
		}
		err := w.fireBatch(ctx, cur)
		switch {
		case next == nil:
			return err
		case err != nil:
			next.wait() // the window aborts: the heap is reloaded
			return err
		case !time.Now().Before(deadline):
			// Out of time: the batch read ahead goes back into the heap.
			next.wait()
			for _, e := range next.entries {
				heap.Push(&t.heap, e)
			}
			return nil
		}
		cur = next
	}
}

// fireBatch fires one batch of due timers whose records were read.
func (w *window) fireBatch(ctx context.Context, b *timerReads) error {
	fired := w.clock()
	for i, e := range b.entries {
		pt := w.parts[e.p]
		if pt == nil {
			continue // the partition moved away
		}
		r := &b.reads[i]
		o, adopted, err := w.contactPrefetched(e.p, e.key, r)
		if err != nil {
			return err
		}
		c := o.c
		if !c.NextDue.Equal(e.due) {
			if !o.isDirty && o.exists && o.origDue.Equal(c.NextDue) {
				w.staleTimers = append(w.staleTimers, e)
			}
			continue // stale: the record was re-armed since
		}
		w.m.timerLateness.Observe(fired.Sub(e.due).Seconds())
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
		if !c.IsNew() {
			c.NextDue = nextDue(nil, c, nil, w.now) // the deletion fence, if still ahead
		}
		if wr := w.rules.ws[ws]; wr != nil && !c.IsNew() {
			var a operators.Attrs
			if adopted && r.hasAttrs {
				a = r.attrs
			} else {
				a = c.Attrs(ws, w.catalog(pt, c.DenseID, false), w.opts.exclusionTag)
			}
			w.catchUp(ctx, pt, e.key, o, &a)
			if w.catchUpCatalog(ctx, pt, e.key, o) {
				a = c.Attrs(ws, w.catalog(pt, c.DenseID, false), w.opts.exclusionTag)
			}
			w.evalSegments(ctx, pt, e.key, o, wr, wr.rs.TimeRelative(), &a, ReasonTime, Cause{DueAt: e.due})
			c.NextDue = nextDue(wr.rs, c, &a, w.now)
		}
		w.markDirty(pt.id, e.key, o)
	}
	return nil
}

// purge deletes an expired tombstone: its record, dense id and timer go, and the
// changelog gets a Kafka tombstone so that compaction forgets the contact.
func (w *window) purge(pt *partition, key string, o *overlay) {
	o.purgeDense = o.c.DenseID
	o.c.Expire(w.now)
	o.purged = true
	w.markDirty(pt.id, key, o)
}
