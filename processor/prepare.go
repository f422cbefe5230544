package processor

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Preparation: the part of processing an input record that reads nothing the window
// changes runs on worker goroutines, ahead of the loop. A worker decodes the record
// and reads its contact from the store as of the window's start (the store only
// changes after a commit, between windows) and derives the contact's attributes.
// The loop then applies the records one by one, in offset order, exactly as before:
// it uses the prepared contact only if the window has no copy of its own yet (an
// earlier record of the window may have changed it). Decoding and the Pebble read
// were about 40% of the loop's time; on a machine with spare cores they now overlap
// with the serial application.

// prepChunk is how many records a worker prepares at a time. The loop waits for the
// chunk holding the next record, so a small chunk lets it start early.
const prepChunk = 64

// prepared is one input record decoded, and its contact read, off the loop.
type prepared struct {
	rec events.Record
	ev  *events.Event
	err error // decoding error: the record is dead-lettered
	pre prefetched
}

// prefetched is a contact as the store held it when the window began.
type prefetched struct {
	done   bool // the read was attempted
	c      *state.Contact
	found  bool
	err    error
	before operators.Attrs // c's attributes in the event's workspace, when found and live
}

// preparer decodes and prefetches the records of one poll on worker goroutines.
type preparer struct {
	recs   []*kgo.Record
	out    []prepared
	chunks []chan struct{}
	next   atomic.Int64
	wg     sync.WaitGroup
}

// prepare starts preparing recs; the loop reads the results with wait. The caller
// must not change the rules or the store until every chunk is done (wait for the
// last chunk, or call finish).
func (p *Processor) prepare(recs []*kgo.Record) *preparer {
	pr := &preparer{recs: recs, out: make([]prepared, len(recs))}
	n := (len(recs) + prepChunk - 1) / prepChunk
	pr.chunks = make([]chan struct{}, n)
	for i := range pr.chunks {
		pr.chunks[i] = make(chan struct{})
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	pr.wg.Add(workers)
	for range workers {
		go func() {
			defer pr.wg.Done()
			for {
				i := int(pr.next.Add(1) - 1)
				if i >= n {
					return
				}
				lo, hi := i*prepChunk, min((i+1)*prepChunk, len(recs))
				for j := lo; j < hi; j++ {
					p.prepareOne(recs[j], &pr.out[j])
				}
				close(pr.chunks[i])
			}
		}()
	}
	return pr
}

// wait returns record i's preparation, waiting for its chunk.
func (pr *preparer) wait(i int) *prepared {
	<-pr.chunks[i/prepChunk]
	return &pr.out[i]
}

// finish waits for the workers to stop (the loop stopped early).
func (pr *preparer) finish() { pr.wg.Wait() }

// prepareOne decodes r and reads its contact. It runs on a worker: it reads only the
// record, the rules (fixed during the window) and the store.
func (p *Processor) prepareOne(r *kgo.Record, out *prepared) {
	out.rec = toEventsRecord(r)
	out.ev, out.err = events.Decode(&out.rec, &p.decodeOpts)
	if out.err != nil {
		return
	}
	c := &state.Contact{}
	err := p.cfg.Store.Contact(r.Partition, out.ev.ContactKey(), c)
	out.pre.done = true
	switch {
	case err == nil:
		out.pre.c, out.pre.found = c, true
		if !c.IsNew() && !c.IsTombstone() {
			out.pre.before = c.Attrs(out.ev.Workspace, p.rules, p.cfg.ExclusionTag)
		}
	case errors.Is(err, state.ErrNotFound):
	default:
		out.pre.err = err
	}
}
