package processor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Backfills: a new, changed or deleted definition is applied to every contact of its
// workspace in each owned partition, and a catalog change to every contact who bought
// the product. Both run in bounded steps inside ordinary
// windows (what fits in the window's interval, at most Config.BackfillChunk
// contacts), with their cursor in the partition meta, so they commit with the
// transitions they produce and resume where they stopped after a crash or a move.
// Both are idempotent: they compare a fresh evaluation with the memberships the
// contact record carries.
//
// A step reads and evaluates the contacts on worker goroutines, one per CPU (Pebble
// reads are safe concurrently; a worker owns the records it decodes). A worker only
// decides, from the stored record, whether the step changes the contact: a
// transition, an old incarnation's entry to forget, or a new NextDue. The contacts
// it changes, and those the window already holds its own copy of, go back to the
// loop goroutine in scan order, which evaluates them again on the window's copy and
// produces the changes as before; the others cost no copy, no write and no output.
//
// A step of a live definition that changes no time-relative predicate and needs no
// settling of old incarnations reads only its candidates instead of the whole
// workspace (backfillAlgebra): the members the attribute index gives for the new
// version XOR the segment's member bitmap, the contacts whose NextDue a scan would
// change (those with a timer, or in a workspace with time-relative segments those
// whose timer is due) and those the window holds.
// They go through the same workers and loop, in key order, so the output is the
// scan's; the other contacts are provably unchanged by the step.

// Order of definitions (SPEC §6). Every accepted version of a segment, and its
// deletion, is a step of rules.history. A partition applies the steps of all
// segments one at a time, in topic order: its meta of a segment names the step it
// has applied, or the one it is backfilling (Backfilling, with a cursor: contacts up
// to the cursor have that step, the others the step before). A step is backfilled
// completely before the next one starts (completeStep), and the step with the lowest
// position goes first (backfill), so every contact meets the steps in topic order.
//
// A contact that an event, a timer or a catalog change reaches before the backfill
// does is first brought through its pending steps, in topic order (catchUp), and
// only then evaluated: its output does not depend on how far the backfill got. If
// the backfill would later re-apply a step other than the last one the contact
// reached (two or more steps of a segment were pending for it), the contact is
// marked in SegmentMeta.Ahead and the backfill skips it up to that step. Otherwise
// no mark is needed: the contact's memberships already reflect the step, so
// applying it again changes nothing. This keeps Ahead empty in the common case of
// one change at a time.

// reconcileSegments starts the backfills partition pt needs so that it applies
// every step of the segments' histories. keys limits the check to some segments
// (nil: all). seen is the partition's SegmentsOffsets before the window advanced
// them: a segment without a meta has passed the steps the partition had read.
func (w *window) reconcileSegments(pt *partition, keys []string, seen map[int32]int64) {
	view := w.metaView(pt)
	if keys == nil {
		for k := range w.rules.history {
			keys = append(keys, k)
		}
		for k := range view.Segments {
			if _, ok := w.rules.history[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
	}
	for _, k := range keys {
		sm, known := view.Segments[k]
		h := w.rules.history[k]
		switch {
		case !known:
			if i := seenStep(h, seen); i+1 < len(h) {
				// No meta: the partition has applied none of the segment's steps, or
				// a deletion (which leaves no live contact an entry of it).
				next := h[i+1]
				w.startStep(pt, k, nil, next, i < 0 || h[i].Deleted || h[i].Incarnation == next.Incarnation)
			}
		case len(h) == 0:
			// Its history was pruned or never read (compaction): apply the deletion.
			if !sm.Deleted {
				sm = sm.Clone() // view may be the committed meta
				sm.Deleted, sm.Backfilling, sm.Cursor = true, true, ""
				w.setSegmentMeta(pt, k, &sm)
			}
		default:
			i, exact := locateStep(h, &sm)
			switch {
			case sm.Backfilling && exact: // in progress
			case sm.Backfilling:
				// A step this history does not hold: start over with the next one
				// it does (idempotent).
				w.startStep(pt, k, &sm, h[min(i+1, len(h)-1)], false)
			case i+1 < len(h):
				w.startStep(pt, k, &sm, h[i+1], settled(&sm, h[i+1]))
			}
		}
		view = w.metaView(pt)
	}
}

// seenStep returns the index of the last step of h whose record offset is below
// seen (the offsets a partition had read), -1 if none.
func seenStep(h []*segInfo, seen map[int32]int64) int {
	for i := len(h) - 1; i >= 0; i-- {
		if part, off := posRecord(h[i].Pos); off < seen[part] {
			return i
		}
	}
	return -1
}

// locateStep returns the index in h of the step a segment meta names, and whether h
// holds exactly that step; otherwise the index of the last step before it (-1 if
// none).
func locateStep(h []*segInfo, sm *state.SegmentMeta) (int, bool) {
	if sm.Pos != 0 {
		i := sort.Search(len(h), func(i int) bool { return h[i].Pos > sm.Pos }) - 1
		return i, i >= 0 && h[i].Pos == sm.Pos
	}
	// A meta written before positions were recorded.
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Incarnation == sm.Incarnation && h[i].Version == sm.Version && h[i].Deleted == sm.Deleted {
			return i, true
		}
	}
	return len(h) - 2, false
}

// segSteps returns the steps of segment key and the index of the one meta sm names
// (applied, or being backfilled). ok is false if the history does not hold it
// (reconcileSegments then restarts the segment's backfill).
func (w *window) segSteps(key string, sm *state.SegmentMeta) (steps []*segInfo, cur int, ok bool) {
	h := w.rules.history[key]
	if len(h) == 0 {
		if !sm.Deleted {
			return nil, 0, false
		}
		ws, id, _ := strings.Cut(key, "/")
		return []*segInfo{{Key: key, Workspace: ws, ID: id, Incarnation: sm.Incarnation, Version: sm.Version,
			RulesKey: sm.RulesKey, Pos: sm.Pos, Deleted: true}}, 0, true
	}
	cur, ok = locateStep(h, sm)
	return h, cur, ok
}

// startStep makes s the step partition pt backfills for segment key. prev is the
// meta it replaces (nil: none), whose marks of contacts ahead of s are kept. clean
// reports that no live contact the step reaches holds an entry of another
// incarnation of the segment than s's (see backfillAlgebra).
func (w *window) startStep(pt *partition, key string, prev *state.SegmentMeta, s *segInfo, clean bool) {
	if clean {
		if pt.clean == nil {
			pt.clean = map[string]int64{}
		}
		pt.clean[key] = s.Pos
	} else {
		delete(pt.clean, key)
	}
	sm := state.SegmentMeta{Incarnation: s.Incarnation, Version: s.Version, RulesKey: s.RulesKey, Deleted: s.Deleted,
		Pos: s.Pos, Backfilling: true}
	if prev != nil {
		for pos, d := range prev.Ahead {
			if pos >= s.Pos && d.Bitmap != nil && !d.IsEmpty() {
				if sm.Ahead == nil {
					sm.Ahead = map[int64]state.DenseSet{}
				}
				sm.Ahead[pos] = state.DenseSet{Bitmap: d.Clone()}
			}
		}
	}
	w.setSegmentMeta(pt, key, &sm)
}

// completeStep records that partition pt has applied its current step of segment
// key to every contact, and starts the next step if there is one.
func (w *window) completeStep(pt *partition, key string) {
	sm := w.meta(pt).Segments[key]
	steps, cur, ok := w.segSteps(key, &sm)
	switch {
	case ok && cur+1 < len(steps):
		w.startStep(pt, key, &sm, steps[cur+1], settled(&sm, steps[cur+1]))
	case sm.Deleted:
		w.setSegmentMeta(pt, key, nil)
		w.opts.logger.Info("segment deletion applied", "partition", pt.id, "segment", key, "version", sm.Version)
	default:
		sm.Backfilling, sm.Cursor, sm.Ahead = false, "", nil
		w.setSegmentMeta(pt, key, &sm)
		w.opts.logger.Info("segment backfilled", "partition", pt.id, "segment", key, "version", sm.Version)
	}
}

// settled reports whether, once partition's step sm is applied to every contact, no
// live contact holds an entry of another incarnation of the segment than next's:
// the step settled every entry to its own incarnation (evalSegment), or removed
// them all (a deletion); a re-created contact starts without memberships.
func settled(sm *state.SegmentMeta, next *segInfo) bool {
	return sm.Deleted || sm.Incarnation == next.Incarnation
}

// pendingSegments returns the segments of workspace ws that partition pt is
// backfilling. It is cached per partition for its committed meta (committed drops
// it when a window changed segment metas) and per window for the window's copy
// (setSegmentMeta drops it when a segment starts or ends a backfill).
func (w *window) pendingSegments(pt *partition, ws string) []string {
	if w.metas[pt.id] == nil {
		if pt.pending == nil {
			pt.pending = backfillingByWorkspace(&pt.meta)
		}
		return pt.pending[ws]
	}
	byWS := w.pendingSegs[pt.id]
	if byWS == nil {
		byWS = backfillingByWorkspace(w.metas[pt.id])
		w.pendingSegs[pt.id] = byWS
	}
	return byWS[ws]
}

// backfillingByWorkspace returns the segments m is backfilling, by workspace.
func backfillingByWorkspace(m *state.PartitionMeta) map[string][]string {
	byWS := map[string][]string{}
	for k, sm := range m.Segments {
		if sm.Backfilling {
			ws, _, _ := strings.Cut(k, "/")
			byWS[ws] = append(byWS[ws], k)
		}
	}
	for _, ks := range byWS {
		slices.Sort(ks) // a deterministic order of the steps of equal positions
	}
	return byWS
}

// aheadOf returns the position of the step contact dense was marked as having
// reached (0: no mark).
func aheadOf(sm *state.SegmentMeta, dense uint32) int64 {
	for pos, d := range sm.Ahead {
		if d.Bitmap != nil && d.Contains(dense) {
			return pos
		}
	}
	return 0
}

// aheadFrom returns the contacts marked in ahead (by the position of the step each
// reached) as having reached step pos or a later one, in a bitmap of its own (nil:
// none), for the backfill or catalog scan of step pos to skip.
func aheadFrom(ahead map[int64]state.DenseSet, pos int64) *roaring.Bitmap {
	var out *roaring.Bitmap
	for p, d := range ahead {
		if p < pos || d.Bitmap == nil || d.IsEmpty() {
			continue
		}
		if out == nil {
			out = roaring.New()
		}
		out.Or(d.Bitmap)
	}
	return out
}

// markAhead records that contact dense has reached step pos of segment key.
func (w *window) markAhead(pt *partition, key string, dense uint32, pos int64) {
	if dense == 0 {
		return // not a stored contact: no backfill reaches it
	}
	sm := w.meta(pt).Segments[key]
	for p, d := range sm.Ahead {
		if d.Bitmap != nil && d.CheckedRemove(dense) && d.IsEmpty() {
			delete(sm.Ahead, p)
		}
	}
	if sm.Ahead == nil {
		sm.Ahead = map[int64]state.DenseSet{}
	}
	d := sm.Ahead[pos]
	if d.Bitmap == nil {
		d = state.DenseSet{Bitmap: roaring.New()}
		sm.Ahead[pos] = d
	}
	d.Add(dense)
	w.setSegmentMeta(pt, key, &sm)
}

// catchUp brings an existing contact (attributes a) through the steps partition pt
// has yet to apply to it, in topic order, before something else evaluates it.
func (w *window) catchUp(ctx context.Context, pt *partition, key string, o *overlay, a *operators.Attrs) {
	keys := w.pendingSegments(pt, workspaceOf(key))
	if len(keys) == 0 {
		return
	}
	type pending struct {
		seg   string
		steps []*segInfo
		base  int // the step the backfill has applied to the contact
	}
	var ps []pending
	var todo []*segInfo
	view := w.metaView(pt)
	dense := o.c.DenseID
	for _, k := range keys {
		sm := view.Segments[k]
		steps, base, reached, ok := w.contactSteps(k, &sm, key, dense)
		if !ok {
			continue
		}
		from := reached + 1
		if from >= len(steps) {
			continue
		}
		ps = append(ps, pending{k, steps, base})
		todo = append(todo, steps[from:]...)
	}
	if len(todo) == 0 {
		return
	}
	slices.SortStableFunc(todo, func(x, y *segInfo) int { return cmp.Compare(x.Pos, y.Pos) })
	var withCollections *operators.Attrs
	for _, s := range todo {
		// Steps are pending in the workspace (keys): one may cascade (refsPossible).
		start := refStart(true, o.c, s.ID)
		switch {
		case s.Deleted:
			w.removeSegment(ctx, pt, key, o, s.ID, s.Version)
		case s.readsCollections() && !w.rules.NeedsCollections(s.Workspace):
			// a was derived without the purchased collections the live rules do not
			// read; this earlier version does.
			if withCollections == nil {
				withCollections = new(operators.Attrs)
				*withCollections = o.c.Attrs(s.Workspace, w.catalog(pt, dense, true), w.opts.exclusionTag)
			}
			w.evalSegment(ctx, pt, key, o, s, withCollections, ReasonDefinition, Cause{})
		default:
			w.evalSegment(ctx, pt, key, o, s, a, ReasonDefinition, Cause{})
		}
		w.stepCascade(ctx, pt, key, o, s.ID, start, s.Pos, s.Version)
	}
	for _, p := range ps {
		if last := len(p.steps) - 1; last != p.base+1 {
			w.markAhead(pt, p.seg, dense, p.steps[last].Pos)
		}
	}
}

// markFresh marks a contact that has just come into existence (or back from a
// deletion) as having reached the last step of every segment partition pt is still
// backfilling in its workspace, when the backfill would otherwise apply an earlier
// step to it: a contact starts with the definitions in force.
func (w *window) markFresh(pt *partition, key string, dense uint32) {
	if dense == 0 {
		return
	}
	view := w.metaView(pt)
	for _, k := range w.pendingSegments(pt, workspaceOf(key)) {
		sm := view.Segments[k]
		steps, base, _, ok := w.contactSteps(k, &sm, key, dense)
		if !ok {
			continue
		}
		if last := len(steps) - 1; last > base+1 && aheadOf(&sm, dense) != steps[last].Pos {
			w.markAhead(pt, k, dense, steps[last].Pos)
		}
	}
}

// contactSteps returns segment k's steps and, for the contact (key, dense): base, the
// last step the backfill has applied to it (the current step once the cursor has passed
// key, else the one before), and reached, base moved on past the steps its Ahead mark
// says it already has. ok is false when sm names no known step.
func (w *window) contactSteps(k string, sm *state.SegmentMeta, key string, dense uint32) (steps []*segInfo, base, reached int, ok bool) {
	steps, cur, ok := w.segSteps(k, sm)
	if !ok {
		return nil, 0, 0, false
	}
	base = cur
	if sm.Cursor == "" || key > sm.Cursor {
		base = cur - 1
	}
	reached = base
	if r := aheadOf(sm, dense); r != 0 {
		for reached+1 < len(steps) && steps[reached+1].Pos <= r {
			reached++
		}
	}
	return steps, base, reached, true
}

// metaView returns the window's copy of pt's meta if it has one, else the committed
// meta, for reading only.
func (w *window) metaView(pt *partition) *state.PartitionMeta {
	if m := w.metas[pt.id]; m != nil {
		return m
	}
	return &pt.meta
}

// backfillBudget bounds the backfill work of one window: at most left more
// contacts, and no step started (no chunk of contacts read) after deadline.
type backfillBudget struct {
	left     int
	deadline time.Time
	// algebraRead counts the contacts of left spent by steps through the attribute
	// index, algebraPassed the contacts those steps covered (for the metrics).
	algebraRead, algebraPassed int
	// steps counts the segment steps completed, by scan and by algebra (for the log).
	steps [2]int
}

func (b *backfillBudget) spent() bool { return b.left <= 0 || !time.Now().Before(b.deadline) }

// backfill advances partition pt's pending backfills within budget: the segment
// steps in topic order, one after the other, then the catalog scans.
func (w *window) backfill(ctx context.Context, pt *partition, budget *backfillBudget) error {
	type inFlight struct {
		pos int64
		key string
	}
	var queue []inFlight
	for k, sm := range w.metaView(pt).Segments {
		if sm.Backfilling {
			queue = append(queue, inFlight{sm.Pos, k})
		}
	}
	order := func(x, y inFlight) int {
		if c := cmp.Compare(x.pos, y.pos); c != 0 {
			return c
		}
		return strings.Compare(x.key, y.key)
	}
	slices.SortFunc(queue, order)
	for len(queue) > 0 {
		if budget.spent() {
			return nil
		}
		queue0 := queue[0]
		k := queue0.key
		queue = queue[1:]
		done, err := w.backfillSegment(ctx, pt, k, budget)
		if err != nil || !done {
			return err
		}
		if sm, ok := w.metaView(pt).Segments[k]; ok && sm.Backfilling && sm.Pos != queue0.pos {
			// The segment's next step: it goes after the steps before it.
			next := inFlight{sm.Pos, k}
			i, _ := slices.BinarySearchFunc(queue, next, order)
			queue = slices.Insert(queue, i, next)
		}
	}
	return w.catalogSteps(ctx, pt, budget)
}

// backfillSegment advances partition pt's current step of segment segKey within
// budget. It reports whether the step is complete.
func (w *window) backfillSegment(ctx context.Context, pt *partition, segKey string, budget *backfillBudget) (bool, error) {
	sm := w.meta(pt).Segments[segKey]
	steps, cur, ok := w.segSteps(segKey, &sm)
	if !ok {
		// A step this process has not read yet (the partition came from a process
		// that read further): reconcile deals with it once the rules caught up.
		return true, nil
	}
	step := steps[cur]
	ws, segID := step.Workspace, step.ID
	var si *segInfo
	if !step.Deleted {
		si = step
	}
	skip := aheadFrom(sm.Ahead, step.Pos) // contacts an event brought through this step already
	f := segmentFilter{segID: segID, si: si, now: w.now, wr: w.rules.ws[ws]}
	cat := func(uint32) state.Catalog { return nil }
	if si != nil {
		f.due = f.wr != nil
		cat = w.catalogsFor(pt, w.catalogFor(f.wr, si))
	} else {
		// The deletion of a time-relative version: the flips of the workspace's
		// timers change, so its scan arms every contact's timer again, as the scan of
		// a live version does (backfillAlgebra relies on it).
		f.due = changesDue(steps, cur)
	}
	excl := w.opts.exclusionTag
	sc := w.newScan(pt, ws+"/", budget)
	sc.eval = func(ch *scanChunk, c *state.Contact) error {
		for i := range ch.items {
			it := &ch.items[i]
			if it.own {
				continue
			}
			enc := ch.buf[it.enc[0]:it.enc[1]]
			entry := false
			if f.si == nil {
				// A deleted segment: only the records with an entry of it change (and
				// those with a new NextDue).
				live, has, err := state.SegmentEntry(enc, segID)
				if err != nil {
					return fmt.Errorf("scan partition %d: decode %s: %w", pt.id, it.key, err)
				}
				entry = live && has
				if it.skip = !entry && !f.due; it.skip {
					continue
				}
			}
			if err := c.UnmarshalBinary(enc); err != nil {
				return fmt.Errorf("scan partition %d: decode %s: %w", pt.id, it.key, err)
			}
			if c.IsNew() || c.IsTombstone() || (skip != nil && skip.Contains(c.DenseID)) {
				it.skip = true
				continue
			}
			if f.si != nil || (f.due && !entry) {
				a := c.Attrs(ws, cat(c.DenseID), excl)
				if it.skip = !entry && !f.changes(c, &a); it.skip {
					ch.evals++
					continue
				}
				it.a = new(operators.Attrs)
				*it.a = a
			}
			it.c, c = c, new(state.Contact)
		}
		return nil
	}
	source := func(emit func(scanItem, []byte) bool) (bool, error) {
		end := true
		err := w.store.ScanContactEncodings(pt.id, ws+"/", sm.Cursor, func(key, enc []byte) (bool, error) {
			end = emit(scanItem{key: string(key)}, enc)
			return end, nil
		})
		return end, err
	}
	var alg *algebraStep
	if si != nil {
		var err error
		if alg, err = w.backfillAlgebra(pt, segKey, &sm, si, f.wr, skip); err != nil {
			return false, err
		}
		if alg != nil {
			source = alg.source(w.store, pt.id)
		}
	}
	cursor := ""
	refs := w.refsPossible(pt, ws)
	end, err := sc.run(func(it *scanItem) {
		cursor = it.key
		o := w.scanned(pt.id, it)
		if o == nil || o.c.IsNew() || o.c.IsTombstone() || (skip != nil && skip.Contains(o.c.DenseID)) {
			return
		}
		start := refStart(refs, o.c, segID)
		var a *operators.Attrs
		if si != nil || f.due {
			a = it.attrs(o, func() operators.Attrs { return o.c.Attrs(ws, cat(o.c.DenseID), excl) })
		}
		if si == nil {
			w.removeSegment(ctx, pt, it.key, o, segID, step.Version)
		} else {
			w.evalSegment(ctx, pt, it.key, o, si, a, ReasonDefinition, Cause{})
		}
		w.stepCascade(ctx, pt, it.key, o, segID, start, step.Pos, step.Version)
		if f.due {
			if due := nextDue(f.rules(), o.c, a, w.now); !due.Equal(o.c.NextDue) {
				o.c.NextDue = due
				w.markDirty(pt.id, it.key, o)
			}
		}
	}, source)
	if alg != nil {
		budget.algebraRead += alg.emitted
		if end {
			budget.algebraPassed += alg.passed
		}
	}
	if err != nil {
		return false, err
	}
	if !end {
		if cursor != "" {
			sm := w.meta(pt).Segments[segKey]
			sm.Cursor = cursor
			w.setSegmentMeta(pt, segKey, &sm)
		}
		return false, nil
	}
	mode, candidates := backfillScanMode, 0
	budget.steps[0]++
	if alg != nil {
		mode, candidates = backfillAlgebraMode, len(alg.keys)
		budget.steps[0]--
		budget.steps[1]++
	}
	w.opts.logger.Debug("segment step backfilled", "partition", pt.id, "segment", segKey, "version", step.Version,
		"mode", mode, "candidates", candidates)
	w.completeStep(pt, segKey)
	return true, nil
}

// Backfill modes (segmentd_backfill_contacts_total{mode}).
const (
	backfillScanMode    = "scan"    // every contact read from the store
	backfillAlgebraMode = "algebra" // candidates from the attribute index
)

// algebraStep is a segment step backfilled through the attribute index: only the
// candidates, the contacts the step may change, are read and evaluated.
type algebraStep struct {
	keys    []string // the candidates after the cursor, in key order
	passed  int      // the workspace's contacts the step covers
	emitted int      // candidates read (found in the store)
}

// backfillAlgebra returns the candidates of a live step si of segment segKey (meta
// sm) over partition pt: the contacts whose evaluation by a scan could change them,
// or nil when the step must be scanned. A scan changes a contact (segmentFilter) by
// a transition, by forgetting an entry of another incarnation, or by a new NextDue.
// The candidates hold every contact of each kind, when the following holds:
//
//   - transitions: the step's members, from the attribute index at the window's
//     instant (operators.Query), XOR the segment's member bitmap. Both are as of
//     the last commit, so the contacts the window holds its own copy of (it may have
//     changed them, an earlier step of this window among others) are candidates too.
//   - other incarnations: none, when the step started from a state that had
//     settled them (startStep's clean, in memory: after a restart the step is
//     scanned).
//   - purchased collections: the step reads none, or the partition has no catalog
//     step pending, so every contact sees the catalog the query reads.
//   - NextDue: a scan sets each contact's NextDue to nextDue (the next flip of the
//     workspace's time-relative predicates in force, or an earlier deletion fence
//     still ahead). If the workspace has no time-relative segment in force, that is
//     zero or the fence, which only a contact with a timer can differ from: the
//     contacts with a timer (the store's timer index) are candidates. Otherwise the
//     step goes through the index only if dueSettled holds: no step of the
//     workspace pending in the partition, this one included, changes its
//     time-relative predicates (neither its version nor the one it replaces is
//     time-relative; Segment.TimeRelative looks at a segment's own conditions only,
//     and a reference to a time-relative segment needs no timer of its own: its
//     flips follow the referenced segment's, by cascade), and the partition applied
//     every time-relative segment in force. Then every live contact's NextDue was
//     last set, at some t ≤ now, to nextDue with the predicates in force (by an
//     event, a fired timer or the scan of the last step that changed them; a
//     deletion's included, which recomputes NextDue for that reason), from the
//     attributes it still has (a backfill changes memberships, not attributes).
//     NextFlip(a, t) is the first instant after t of a set of instants that
//     depends only on a and the predicates (day counts stepping at t0 + k·24h,
//     lifecycle stages, window departures), so it equals NextFlip(a, now) unless it
//     is at or before now; likewise the fence counts at t and at now unless it
//     expired in between, which left NextDue at or before now. applyEvent arms the
//     fence even if it expired: also at or before now. So the scan changes only the
//     contacts whose timer is due (NextDue ≤ now, not fired yet: the timer index up
//     to now), and the contacts the window holds. A time-relative step is scanned.
//
// Contacts an event brought through the step already (skip) are left out, as the
// scan leaves them; the candidates go through the scan's own evaluation in key
// order, so the step's output is the scan's.
func (w *window) backfillAlgebra(pt *partition, segKey string, sm *state.SegmentMeta, si *segInfo, wr *wsRules, skip *roaring.Bitmap) (*algebraStep, error) {
	if w.opts.naive || wr == nil || si.Seg.TimeRelative() {
		return nil, nil
	}
	timeRelative := len(wr.rs.TimeRelative()) > 0
	if timeRelative && !w.dueSettled(pt, si.Workspace, wr) {
		return nil, nil
	}
	if pos, ok := pt.clean[segKey]; !ok || pos != si.Pos {
		return nil, nil
	}
	if m := w.metaView(pt); si.readsCollections() && (len(m.CatalogSteps) > 0 || len(m.CatalogScans) > 0) {
		// A contact the catalog steps have not reached sees an earlier catalog
		// (catalogsFor); the query sees the last one.
		return nil, nil
	}
	ws := si.Workspace
	q := w.windowQuery(pt, ws)
	decided := q.Evaluated()
	m, err := q.Members(si.Seg)
	w.algebraDecided += q.Evaluated() - decided
	if err != nil {
		// A contact the index could not decide and the store did not give: scan.
		w.opts.logger.Warn("backfill through the attribute index failed; scanning", "partition", pt.id,
			"segment", segKey, "error", err)
		return nil, nil
	}
	if cur := pt.members[segKey]; cur != nil {
		m.Xor(cur)
	}
	if skip != nil {
		m.AndNot(skip)
	}
	st := &algebraStep{keys: make([]string, 0, m.GetCardinality())}
	if x := pt.attrs[ws]; x != nil {
		st.passed = int(x.Len())
	}
	it := m.Iterator()
	for it.HasNext() {
		key, err := w.store.ContactKeyByDense(pt.id, it.Next())
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("backfill %s in partition %d: %w", segKey, pt.id, err)
		}
		st.keys = append(st.keys, key)
	}
	var timed []string
	if timeRelative {
		timed, err = w.dueContacts(pt, ws)
	} else {
		timed, err = w.timedContacts(pt, ws)
	}
	if err != nil {
		return nil, fmt.Errorf("backfill %s in partition %d: %w", segKey, pt.id, err)
	}
	st.keys = append(st.keys, timed...)
	prefix := ws + "/"
	for ref := range w.contacts {
		if ref.p == pt.id && strings.HasPrefix(ref.key, prefix) {
			st.keys = append(st.keys, ref.key)
		}
	}
	slices.Sort(st.keys)
	st.keys = slices.Compact(st.keys)
	if sm.Cursor != "" {
		i, found := slices.BinarySearch(st.keys, sm.Cursor)
		if found {
			i++
		}
		st.keys = st.keys[i:]
	}
	return st, nil
}

// timedContacts returns the keys of the contacts of workspace ws in partition pt
// with a timer (a NextDue) in the store, read once per window: the store changes
// only at the commit.
func (w *window) timedContacts(pt *partition, ws string) ([]string, error) {
	k := contactRef{pt.id, ws}
	if keys, ok := w.timed[k]; ok {
		return keys, nil
	}
	if w.timed == nil {
		w.timed = map[contactRef][]string{}
	}
	var keys []string
	prefix := ws + "/"
	err := w.store.ScanTimers(pt.id, time.Time{}, maxDue, func(_ time.Time, key string) bool {
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	w.timed[k] = keys
	return keys, nil
}

// dueContacts returns the keys of the contacts of workspace ws in partition pt
// whose timer is due (at or before the window's instant) in the store.
func (w *window) dueContacts(pt *partition, ws string) ([]string, error) {
	var keys []string
	prefix := ws + "/"
	err := w.store.ScanTimers(pt.id, time.Time{}, w.now, func(_ time.Time, key string) bool {
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return true
	})
	return keys, err
}

// maxDue is an instant after every timer.
var maxDue = time.Unix(0, math.MaxInt64-1)

// source returns the scan source of the candidates: the stored records of their
// keys, in order (those without one are not contacts a scan would meet).
func (st *algebraStep) source(store storeReader, p int32) func(emit func(scanItem, []byte) bool) (bool, error) {
	return func(emit func(scanItem, []byte) bool) (bool, error) {
		end := true
		err := store.ContactEncodings(p, st.keys, func(key string, enc []byte) (bool, error) {
			st.emitted++
			end = emit(scanItem{key: key}, enc) || key == st.keys[len(st.keys)-1]
			return end, nil
		})
		return end, err
	}
}

// catalogFor returns the catalog to derive attributes with for evaluating si and
// the workspace's timers: nil (no collection is looked up, the costliest part of
// the attributes) unless si has a purchased_collection condition, the only one that
// reads them.
func (w *window) catalogFor(wr *wsRules, si *segInfo) state.Catalog {
	if wr == nil || !slices.Contains(wr.segs, si) {
		// An earlier version: the live rules may not need collections, but it may.
		if si.readsCollections() {
			return allCollections{w.rules}
		}
		return nil
	}
	for _, i := range wr.rs.UsingField("purchased_collection") {
		if wr.segs[i] == si {
			return w.rules
		}
	}
	return nil
}

// segmentFilter decides from a stored record whether a backfill of a live segment
// changes the contact (state.SegmentEntry does for a deleted one). It must never
// miss a change that the loop's evaluation (evalSegment with
// settleOldIncarnations, the NextDue update) would make. Workers share it: it only
// reads.
type segmentFilter struct {
	segID string
	si    *segInfo
	wr    *wsRules // the workspace's rules, for NextDue (nil: none in force)
	due   bool     // the step sets each contact's NextDue (nextDue)
	now   time.Time
}

// rules returns the rule set NextDue is computed with (nil: no segment in force).
func (f *segmentFilter) rules() *operators.RuleSet {
	if f.wr == nil {
		return nil
	}
	return f.wr.rs
}

// nextDue is the NextDue a backfill step, and a fired timer, give a live contact c
// with attributes a: the next flip of a time-relative predicate of rs (nil: none in
// force), or the expiry of c's deletion fence if it is earlier and still ahead.
// applyEvent arms the fence's expiry whatever the instant; one in the past is due
// at once and fires, so the two agree from then on (see backfillAlgebra).
func nextDue(rs *operators.RuleSet, c *state.Contact, a *operators.Attrs, now time.Time) time.Time {
	var due time.Time
	if rs != nil {
		due = rs.NextFlip(a, now)
	}
	if until := c.FenceUntil(); until.After(now) && (due.IsZero() || until.Before(due)) {
		due = until
	}
	return due
}

// changesDue reports whether step i of a segment's steps changes the time-relative
// predicates of its workspace, which every contact's NextDue is computed from: its
// version is time-relative, or the one it replaces is (unknown when the history no
// longer holds that one, which then counts as time-relative).
func changesDue(steps []*segInfo, i int) bool {
	s := steps[i]
	if !s.Deleted && s.Seg.TimeRelative() {
		return true
	}
	if i == 0 {
		return s.Deleted || s.Version > 1
	}
	prev := steps[i-1]
	return !prev.Deleted && prev.Seg.TimeRelative()
}

// dueSettled reports whether every live contact of workspace ws (rules wr) in
// partition pt has the NextDue that wr's time-relative predicates give it, as of
// when it was last computed: partition pt has applied the step of every
// time-relative segment in force, and has no step of ws pending, this one
// included, that changes the time-relative predicates (changesDue). The last
// step that changed them (its version or the one it replaced time-relative, a
// deletion included) was then a scan that recomputed every contact's NextDue
// (nextDue) with the predicates in force since, and every evaluation since
// (events, timers, scans) did the same.
func (w *window) dueSettled(pt *partition, ws string, wr *wsRules) bool {
	view := w.metaView(pt)
	for _, k := range w.pendingSegments(pt, ws) {
		sm := view.Segments[k]
		steps, cur, ok := w.segSteps(k, &sm)
		if !ok {
			return false
		}
		for i := cur; i < len(steps); i++ {
			if changesDue(steps, i) {
				return false
			}
		}
	}
	for _, i := range wr.rs.TimeRelative() {
		s := wr.segs[i]
		if sm, ok := view.Segments[s.Key]; !ok || sm.Pos != s.Pos || sm.Backfilling {
			return false
		}
	}
	return true
}

// flips reports whether evaluating the live segment on c (attributes a) produces a
// transition or forgets an old incarnation's entry.
func (f *segmentFilter) flips(c *state.Contact, a *operators.Attrs) bool {
	member := false
	for _, m := range c.Memberships {
		if m.Segment != f.segID {
			continue
		}
		if m.Incarnation != f.si.Incarnation {
			return true
		}
		member = m.Member()
	}
	return f.si.Seg.Match(withMemberships(c, f.si.Seg, a), f.now) != member
}

// changes reports whether a backfill of the live segment changes c: a flip, or a
// new NextDue.
func (f *segmentFilter) changes(c *state.Contact, a *operators.Attrs) bool {
	return (f.si != nil && f.flips(c, a)) || (f.due && !nextDue(f.rules(), c, a, f.now).Equal(c.NextDue))
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

// scanChunkSize is how many contacts a worker takes at a time.
const scanChunkSize = 256

// scanItem is one contact of a backfill step.
type scanItem struct {
	key   string
	dense uint32           // catalog scans: the contact's dense id
	enc   [2]int           // segment scans: its encoding is chunk.buf[enc[0]:enc[1]]
	own   bool             // the window holds its own copy: the loop evaluates that one
	skip  bool             // the step does not change the contact
	c     *state.Contact   // the stored record, decoded by the worker, if it changes
	a     *operators.Attrs // and the attributes the worker derived from it
}

// attrs returns the attributes of the window's copy o of the item's contact: the
// worker's if o is the record the worker decoded (the loop changes only its
// memberships and NextDue, which attributes do not depend on), else derive().
func (it *scanItem) attrs(o *overlay, derive func() operators.Attrs) *operators.Attrs {
	if it.a != nil && o.c == it.c {
		return it.a
	}
	a := derive()
	return &a
}

// scanChunk is a run of consecutive items, evaluated by one worker.
type scanChunk struct {
	items []scanItem
	buf   []byte
	evals int   // segment evaluations of unchanged contacts (for the metric)
	err   error // the worker's, which ends the step
	job   *job  // evaluates the chunk
}

// backfillScan is one step of a backfill: contacts come from a source in order,
// workers evaluate them (eval), and the loop goroutine applies them in order.
type backfillScan struct {
	w      *window
	budget *backfillBudget
	// own holds the keys (of the scanned workspace) of the contacts the window has
	// its own copy of: those are evaluated by the loop, on that copy. Read by the
	// workers; the keys the step adds to the window are ones already scanned.
	own  map[string]bool
	eval func(ch *scanChunk, scratch *state.Contact) error
}

func (w *window) newScan(pt *partition, prefix string, budget *backfillBudget) *backfillScan {
	sc := &backfillScan{w: w, budget: budget}
	for ref := range w.contacts {
		if ref.p == pt.id && strings.HasPrefix(ref.key, prefix) {
			if sc.own == nil {
				sc.own = map[string]bool{}
			}
			sc.own[ref.key] = true
		}
	}
	return sc
}

// run runs the step. source calls emit with each item in order (and the record's
// encoding, copied, for segment scans) until emit returns false, which it does once
// the budget is spent; source reports whether it reached the end of the range. apply
// is called on the calling goroutine for every item, in source order, unless
// the step ends with an error. run reports whether the source reached its end and
// every item was applied. The source runs on a goroutine of its own and the
// evaluations on a parallel; run joins both before it returns.
func (sc *backfillScan) run(apply func(*scanItem), source func(emit func(scanItem, []byte) bool) (bool, error)) (bool, error) {
	workers := runtime.GOMAXPROCS(0)
	par := startParallel(workers, workers)
	// scratch: each worker's record to decode into. eval hands it to the first item
	// of the chunk it keeps (scanItem.c), which the loop applies later: the worker
	// then takes a new one, or its next chunk would overwrite that item's record.
	scratch := make([]*state.Contact, workers)
	order := make(chan *scanChunk, 2*workers)
	stop := make(chan struct{})
	var (
		end    bool
		srcErr error
		src    sync.WaitGroup
	)
	src.Go(func() {
		defer close(order)
		var ch *scanChunk
		send := func() bool {
			select {
			case order <- ch:
			case <-stop:
				return false
			}
			par.start(ch.job)
			ch = nil
			return !sc.budget.spent()
		}
		end, srcErr = source(func(it scanItem, enc []byte) bool {
			if ch == nil {
				c := &scanChunk{items: make([]scanItem, 0, min(scanChunkSize, max(sc.budget.left, 1)))}
				c.job = newJob(func(worker int) {
					if scratch[worker] == nil {
						scratch[worker] = new(state.Contact)
					}
					c.err = sc.eval(c, scratch[worker])
					for i := range c.items {
						if c.items[i].c == scratch[worker] {
							scratch[worker] = nil
							break
						}
					}
				})
				ch = c
				if enc != nil {
					ch.buf = make([]byte, 0, cap(ch.items)*max(2*len(enc), 512))
				}
			}
			if enc != nil {
				it.enc = [2]int{len(ch.buf), len(ch.buf) + len(enc)}
				ch.buf = append(ch.buf, enc...)
			}
			if it.key != "" && sc.own[it.key] {
				it.own = true
			}
			ch.items = append(ch.items, it)
			sc.budget.left--
			if len(ch.items) < cap(ch.items) {
				return true
			}
			return send()
		})
		if ch != nil && len(ch.items) > 0 {
			send()
		}
	})
	var err error
	for ch := range order {
		ch.job.wait()
		if err != nil {
			continue // drain: the workers and the source end
		}
		if ch.err != nil {
			err = ch.err
			close(stop)
			continue
		}
		sc.w.m.evaluations.Add(float64(ch.evals))
		for i := range ch.items {
			apply(&ch.items[i])
		}
	}
	src.Wait()
	par.join()
	if err == nil {
		err = srcErr
	}
	return end && err == nil, err
}

// scanned returns the window's copy of a scanned contact the step changes: the one
// the window holds, else the worker's decoded record, adopted. It returns nil for a
// contact the step does not change.
func (w *window) scanned(p int32, it *scanItem) *overlay {
	ref := contactRef{p, it.key}
	if o := w.contacts[ref]; o != nil {
		return o
	}
	if it.skip || it.c == nil {
		return nil
	}
	o := &overlay{c: it.c, exists: true, origDue: it.c.NextDue}
	w.contacts[ref] = o
	return o
}

// keepSteps is how many steps of each segment's history are kept once every owned
// partition has applied them, for partitions assigned later (see pruneHistory).
const keepSteps = 8

// pruneHistory drops the steps of the segments' histories that every owned partition
// has passed, except the last keepSteps of each segment. A partition assigned later
// whose meta names a dropped step applies the oldest kept step next (the steps in
// between collapse into it, as before histories were kept), which needs a segment
// changed more than keepSteps times while its partition had no owner.
func pruneHistory(r *rules, parts map[int32]*partition) {
	for key, h := range r.history {
		drop := len(h) - keepSteps
		for _, pt := range parts {
			if drop <= 0 {
				break
			}
			var i int
			if sm, known := pt.meta.Segments[key]; known {
				i, _ = locateStep(h, &sm)
				if sm.Backfilling {
					i-- // contacts after the cursor are at the step before
				}
			} else {
				i = seenStep(h, pt.meta.SegmentsOffsets)
			}
			drop = min(drop, i) // keep the step it names, to locate it
		}
		if drop > 0 {
			r.history[key] = slices.Clone(h[drop:])
		}
	}
}

// maxDefinitionsWait bounds how long a partition waits for this process to read the
// segments topic as far as the partition's meta says it applied.
const maxDefinitionsWait = 30 * time.Second

// waitForDefinitions reports whether partition pt must wait before its full
// reconcile: its meta was written by a process that had read more of the segments
// topic than this one has (the partition just moved here), so reconciling now would
// take the steps this process has not read for missing and apply older ones. It
// gives up after maxDefinitionsWait (a segments topic that was re-created, say).
func (p *Processor) waitForDefinitions(pt *partition) bool {
	if !p.rules.behind(&pt.meta) {
		delete(p.defsWait, pt.id)
		return false
	}
	since, ok := p.defsWait[pt.id]
	if !ok {
		p.defsWait[pt.id] = time.Now()
		return true
	}
	if time.Since(since) < maxDefinitionsWait {
		return true
	}
	p.cfg.Logger.Warn("partition meta has applied segment definitions this process has not read; reconciling anyway",
		"partition", pt.id, "applied", pt.meta.SegmentsOffsets, "read", p.rules.segRead)
	delete(p.defsWait, pt.id)
	return false
}
