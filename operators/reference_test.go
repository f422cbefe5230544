package operators

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/govalues/decimal"
)

// The reference model: a deliberately naive evaluator written straight from SPEC §5–§6,
// interpreting the definition's JSON on every call. Tests check the compiled
// evaluation, the indexes and NextFlip against it.

// refMatch reports whether a matches d at now.
func refMatch(d *Definition, a *Attrs, now time.Time) bool {
	if a.Excluded {
		return false
	}
	for _, g := range d.Groups {
		all := true
		for i := range g.Conditions {
			all = all && refCond(&g.Conditions[i], a, now)
		}
		if all {
			return true
		}
	}
	return false
}

// refTimeRelative reports whether c's outcome can change with now alone.
func refTimeRelative(c *Condition) bool {
	switch c.Field {
	case "days_since_last_order", "days_since_first_order", "lifecycle_stage":
		return true
	}
	return c.Op == "in_last_days" || c.Op == "more_than_days_ago" || len(c.InLastDays) > 0
}

// refWindow returns the value of a windowed condition (SPEC §5 "windowed
// aggregates"): over the items whose whole days since is < N.
func refWindow(c *Condition, a *Attrs, now time.Time) decimal.Decimal {
	days := decimal.MustParse(string(c.InLastDays)).Trim(0)
	in := func(t time.Time) bool { return decimal.MustNew(DaysSince(t, now), 0).Cmp(days) < 0 }
	n, sum := int64(0), decimal.Zero
	switch c.Field {
	case "orders_count", "total_spent":
		for _, o := range a.RecentOrders {
			if in(o.At) {
				n++
				sum, _ = sum.Add(o.Total)
			}
		}
		if c.Field == "total_spent" {
			return sum
		}
	case "messages_received", "messages_read":
		ts := a.RecentReceived
		if c.Field == "messages_read" {
			ts = a.RecentRead
		}
		for _, t := range ts {
			if in(time.Unix(0, t)) {
				n++
			}
		}
	case "automation_completions":
		for _, x := range a.RecentCompletions {
			if in(x.At) && (c.AutomationID == "" || x.Automation == c.AutomationID) {
				n++
			}
		}
	default:
		panic("reference model: no window on " + c.Field)
	}
	return decimal.MustNew(n, 0)
}

// refCond evaluates one (valid) condition.
func refCond(c *Condition, a *Attrs, now time.Time) bool {
	return refEval(c, refDecode(c), a, now)
}

// refDecode decodes a condition's value, numbers as json.Number.
func refDecode(c *Condition) any {
	dec := json.NewDecoder(bytes.NewReader(c.Value))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	return v
}

// refEval evaluates condition c whose value decodes to v.
func refEval(c *Condition, v any, a *Attrs, now time.Time) bool {
	str := func(x any) string {
		if n, ok := x.(json.Number); ok {
			return string(n)
		}
		return x.(string)
	}
	strs := func(fold func(string) string) []string {
		var out []string
		for _, e := range v.([]any) {
			out = append(out, fold(e.(string)))
		}
		return out
	}
	num := func(x any) decimal.Decimal { return decimal.MustParse(string(x.(json.Number))) }
	lower := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	upper := func(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
	has := func(set []string, x string) bool { return slices.Contains(set, x) }
	anyOf := func(set, xs []string) bool {
		for _, x := range xs {
			if has(set, x) {
				return true
			}
		}
		return false
	}

	switch c.Field {
	case "phone":
		p, err := NormalizePhone(str(v))
		return err == nil && a.Phone != "" && a.Phone == p
	case "list":
		return has(a.Lists, str(v)) == (c.Op == "in_list")
	case "tag":
		return has(a.Tags, lower(str(v))) == (c.Op == "has")
	case "segment":
		return has(a.Segments, str(v)) == (c.Op == "in_segment")
	case "purchased_brand":
		return anyOf(a.PurchasedBrands, strs(lower)) == (c.Op == "in")
	case "purchased_collection":
		return anyOf(a.PurchasedCollections, strs(lower)) == (c.Op == "in")
	case "purchased_price_range":
		lo, hi := num(v.([]any)[0]), num(v.([]any)[1])
		bought := false
		for _, p := range a.PurchasedPrices {
			bought = bought || lo.Cmp(p) <= 0 && p.Cmp(hi) <= 0
		}
		return bought == (c.Op == "between")
	case "country", "language", "lifecycle_stage", "consent_status", "email_consent_status", "city", "province", "email_domain":
		var actual string
		fold := lower
		switch c.Field {
		case "country":
			actual, fold = a.Country, upper
		case "province":
			actual, fold = a.Province, upper
		case "city":
			actual = a.City
		case "email_domain":
			actual = a.EmailDomain
		case "email_consent_status":
			actual = a.EmailConsent.String()
		case "language":
			actual = a.Language
		case "lifecycle_stage":
			actual = a.LifecycleStage(now).String()
		case "consent_status":
			actual = a.Consent.String()
		}
		if actual == "" {
			return false
		}
		switch c.Op {
		case "is":
			return actual == fold(str(v))
		case "is_not":
			return actual != fold(str(v))
		case "in":
			return has(strs(fold), actual)
		default:
			return !has(strs(fold), actual)
		}
	case "last_message_received_at", "last_engaged_at", "first_order_at", "last_order_at", "customer_created_at":
		t := map[string]time.Time{
			"last_message_received_at": a.LastMessageReceivedAt, "last_engaged_at": a.LastEngagedAt,
			"first_order_at": a.FirstOrderAt, "last_order_at": a.LastOrderAt, "customer_created_at": a.CustomerCreatedAt,
		}[c.Field]
		if t.IsZero() {
			return false
		}
		days := decimal.MustNew(DaysSince(t, now), 0)
		day := func(x any) (time.Time, bool) {
			s := x.(string)
			if d, err := time.Parse("2006-01-02", s); err == nil {
				return d, true
			}
			ts, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
			if err != nil {
				panic(err)
			}
			return ts, false
		}
		switch c.Op {
		case "in_last_days":
			return days.Cmp(num(v)) < 0
		case "more_than_days_ago":
			return days.Cmp(num(v)) > 0
		case "before":
			d, _ := day(v)
			return t.Before(d)
		case "after":
			d, isDate := day(v)
			if isDate {
				return !t.Before(d.AddDate(0, 0, 1)) // later than the day's last instant
			}
			return t.After(d)
		default: // between
			lo, _ := day(v.([]any)[0])
			hi, hiDate := day(v.([]any)[1])
			if hiDate {
				return !t.Before(lo) && t.Before(hi.AddDate(0, 0, 1))
			}
			return !t.Before(lo) && !t.After(hi)
		}
	}

	// Numbers.
	var x decimal.Decimal
	switch {
	case len(c.InLastDays) > 0:
		x = refWindow(c, a, now)
	case c.Field == "orders_count":
		x = decimal.MustNew(a.OrdersCount, 0)
	case c.Field == "total_spent":
		x = a.TotalSpent
	case c.Field == "average_order_value":
		if !a.HasAOV {
			return false
		}
		x = a.AOV
	case c.Field == "messages_received":
		x = decimal.MustNew(a.MessagesReceived, 0)
	case c.Field == "messages_read":
		x = decimal.MustNew(a.MessagesRead, 0)
	case c.Field == "automation_completions":
		n := a.AutomationCompletions
		if c.AutomationID != "" {
			n = a.CompletionsByAutomation[c.AutomationID]
		}
		x = decimal.MustNew(n, 0)
	case c.Field == "days_since_last_order", c.Field == "days_since_first_order":
		t := a.LastOrderAt
		if c.Field == "days_since_first_order" {
			t = a.FirstOrderAt
		}
		if t.IsZero() {
			return false
		}
		x = decimal.MustNew(DaysSince(t, now), 0)
	default:
		panic("reference model: unknown field " + c.Field)
	}
	switch c.Op {
	case "gt":
		return x.Cmp(num(v)) > 0
	case "gte":
		return x.Cmp(num(v)) >= 0
	case "lt":
		return x.Cmp(num(v)) < 0
	case "lte":
		return x.Cmp(num(v)) <= 0
	case "eq":
		return x.Cmp(num(v)) == 0
	default: // between
		return num(v.([]any)[0]).Cmp(x) <= 0 && x.Cmp(num(v.([]any)[1])) <= 0
	}
}
