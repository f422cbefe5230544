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

// ErrNotFound is returned for an unknown segment or contact.
var ErrNotFound = errors.New("not found")

// SegmentInfo describes a live segment.
type SegmentInfo struct {
	Workspace  string                `json:"workspace"`
	ID         string                `json:"id"`
	Name       string                `json:"name,omitempty"`
	Version    int64                 `json:"segment_version"`
	Definition *operators.Definition `json:"definition"`
	// Members in the partitions this process owns.
	Members int64 `json:"members"`
	// Backfilling: the current version is still being applied to some contacts of
	// the owned partitions.
	Backfilling bool `json:"backfilling"`
}

// Local says which partitions an answer covers.
type Local struct {
	Partitions []int32 `json:"partitions"`
}

// MemberCursor pages through a segment's members: the partition and dense id after
// which the next page starts. The zero cursor starts at the beginning.
type MemberCursor struct {
	Partition int32  `json:"p"`
	Dense     uint32 `json:"d"`
}

// ContactView is what the admin API shows of a contact.
type ContactView struct {
	Workspace  string    `json:"workspace"`
	CustomerID int64     `json:"customer_id"`
	Partition  int32     `json:"partition"`
	Deleted    bool      `json:"deleted,omitempty"`
	SyncedAt   time.Time `json:"synced_at"`
	NextDue    time.Time `json:"next_timer_at,omitzero"`

	Profile           state.Profile             `json:"profile"`
	Consents          state.Consents            `json:"consents"`
	Errors            []string                  `json:"errors,omitempty"`
	Attributes        map[string]any            `json:"attributes"` // SPEC §5 names → values; absent ones omitted
	Tags              []string                  `json:"tags"`
	Lists             []string                  `json:"lists"`
	Orders            OrdersSummary             `json:"orders"`
	PurchasingSummary map[string]any            `json:"purchasing_summary,omitempty"` // Shopify's own totals, when received
	BackInStock       []state.BackInStockSub    `json:"back_in_stock,omitempty"`
	Conversations     []state.ConversationState `json:"conversations,omitempty"`
	Automations       []state.AutomationCount   `json:"automation_completions,omitempty"`
	Memberships       []MembershipView          `json:"memberships"`
}

// OrdersSummary summarizes a contact's orders.
type OrdersSummary struct {
	Total     int `json:"total"`     // stored orders, counted or not
	Counted   int `json:"counted"`   // neither cancelled nor test
	Cancelled int `json:"cancelled"` // cancelled
	Test      int `json:"test"`      // test orders
	// Folded: orders folded into aggregates past --max-contact-bytes (README "Bounded
	// contact state"), included in Total and, if they were counted, in Counted.
	Folded int `json:"folded,omitempty"`
}

// MembershipView is one segment the contact is a member of.
type MembershipView struct {
	SegmentID string `json:"segment_id"`
	Version   int64  `json:"segment_version"`
}

// ContactSummary is one search result.
type ContactSummary struct {
	CustomerID int64  `json:"customer_id"`
	Email      string `json:"email,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Phone      string `json:"phone,omitempty"`
}

// AudienceRef is a segment or a list of a workspace.
type AudienceRef struct {
	Segment string `json:"segment,omitempty"`
	List    string `json:"list,omitempty"`
}

// inLoop runs fn on the processing loop between windows and waits for it.
func (p *Processor) inLoop(ctx context.Context, fn func()) error {
	if !p.ready.Load() {
		return ErrNotReady
	}
	done := make(chan struct{})
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
			out = append(out, p.segmentInfoLocked(si))
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
			out, found = p.segmentInfoLocked(si), true
		}
	})
	if err == nil && !found {
		err = ErrNotFound
	}
	return out, local, err
}

// segmentInfoLocked runs on the loop.
func (p *Processor) segmentInfoLocked(si *segInfo) SegmentInfo {
	info := SegmentInfo{Workspace: si.Workspace, ID: si.ID, Name: si.Def.Name, Version: si.Version, Definition: si.Def}
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

// Contact returns a contact's view, or ErrNotFound.
func (p *Processor) Contact(ctx context.Context, ws string, customerID int64) (*ContactView, error) {
	if !p.ready.Load() {
		return nil, ErrNotReady
	}
	ws = strings.ToLower(ws)
	c, pid, err := p.findContact(ws, customerID)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	v := &ContactView{
		Workspace: ws, CustomerID: customerID, Partition: pid, Deleted: c.IsTombstone(),
		SyncedAt: c.SyncedAt, NextDue: c.NextDue,
		Profile: c.Profile(), Consents: c.Consents(), Errors: c.Errors(),
		Tags: c.Tags(), Lists: c.Lists(), BackInStock: c.BackInStock(),
		Conversations: c.Conversations(), Automations: c.AutomationCounts(),
		Memberships: []MembershipView{},
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Lists == nil {
		v.Lists = []string{}
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
		v.PurchasingSummary = map[string]any{
			"number_of_orders": s.NumberOfOrders, "amount_spent": s.AmountSpent.String(),
			"currency_code": s.CurrencyCode, "last_order_id": s.LastOrderID, "occurred_at": at,
		}
	}
	a := c.Attrs(ws, allCollections{p.rules}, p.cfg.ExclusionTag)
	v.Attributes = attributeMap(&a, now)
	view := p.view.Load()
	for _, m := range c.Memberships {
		if !m.Member() {
			continue
		}
		mv := MembershipView{SegmentID: m.Segment}
		if si := view.segs[ws+"/"+m.Segment]; si != nil {
			mv.Version = si.Version
		}
		v.Memberships = append(v.Memberships, mv)
	}
	return v, nil
}

// attributeMap renders the attributes of SPEC §5 by name; absent ones are omitted.
func attributeMap(a *operators.Attrs, now time.Time) map[string]any {
	m := map[string]any{
		"consent_status":         a.Consent.String(),
		"orders_count":           a.OrdersCount,
		"total_spent":            a.TotalSpent.String(),
		"messages_received":      a.MessagesReceived,
		"messages_read":          a.MessagesRead,
		"automation_completions": a.AutomationCompletions,
		"purchased_brands":       nonNil(a.PurchasedBrands),
		"purchased_collections":  nonNil(a.PurchasedCollections),
		"lifecycle_stage":        a.LifecycleStage(now).String(),
		"excluded":               a.Excluded,
	}
	prices := make([]string, len(a.PurchasedPrices))
	for i, d := range a.PurchasedPrices {
		prices[i] = d.String()
	}
	m["purchased_prices"] = prices
	set := func(name, v string) {
		if v != "" {
			m[name] = v
		}
	}
	set("phone", a.Phone)
	set("country", a.Country)
	set("language", a.Language)
	if a.HasAOV {
		m["average_order_value"] = a.AOV.String()
	}
	times := map[string]time.Time{
		"first_order_at": a.FirstOrderAt, "last_order_at": a.LastOrderAt,
		"last_message_received_at": a.LastMessageReceivedAt, "last_engaged_at": a.LastEngagedAt,
	}
	for name, t := range times {
		if !t.IsZero() {
			m[name] = t
		}
	}
	if !a.LastOrderAt.IsZero() {
		m["days_since_last_order"] = operators.DaysSince(a.LastOrderAt, now)
	}
	if !a.FirstOrderAt.IsZero() {
		m["days_since_first_order"] = operators.DaysSince(a.FirstOrderAt, now)
	}
	if len(a.CompletionsByAutomation) > 0 {
		m["automation_completions_by_id"] = a.CompletionsByAutomation
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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
// partitions: the number matching, and up to sample of their customer ids. Nothing is
// produced.
func (p *Processor) Preview(ctx context.Context, def *operators.Definition, sample int) (int64, []int64, Local, error) {
	if !p.ready.Load() {
		return 0, nil, Local{}, ErrNotReady
	}
	seg, err := operators.Compile(def)
	if err != nil {
		return 0, nil, Local{}, err
	}
	local := p.local()
	now := p.cfg.Now()
	ws := strings.ToLower(def.Workspace)
	var count int64
	ids := []int64{}
	err = p.scanWorkspace(ctx, ws, func(key string, c *state.Contact) bool {
		a := c.Attrs(ws, allCollections{p.rules}, p.cfg.ExclusionTag)
		if seg.Match(&a, now) {
			count++
			if len(ids) < sample {
				ids = append(ids, customerIDOf(key))
			}
		}
		return true
	})
	return count, ids, local, err
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
