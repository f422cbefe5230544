package operators

import (
	"slices"
	"time"

	"github.com/govalues/decimal"
)

// Affected appends to dst the indexes (ascending, unique) of the segments that contain
// a predicate whose outcome may differ between old and new at now: a superset of the
// segments whose match changed, found through the indexes (sorted thresholds for
// ordered fields), never by evaluating every segment. A change of Excluded affects all.
//
// Both states are judged at the same now: a predicate that flipped with the passage of
// time alone since the contact was last evaluated is the timers' business (NextFlip).
// Affected does not allocate once dst has room for the result.
func (rs *RuleSet) Affected(old, new *Attrs, now time.Time, dst []int) []int {
	if old.Excluded != new.Excluded {
		return append(dst, rs.all...)
	}
	if old.Excluded {
		return dst // matches nothing before and after
	}
	start := len(dst)
	c := collector{rs: rs, dst: dst}

	for d := firstStringDim; d <= lastStringDim; d++ {
		x := &rs.dims[d]
		if len(x.all) == 0 {
			continue
		}
		ov, op := stringValue(d, old, now)
		nv, np := stringValue(d, new, now)
		switch {
		case op != np:
			c.addPreds(x.all)
		case op && ov != nv:
			c.addPreds(x.values[ov])
			c.addPreds(x.values[nv])
		}
	}

	for d := firstSetDim; d <= lastSetDim; d++ {
		if x := &rs.dims[d]; len(x.all) > 0 {
			x.diffSet(setValue(d, old), setValue(d, new), &c)
		}
	}
	if len(rs.prices.points) > 0 {
		rs.diffPrices(old.PurchasedPrices, new.PurchasedPrices, &c)
	}

	for d := firstIntDim; d <= lastIntDim; d++ {
		x := &rs.dims[d]
		if len(x.all) == 0 {
			continue
		}
		ov, op := intValue(d, "", old, now)
		nv, np := intValue(d, "", new, now)
		switch {
		case op != np:
			c.addPreds(x.all)
		case op && ov != nv:
			x.ints.scan(ov, nv, cmpInt64, &c)
		}
	}
	if len(rs.automations) > 0 {
		rs.diffCompletions(old.CompletionsByAutomation, new.CompletionsByAutomation, &c)
	}

	for d := firstDecDim; d <= lastDecDim; d++ {
		x := &rs.dims[d]
		if len(x.all) == 0 {
			continue
		}
		ov, op := decValue(d, old)
		nv, np := decValue(d, new)
		switch {
		case op != np:
			c.addPreds(x.all)
		case op && ov.Cmp(nv) != 0:
			x.decs.scan(ov, nv, decimal.Decimal.Cmp, &c)
		}
	}

	for d := firstTimeDim; d <= lastTimeDim; d++ {
		x := &rs.dims[d]
		if len(x.all) == 0 {
			continue
		}
		ov, nv := timeValue(d, old), timeValue(d, new)
		switch {
		case ov.IsZero() != nv.IsZero():
			c.addPreds(x.all)
		case !ov.IsZero() && !ov.Equal(nv):
			x.times.scan(ov, nv, time.Time.Compare, &c)
		}
	}

	if len(rs.windows) > 0 {
		rs.diffWindows(old, new, now, &c)
	}

	dst = c.dst
	segs := dst[start:]
	slices.Sort(segs)
	return dst[:start+len(slices.Compact(segs))]
}

// diffSet passes to c the predicates mentioning an element of the symmetric
// difference of the sorted sets a and b: only they can change outcome.
func (x *dimIndex) diffSet(a, b []string, c *collector) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			c.addPreds(x.values[a[i]])
			i++
		case i == len(a) || b[j] < a[i]:
			c.addPreds(x.values[b[j]])
			j++
		default:
			i++
			j++
		}
	}
}

// diffPrices passes to c the price spans containing a price added or removed.
func (rs *RuleSet) diffPrices(a, b []decimal.Decimal, c *collector) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var cmp int
		switch {
		case j == len(b):
			cmp = -1
		case i == len(a):
			cmp = 1
		default:
			cmp = a[i].Cmp(b[j])
		}
		switch {
		case cmp < 0:
			c.addPreds(rs.prices.lookup(a[i]))
			i++
		case cmp > 0:
			c.addPreds(rs.prices.lookup(b[j]))
			j++
		default:
			i++
			j++
		}
	}
}

// diffCompletions passes to c the per-automation predicates whose count changed,
// walking whichever is shorter: the automations the rules mention, or the contact's.
func (rs *RuleSet) diffCompletions(a, b map[string]int64, c *collector) {
	if len(rs.automations) <= len(a)+len(b) {
		for _, id := range rs.automations {
			if ov, nv := a[id], b[id]; ov != nv {
				rs.byAutomation[id].ints.scan(ov, nv, cmpInt64, c)
			}
		}
		return
	}
	for id, nv := range b {
		if ov := a[id]; ov != nv {
			if x := rs.byAutomation[id]; x != nil {
				x.ints.scan(ov, nv, cmpInt64, c)
			}
		}
	}
	for id, ov := range a {
		if _, ok := b[id]; !ok && ov != 0 {
			if x := rs.byAutomation[id]; x != nil {
				x.ints.scan(ov, 0, cmpInt64, c)
			}
		}
	}
}
