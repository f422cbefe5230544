package operators

import (
	"math"
	"slices"
	"time"
)

// maxDays bounds the day counts at which a days-since value can change: DaysSince
// saturates beyond ±maxDays (about 292 years), as time.Time.Sub does.
const maxDays = int64(math.MaxInt64 / int64(Day))

// daysDims are the dims whose value is a day count from an instant of the contact.
var daysDims = [...]dim{dimDaysSinceLastOrder, dimDaysSinceFirstOrder, dimMessageDays, dimEngagedDays, dimCreatedDays}

// NextFlip returns the earliest instant after now at which a time-relative predicate
// of any segment of the set changes outcome for a, or the zero time if none will.
//
// Time-relative predicates are the days-since ones (days_since_last_order,
// days_since_first_order, in_last_days and more_than_days_ago on every date field,
// customer_created_at's included) and lifecycle_stage, whose derived stage changes 91
// and 181 days after the last order, and windowed values (in_last_days on a counter or
// a sum), which fall as items leave their window. A days-since value
// counted from t steps up at t + k·24h, so each days dim keeps the sorted day counts
// at which one of its predicates flips, and the next flip is one binary search away.
// An excluded contact matches nothing whatever the time: its next flip is zero.
func (rs *RuleSet) NextFlip(a *Attrs, now time.Time) time.Time {
	if a.Excluded || len(rs.timeRelative) == 0 {
		return time.Time{}
	}
	var next time.Time
	for _, d := range daysDims {
		flips := rs.dims[d].flips
		t := baseTime(d, a)
		if len(flips) == 0 || t.IsZero() {
			continue
		}
		// The count is k from t + k·24h on; the next step after now is to days+1.
		i, _ := slices.BinarySearch(flips, DaysSince(t, now)+1)
		if i < len(flips) {
			next = earliest(next, t.Add(time.Duration(flips[i])*Day))
		}
	}
	if at := rs.nextLifecycleFlip(a, now); !at.IsZero() {
		next = earliest(next, at)
	}
	if len(rs.windows) > 0 {
		if at := rs.nextWindowFlip(a, now); !at.IsZero() {
			next = earliest(next, at)
		}
	}
	return next
}

// nextLifecycleFlip returns when a's derived lifecycle stage next changes in a way
// that some lifecycle predicate of the set distinguishes, or zero.
func (rs *RuleSet) nextLifecycleFlip(a *Attrs, now time.Time) time.Time {
	if len(rs.dims[dimLifecycle].all) == 0 || a.LifecycleOverride != StageNone ||
		a.OrdersCount == 0 || a.LastOrderAt.IsZero() {
		return time.Time{}
	}
	cur := a.LifecycleStage(now)
	days := DaysSince(a.LastOrderAt, now)
	switch {
	case days < 91 && rs.lifecycleFlips[cur][StageAtRisk]:
		return a.LastOrderAt.Add(91 * Day)
	case days < 181 && rs.lifecycleFlips[cur][StageLapsed]:
		return a.LastOrderAt.Add(181 * Day)
	}
	return time.Time{}
}

// earliest returns the earlier of a and b, treating zero as "never".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
