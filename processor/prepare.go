package processor

import (
	"errors"
	"hash/maphash"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Preparation: the part of processing an input record (or firing a due timer) that
// reads nothing the window changes runs on worker goroutines, ahead of the loop. A
// worker decodes the record and reads its contact from the store as of the window's
// start (the store and the contact cache only change after a commit, between
// windows: a cached contact is cloned instead of read, contactcache.go) and derives
// the contact's attributes. The loop then applies the records one by one, in offset
// order, exactly as before: it uses the prefetched contact only if the window has no
// copy of its own (an earlier record of the window may have changed it). Decoding
// and the Pebble read were about 40% of the loop's time; on a machine with spare
// cores they now overlap with the serial application.

// prepChunk is how many records a worker prepares at a time. The loop waits for the
// chunk holding the next record, so a small chunk lets it start early.
const prepChunk = 64

// prepared is one input record decoded, and its contact read, off the loop.
type prepared struct {
	rec events.Record
	ev  *events.Event
	key string // ev.ContactKey()
	err error  // decoding error: the record is dead-lettered
	pre prefetched
}

// prefetched is a contact as the store held it when the window began.
type prefetched struct {
	done  bool // the read was attempted
	c     *state.Contact
	found bool
	err   error
	// attrs: c's attributes in its workspace, derived when the record is live.
	attrs    operators.Attrs
	hasAttrs bool
	cached   bool // c is a clone of the cache's copy
}

// readContact is contact key of partition p as the store holds it: a clone of the
// cache's copy, else read and decoded from the store. It runs on a worker or on
// the loop, while the window takes input (the cache does not change then).
func (w *window) readContact(p int32, key string) (cachedContact, error) {
	if c := w.cache.get(contactRef{p, key}); c != nil {
		return cachedContact{c: c.Clone(), cached: true}, nil
	}
	c := &state.Contact{}
	if err := w.store.Contact(p, key, c); err != nil {
		return cachedContact{}, err
	}
	return cachedContact{c: c}, nil
}

// cachedContact is readContact's result: the window's own copy of a contact, and
// whether it came from the cache.
type cachedContact struct {
	c      *state.Contact
	cached bool
}

// prefetch reads contact key of partition part and derives its attributes in
// workspace ws. It runs on a worker: it reads only the store, the rules and
// catalogQueued, which are fixed while the window takes input.
//
// A contact in the cache (contactcache.go) is cloned instead of read: the window
// applies events to its own copy, and the cached one stays as the store holds it.
func (w *window) prefetch(part int32, key, ws string, out *prefetched) {
	c, err := w.readContact(part, key)
	out.cached = err == nil && c.cached
	out.done = true
	switch {
	case err == nil:
		out.c, out.found = c.c, true
		if c := c.c; !c.IsNew() && !c.IsTombstone() && !w.catalogQueued[part] {
			out.attrs, out.hasAttrs = c.Attrs(ws, w.rules, w.opts.exclusionTag), true
		}
	case errors.Is(err, state.ErrNotFound):
	default:
		out.err = err
	}
}

// preparer decodes and prefetches the records of one poll on worker goroutines.
type preparer struct {
	out []prepared
	run *chunked
	buf *[]prepared // where finish gives out back, cleared (windowDeps.prepBuf)
}

// prepare starts preparing recs; the loop reads the results with wait. The caller
// must not change the rules or the store until finish returns.
//
// Only the first record of each key prefetches its contact: the window has its own
// copy of the contact from then on, and one contact with many records in a poll (and a
// large record) must not be read and decoded once per record.
func (w *window) prepare(recs []*kgo.Record) *preparer {
	pr := &preparer{buf: w.prepBuf}
	if w.prepBuf != nil && cap(*w.prepBuf) >= len(recs) {
		pr.out, *w.prepBuf = (*w.prepBuf)[:len(recs)], nil
	} else {
		pr.out = make([]prepared, len(recs))
	}
	again := make([]bool, len(recs))
	// Keys by hash, so that no key is copied into a string: a collision only makes a
	// record read its contact on the loop instead (window.contact).
	seed := maphash.MakeSeed()
	seen := make(map[uint64]struct{}, len(recs))
	for i, r := range recs {
		h := maphash.Bytes(seed, r.Key)
		if _, ok := seen[h]; ok {
			again[i] = true
		} else {
			seen[h] = struct{}{}
		}
	}
	pr.run = runChunked(len(recs), prepChunk, func(i int) { w.prepareOne(recs[i], &pr.out[i], !again[i]) })
	return pr
}

// wait returns record i's preparation, waiting for its chunk.
func (pr *preparer) wait(i int) *prepared {
	pr.run.wait(i)
	return &pr.out[i]
}

// finish waits for the workers to stop (the loop stopped early). The preparations
// are gone after it: their list is reused by the next poll.
func (pr *preparer) finish() {
	pr.run.finish()
	if pr.buf != nil {
		clear(pr.out) // drop the references to the records, events and contacts
		*pr.buf = pr.out[:0]
	}
}

// prepareOne decodes r and, if fetch, reads its contact (a worker).
func (w *window) prepareOne(r *kgo.Record, out *prepared, fetch bool) {
	out.rec = toEventsRecord(r)
	out.ev, out.err = events.Decode(&out.rec, &w.opts.decode)
	if out.err != nil {
		return
	}
	out.key = out.ev.ContactKey()
	if !fetch {
		return
	}
	w.prefetch(r.Partition, out.key, out.ev.Workspace, &out.pre)
}
