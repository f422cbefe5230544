package processor

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Read your writes. The admin API decides a write from what the segments topic holds,
// not from what this process happened to have read when the request came: before a
// PUT decides 201 or 200, or a DELETE 404, it calls SyncSegments; after producing a
// definition or a tombstone it calls WaitSegmentRecord, so that the answer and every
// later request to this process see the write. Both wait for two things: the globals
// reader has read the segments topic up to the offsets (globalLogs.readUpTo, which
// counts transaction markers too), and the processing loop has applied what it read to
// the rules (segApplied), which the loop does in its next window.

// SyncSegments waits until this process has applied every record that the segments
// topic held when it was called: it lists the topic's end offsets (high watermarks)
// and waits until the reader is past them. A transaction still open there is waited
// for until it ends (the reader is read_committed), so a transactional write that has
// returned is seen once its markers are written. It returns ErrNotReady before the
// process has joined its group, and ctx's error, wrapped, when ctx ends first.
func (p *Processor) SyncSegments(ctx context.Context) error {
	if !p.ready.Load() {
		return ErrNotReady
	}
	listed, err := kadm.NewClient(p.sess.Client()).ListEndOffsets(ctx, p.cfg.Topics.Segments)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets of the segments topic %s: %w", p.cfg.Topics.Segments, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return p.waitSegments(ctx, ends)
}

// WaitSegmentRecord waits until this process has applied the record at offset of
// partition of the segments topic (and everything before it), e.g. one the caller has
// just produced. Errors as SyncSegments.
func (p *Processor) WaitSegmentRecord(ctx context.Context, partition int32, offset int64) error {
	if !p.ready.Load() {
		return ErrNotReady
	}
	return p.waitSegments(ctx, map[int32]int64{partition: offset + 1})
}

// waitSegments waits until the segments topic is read up to ends (partition → next
// offset) and what was read by then is applied to the rules.
func (p *Processor) waitSegments(ctx context.Context, ends map[int32]int64) error {
	for {
		n, changed, ok := p.logs.readUpTo(ends)
		if ok {
			if err := p.segApplied.waitFor(ctx, n); err != nil {
				return fmt.Errorf("apply the segments topic: %w", err)
			}
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("read the segments topic up to its end offsets %v: %w", ends, ctx.Err())
		}
	}
}

// advanceLocked records the positions the reader reached in the segments topic
// (partition → next offset) and wakes readUpTo's waiters. Called under g.mu, with the
// entries read before those positions already appended.
func (g *globalLogs) advanceLocked(read map[int32]int64) {
	if g.mu.segRead == nil {
		g.mu.segRead = map[int32]int64{}
	}
	for part, next := range read {
		g.mu.segRead[part] = max(g.mu.segRead[part], next)
	}
	if g.mu.readCh != nil {
		close(g.mu.readCh)
		g.mu.readCh = nil
	}
}

// readUpTo reports whether the segments topic is read up to ends (partition → next
// offset; an end of 0 is read), and then the number of segments entries read by
// then; else a channel closed when the reader advances.
func (g *globalLogs) readUpTo(ends map[int32]int64) (entries int, changed <-chan struct{}, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for part, end := range ends {
		if end > 0 && g.mu.segRead[part] < end {
			if g.mu.readCh == nil {
				g.mu.readCh = make(chan struct{})
			}
			return 0, g.mu.readCh, false
		}
	}
	return g.mu.segments.length(), nil, true
}

// progress is a counter that only grows and that goroutines can wait for.
type progress struct {
	mu sync.Mutex
	n  int
	ch chan struct{} // closed (and cleared) when n changes
}

func (c *progress) set(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= c.n {
		return
	}
	c.n = n
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// waitFor waits until the counter is at least n, or ctx ends.
func (c *progress) waitFor(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.n >= n {
			c.mu.Unlock()
			return nil
		}
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
