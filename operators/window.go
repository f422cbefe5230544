package operators

import (
	"math"
	"strconv"
	"time"

	"github.com/govalues/decimal"
)

// Windows (SPEC §6 "Windows"): a condition on orders_count, total_spent,
// messages_received, messages_read or automation_completions with "in_last_days": N
// compares the aggregate over the contact's dated items whose time t is in the last N
// days: whole days since < N, i.e. t > now − N·24h. An item leaves the window at
// exactly t + N·24h and never comes back, so a windowed value only falls as time
// passes; NextFlip finds the instant it next crosses a bound of some predicate.

// Window bounds of SPEC §6: orders 1–3650 days, messages and completions 1–90.
const (
	MaxOrderWindowDays   = 3650
	MaxMessageWindowDays = 90
)

// TimedAmount is a counted order in a window: its created_at and total.
type TimedAmount struct {
	At    time.Time
	Total decimal.Decimal
}

// Completion is one automation completion: its completed_at and automation id.
type Completion struct {
	At         time.Time
	Automation string
}

// UnixNano returns t as nanoseconds since the Unix epoch, saturated to the int64
// range (years 1678 to 2262), which keeps the order of instants: the message times of
// Attrs.
func UnixNano(t time.Time) int64 {
	switch {
	case t.Before(minUnixNano):
		return math.MinInt64
	case t.After(maxUnixNano):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minUnixNano = time.Unix(0, math.MinInt64)
	maxUnixNano = time.Unix(0, math.MaxInt64)
)

// windowStart returns the instant items must be after to be in the last n days at
// now: t is in the window iff t > now − n·24h (floor((now − t)/24h) < n).
func windowStart(now time.Time, n int64) time.Time {
	return now.Add(-time.Duration(n) * Day)
}

// items is the ascending sequence of dated items that a window dim counts.
type items struct {
	d dim
	a *Attrs
}

// windowItems returns the items of window dim d of a.
func windowItems(d dim, a *Attrs) items { return items{d, a} }

func (s items) len() int {
	switch s.d {
	case dimOrdersWindow, dimSpentWindow:
		return len(s.a.RecentOrders)
	case dimReceivedWindow:
		return len(s.a.RecentReceived)
	case dimReadWindow:
		return len(s.a.RecentRead)
	case dimCompletionsWindow:
		return len(s.a.RecentCompletions)
	}
	return 0
}

// at returns the time of item i.
func (s items) at(i int) time.Time {
	switch s.d {
	case dimOrdersWindow, dimSpentWindow:
		return s.a.RecentOrders[i].At
	case dimReceivedWindow:
		return time.Unix(0, s.a.RecentReceived[i])
	case dimReadWindow:
		return time.Unix(0, s.a.RecentRead[i])
	}
	return s.a.RecentCompletions[i].At
}

// first returns the index of the first item in the last n days at now.
func (s items) first(now time.Time, n int64) int {
	start := windowStart(now, n)
	lo, hi := 0, s.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.at(m).After(start) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// windowCount returns the number of items of a counting window dim in the last n
// days at now (of one automation when automation != "").
func windowCount(d dim, automation string, n int64, a *Attrs, now time.Time) int64 {
	it := windowItems(d, a)
	i := it.first(now, n)
	if d == dimCompletionsWindow && automation != "" {
		var c int64
		for _, x := range a.RecentCompletions[i:] {
			if x.Automation == automation {
				c++
			}
		}
		return c
	}
	return int64(it.len() - i)
}

// windowSpent returns the total of the counted orders in the last n days at now.
func windowSpent(n int64, a *Attrs, now time.Time) decimal.Decimal {
	sum := decimal.Zero
	for _, o := range a.RecentOrders[windowItems(dimSpentWindow, a).first(now, n):] {
		if s, err := sum.Add(o.Total); err == nil {
			sum = s
		}
	}
	return sum
}

// WindowState is what Explain reports of a windowed condition: the items in the
// window and the instant the earliest of them leaves it (zero when none is in it).
type WindowState struct {
	Count      int64
	NextChange time.Time
}

// windowState returns the window of p for a at now.
func windowState(p *pred, a *Attrs, now time.Time) WindowState {
	var s WindowState
	it := windowItems(p.dim, a)
	for i := it.first(now, p.window); i < it.len(); i++ {
		if p.dim == dimCompletionsWindow && p.automation != "" && a.RecentCompletions[i].Automation != p.automation {
			continue
		}
		if s.Count == 0 {
			s.NextChange = it.at(i).Add(time.Duration(p.window) * Day)
		}
		s.Count++
	}
	return s
}

// windowKey identifies the predicates of a RuleSet that read the same windowed value.
type windowKey struct {
	dim        dim
	automation string
	days       int64
}

// windowIndex indexes the predicates of one windowed value.
type windowIndex struct {
	key windowKey
	x   *dimIndex
}

// windowDim returns the window dim of a counter or sum dim.
func windowDim(d dim) (dim, bool) {
	switch d {
	case dimOrdersCount:
		return dimOrdersWindow, true
	case dimTotalSpent:
		return dimSpentWindow, true
	case dimMessagesReceived:
		return dimReceivedWindow, true
	case dimMessagesRead:
		return dimReadWindow, true
	case dimCompletions:
		return dimCompletionsWindow, true
	}
	return d, false
}

// maxWindowDays returns the largest in_last_days allowed for f (0: not allowed).
func maxWindowDays(f field) int64 {
	switch f {
	case fieldOrdersCount, fieldTotalSpent:
		return MaxOrderWindowDays
	case fieldMessagesReceived, fieldMessagesRead, fieldAutomationCompletions:
		return MaxMessageWindowDays
	}
	return 0
}

// windowDays decodes the in_last_days of a condition of field f at path: a whole
// number of days in 1 … maxWindowDays(f) (7 and 7.0 are accepted, 7.5 and "7" are not).
func windowDays(path string, f field, raw []byte) (int64, error) {
	max := maxWindowDays(f)
	if max == 0 {
		return 0, &ValidationError{Path: path, Msg: `is only allowed for fields "orders_count", "total_spent", "messages_received", "messages_read" and "automation_completions"`}
	}
	v, err := decodeValue(raw)
	if err != nil {
		return 0, &ValidationError{Path: path, Msg: "is not valid JSON", cause: err}
	}
	vc := valueCompiler{path: path}
	n, err := vc.number(v, path)
	if err != nil {
		return 0, err
	}
	if !n.IsInt() || n.Cmp(decimal.One) < 0 || n.Cmp(decimal.MustNew(max, 0)) > 0 {
		return 0, &ValidationError{Path: path, Msg: "must be a whole number of days from 1 to " + strconv.FormatInt(max, 10)}
	}
	days, _, _ := n.Int64(0)
	return days, nil
}

// sameItems reports whether the windowed items of d are the very same in a and b
// (Attrs share these slices with the record, and a change replaces them, so equal
// slice headers mean equal items).
func sameItems(d dim, a, b *Attrs) bool {
	switch d {
	case dimOrdersWindow, dimSpentWindow:
		return sameSlice(a.RecentOrders, b.RecentOrders)
	case dimReceivedWindow:
		return sameSlice(a.RecentReceived, b.RecentReceived)
	case dimReadWindow:
		return sameSlice(a.RecentRead, b.RecentRead)
	case dimCompletionsWindow:
		return sameSlice(a.RecentCompletions, b.RecentCompletions)
	}
	return false
}

func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// diffWindows passes to c the windowed predicates whose value differs between old and
// new at now: a bound scan per windowed value whose items changed.
func (rs *RuleSet) diffWindows(old, new *Attrs, now time.Time, c *collector) {
	for i := range rs.windows {
		w := &rs.windows[i]
		k := w.key
		if sameItems(k.dim, old, new) {
			continue
		}
		if k.dim == dimSpentWindow {
			ov, nv := windowSpent(k.days, old, now), windowSpent(k.days, new, now)
			if ov.Cmp(nv) != 0 {
				w.x.decs.scan(ov, nv, decimal.Decimal.Cmp, c)
			}
			continue
		}
		ov := windowCount(k.dim, k.automation, k.days, old, now)
		nv := windowCount(k.dim, k.automation, k.days, new, now)
		if ov != nv {
			w.x.ints.scan(ov, nv, cmpInt64, c)
		}
	}
}

// nextWindowFlip returns the earliest instant after now at which a windowed
// predicate of the set changes outcome for a, or zero. Items leave their window
// oldest first, each at its time + N·24h (items of equal times together); the value
// after each departure is compared, predicate by predicate, with the value at now.
func (rs *RuleSet) nextWindowFlip(a *Attrs, now time.Time) time.Time {
	var next time.Time
	for i := range rs.windows {
		w := &rs.windows[i]
		k := w.key
		it := windowItems(k.dim, a)
		l, first := it.len(), it.first(now, k.days)
		if first == l {
			continue
		}
		span := time.Duration(k.days) * Day
		counts := func(j int) bool {
			return k.dim != dimCompletionsWindow || k.automation == "" || a.RecentCompletions[j].Automation == k.automation
		}
		var flips func(n int64, d decimal.Decimal) bool
		if k.dim == dimSpentWindow {
			v0 := windowSpent(k.days, a, now)
			flips = func(_ int64, d decimal.Decimal) bool {
				for _, p := range w.x.all {
					s := &rs.preds[p].decs
					if s.contains(v0, decimal.Decimal.Cmp) != s.contains(d, decimal.Decimal.Cmp) {
						return true
					}
				}
				return false
			}
		} else {
			v0 := windowCount(k.dim, k.automation, k.days, a, now)
			flips = func(n int64, _ decimal.Decimal) bool {
				for _, p := range w.x.all {
					s := rs.preds[p].ints
					if s.contains(v0) != s.contains(v0-n) {
						return true
					}
				}
				return false
			}
		}
		var gone int64 // departed items
		sum := windowSpent(k.days, a, now)
		for j := first; j < l; {
			t := it.at(j)
			leave := t.Add(span)
			if !next.IsZero() && !leave.Before(next) {
				break // no earlier flip in this window
			}
			moved := false
			for ; j < l && it.at(j).Equal(t); j++ {
				if !counts(j) {
					continue
				}
				moved = true
				gone++
				if k.dim == dimSpentWindow {
					if d, err := sum.Sub(a.RecentOrders[j].Total); err == nil {
						sum = d
					}
				}
			}
			if moved && flips(gone, sum) {
				next = leave
				break
			}
		}
	}
	return next
}
