package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Queries: read-only views for the admin API. They are safe to call from any
// goroutine. What the processing loop owns (bitmaps, partition metas) is read by a
// closure run on the loop between windows (at most one commit interval later);
// definitions come from an immutable snapshot the loop publishes when they change;
// contact records are read from the Store, which holds the committed state. Every
// answer covers the partitions this process owns (Local); the admin API merges the
// answers of the group's processes.
//
// The answers are domain values (typed fields: time.Time, decimals, operators.Attrs);
// how they look on the wire is the admin package's business (admin/views.go).

// ErrNotFound is returned for an unknown segment or contact.
var ErrNotFound = errors.New("not found")

// SegmentInfo describes a live segment.
type SegmentInfo struct {
	Workspace  string
	ID         string
	Name       string
	Version    int64
	Definition *operators.Definition
	// Members in the partitions this process owns.
	Members int64
	// Backfilling: the current version is still being applied to some contacts of
	// the owned partitions.
	Backfilling bool
	// References are the ids of the segments its definition references, and
	// ReferencedBy those of the live segments referencing it, ascending (SPEC §6
	// segment references).
	References   []string
	ReferencedBy []string
}

// Local says which partitions an answer covers.
type Local struct {
	Partitions []int32
}

// MemberCursor pages through a segment's members: the partition and dense id after
// which the next page starts. The zero cursor starts at the beginning.
type MemberCursor struct {
	Partition int32
	Dense     uint32
}

// Contact is what a process knows of one contact: its committed record and the
// attributes segments see (SPEC §5), evaluated at Now.
type Contact struct {
	Workspace  string
	CustomerID int64
	Partition  int32
	Deleted    bool
	SyncedAt   time.Time
	NextDue    time.Time // the contact's next timer; zero when none

	Profile           state.Profile
	Consents          state.Consents
	Errors            []string
	Attrs             operators.Attrs // the attributes of SPEC §5
	Now               time.Time       // the instant Attrs are evaluated at (lifecycle stage, days since)
	Tags              []string
	Lists             []string
	Orders            OrdersSummary
	PurchasingSummary *PurchasingSummary // Shopify's own totals; nil when none was received
	BackInStock       []state.BackInStockSub
	Conversations     []state.ConversationState
	Automations       []state.AutomationCount
	Memberships       []Membership
}

// OrdersSummary summarizes a contact's orders.
type OrdersSummary struct {
	Total     int // stored orders, counted or not
	Counted   int // neither cancelled nor test
	Cancelled int // cancelled
	Test      int // test orders
	// Folded: orders folded into aggregates past --max-contact-bytes (README "Bounded
	// contact state"), included in Total and, if they were counted, in Counted.
	Folded int
}

// PurchasingSummary is the last customers/purchasing_summary of a contact.
type PurchasingSummary struct {
	events.Summary
	At time.Time // when it occurred
}

// Membership is one segment the contact is a member of, with the segment's current
// version (0 when this process no longer knows the segment).
type Membership struct {
	SegmentID string
	Version   int64
}

// ContactSummary is one search result.
type ContactSummary struct {
	CustomerID int64
	Email      string
	FirstName  string
	LastName   string
	Phone      string // as received
}

// AudienceRef is a segment or a list of a workspace: exactly one of the two is set.
type AudienceRef struct {
	Segment string
	List    string
}

// inLoop runs fn on the processing loop between windows and waits for it.
func (p *Processor) inLoop(ctx context.Context, fn func()) error {
	if !p.ready.Load() {
		return ErrNotReady
	}
	done := make(chan struct{})
	select {
	case p.queryWake <- struct{}{}:
	default: // a wake-up is pending already
	}
	select {
	case p.queries <- func() { fn(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		<-done // fn may still reference the caller's variables
		return ctx.Err()
	}
}

// ErrNotReady is returned by queries before the processor has joined its group.
var ErrNotReady = errors.New("processor is not ready")

// runQueries runs the queries waiting for the loop.
func (p *Processor) runQueries() {
	for {
		select {
		case fn := <-p.queries:
			fn()
		default:
			return
		}
	}
}

func (p *Processor) local() Local {
	return Local{Partitions: slices.Clone(*p.owned.Load())}
}

// Segments lists the live segments of a workspace with their member counts.
func (p *Processor) Segments(ctx context.Context, ws string) ([]SegmentInfo, Local, error) {
	ws = strings.ToLower(ws)
	var out []SegmentInfo
	var local Local
	err := p.inLoop(ctx, func() {
		local = p.local()
		wr := p.rules.ws[ws]
		if wr == nil {
			return
		}
		for _, si := range wr.segs {
			out = append(out, p.segmentInfo(si))
		}
	})
	return out, local, err
}

// Segment returns one live segment, or ErrNotFound.
func (p *Processor) Segment(ctx context.Context, ws, id string) (SegmentInfo, Local, error) {
	key := strings.ToLower(ws) + "/" + id
	var out SegmentInfo
	var local Local
	found := false
	err := p.inLoop(ctx, func() {
		local = p.local()
		if si := p.rules.segs[key]; si != nil {
			out, found = p.segmentInfo(si), true
		}
	})
	if err == nil && !found {
		err = ErrNotFound
	}
	return out, local, err
}

// segmentInfo runs on the loop.
func (p *Processor) segmentInfo(si *segInfo) SegmentInfo {
	info := SegmentInfo{Workspace: si.Workspace, ID: si.ID, Name: si.Def.Name, Version: si.Version, Definition: si.Def}
	info.References, info.ReferencedBy = p.rules.dependencies(si)
	for _, pt := range p.parts {
		if b := pt.members[si.Key]; b != nil {
			info.Members += int64(b.GetCardinality())
		}
		if sm, ok := pt.meta.Segments[si.Key]; !ok || sm.Backfilling || sm.Incarnation != si.Incarnation || sm.RulesKey != si.RulesKey {
			info.Backfilling = true
		}
	}
	return info
}

// Members returns up to limit customer ids of a segment's members after cursor, and
// the cursor of the next page (done when there is none).
func (p *Processor) Members(ctx context.Context, ws, id string, after MemberCursor, limit int) ([]int64, MemberCursor, bool, error) {
	key := strings.ToLower(ws) + "/" + id
	if limit <= 0 {
		limit = 100
	}
	type member struct {
		p     int32
		dense uint32
	}
	var page []member
	found, done := false, true
	err := p.inLoop(ctx, func() {
		if p.rules.segs[key] == nil {
			return
		}
		found = true
		for _, pid := range p.sortedPartitions() {
			if pid < after.Partition {
				continue
			}
			b := p.parts[pid].members[key]
			if b == nil {
				continue
			}
			it := b.Iterator()
			if pid == after.Partition && after.Dense > 0 {
				it.AdvanceIfNeeded(after.Dense + 1)
			}
			for it.HasNext() {
				if len(page) == limit {
					done = false
					return
				}
				page = append(page, member{pid, it.Next()})
			}
		}
	})
	if err != nil {
		return nil, after, true, err
	}
	if !found {
		return nil, after, true, ErrNotFound
	}
	ids := make([]int64, 0, len(page))
	for _, m := range page {
		ck, err := p.cfg.Store.ContactKeyByDense(m.p, m.dense)
		if err != nil {
			continue // purged meanwhile
		}
		ids = append(ids, customerIDOf(ck))
	}
	next := after
	if len(page) > 0 {
		last := page[len(page)-1]
		next = MemberCursor{Partition: last.p, Dense: last.dense}
	}
	return ids, next, done, nil
}

// findContact reads a contact's committed record from the owned partition holding it.
func (p *Processor) findContact(ws string, customerID int64) (*state.Contact, int32, error) {
	key := events.ContactKey(strings.ToLower(ws), customerID)
	for _, pid := range *p.owned.Load() {
		var c state.Contact
		err := p.cfg.Store.Contact(pid, key, &c)
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		c.Expire(p.cfg.Now())
		if c.IsNew() {
			return nil, 0, ErrNotFound
		}
		return &c, pid, nil
	}
	return nil, 0, ErrNotFound
}

// Contact returns a contact, or ErrNotFound.
func (p *Processor) Contact(ctx context.Context, ws string, customerID int64) (*Contact, error) {
	if !p.ready.Load() {
		return nil, ErrNotReady
	}
	ws = strings.ToLower(ws)
	c, pid, err := p.findContact(ws, customerID)
	if err != nil {
		return nil, err
	}
	v := &Contact{
		Workspace: ws, CustomerID: customerID, Partition: pid, Deleted: c.IsTombstone(),
		SyncedAt: c.SyncedAt, NextDue: c.NextDue,
		Profile: c.Profile(), Consents: c.Consents(), Errors: c.Errors(),
		Attrs: c.Attrs(ws, allCollections{p.rules}, p.cfg.ExclusionTag), Now: p.cfg.Now(),
		Tags: c.Tags(), Lists: c.Lists(), BackInStock: c.BackInStock(),
		Conversations: c.Conversations(), Automations: c.AutomationCounts(),
	}
	for _, o := range c.Orders() {
		v.Orders.Total++
		switch {
		case !o.CancelledAt.IsZero():
			v.Orders.Cancelled++
		case o.Test:
			v.Orders.Test++
		default:
			v.Orders.Counted++
		}
	}
	if counted, other := c.FoldedOrders(); counted+other > 0 {
		v.Orders.Folded = int(counted + other)
		v.Orders.Total += int(counted + other)
		v.Orders.Counted += int(counted)
	}
	if s, at, ok := c.PurchasingSummary(); ok {
		v.PurchasingSummary = &PurchasingSummary{Summary: s, At: at}
	}
	view := p.view.Load()
	for _, m := range c.Memberships {
		if !m.Member() {
			continue
		}
		ms := Membership{SegmentID: m.Segment}
		if si := view.segs[ws+"/"+m.Segment]; si != nil {
			ms.Version = si.Version
		}
		v.Memberships = append(v.Memberships, ms)
	}
	return v, nil
}

// Explain evaluates a segment for a contact condition by condition, or returns
// ErrNotFound for an unknown contact or segment.
func (p *Processor) Explain(ctx context.Context, ws string, customerID int64, segmentID string) (*operators.Explanation, error) {
	if !p.ready.Load() {
		return nil, ErrNotReady
	}
	ws = strings.ToLower(ws)
	si := p.view.Load().segs[ws+"/"+segmentID]
	if si == nil {
		return nil, fmt.Errorf("segment %s: %w", segmentID, ErrNotFound)
	}
	c, _, err := p.findContact(ws, customerID)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	a := c.Attrs(ws, allCollections{p.rules}, p.cfg.ExclusionTag)
	a.Segments = memberIDs(c, nil) // for segment references
	e := operators.Explain(si.Seg, &a, now)
	return &e, nil
}

// scanWorkspace calls fn for every live contact of ws in the owned partitions.
func (p *Processor) scanWorkspace(ctx context.Context, ws string, fn func(key string, c *state.Contact) bool) error {
	now := p.cfg.Now()
	for _, pid := range *p.owned.Load() {
		stop := false
		err := p.cfg.Store.ScanContacts(pid, ws+"/", "", func(key string, c *state.Contact) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			c.Expire(now)
			if c.IsNew() || c.IsTombstone() {
				return true, nil
			}
			if !fn(key, c) {
				stop = true
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if stop {
			return nil
		}
	}
	return nil
}

// Preview evaluates an unsaved definition over the workspace's contacts of the owned
// partitions: the number matching, and the lowest sample of their customer ids. It is
// bitmap algebra over the attribute indexes (attrindex.go), on the loop goroutine.
// Nothing is produced.
func (p *Processor) Preview(ctx context.Context, def *operators.Definition, sample int) (int64, []int64, Local, error) {
	if !p.ready.Load() {
		return 0, nil, Local{}, ErrNotReady
	}
	seg, err := operators.Compile(def)
	if err != nil {
		return 0, nil, Local{}, err
	}
	ws := strings.ToLower(def.Workspace)
	var count int64
	ids := []int64{}
	local, err := p.eachMatching(ctx, seg, ws, func(pt *partition, match *roaring.Bitmap) {
		count += int64(match.GetCardinality())
		ids = lowestCustomers(ids, pt, match, sample)
	})
	return count, lowest(ids, sample), local, err
}

// eachMatching calls fn, on the loop goroutine, with each owned partition and the
// contacts of ws in it that seg matches now (bitmap algebra over the attribute
// indexes, attrindex.go).
func (p *Processor) eachMatching(ctx context.Context, seg *operators.Segment, ws string, fn func(pt *partition, match *roaring.Bitmap)) (Local, error) {
	var local Local
	var qerr error
	err := p.inLoop(ctx, func() {
		local = p.local()
		var m map[int32]*roaring.Bitmap
		if m, qerr = p.matching(seg, ws, p.cfg.Now()); qerr != nil {
			return
		}
		for id, b := range m {
			fn(p.parts[id], b)
		}
	})
	return local, errors.Join(err, qerr)
}

// ChangePreview is the effect of replacing a segment's definition by another, over
// the owned partitions: Members are the segment's current members (none when it does
// not exist), Matching the contacts the other definition matches, WouldEnter those
// matching and not members, WouldLeave those members and not matching. The samples
// are the lowest customer ids of each, ascending, up to the size asked.
type ChangePreview struct {
	Members, Matching, WouldEnter, WouldLeave int64
	SampleEntering, SampleLeaving             []int64
}

// PreviewChange evaluates def, meant to replace segment id of ws, over the
// workspace's contacts of the owned partitions, and compares the outcome with their
// current membership (the member bitmaps): would enter = matching AND NOT members,
// would leave = members AND NOT matching. Nothing is produced or stored. The
// definition is evaluated as Preview does; an excluded contact matches nothing.
func (p *Processor) PreviewChange(ctx context.Context, ws, id string, def *operators.Definition, sample int) (ChangePreview, Local, error) {
	if !p.ready.Load() {
		return ChangePreview{}, Local{}, ErrNotReady
	}
	ws = strings.ToLower(ws)
	if def.Workspace != ws || def.ID != id {
		return ChangePreview{}, Local{}, fmt.Errorf("definition %s previewed as %s/%s: %w", def.Key(), ws, id, ErrInvalid)
	}
	seg, err := operators.Compile(def)
	if err != nil {
		return ChangePreview{}, Local{}, err
	}
	out := ChangePreview{SampleEntering: []int64{}, SampleLeaving: []int64{}}
	local, err := p.eachMatching(ctx, seg, ws, func(pt *partition, match *roaring.Bitmap) {
		members := roaring.New()
		if b := pt.members[ws+"/"+id]; p.rules.segs[ws+"/"+id] != nil && b != nil {
			members = b
		}
		enter, leave := roaring.AndNot(match, members), roaring.AndNot(members, match)
		out.Members += int64(members.GetCardinality())
		out.Matching += int64(match.GetCardinality())
		out.WouldEnter += int64(enter.GetCardinality())
		out.WouldLeave += int64(leave.GetCardinality())
		out.SampleEntering = lowestCustomers(out.SampleEntering, pt, enter, sample)
		out.SampleLeaving = lowestCustomers(out.SampleLeaving, pt, leave, sample)
	})
	if err != nil {
		return ChangePreview{}, local, err
	}
	out.SampleEntering = lowest(out.SampleEntering, sample)
	out.SampleLeaving = lowest(out.SampleLeaving, sample)
	return out, local, nil
}

// keepLowest adds x to ids, which keeps at least the n lowest of what was added:
// past 2n entries it is cut down to the n lowest, so it stays bounded.
func keepLowest(ids []int64, x int64, n int) []int64 {
	if n <= 0 {
		return ids
	}
	ids = append(ids, x)
	if len(ids) > 2*n {
		ids = lowest(ids, n)
	}
	return ids
}

// lowest returns the n lowest of ids, ascending, without duplicates.
func lowest(ids []int64, n int) []int64 {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > n {
		ids = ids[:max(n, 0)]
	}
	return ids
}

// Search finds contacts of a workspace whose name, email or phone contains q
// (case-insensitive; the digits of a phone-like query match the normalized phone).
func (p *Processor) Search(ctx context.Context, ws, q string, limit int) ([]ContactSummary, Local, error) {
	if !p.ready.Load() {
		return nil, Local{}, ErrNotReady
	}
	if limit <= 0 {
		limit = 20
	}
	ws = strings.ToLower(ws)
	q = strings.ToLower(strings.TrimSpace(q))
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	phoneLike := len(digits) >= 4 && len(digits) >= len(strings.Join(strings.Fields(q), ""))-4
	local := p.local()
	out := []ContactSummary{}
	if q == "" {
		return out, local, nil
	}
	err := p.scanWorkspace(ctx, ws, func(key string, c *state.Contact) bool {
		pr := c.Profile()
		name := strings.ToLower(pr.FirstName + " " + pr.LastName)
		hit := strings.Contains(name, q) || strings.Contains(strings.ToLower(pr.Email), q) ||
			strings.Contains(strings.ToLower(pr.Phone), q) ||
			(phoneLike && strings.Contains(pr.PhoneE164, digits))
		if hit {
			out = append(out, ContactSummary{CustomerID: customerIDOf(key), Email: pr.Email,
				FirstName: pr.FirstName, LastName: pr.LastName, Phone: pr.Phone})
		}
		return len(out) < limit
	})
	return out, local, err
}

// Estimate counts, with bitmap algebra over the owned partitions, the contacts in
// any of include and none of exclude who have consent_status "yes" and are not
// excluded: each contact once.
func (p *Processor) Estimate(ctx context.Context, ws string, include, exclude []AudienceRef) (int64, Local, error) {
	ws = strings.ToLower(ws)
	for _, r := range append(slices.Clone(include), exclude...) {
		if (r.Segment == "") == (r.List == "") {
			return 0, Local{}, fmt.Errorf("an audience reference names exactly one segment or list: %w", ErrInvalid)
		}
	}
	var total int64
	var local Local
	missing := ""
	err := p.inLoop(ctx, func() {
		local = p.local()
		for _, r := range append(slices.Clone(include), exclude...) {
			if r.Segment != "" && p.rules.segs[ws+"/"+r.Segment] == nil {
				missing = r.Segment
				return
			}
		}
		for _, pt := range p.parts {
			pick := func(r AudienceRef) *roaring.Bitmap {
				if r.Segment != "" {
					return pt.members[ws+"/"+r.Segment]
				}
				return pt.lists[ws+"/"+r.List]
			}
			in := roaring.New()
			for _, r := range include {
				if b := pick(r); b != nil {
					in.Or(b)
				}
			}
			for _, r := range exclude {
				if b := pick(r); b != nil {
					in.AndNot(b)
				}
			}
			if reach := pt.reachable[ws]; reach != nil {
				total += int64(in.AndCardinality(reach))
			}
		}
	})
	if err == nil && missing != "" {
		err = fmt.Errorf("segment %s: %w", missing, ErrNotFound)
	}
	return total, local, err
}

// ErrInvalid is returned for an invalid query.
var ErrInvalid = errors.New("invalid query")
