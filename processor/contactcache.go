package processor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/segmentd/segmentd/state"
)

// contactCache keeps the decoded contacts of recent windows across windows, so that
// preparing an input record of a contact written a moment ago (an order, then its
// message statuses: sent, delivered, opened) skips the Pebble read and the decode.
//
// Exactness: an entry is the contact exactly as the store holds it. Entries are set
// only by window.committed, after the window's transaction and Pebble batch
// committed, from the copies the window flushed (which nothing changes afterwards);
// the contacts a window deleted are removed. Every contact record the loop writes
// goes through window.flush, so that keeps the cache exact; the other writer of
// contact records, restore, writes partitions the loop does not own yet, and a
// partition's entries are dropped whenever it is assigned or revoked
// (drainHandoffs). A window whose partitions changed while it ran (epoch) removes
// what it wrote instead of setting it. An aborted window changes nothing here:
// windows apply events to clones of the entries (state.Contact.Clone), never to the
// entries.
//
// Concurrency: only the loop changes the cache, and only between windows (committed,
// drainHandoffs, which runs between polls when no preparation worker runs); the
// preparation workers only look entries up (get) while the window takes input, so
// no lock is needed. Recency is updated by the loop (committed), not by get.
//
// Bounded by Config.ContactCache entries over all partitions, least recently
// written or used first out.
type contactCache struct {
	max     int
	entries map[contactRef]*cacheEntry
	lru     cacheEntry // sentinel of the recency list: lru.next is the most recent
	// epoch changes whenever a partition's entries are dropped.
	epoch  uint64
	hits   prometheus.Counter
	misses prometheus.Counter
	entryN prometheus.Gauge
}

type cacheEntry struct {
	ref        contactRef
	c          *state.Contact // never changed once cached
	prev, next *cacheEntry
}

// newContactCache returns a cache of at most max contacts, or nil if max <= 0 (off).
func newContactCache(max int, m *metrics) *contactCache {
	if max <= 0 {
		return nil
	}
	cc := &contactCache{max: max, entries: make(map[contactRef]*cacheEntry, min(max, 1<<16)),
		hits: m.contactCacheHits, misses: m.contactCacheMisses, entryN: m.contactCacheEntries}
	cc.lru.prev, cc.lru.next = &cc.lru, &cc.lru
	return cc
}

// get returns the cached contact of ref, or nil. The contact must not be changed:
// the caller clones it. Safe on the preparation workers (see contactCache).
func (cc *contactCache) get(ref contactRef) *state.Contact {
	if cc == nil {
		return nil
	}
	if e := cc.entries[ref]; e != nil {
		cc.hits.Inc()
		return e.c
	}
	cc.misses.Inc()
	return nil
}

func (cc *contactCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (cc *contactCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &cc.lru, cc.lru.next
	cc.lru.next.prev = e
	cc.lru.next = e
}

// put sets ref's entry to c (the loop, between windows). c must be the contact as
// the store now holds it, and nothing may change it afterwards.
func (cc *contactCache) put(ref contactRef, c *state.Contact) {
	if e := cc.entries[ref]; e != nil {
		e.c = c
		cc.unlink(e)
		cc.pushFront(e)
		return
	}
	e := &cacheEntry{ref: ref, c: c}
	cc.entries[ref] = e
	cc.pushFront(e)
	for len(cc.entries) > cc.max {
		last := cc.lru.prev
		cc.unlink(last)
		delete(cc.entries, last.ref)
	}
	cc.entryN.Set(float64(len(cc.entries)))
}

// touch marks ref's entry as just used (the loop, between windows).
func (cc *contactCache) touch(ref contactRef) {
	if e := cc.entries[ref]; e != nil {
		cc.unlink(e)
		cc.pushFront(e)
	}
}

// remove forgets ref's entry (the loop, between windows).
func (cc *contactCache) remove(ref contactRef) {
	if e := cc.entries[ref]; e != nil {
		cc.unlink(e)
		delete(cc.entries, ref)
		cc.entryN.Set(float64(len(cc.entries)))
	}
}

// dropPartition forgets every entry of partition p (assigned or revoked; the loop,
// between polls).
func (cc *contactCache) dropPartition(p int32) {
	if cc == nil {
		return
	}
	cc.epoch++
	for ref, e := range cc.entries {
		if ref.p == p {
			cc.unlink(e)
			delete(cc.entries, ref)
		}
	}
	cc.entryN.Set(float64(len(cc.entries)))
}

// committed brings the cache up to a committed window: the contacts it wrote are set
// (those it deleted removed), those it used from the cache are marked used. If a
// partition's entries were dropped while the window ran (epoch), the contacts it
// wrote are removed instead: the window may have read a partition that changed hands.
func (cc *contactCache) committed(w *window) {
	if cc == nil {
		return
	}
	exact := cc.epoch == w.cacheEpoch
	for _, ref := range w.cacheHits {
		cc.touch(ref)
	}
	for _, ref := range w.dirty {
		o := w.contacts[ref]
		if !exact || o.purged || w.parts[ref.p] == nil {
			cc.remove(ref)
			continue
		}
		cc.put(ref, o.c)
	}
}
