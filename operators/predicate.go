package operators

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"
)

// dim is what a predicate reads from Attrs: the unit of indexing. Several fields map to
// two dims (an instant field has an absolute and a days-since dim).
type dim uint8

const (
	// String-valued dims: the predicate holds a set of values, true if the contact's
	// value is one of them.
	dimPhone dim = iota
	dimCountry
	dimLanguage
	dimConsent
	dimEmailConsent
	dimCity
	dimProvince
	dimEmailDomain
	dimLifecycle
	// Set-valued dims: true if the contact's set intersects the predicate's.
	dimLists
	dimTags
	dimBrands
	dimCollections
	dimSegments // the segments the contact is a member of
	// Prices: true if some purchased price lies in the predicate's closed span.
	dimPrices
	// Integer dims: true if the value lies in the predicate's closed intSpan.
	dimOrdersCount
	dimMessagesReceived
	dimMessagesRead
	dimCompletions // total, or of one automation when pred.automation != ""
	dimDaysSinceLastOrder
	dimDaysSinceFirstOrder
	dimMessageDays // days since last_message_received_at
	dimEngagedDays // days since last_engaged_at
	dimCreatedDays // days since customer_created_at
	// Decimal dims.
	dimTotalSpent
	dimAOV
	// Instant dims (absolute before/after/between).
	dimMessageAt
	dimEngagedAt
	dimFirstOrderAt
	dimLastOrderAt
	dimCreatedAt
	// Window dims (in_last_days on a counter or a sum, window.go): the value is an
	// aggregate over the contact's dated items in the last pred.window days. They are
	// indexed per windowed value (RuleSet.windows), not per dim.
	dimOrdersWindow
	dimReceivedWindow
	dimReadWindow
	dimCompletionsWindow // total, or of one automation when pred.automation != ""
	dimSpentWindow
	numDims
)

const (
	firstStringDim, lastStringDim = dimPhone, dimLifecycle
	firstSetDim, lastSetDim       = dimLists, dimSegments
	firstIntDim, lastIntDim       = dimOrdersCount, dimCreatedDays
	firstDecDim, lastDecDim       = dimTotalSpent, dimAOV
	firstTimeDim, lastTimeDim     = dimMessageAt, dimCreatedAt
	firstWindowDim, lastWindowDim = dimOrdersWindow, dimSpentWindow
)

// timeRelative reports whether predicates on d change outcome with now alone.
func (d dim) timeRelative() bool {
	switch d {
	case dimDaysSinceLastOrder, dimDaysSinceFirstOrder, dimMessageDays, dimEngagedDays, dimCreatedDays, dimLifecycle:
		return true
	}
	return d.windowed()
}

// windowed reports whether d is a window dim (in_last_days on a counter or a sum).
func (d dim) windowed() bool { return d >= firstWindowDim && d <= lastWindowDim }

// intSpan is a closed interval of int64; math.MinInt64 / math.MaxInt64 stand for
// unbounded ends (no int64 lies beyond them). Empty when lo > hi.
type intSpan struct{ lo, hi int64 }

var emptyIntSpan = intSpan{1, 0}

func (s intSpan) contains(x int64) bool { return s.lo <= x && x <= s.hi }
func (s intSpan) empty() bool           { return s.lo > s.hi }

// bound is one end of a span; an unset bound is unbounded.
type bound[T any] struct {
	v    T
	set  bool
	incl bool
}

// span is an interval of an ordered type compared by a cmp function.
type span[T any] struct{ lo, hi bound[T] }

func (s *span[T]) contains(x T, cmp func(T, T) int) bool {
	if s.lo.set {
		if c := cmp(x, s.lo.v); c < 0 || c == 0 && !s.lo.incl {
			return false
		}
	}
	if s.hi.set {
		if c := cmp(x, s.hi.v); c > 0 || c == 0 && !s.hi.incl {
			return false
		}
	}
	return true
}

// empty reports whether no value can lie in s (for dense types; a conservative test).
func (s *span[T]) empty(cmp func(T, T) int) bool {
	if !s.lo.set || !s.hi.set {
		return false
	}
	c := cmp(s.lo.v, s.hi.v)
	return c > 0 || c == 0 && !(s.lo.incl && s.hi.incl)
}

// pred is a compiled positive predicate. A condition is a pred plus a negation flag:
// it is true iff the value is present and the pred's outcome differs from negate.
// Preds are deduplicated across the segments of a RuleSet by key.
type pred struct {
	dim        dim
	automation string                // dimCompletions(Window): "" = total over automations
	window     int64                 // window dims: in_last_days
	ints       intSpan               // integer dims
	decs       span[decimal.Decimal] // decimal dims and dimPrices (closed)
	times      span[time.Time]       // instant dims
	set        []string              // string and set dims: sorted, unique
	key        string                // identity of the predicate within a RuleSet
}

// eval returns the predicate's outcome for a at now, and whether the value it reads is
// present (an absent value makes every condition on it false).
func (p *pred) eval(a *Attrs, now time.Time) (outcome, present bool) {
	switch p.dim {
	case dimPhone, dimCountry, dimLanguage, dimConsent, dimEmailConsent, dimCity, dimProvince, dimEmailDomain, dimLifecycle:
		v, ok := stringValue(p.dim, a, now)
		if !ok {
			return false, false
		}
		_, found := slices.BinarySearch(p.set, v)
		return found, true
	case dimLists, dimTags, dimBrands, dimCollections, dimSegments:
		return intersects(setValue(p.dim, a), p.set), true
	case dimPrices:
		return anyPriceIn(a.PurchasedPrices, &p.decs), true
	case dimTotalSpent, dimAOV:
		v, ok := decValue(p.dim, a)
		if !ok {
			return false, false
		}
		return p.decs.contains(v, decimal.Decimal.Cmp), true
	case dimSpentWindow:
		return p.decs.contains(windowSpent(p.window, a, now), decimal.Decimal.Cmp), true
	case dimOrdersWindow, dimReceivedWindow, dimReadWindow, dimCompletionsWindow:
		return p.ints.contains(windowCount(p.dim, p.automation, p.window, a, now)), true
	case dimMessageAt, dimEngagedAt, dimFirstOrderAt, dimLastOrderAt, dimCreatedAt:
		v := timeValue(p.dim, a)
		if v.IsZero() {
			return false, false
		}
		return p.times.contains(v, time.Time.Compare), true
	}
	v, ok := intValue(p.dim, p.automation, a, now)
	if !ok {
		return false, false
	}
	return p.ints.contains(v), true
}

// stringValue returns the value of a string dim.
func stringValue(d dim, a *Attrs, now time.Time) (string, bool) {
	switch d {
	case dimPhone:
		return a.Phone, a.Phone != ""
	case dimCountry:
		return a.Country, a.Country != ""
	case dimLanguage:
		return a.Language, a.Language != ""
	case dimConsent:
		return a.Consent.String(), true
	case dimEmailConsent:
		return a.EmailConsent.String(), true
	case dimCity:
		return a.City, a.City != ""
	case dimProvince:
		return a.Province, a.Province != ""
	case dimEmailDomain:
		return a.EmailDomain, a.EmailDomain != ""
	case dimLifecycle:
		s := a.LifecycleStage(now).String()
		return s, s != ""
	}
	return "", false
}

// setValue returns the value of a set dim (sorted, unique).
func setValue(d dim, a *Attrs) []string {
	switch d {
	case dimLists:
		return a.Lists
	case dimTags:
		return a.Tags
	case dimBrands:
		return a.PurchasedBrands
	case dimCollections:
		return a.PurchasedCollections
	case dimSegments:
		return a.Segments
	}
	return nil
}

// decValue returns the value of a decimal dim.
func decValue(d dim, a *Attrs) (decimal.Decimal, bool) {
	if d == dimAOV {
		return a.AOV, a.HasAOV
	}
	return a.TotalSpent, true
}

// timeValue returns the value of an instant dim, zero when absent.
func timeValue(d dim, a *Attrs) time.Time {
	switch d {
	case dimMessageAt:
		return a.LastMessageReceivedAt
	case dimEngagedAt:
		return a.LastEngagedAt
	case dimFirstOrderAt:
		return a.FirstOrderAt
	case dimLastOrderAt:
		return a.LastOrderAt
	case dimCreatedAt:
		return a.CustomerCreatedAt
	}
	return time.Time{}
}

// baseTime returns the instant a days-since dim counts from, zero when absent.
func baseTime(d dim, a *Attrs) time.Time {
	switch d {
	case dimDaysSinceLastOrder:
		return a.LastOrderAt
	case dimDaysSinceFirstOrder:
		return a.FirstOrderAt
	case dimMessageDays:
		return a.LastMessageReceivedAt
	case dimEngagedDays:
		return a.LastEngagedAt
	case dimCreatedDays:
		return a.CustomerCreatedAt
	}
	return time.Time{}
}

// intValue returns the value of an integer dim at now.
func intValue(d dim, automation string, a *Attrs, now time.Time) (int64, bool) {
	switch d {
	case dimOrdersCount:
		return a.OrdersCount, true
	case dimMessagesReceived:
		return a.MessagesReceived, true
	case dimMessagesRead:
		return a.MessagesRead, true
	case dimCompletions:
		if automation == "" {
			return a.AutomationCompletions, true
		}
		return a.CompletionsByAutomation[automation], true
	}
	t := baseTime(d, a)
	if t.IsZero() {
		return 0, false
	}
	return DaysSince(t, now), true
}

// intersects reports whether the sorted sets a and b share an element.
func intersects(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); ok {
			return true
		}
	}
	return false
}

// anyPriceIn reports whether some price of the ascending prices lies in s.
func anyPriceIn(prices []decimal.Decimal, s *span[decimal.Decimal]) bool {
	i := 0
	if s.lo.set {
		i = searchFirst(prices, s.lo.v, decimal.Decimal.Cmp)
	}
	return i < len(prices) && s.contains(prices[i], decimal.Decimal.Cmp)
}

// searchFirst returns the index of the first element of the ascending xs that is ≥ v.
func searchFirst[T any](xs []T, v T, cmp func(T, T) int) int {
	lo, hi := 0, len(xs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp(xs[m], v) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// makeKey returns the identity of p: two preds with equal keys have equal outcomes
// for every contact at every instant.
func (p *pred) makeKey() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(p.dim)))
	b.WriteByte('|')
	switch {
	case p.dim.windowed():
		b.WriteString(p.automation)
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(p.window, 10))
		b.WriteByte('|')
		if p.dim == dimSpentWindow {
			writeBound(&b, p.decs.lo, func(d decimal.Decimal) string { return canonicalDecimal(d) })
			writeBound(&b, p.decs.hi, func(d decimal.Decimal) string { return canonicalDecimal(d) })
		} else {
			b.WriteString(strconv.FormatInt(p.ints.lo, 10))
			b.WriteByte('|')
			b.WriteString(strconv.FormatInt(p.ints.hi, 10))
		}
	case p.dim >= firstIntDim && p.dim <= lastIntDim:
		b.WriteString(p.automation)
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(p.ints.lo, 10))
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(p.ints.hi, 10))
	case p.dim == dimPrices || p.dim >= firstDecDim && p.dim <= lastDecDim:
		writeBound(&b, p.decs.lo, func(d decimal.Decimal) string { return canonicalDecimal(d) })
		writeBound(&b, p.decs.hi, func(d decimal.Decimal) string { return canonicalDecimal(d) })
	case p.dim >= firstTimeDim && p.dim <= lastTimeDim:
		writeBound(&b, p.times.lo, func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) })
		writeBound(&b, p.times.hi, func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) })
	default:
		for _, s := range p.set {
			b.WriteString(strconv.Quote(s))
			b.WriteByte(',')
		}
	}
	return b.String()
}

func writeBound[T any](b *strings.Builder, x bound[T], format func(T) string) {
	switch {
	case !x.set:
		b.WriteString("*")
	case x.incl:
		b.WriteString("=" + format(x.v))
	default:
		b.WriteString("<>" + format(x.v))
	}
	b.WriteByte('|')
}

// canonicalDecimal formats d without insignificant zeros ("5.0" → "5", "-0" → "0").
func canonicalDecimal(d decimal.Decimal) string {
	if d.IsZero() {
		return "0"
	}
	return d.Trim(0).String()
}

// intAtLeast returns the least int64 n with n > x (strict) or n ≥ x; empty when no
// int64 qualifies.
func intAtLeast(x decimal.Decimal, strict bool) (n int64, empty bool) {
	r := x.Ceil(0)
	if strict {
		r = x.Floor(0)
	}
	w, _, ok := r.Int64(0)
	if !ok {
		if r.IsNeg() {
			return math.MinInt64, false
		}
		return 0, true
	}
	if strict {
		if w == math.MaxInt64 {
			return 0, true
		}
		w++
	}
	return w, false
}

// intAtMost returns the greatest int64 n with n < x (strict) or n ≤ x; empty when no
// int64 qualifies.
func intAtMost(x decimal.Decimal, strict bool) (n int64, empty bool) {
	r := x.Floor(0)
	if strict {
		r = x.Ceil(0)
	}
	w, _, ok := r.Int64(0)
	if !ok {
		if r.IsNeg() {
			return 0, true
		}
		return math.MaxInt64, false
	}
	if strict {
		if w == math.MinInt64 {
			return 0, true
		}
		w--
	}
	return w, false
}

// cmpInt64 orders int64s.
func cmpInt64(a, b int64) int { return cmp.Compare(a, b) }
