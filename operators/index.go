package operators

import (
	"time"

	"slices"

	"github.com/govalues/decimal"
)

// dimIndex indexes the predicates of one dim of a RuleSet, so that Affected finds the
// predicates whose outcome may differ between two values without looking at the
// others. Immutable once built.
type dimIndex struct {
	all []int32 // every predicate on the dim: all may flip when presence changes

	// String and set dims: value → predicates mentioning it. A predicate that mentions
	// neither of two values has the same outcome for both.
	values map[string][]int32

	// Ordered dims: each predicate's finite bounds, sorted. A predicate whose outcome
	// differs between x and y has a bound in [min(x,y), max(x,y)].
	ints  orderedIndex[int64]
	decs  orderedIndex[decimal.Decimal]
	times orderedIndex[time.Time]

	// Days-since dims: the sorted, unique day counts at which some predicate changes
	// outcome as the count grows (a span [lo, hi] flips at lo and at hi+1).
	flips []int64
}

// orderedIndex holds predicate bounds of an ordered type in ascending order.
type orderedIndex[T any] struct {
	entries []boundEntry[T]
}

type boundEntry[T any] struct {
	v T
	p int32
}

func (x *orderedIndex[T]) add(v T, p int32) {
	x.entries = append(x.entries, boundEntry[T]{v, p})
}

func (x *orderedIndex[T]) sort(cmp func(T, T) int) {
	slices.SortFunc(x.entries, func(a, b boundEntry[T]) int {
		if c := cmp(a.v, b.v); c != 0 {
			return c
		}
		return int(a.p - b.p)
	})
	x.entries = slices.CompactFunc(x.entries, func(a, b boundEntry[T]) bool { // lo == hi: one entry
		return a.p == b.p && cmp(a.v, b.v) == 0
	})
}

// scan passes to c every predicate with a bound in the closed range between a and b:
// a binary search, then a range scan.
func (x *orderedIndex[T]) scan(a, b T, cmp func(T, T) int, c *collector) {
	if cmp(a, b) > 0 {
		a, b = b, a
	}
	lo, hi := 0, len(x.entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp(x.entries[m].v, a) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := lo; i < len(x.entries) && cmp(x.entries[i].v, b) <= 0; i++ {
		c.addPred(x.entries[i].p)
	}
}

// stabIndex answers "which price spans contain v": the distinct span endpoints cut
// the line into elementary regions (open gaps and the points themselves), and each
// region lists the spans covering it.
type stabIndex struct {
	points  []decimal.Decimal // ascending, unique
	regions [][]int32         // 2*len(points)+1: gap before points[0], points[0], gap, …
}

type priceSpan struct {
	lo, hi decimal.Decimal
	p      int32
}

func newStabIndex(spans []priceSpan) stabIndex {
	var x stabIndex
	if len(spans) == 0 {
		return x
	}
	for _, s := range spans {
		x.points = append(x.points, s.lo, s.hi)
	}
	slices.SortFunc(x.points, decimal.Decimal.Cmp)
	x.points = slices.CompactFunc(x.points, decimal.Decimal.Equal)
	x.regions = make([][]int32, 2*len(x.points)+1)
	for _, s := range spans {
		i := searchFirst(x.points, s.lo, decimal.Decimal.Cmp)
		j := searchFirst(x.points, s.hi, decimal.Decimal.Cmp)
		for r := 2*i + 1; r <= 2*j+1; r++ {
			x.regions[r] = append(x.regions[r], s.p)
		}
	}
	return x
}

// lookup returns the spans containing v.
func (x *stabIndex) lookup(v decimal.Decimal) []int32 {
	if len(x.points) == 0 {
		return nil
	}
	i := searchFirst(x.points, v, decimal.Decimal.Cmp)
	if i < len(x.points) && x.points[i].Cmp(v) == 0 {
		return x.regions[2*i+1]
	}
	return x.regions[2*i]
}

// collector accumulates the segments of flipped predicates into dst.
type collector struct {
	rs  *RuleSet
	dst []int
}

func (c *collector) addPred(p int32) {
	c.dst = append(c.dst, c.rs.predSegs[p]...)
}

func (c *collector) addPreds(ps []int32) {
	for _, p := range ps {
		c.dst = append(c.dst, c.rs.predSegs[p]...)
	}
}
