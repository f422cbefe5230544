package processor

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Segment references (SPEC §6). A condition {"field": "segment", "op": "in_segment",
// "value": "vip"} reads the contact's current membership of vip from its record (the
// member entries of c.Memberships: what the membership topic says), filled into
// Attrs.Segments just before a segment with references is evaluated.
//
// Membership is consistent inside a window: whatever changes a contact's membership of
// vip — an event, a timer, a definition step of vip (backfill or catch-up, deletion
// included), a catalog step — the segments referencing vip are evaluated for that
// contact right after, in dependency order, in a refPass. A workspace's RuleSet is
// built in operators.DependencyOrder, so ascending segment indexes are dependency
// order: the live paths (events, timers, catalog) evaluate their candidates through
// one worklist (evalSegments) to which each membership change adds the segments
// Referencing it; the definition paths change one segment at a time and cascade from
// it (cascade), with the versions of the other segments the contact has reached.
//
// A transition is caused through a reference when the segment would not have changed
// with the memberships the contact had before the pass: it carries the reason and
// cause of the transition of the referenced segment (the first of its references, by
// id, whose membership changed in the pass), plus via_segment naming it.

// memberIDs appends to dst the ids of the segments c is a member of, ascending (the
// memberships are sorted by segment id) and unique.
func memberIDs(c *state.Contact, dst []string) []string {
	dst = dst[:0]
	for _, m := range c.Memberships {
		if m.Member() && (len(dst) == 0 || dst[len(dst)-1] != m.Segment) {
			dst = append(dst, m.Segment)
		}
	}
	return dst
}

// isMember reports whether c is a member of segment id (in any incarnation).
func isMember(c *state.Contact, id string) bool {
	for _, m := range c.Memberships {
		if m.Segment == id && m.Member() {
			return true
		}
	}
	return false
}

// withMemberships returns a, or, for a segment with references, a copy of a whose
// Segments are c's current memberships.
func withMemberships(c *state.Contact, s *operators.Segment, a *operators.Attrs) *operators.Attrs {
	if len(s.References()) == 0 {
		return a
	}
	b := *a
	b.Segments = memberIDs(c, nil)
	return &b
}

// refPass is one evaluation pass over a contact with references: the membership
// changes it made (and the memberships it started from, which they give back), for
// the causes of the transitions made through references.
type refPass struct {
	reason string
	cause  Cause
	made   []passTransition
	// start, when set, is the memberships at the start of the pass (a cascade from
	// a definition step, whose change happened before the pass); otherwise they are
	// the current ones with the changes of made undone.
	start []string
	buf   []string // scratch: the current memberships
}

// passTransition is a change of the contact's membership of seg in a pass: whether
// it was a member before, and the reason and cause of its transition.
type passTransition struct {
	seg    string
	was    bool
	reason string
	cause  Cause
}

// causeOf returns the reason and cause of the pass's transition of seg.
func (p *refPass) causeOf(seg string) (string, Cause, bool) {
	for i := len(p.made) - 1; i >= 0; i-- {
		if p.made[i].seg == seg {
			return p.made[i].reason, p.made[i].cause, true
		}
	}
	return "", Cause{}, false
}

// startMember reports whether the contact was a member of seg at the start of the
// pass, given whether it is now.
func (p *refPass) startMember(seg string, now bool) bool {
	if p.start != nil {
		return operators.MemberOf(p.start, seg)
	}
	for _, m := range p.made {
		if m.seg == seg {
			return m.was // the first change of seg in the pass
		}
	}
	return now
}

// evalInPass evaluates si for the contact in pass p, as evalSegment does, and
// reports whether the contact's membership of si changed. A transition the
// memberships at the start of the pass would not have made is caused through a
// reference (via_segment).
func (w *window) evalInPass(ctx context.Context, pt *partition, key string, o *overlay, si *segInfo, a *operators.Attrs, p *refPass) bool {
	c := o.c
	was := isMember(c, si.ID)
	w.settleOldIncarnations(ctx, pt, key, o, si.ID, si.Incarnation, si.Version)
	refs := si.Seg.References()
	cur := a
	if len(refs) > 0 {
		b := *a
		p.buf = memberIDs(c, p.buf)
		b.Segments = p.buf
		cur = &b
	}
	match := si.Seg.Match(cur, w.now)
	w.m.evaluations.Inc()
	i, found := membership(c, si.ID, si.Incarnation)
	member := found && c.Memberships[i].Member()
	reason, cause := p.reason, p.cause
	if reason == ReasonDefinition {
		cause.SegmentVersion = si.Version
	}
	if match != member {
		if !found {
			c.Memberships = slices.Insert(c.Memberships, i, state.Membership{Segment: si.ID, Incarnation: si.Incarnation})
		}
		if via := p.via(si.Seg, cur, member, w.now); via != "" {
			if r, rc, ok := p.causeOf(via); ok {
				reason, cause = r, rc
				cause.ViaSegment = via
			}
		}
		w.transition(ctx, pt, key, o, i, si.Workspace, si.Version, reason, cause)
	}
	now := isMember(c, si.ID)
	if now != was || match != member {
		p.made = append(p.made, passTransition{seg: si.ID, was: was, reason: reason, cause: cause})
	}
	return now != was
}

// via returns the reference through which s, evaluated on cur as matching !member,
// flipped: the first of its references (by id) whose membership changed in the pass,
// if the memberships at the start of the pass would have left s as it was; "" if
// the contact's own attributes flipped it.
func (p *refPass) via(s *operators.Segment, cur *operators.Attrs, member bool, now time.Time) string {
	refs := s.References()
	if len(refs) == 0 || len(p.made) == 0 {
		return ""
	}
	first := ""
	for _, ref := range refs {
		in := operators.MemberOf(cur.Segments, ref)
		if p.startMember(ref, in) != in {
			first = ref
			break
		}
	}
	if first == "" {
		return ""
	}
	start := *cur
	start.Segments = nil
	for _, id := range cur.Segments { // the current memberships, with the pass's changes undone
		if p.startMember(id, true) {
			start.Segments = append(start.Segments, id)
		}
	}
	for _, m := range p.made {
		if m.was && !operators.MemberOf(cur.Segments, m.seg) && p.startMember(m.seg, false) {
			start.Segments = append(start.Segments, m.seg)
		}
	}
	if p.start != nil {
		start.Segments = p.start
	}
	slices.Sort(start.Segments)
	start.Segments = slices.Compact(start.Segments)
	if s.Match(&start, now) != member {
		return "" // it would have flipped anyway
	}
	return first
}

// evalSegments evaluates the live segments cand (ascending indexes of wr) for a
// contact, and, in a workspace with references, the segments referencing each one
// whose membership changed, in dependency order.
func (w *window) evalSegments(ctx context.Context, pt *partition, key string, o *overlay, wr *wsRules, cand []int, a *operators.Attrs, reason string, cause Cause) {
	if !wr.rs.HasReferences() {
		for _, i := range cand {
			w.evalSegment(ctx, pt, key, o, wr.segs[i], a, reason, cause)
		}
		return
	}
	p := &refPass{reason: reason, cause: cause}
	work := append((*w.refWork)[:0], cand...)
	for k := 0; k < len(work); k++ {
		si := wr.segs[work[k]]
		if w.evalInPass(ctx, pt, key, o, si, a, p) {
			work = insertAfter(work, k, wr.rs.Referencing(si.ID))
		}
	}
	*w.refWork = work[:0]
}

// insertAfter merges the ascending xs into the ascending work after position k,
// skipping those already there.
func insertAfter(work []int, k int, xs []int) []int {
	for _, x := range xs {
		at, found := slices.BinarySearch(work[k+1:], x)
		if !found && x > work[k] {
			work = slices.Insert(work, k+1+at, x)
		}
	}
	return work
}

// cascade evaluates, after a definition step changed the contact's membership of
// segment from (reason and cause: that transition's), the segments referencing it,
// in dependency order, at the versions the contact has reached: the live ones,
// unless a segment of the workspace other than from has steps pending in partition
// pt, in which case each segment is at the step the contact has reached, counting
// the pending steps up to position upTo. start is the contact's memberships before
// the step.
func (w *window) cascade(ctx context.Context, pt *partition, key string, o *overlay, from string, start []string, upTo int64, reason string, cause Cause) {
	ws := workspaceOf(key)
	if !w.mayReference(pt, ws) {
		return // no version a contact can have reached references a segment
	}
	segs, rs := w.reachedRules(pt, key, o.c.DenseID, ws, from, upTo)
	if rs == nil || len(rs.Referencing(from)) == 0 {
		return
	}
	a := o.c.Attrs(ws, w.catalog(pt, o.c.DenseID, false), w.opts.exclusionTag)
	if slices.ContainsFunc(segs, (*segInfo).readsCollections) && !w.rules.NeedsCollections(ws) {
		a = o.c.Attrs(ws, w.catalog(pt, o.c.DenseID, true), w.opts.exclusionTag)
	}
	p := &refPass{start: start, reason: reason, cause: cause}
	p.made = append(p.made, passTransition{seg: from, was: operators.MemberOf(start, from), reason: reason, cause: cause})
	work := append([]int(nil), rs.Referencing(from)...)
	for k := 0; k < len(work); k++ {
		si := segs[work[k]]
		if w.evalInPass(ctx, pt, key, o, si, &a, p) {
			work = insertAfter(work, k, rs.Referencing(si.ID))
		}
	}
}

// mayReference reports whether a segment of workspace ws has a reference in its
// live version or, for those partition pt is backfilling, in a step of its history:
// otherwise no rules reachedRules can return reference a segment.
func (w *window) mayReference(pt *partition, ws string) bool {
	if wr := w.rules.ws[ws]; wr != nil && wr.rs.HasReferences() {
		return true
	}
	for _, k := range w.pendingSegments(pt, ws) {
		for _, s := range w.rules.history[k] {
			if s.Seg != nil && len(s.Seg.References()) > 0 {
				return true
			}
		}
	}
	return false
}

// reachedRules returns the segments of workspace ws at the versions contact key
// (dense id dense) of partition pt has reached, in dependency order, and their
// RuleSet (nil: none). With no step pending in the workspace except segment from's,
// they are the live rules; otherwise a pending segment is at its last step the
// contact has reached, counting the pending steps at or before position upTo as
// reached (catch-up applies them in position order), and is left out while that
// is none or a deletion.
func (w *window) reachedRules(pt *partition, key string, dense uint32, ws, from string, upTo int64) ([]*segInfo, *operators.RuleSet) {
	wr := w.rules.ws[ws]
	pending := w.pendingSegments(pt, ws)
	if len(pending) == 0 || len(pending) == 1 && pending[0] == ws+"/"+from {
		if wr == nil {
			return nil, nil
		}
		return wr.segs, wr.rs
	}
	view := w.metaView(pt)
	var reached []*segInfo
	if wr != nil {
		for _, si := range wr.segs {
			if !slices.Contains(pending, si.Key) {
				reached = append(reached, si)
			}
		}
	}
	for _, k := range pending {
		sm := view.Segments[k]
		steps, _, at, ok := w.contactSteps(k, &sm, key, dense)
		if !ok {
			continue
		}
		for at+1 < len(steps) && steps[at+1].Pos <= upTo {
			at++
		}
		if at >= 0 && !steps[at].Deleted && steps[at].Seg != nil {
			reached = append(reached, steps[at])
		}
	}
	if len(reached) == 0 {
		return nil, nil
	}
	slices.SortFunc(reached, func(x, y *segInfo) int { return strings.Compare(x.ID, y.ID) })
	compiled := make([]*operators.Segment, len(reached))
	for i, s := range reached {
		compiled[i] = s.Seg
	}
	segs, ordered := dependencyOrder(reached, compiled)
	return segs, operators.NewRuleSet(ordered)
}

// refBefore is what stepCascade needs of a contact before a definition step of one
// of its segments: whether a step of the workspace can cascade at all
// (refsPossible), and the contact's membership of the step's segment.
type refBefore struct {
	possible bool
	was      bool
}

// refsPossible reports whether a definition step of workspace ws can cascade: a
// live segment of ws references another, or a segment of ws has a step pending in
// pt (whose history may hold a reference). Steps and events do not change it while
// one contact is brought through its steps, or during one backfill step.
func (w *window) refsPossible(pt *partition, ws string) bool {
	wr := w.rules.ws[ws]
	return (wr != nil && wr.rs.HasReferences()) || len(w.pendingSegments(pt, ws)) > 0
}

// refStart records, before a definition step of segment seg, what stepCascade needs
// of contact c. It allocates nothing: most steps change no membership, and a contact
// brought through a burst of steps meets one per step.
func refStart(possible bool, c *state.Contact, seg string) refBefore {
	if !possible {
		return refBefore{}
	}
	return refBefore{possible: true, was: isMember(c, seg)}
}

// stepCascade follows a definition step (position pos, version version) of segment
// from: if it changed the contact's membership of from, the segments referencing
// from are evaluated (cascade). before is refStart's answer before the step.
func (w *window) stepCascade(ctx context.Context, pt *partition, key string, o *overlay, from string, before refBefore, pos, version int64) {
	if !before.possible || before.was == isMember(o.c, from) {
		return
	}
	// A step changes only the membership of its own segment: the memberships before
	// it are the present ones with from as it was.
	start := memberIDs(o.c, nil)
	switch i, found := slices.BinarySearch(start, from); {
	case before.was && !found:
		start = slices.Insert(start, i, from)
	case !before.was && found:
		start = slices.Delete(start, i, i+1)
	}
	w.cascade(ctx, pt, key, o, from, start, pos, ReasonDefinition, Cause{SegmentVersion: version})
}

// dependencyOrder orders segs (and their compiled segments, index for index) in
// operators.DependencyOrder.
func dependencyOrder(segs []*segInfo, compiled []*operators.Segment) ([]*segInfo, []*operators.Segment) {
	ordered := operators.DependencyOrder(compiled)
	bySeg := make(map[*operators.Segment]*segInfo, len(segs))
	for i, s := range segs {
		bySeg[compiled[i]] = s
	}
	out := make([]*segInfo, len(ordered))
	for i, s := range ordered {
		out[i] = bySeg[s]
	}
	return out, ordered
}

// checkReferences checks the references of a valid segments-topic definition
// against the definitions in force of its workspace (SPEC §6): a cycle or a chain
// deeper than operators.MaxReferenceDepth makes it invalid.
func (r *rules) checkReferences(def *operators.Definition) error {
	if len(def.References()) == 0 {
		return nil
	}
	return operators.CheckReferences(def, r.definitions(def.Workspace))
}

// definitions returns the live definitions of workspace ws.
func (r *rules) definitions(ws string) []*operators.Definition {
	wr := r.ws[ws]
	if wr == nil {
		return nil
	}
	defs := make([]*operators.Definition, len(wr.segs))
	for i, s := range wr.segs {
		defs[i] = s.Def
	}
	return defs
}

// rejectReferences dead-letters the entries of seg whose references the rules in
// force refuse (checked in topic order, each against the rules as the entries before
// it left them, by apply). It returns seg, copied before the first entry it changes
// (the entries belong to the globals log).
func rejectReferences(seg []globalEntry, i int, err error, copied *bool) []globalEntry {
	if !*copied {
		seg = slices.Clone(seg)
		*copied = true
	}
	seg[i].Err = &events.Error{Reason: reasonInvalidDefinition, Detail: err.Error()}
	return seg
}

// dependencies returns the ids of the segments si references and of the live
// segments referencing it, ascending (nil when none).
func (r *rules) dependencies(si *segInfo) (refs, by []string) {
	if si.Seg != nil && len(si.Seg.References()) > 0 {
		refs = slices.Clone(si.Seg.References())
	}
	if wr := r.ws[si.Workspace]; wr != nil {
		for _, i := range wr.rs.Referencing(si.ID) {
			by = append(by, wr.segs[i].ID)
		}
		slices.Sort(by)
	}
	return refs, by
}
