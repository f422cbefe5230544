package processor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
)

// runWindow runs one commit window starting with the records of first: it applies
// new definitions and catalog entries, processes input records for up to
// CommitInterval, advances backfills, then commits the transaction and, only if it
// committed, the Pebble batch and the in-memory partition state.
//
// Cancelling ctx (shutdown) stops the window from taking more input, but the window
// still completes and commits: its produce and commit calls use a context that is not
// canceled, bounded by half the transaction timeout, so that no transaction is left
// open for read_committed consumers to wait on.
func (p *Processor) runWindow(pollCtx context.Context, first kgo.Fetches) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(pollCtx), p.cfg.TransactionTimeout/2)
	defer cancel()
	start := time.Now()
	w := newWindow(p.newWindowDeps())
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := p.applyGlobals(ctx, w); err != nil {
		return p.abort(ctx, w, err)
	}
	if err := p.processFetches(ctx, w, first); err != nil {
		return p.abort(ctx, w, err)
	}
	deadline := start.Add(p.cfg.CommitInterval)
	for w.records > 0 && w.records < p.windowLimit() && time.Now().Before(deadline) && pollCtx.Err() == nil {
		pctx, cancel := context.WithDeadline(pollCtx, deadline)
		fs := p.sess.PollRecords(pctx, p.windowLimit()-w.records)
		cancel()
		p.logFetchErrors(fs)
		p.drainHandoffs()
		if err := p.processFetches(ctx, w, fs); err != nil {
			return p.abort(ctx, w, err)
		}
	}
	if err := w.advance(ctx, start, deadline); err != nil {
		return p.abort(ctx, w, err)
	}
	processed := time.Now()
	batch := p.cfg.Store.NewBatch()
	defer batch.Close()
	if err := w.flush(ctx, batch); err != nil {
		return p.abort(ctx, w, err)
	}
	commitStart := time.Now()
	if err := p.sess.Client().Flush(ctx); err != nil {
		p.quarantineRefused(w)
		// Typically the process was paused or the brokers were slow past the bound:
		// abort (the broker may have fenced us already) and carry on, with fewer
		// records per window in case processing them took the time.
		p.cfg.Logger.Warn("aborting window: flushing its records failed", "err", err,
			"records", w.records, "changed_contacts", len(w.dirty), "took", time.Since(start).Round(time.Millisecond))
		p.shrinkWindow(w)
		return p.abort(context.Background(), w, nil)
	}
	if err := w.err(); err != nil {
		// A record failed to produce: abort, and process the window again (without
		// the input of the contacts whose records were refused, now quarantined).
		p.quarantineRefused(w)
		p.cfg.Logger.Warn("aborting window after produce error", "err", err)
		return p.abort(ctx, w, nil)
	}
	if p.crashAt != nil && p.crashAt("before-commit") {
		return errCrashed
	}
	committed, err := p.sess.End(p.endContext(ctx, w), kgo.TryCommit)
	p.m.commitSeconds.Observe(time.Since(commitStart).Seconds())
	if err != nil {
		return fmt.Errorf("end transaction: %w", err)
	}
	if !committed {
		p.m.windows.WithLabelValues("aborted").Inc()
		p.afterAbort()
		return nil
	}
	p.m.windows.WithLabelValues("committed").Inc()
	p.growWindow()
	p.m.windowRecords.Observe(float64(w.records))
	w.mu.Lock()
	for part, next := range w.mu.changelogNext {
		if err := batch.PutChangelogOffset(part, next); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	w.mu.Unlock()
	// The transaction is committed: Kafka has everything. A failure to write the
	// batch loses nothing (a restart restores from the changelog), but the loop
	// cannot continue with a store that lags its memory.
	if p.crashAt != nil && p.crashAt("after-commit") {
		return errCrashed
	}
	committedAt := time.Now()
	if err := batch.Commit(false); err != nil {
		return fmt.Errorf("apply committed window to the store: %w", err)
	}
	w.committed(p.restoring.Load() > 0)
	p.compactLogs()
	if took := time.Since(start); took > 3*p.cfg.CommitInterval {
		p.cfg.Logger.Debug("slow window", "took", took.Round(time.Millisecond), "records", w.records,
			"outputs", w.outputs, "changed_contacts", len(w.dirty),
			"process", processed.Sub(start).Round(time.Millisecond),
			"produce_and_commit", committedAt.Sub(processed).Round(time.Millisecond),
			"store", time.Since(committedAt).Round(time.Millisecond))
	}
	p.lastPing.Store(time.Now().UnixNano()) // the commit was a broker round trip
	if p.m.segmentMembers != nil {
		p.updateSegmentMembers(w)
	}
	done := time.Now()
	for _, ts := range w.causes {
		p.m.eventToOutput.Observe(done.Sub(ts).Seconds())
	}
	p.m.backfillsPending.Set(float64(p.backfillsPending()))
	return nil
}

// abort ends the window's transaction with an abort. cause, if not nil, is a fatal
// error returned after aborting. The abort itself gets a fresh bounded context: the
// window's may have expired.
func (p *Processor) abort(_ context.Context, w *window, cause error) error {
	actx, cancel := context.WithTimeout(context.Background(), p.cfg.TransactionTimeout)
	defer cancel()
	_, err := p.sess.End(actx, kgo.TryAbort)
	p.m.windows.WithLabelValues("aborted").Inc()
	p.afterAbort()
	if err != nil {
		err = fmt.Errorf("abort transaction: %w", err)
	}
	if cause != nil {
		cause = fmt.Errorf("window: %w", cause)
	}
	return errors.Join(cause, err)
}

// afterAbort forgets the window. The session rewinds the consumer to the committed
// offsets; the rules already moved on, so every partition is reconciled again.
func (p *Processor) afterAbort() {
	for id := range p.parts {
		p.reconcile[id] = true
	}
	p.timers.reset()
}

func (p *Processor) sortedPartitions() []int32 { return sortedIDs(p.parts) }

func sortedIDs(parts map[int32]*partition) []int32 {
	ids := make([]int32, 0, len(parts))
	for id := range parts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// advance fires the timers due at the window's instant and advances the backfills
// of every partition, for the time left of the window's CommitInterval from start
// (see fireTimers; backfills get at least a quarter of a CommitInterval).
func (w *window) advance(ctx context.Context, start, deadline time.Time) error {
	if err := w.timers.load(w.store, w.parts, w.now, w.m); err != nil {
		return err
	}
	if err := w.fireTimers(ctx, start, w.opts.commitInterval); err != nil {
		return err
	}
	// Backfills get what is left of the window's interval, but at least a quarter
	// of it so that they advance under sustained input, and at most BackfillChunk
	// contacts.
	budget := backfillBudget{left: w.opts.backfillChunk, deadline: deadline}
	if floor := time.Now().Add(w.opts.commitInterval / 4); budget.deadline.Before(floor) {
		budget.deadline = floor
	}
	for _, id := range sortedIDs(w.parts) {
		before := budget.left
		budget.algebraRead, budget.algebraPassed = 0, 0
		if err := w.backfill(ctx, w.parts[id], &budget); err != nil {
			return err
		}
		scanned := float64(before - budget.left - budget.algebraRead)
		w.m.backfillContacts.WithLabelValues(backfillScanMode).Add(scanned)
		w.m.backfillRead.WithLabelValues(backfillScanMode).Add(scanned)
		w.m.backfillContacts.WithLabelValues(backfillAlgebraMode).Add(float64(budget.algebraPassed))
		w.m.backfillRead.WithLabelValues(backfillAlgebraMode).Add(float64(budget.algebraRead))
	}
	w.m.backfillRead.WithLabelValues(backfillAlgebraMode).Add(float64(w.algebraDecided))
	if budget.steps[0]+budget.steps[1] > 0 {
		pending := 0
		for _, pt := range w.parts {
			for _, sm := range w.metaView(pt).Segments {
				if sm.Backfilling {
					pending++
				}
			}
		}
		w.opts.logger.Info("definition backfills progressed", "steps_by_algebra", budget.steps[1],
			"steps_by_scan", budget.steps[0], "contacts_read", w.opts.backfillChunk-budget.left, "steps_pending", pending)
	}
	return nil
}

// applyGlobals brings every owned partition up to date with the segments and
// catalog topics: backfills for changed definitions, scans for changed products, and
// (on partition 0 only, so that it happens once per group) dead letters for invalid
// records of those topics.
func (p *Processor) applyGlobals(ctx context.Context, w *window) error {
	seg, cat := p.applyGlobalsToRules()
	w.catalogChanged = len(cat) > 0
	for _, id := range p.sortedPartitions() {
		pt := p.parts[id]
		if p.reconcile[id] {
			if p.waitForDefinitions(pt) {
				continue // retried at the next window, once this process has read as far
			}
			all, allCat := p.logs.upTo(p.segCursor, p.catCursor)
			w.applyGlobalEntries(ctx, pt, all, allCat, true)
			delete(p.reconcile, id)
		} else if len(seg)+len(cat) > 0 {
			w.applyGlobalEntries(ctx, pt, seg, cat, false)
		}
	}
	queued := map[int32]bool{}
	for id, pt := range p.parts {
		if len(w.metaView(pt).CatalogSteps)+len(w.metaView(pt).CatalogScans) > 0 {
			queued[id] = true
		}
	}
	w.catalogQueued = queued
	return nil
}

// applyGlobalEntries applies to one partition the entries it has not applied yet
// (per the offsets in its meta). full also reconciles every segment.
func (w *window) applyGlobalEntries(ctx context.Context, pt *partition, seg, cat []globalEntry, full bool) {
	var changed []string
	seen := maps.Clone(w.metaView(pt).SegmentsOffsets) // before this window's entries
	for i := range seg {
		e := &seg[i]
		if e.Offset < w.metaView(pt).SegmentsOffsets[e.Partition] {
			continue
		}
		m := w.meta(pt)
		if m.SegmentsOffsets == nil {
			m.SegmentsOffsets = map[int32]int64{}
		}
		m.SegmentsOffsets[e.Partition] = e.Offset + 1
		if e.Err != nil {
			if pt.id == 0 {
				w.deadLetter(ctx, &e.Record, e.Err.Reason, e.Err.Detail)
			}
			continue
		}
		changed = append(changed, e.Key)
	}
	if full {
		w.reconcileSegments(pt, nil, seen)
	} else if len(changed) > 0 {
		w.reconcileSegments(pt, changed, seen)
	}
	for i := range cat {
		e := &cat[i]
		if e.Offset < w.metaView(pt).CatalogOffsets[e.Partition] {
			continue
		}
		m := w.meta(pt)
		if m.CatalogOffsets == nil {
			m.CatalogOffsets = map[int32]int64{}
		}
		m.CatalogOffsets[e.Partition] = e.Offset + 1
		if e.Err != nil {
			if pt.id == 0 {
				w.deadLetter(ctx, &e.Record, e.Err.Reason, e.Err.Detail)
			}
			continue
		}
		w.queueCatalogStep(pt, e)
	}
}

// processFetches processes the input records of one poll.
func (p *Processor) processFetches(ctx context.Context, w *window, fs kgo.Fetches) error {
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if n := len(ftp.Records); n > 0 {
			lag := ftp.HighWatermark - ftp.Records[n-1].Offset - 1
			p.m.lag.WithLabelValues(ftp.Topic, strconv.Itoa(int(ftp.Partition))).Set(float64(max(lag, 0)))
		}
	})
	recs := p.recBuf[:0]
	fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	p.recBuf = recs[:0]
	return w.processRecords(ctx, recs)
}

// processRecords applies input records in order: each is decoded and its contact
// read ahead on workers (prepare.go), then applied or dead-lettered. A record of a
// partition the window may not touch (revoked mid-window: the window will abort) is
// skipped.
func (w *window) processRecords(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	pr := w.prepare(recs)
	defer pr.finish()
	for i, r := range recs {
		prep := pr.wait(i)
		pt := w.parts[r.Partition]
		if pt == nil {
			continue
		}
		w.records++
		if err := w.processRecord(ctx, pt, r, prep); err != nil {
			return err
		}
	}
	return nil
}

// processRecord applies one prepared input record, or dead-letters it.
func (w *window) processRecord(ctx context.Context, pt *partition, r *kgo.Record, prep *prepared) error {
	ev, err := prep.ev, prep.err
	if err != nil {
		rec := &prep.rec
		if q, ok := w.quarantine[string(rec.Key)]; ok && q.dropValue {
			// Its dead letter was refused: send it without the value.
			cp := *rec
			cp.Value = nil
			rec = &cp
		}
		var de *events.Error
		switch {
		case errors.Is(err, events.ErrGuestOrder):
			w.m.guestOrders.Inc()
		case errors.As(err, &de):
			w.deadLetter(ctx, rec, de.Reason, de.Detail)
		default:
			w.deadLetter(ctx, rec, "invalid_record", err.Error())
		}
		return nil
	}
	if q, ok := w.quarantine[prep.key]; ok {
		rec := &prep.rec
		if q.dropValue {
			cp := *rec
			cp.Value = nil
			rec = &cp
		}
		w.deadLetter(ctx, rec, ReasonContactRefused, q.detail)
		return nil
	}
	before := w.outputs
	if err := w.applyEvent(ctx, pt, ev, prep.key, &prep.pre); err != nil {
		if errors.Is(err, errContactTooLarge) {
			w.deadLetter(ctx, &prep.rec, ReasonContactTooLarge, fmt.Sprintf(
				"applying it would grow what contact %s keeps exactly (tags, lists, automations, back-in-stock subscriptions, conversations, profile) past its share of --max-contact-bytes (%d)",
				prep.key, w.opts.maxContactBytes))
			return nil
		}
		return err
	}
	if w.outputs > before {
		w.causes = append(w.causes, r.Timestamp)
	}
	return nil
}

// updateSegmentMembers refreshes the opt-in member gauges of the segments whose
// membership changed in the window.
func (p *Processor) updateSegmentMembers(w *window) {
	touched := map[string]bool{}
	for _, d := range w.deltas {
		touched[d.seg] = true
	}
	for key := range touched {
		var n uint64
		for _, pt := range p.parts {
			if b := pt.members[key]; b != nil {
				n += b.GetCardinality()
			}
		}
		ws, id, _ := strings.Cut(key, "/")
		p.m.segmentMembers.WithLabelValues(ws, id).Set(float64(n))
	}
}
