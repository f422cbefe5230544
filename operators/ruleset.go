package operators

import (
	"math"
	"slices"
	"time"

	"github.com/govalues/decimal"
)

// RuleSet holds the compiled segments of one workspace and the predicate indexes over
// them. Immutable after NewRuleSet; safe for concurrent use.
//
// Identical predicates of different segments (many segments share "total_spent gt
// 500") are one predicate of the set, indexed once; each predicate knows the segments
// that use it.
type RuleSet struct {
	segs []*Segment
	byID map[string]int

	preds    []*pred // deduplicated by key
	predSegs [][]int // per predicate: the segments using it, ascending

	all          []int // 0 … len(segs)-1
	matchEmpty   []int
	timeRelative []int
	byField      [numFields][]int

	dims         [numDims]dimIndex
	byAutomation map[string]*dimIndex // dimCompletions predicates with an automation_id
	automations  []string             // the keys of byAutomation, sorted
	prices       stabIndex
	windows      []windowIndex // one per windowed value (dim, automation, days), in first-use order

	// lifecycleFlips[s][t]: some lifecycle predicate has different outcomes for stages
	// s and t (so a derived-stage change from s to t is a flip).
	lifecycleFlips [StageLapsed + 1][StageLapsed + 1]bool

	// referencing: per segment id, the segments referencing it, ascending.
	referencing map[string][]int
}

// NewRuleSet indexes segs; segment i of the set is segs[i]. Segment ids should be
// unique; Index returns the first segment with an id.
func NewRuleSet(segs []*Segment) *RuleSet {
	rs := &RuleSet{
		segs:         slices.Clone(segs),
		byID:         make(map[string]int, len(segs)),
		all:          make([]int, len(segs)),
		byAutomation: map[string]*dimIndex{},
	}
	byKey := map[string]int32{}
	var priceSpans []priceSpan
	for si, s := range rs.segs {
		rs.all[si] = si
		if _, dup := rs.byID[s.ID()]; !dup {
			rs.byID[s.ID()] = si
		}
		var fields [numFields]bool
		timeRel := false
		for _, g := range s.groups {
			for i := range g {
				c := &g[i]
				fields[c.field] = true
				timeRel = timeRel || c.pred.dim.timeRelative()
				p, ok := byKey[c.pred.key]
				if !ok {
					p = int32(len(rs.preds))
					byKey[c.pred.key] = p
					rs.preds = append(rs.preds, c.pred)
					rs.predSegs = append(rs.predSegs, nil)
					if c.pred.dim == dimPrices {
						priceSpans = append(priceSpans, priceSpan{c.pred.decs.lo.v, c.pred.decs.hi.v, p})
					}
					rs.indexPred(c.pred, p)
				}
				if ps := rs.predSegs[p]; len(ps) == 0 || ps[len(ps)-1] != si {
					rs.predSegs[p] = append(ps, si)
				}
			}
		}
		for f, used := range fields {
			if used {
				rs.byField[f] = append(rs.byField[f], si)
			}
		}
		if timeRel {
			rs.timeRelative = append(rs.timeRelative, si)
		}
		if s.Match(&Attrs{}, time.Time{}) {
			rs.matchEmpty = append(rs.matchEmpty, si)
		}
	}
	rs.indexReferences()
	rs.prices = newStabIndex(priceSpans)
	for d := range rs.dims {
		rs.dims[d].finish()
	}
	for i := range rs.windows {
		rs.windows[i].x.finish()
	}
	for id, x := range rs.byAutomation {
		x.finish()
		rs.automations = append(rs.automations, id)
	}
	slices.Sort(rs.automations)
	return rs
}

// indexPred adds predicate p to the index of its dim.
func (rs *RuleSet) indexPred(pr *pred, p int32) {
	x := &rs.dims[pr.dim]
	if pr.dim.windowed() {
		x = rs.windowIndex(windowKey{pr.dim, pr.automation, pr.window})
	} else if pr.dim == dimCompletions && pr.automation != "" {
		x = rs.byAutomation[pr.automation]
		if x == nil {
			x = &dimIndex{}
			rs.byAutomation[pr.automation] = x
		}
	}
	x.all = append(x.all, p)
	switch d := pr.dim; {
	case d == dimSpentWindow:
		if !pr.decs.empty(decimal.Decimal.Cmp) {
			addBounds(&x.decs, &pr.decs, p)
		}
	case d.windowed():
		if s := pr.ints; !s.empty() {
			if s.lo != math.MinInt64 {
				x.ints.add(s.lo, p)
			}
			if s.hi != math.MaxInt64 {
				x.ints.add(s.hi, p)
			}
		}
	case d <= lastStringDim || d >= firstSetDim && d <= lastSetDim:
		if x.values == nil {
			x.values = map[string][]int32{}
		}
		for _, v := range pr.set {
			x.values[v] = append(x.values[v], p)
		}
		if d == dimLifecycle {
			for s := StageLead; s <= StageLapsed; s++ {
				for t := StageLead; t <= StageLapsed; t++ {
					_, inS := slices.BinarySearch(pr.set, s.String())
					_, inT := slices.BinarySearch(pr.set, t.String())
					rs.lifecycleFlips[s][t] = rs.lifecycleFlips[s][t] || inS != inT
				}
			}
		}
	case d >= firstIntDim && d <= lastIntDim:
		s := pr.ints
		if s.empty() {
			return
		}
		if s.lo != math.MinInt64 {
			x.ints.add(s.lo, p)
		}
		if s.hi != math.MaxInt64 {
			x.ints.add(s.hi, p)
		}
		if d.timeRelative() {
			if s.lo != math.MinInt64 && s.lo >= -maxDays && s.lo <= maxDays {
				x.flips = append(x.flips, s.lo)
			}
			if s.hi != math.MaxInt64 && s.hi+1 >= -maxDays && s.hi+1 <= maxDays {
				x.flips = append(x.flips, s.hi+1)
			}
		}
	case d >= firstDecDim && d <= lastDecDim:
		if pr.decs.empty(decimal.Decimal.Cmp) {
			return
		}
		addBounds(&x.decs, &pr.decs, p)
	case d >= firstTimeDim && d <= lastTimeDim:
		if pr.times.empty(time.Time.Compare) {
			return
		}
		addBounds(&x.times, &pr.times, p)
	}
}

// windowIndex returns the index of the windowed value k, creating it.
func (rs *RuleSet) windowIndex(k windowKey) *dimIndex {
	for i := range rs.windows {
		if rs.windows[i].key == k {
			return rs.windows[i].x
		}
	}
	rs.windows = append(rs.windows, windowIndex{key: k, x: &dimIndex{}})
	return rs.windows[len(rs.windows)-1].x
}

func addBounds[T any](x *orderedIndex[T], s *span[T], p int32) {
	if s.lo.set {
		x.add(s.lo.v, p)
	}
	if s.hi.set {
		x.add(s.hi.v, p)
	}
}

// finish sorts the index once every predicate is in.
func (x *dimIndex) finish() {
	x.ints.sort(cmpInt64)
	x.decs.sort(decimal.Decimal.Cmp)
	x.times.sort(time.Time.Compare)
	slices.Sort(x.flips)
	x.flips = slices.Compact(x.flips)
}

// Len returns the number of segments of the set.
func (rs *RuleSet) Len() int { return len(rs.segs) }

// Segment returns segment i.
func (rs *RuleSet) Segment(i int) *Segment { return rs.segs[i] }

// Index returns the index of the segment with id.
func (rs *RuleSet) Index(id string) (int, bool) {
	i, ok := rs.byID[id]
	return i, ok
}

// Predicates returns the number of distinct predicates of the set (identical
// conditions of different segments count once).
func (rs *RuleSet) Predicates() int { return len(rs.preds) }

// MatchEmpty returns the segments that the zero Attrs (a brand-new contact) matches,
// ascending. The zero Attrs has no time-dependent value, so this holds at every
// instant. The slice is shared: do not modify it.
func (rs *RuleSet) MatchEmpty() []int { return rs.matchEmpty }

// TimeRelative returns the segments with a predicate whose outcome depends on now
// (days since, in_last_days, more_than_days_ago, lifecycle_stage), ascending.
// Absolute before/after/between are not time-relative. The slice is shared: do not
// modify it.
func (rs *RuleSet) TimeRelative() []int { return rs.timeRelative }

// UsingField returns the segments with a condition on field (e.g.
// "purchased_collection"), ascending; nil for an unknown field. The slice is shared:
// do not modify it.
func (rs *RuleSet) UsingField(name string) []int {
	f := parseField(name)
	if f == fieldInvalid {
		return nil
	}
	return rs.byField[f]
}
