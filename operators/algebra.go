package operators

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
	"github.com/govalues/decimal"
)

// AttrsFunc returns the attributes of the contact with a dense id, for the contacts a
// query cannot decide from the index alone. An error aborts the query.
type AttrsFunc func(id uint32) (*Attrs, error)

// Query evaluates segments over an Index at one instant as bitmap algebra: AND within a
// group, OR across groups, a negated condition as the complement within the contacts
// holding the value, minus excluded contacts. Predicates shared by several segments are
// computed once per Query, so one Query over a batch of definitions costs one bitmap
// per distinct predicate.
//
// Each condition yields two bitmaps: the contacts for which it is certainly true, and
// those the index cannot decide (inexact values, fields it does not hold). A contact
// left undecided by the algebra is decided by Segment.Match over its Attrs, so the
// result always equals Match over every contact of the index.
type Query struct {
	x      *Index
	now    time.Time
	attrs  AttrsFunc
	preds  map[string]tri
	stage  *[StageLapsed + 1]*roaring.Bitmap // derived lifecycle stages at now, on first use
	stageU *roaring.Bitmap                   // contacts whose derived stage the index leaves undecided

	// Collections, if set, returns a superset of the contacts who bought from one of
	// the named collections (lower case): for instance the buyers of the products the
	// catalog puts in them. Without it a purchased_collection condition leaves every
	// contact to its Attrs.
	Collections func(names []string) *roaring.Bitmap
	// Segments, if set, returns the current members of a segment of the workspace
	// (exactly the contacts whose Attrs.Segments holds it). Without it a segment
	// reference leaves every contact to its Attrs.
	Segments func(id string) *roaring.Bitmap

	evaluated int
}

// tri is a three-valued bitmap: t certainly true, u undecided, every other contact false.
// t and u are disjoint.
type tri struct{ t, u *roaring.Bitmap }

// NewQuery returns a query over x at now. attrs may be nil when every field the
// segments use is indexed and no contact is inexact; otherwise Members fails.
func (x *Index) NewQuery(now time.Time, attrs AttrsFunc) *Query {
	return &Query{x: x, now: now, attrs: attrs, preds: map[string]tri{}}
}

// Evaluated returns how many contacts the query has decided by their Attrs so far.
func (q *Query) Evaluated() int { return q.evaluated }

// Members returns the contacts of the index that match s at the query's instant.
func (q *Query) Members(s *Segment) (*roaring.Bitmap, error) {
	r := tri{roaring.New(), roaring.New()}
	for _, g := range s.groups {
		r = or(r, q.group(g))
	}
	out := roaring.AndNot(r.t, q.x.excluded)
	r.u.AndNot(q.x.excluded)
	if r.u.IsEmpty() {
		return out, nil
	}
	if q.attrs == nil {
		return nil, fmt.Errorf("segment %q: %d contacts need their attributes and the query has none", s.ID(), r.u.GetCardinality())
	}
	it := r.u.Iterator()
	for it.HasNext() {
		id := it.Next()
		a, err := q.attrs(id)
		if err != nil {
			return nil, fmt.Errorf("segment %q: contact %d: %w", s.ID(), id, err)
		}
		q.evaluated++
		if a != nil && s.Match(a, q.now) {
			out.Add(id)
		}
	}
	return out, nil
}

func (q *Query) group(g []cond) tri {
	r := tri{q.x.live.Clone(), roaring.New()}
	for i := range g {
		r = and(r, q.cond(&g[i]))
		if r.t.IsEmpty() && r.u.IsEmpty() {
			break
		}
	}
	return r
}

// and: certainly true where both are; undecided where both are true or undecided and
// not both true.
func and(a, b tri) tri {
	t := roaring.And(a.t, b.t)
	u := roaring.And(roaring.Or(a.t, a.u), roaring.Or(b.t, b.u))
	u.AndNot(t)
	return tri{t, u}
}

// or: certainly true where either is; undecided where either is and neither is true.
func or(a, b tri) tri {
	t := roaring.Or(a.t, b.t)
	u := roaring.Or(a.u, b.u)
	u.AndNot(t)
	return tri{t, u}
}

// cond evaluates one condition: the pred's outcome among the contacts holding the
// value, complemented there when negated.
func (q *Query) cond(c *cond) tri {
	key := c.pred.key
	if c.negate {
		key = "!" + key
	}
	if r, ok := q.preds[key]; ok {
		return r
	}
	var r tri
	outcome, undecided, present, ok := q.pred(c.pred)
	switch {
	case c.pred.dim == dimCollections && q.Collections != nil:
		// Only who may have bought is known: they are undecided, the others certainly
		// bought none (true when negated).
		maybe := roaring.And(q.Collections(c.pred.set), q.x.live)
		r = tri{roaring.New(), maybe}
		if c.negate {
			r.t = roaring.AndNot(q.x.live, maybe)
		}
	case !ok:
		r = tri{roaring.New(), q.x.live} // not indexed: every contact is undecided
	default:
		u := roaring.And(q.x.inexact, q.x.live)
		if undecided != nil { // a subset of present
			u.Or(undecided)
		}
		if c.negate {
			outcome = roaring.AndNot(present, outcome)
		} else {
			outcome = roaring.And(outcome, present)
		}
		outcome.AndNot(u)
		r = tri{outcome, u}
	}
	q.preds[key] = r
	return r
}

// pred returns the exact contacts for which p is true, those (holding its value) it
// leaves undecided (nil: none; instants in a threshold's second), and those holding
// its value, or false when the index does not hold p's dim.
func (q *Query) pred(p *pred) (outcome, undecided, present *roaring.Bitmap, ok bool) {
	x := q.x
	switch p.dim {
	case dimPhone, dimCountry, dimLanguage, dimCity, dimProvince, dimEmailDomain:
		i := strDim(p.dim)
		return x.strs[i].union(p.set), nil, x.strsAny[i], true
	case dimConsent, dimEmailConsent:
		consent := &x.consent[0]
		if p.dim == dimEmailConsent {
			consent = &x.consent[1]
		}
		var bs []*roaring.Bitmap
		for c := ConsentUnknown; c <= ConsentNo; c++ {
			if _, in := slices.BinarySearch(p.set, c.String()); in {
				bs = append(bs, consent[c])
			}
		}
		return roaring.FastOr(bs...), nil, x.live, true
	case dimLifecycle:
		stages := q.stages()
		var bs []*roaring.Bitmap
		for s := StageLead; s <= StageLapsed; s++ {
			if _, in := slices.BinarySearch(p.set, s.String()); in {
				bs = append(bs, stages[s])
			}
		}
		return roaring.FastOr(bs...), q.stageU, x.live, true
	case dimLists, dimTags, dimBrands:
		return x.sets[setDim(p.dim)].union(p.set), nil, x.live, true
	case dimSegments:
		if q.Segments == nil {
			return nil, nil, nil, false
		}
		var bs []*roaring.Bitmap
		for _, id := range p.set {
			bs = append(bs, q.Segments(id))
		}
		return roaring.FastOr(bs...), nil, x.live, true
	case dimPrices:
		var bs []*roaring.Bitmap
		for _, pb := range x.prices {
			if p.decs.contains(pb.price, decimal.Decimal.Cmp) {
				bs = append(bs, pb.ids)
			}
		}
		return roaring.FastOr(bs...), nil, x.live, true
	case dimOrdersCount, dimMessagesReceived, dimMessagesRead:
		return countRange(p.ints).compare(x.countBSI(p.dim)), nil, x.live, true
	case dimCompletions:
		r := countRange(p.ints)
		if p.automation == "" {
			return r.compare(x.completions), nil, x.live, true
		}
		b := x.byAutomation[p.automation]
		if b == nil {
			if r.contains(0) {
				return x.live.Clone(), nil, x.live, true
			}
			return roaring.New(), nil, x.live, true
		}
		out := r.compare(b)
		if r.contains(0) { // contacts without completions of this automation have 0
			out.Or(roaring.AndNot(x.live, b.GetExistenceBitmap()))
		}
		return out, nil, x.live, true
	case dimDaysSinceLastOrder, dimDaysSinceFirstOrder, dimMessageDays, dimEngagedDays, dimCreatedDays:
		b := x.instantBSI(p.dim)
		sure, u := daysRange(p.ints, q.now).compare(b)
		return sure, u, b.GetExistenceBitmap(), true
	case dimTotalSpent:
		return decRange(&p.decs).compare(x.totalSpent), nil, x.live, true
	case dimAOV:
		return decRange(&p.decs).compare(x.aov), nil, x.aov.GetExistenceBitmap(), true
	case dimMessageAt, dimEngagedAt, dimFirstOrderAt, dimLastOrderAt, dimCreatedAt:
		b := x.instantBSI(p.dim)
		sure, u := timeRange(&p.times).compare(b)
		return sure, u, b.GetExistenceBitmap(), true
	}
	return nil, nil, nil, false
}

// countRange converts an integer span to the range of stored counts.
func countRange(s intSpan) intRange {
	if s.empty() || s.hi < 0 {
		return intRange{1, 0}
	}
	return intRange{max(s.lo, 0), s.hi}
}

// stages returns the contacts of each lifecycle stage at the query's instant (SPEC §5):
// the override if set, else lead with no orders, lapsed after 180 days, at risk after
// 90, else first-time or repeat buyer by the count of orders. A contact whose last
// order lies in the second of the 90 or 180 days' threshold is in no stage and in
// q.stageU instead.
func (q *Query) stages() *[StageLapsed + 1]*roaring.Bitmap {
	if q.stage != nil {
		return q.stage
	}
	x := q.x
	var st [StageLapsed + 1]*roaring.Bitmap
	derived := roaring.And(x.live, x.override[StageNone])
	noOrders := intRange{0, 0}.compare(x.ordersCount)
	noOrders.Or(roaring.AndNot(derived, x.lastOrder.GetExistenceBitmap()))
	st[StageLead] = roaring.And(derived, noOrders)
	rest := roaring.AndNot(derived, noOrders)
	lapsed, uLapsed := daysRange(intSpan{181, math.MaxInt64}, q.now).compare(x.lastOrder)
	atRisk, uAtRisk := daysRange(intSpan{91, 180}, q.now).compare(x.lastOrder)
	q.stageU = roaring.And(rest, roaring.Or(uLapsed, uAtRisk))
	st[StageLapsed] = roaring.And(rest, lapsed)
	st[StageAtRisk] = roaring.And(rest, atRisk)
	st[StageLapsed].AndNot(q.stageU)
	st[StageAtRisk].AndNot(q.stageU)
	recent := roaring.AndNot(rest, roaring.Or(st[StageLapsed], st[StageAtRisk]))
	recent.AndNot(q.stageU)
	st[StageFirstTimeBuyer] = roaring.And(recent, intRange{1, 1}.compare(x.ordersCount))
	st[StageRepeatBuyer] = roaring.AndNot(recent, st[StageFirstTimeBuyer])
	for s := StageLead; s <= StageLapsed; s++ {
		st[s].Or(x.override[s])
	}
	q.stage = &st
	return q.stage
}

// strDim returns the position of a string dim in Index.strs (the order of strValues).
func strDim(d dim) int {
	switch d {
	case dimCountry:
		return 1
	case dimLanguage:
		return 2
	case dimCity:
		return 3
	case dimProvince:
		return 4
	case dimEmailDomain:
		return 5
	}
	return 0
}

// setDim returns the position of a set dim in Index.sets (the order of setValues).
func setDim(d dim) int {
	switch d {
	case dimTags:
		return 1
	case dimBrands:
		return 2
	}
	return 0
}

// countBSI returns the index of a count dim.
func (x *Index) countBSI(d dim) *bsi.BSI {
	switch d {
	case dimMessagesReceived:
		return x.messagesReceived
	case dimMessagesRead:
		return x.messagesRead
	}
	return x.ordersCount
}

// instantBSI returns the index of the instant an instant or days-since dim reads.
func (x *Index) instantBSI(d dim) *bsi.BSI {
	switch d {
	case dimDaysSinceFirstOrder, dimFirstOrderAt:
		return x.firstOrder
	case dimCreatedDays, dimCreatedAt:
		return x.created
	case dimMessageDays, dimMessageAt:
		return x.lastMessage
	case dimEngagedDays, dimEngagedAt:
		return x.lastEngaged
	}
	return x.lastOrder
}
