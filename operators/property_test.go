package operators

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/segmentd/segmentd/internal/testseed"
)

// Property tests: random definitions and random contacts, checked against the
// reference model (reference_test.go) and brute force. Each runs fixed seeds and as
// many fresh ones (logged); a failure names its seed, and
// SEGMENTD_TEST_SEED=<seed> go test ./operators -run '^TestPropertyAffected$' reruns it.

var propBase = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// TestPropertyAffected checks, for random rule sets and random pairs of contact
// states at random instants, that Match agrees with the reference model and that
// Affected is a sorted, duplicate-free superset of the segments whose match differs.
func TestPropertyAffected(t *testing.T) {
	sets, pairs := 400, 40
	if testing.Short() || raceEnabled {
		sets = 60
	}
	var totalAffected, totalChanged, totalSegs int
	for _, seed := range testseed.Range(t, sets) {
		r := rand.New(rand.NewPCG(seed, 1))
		defs, rs := genRuleSet(t, r)
		var dst []int
		for range pairs {
			now := genNow(r)
			old := genAttrs(r, now)
			var new *Attrs
			if r.IntN(4) == 0 {
				new = genAttrs(r, now)
			} else {
				new = mutateAttrs(r, old, now)
			}
			dst = rs.Affected(old, new, now, dst[:0])
			if !slices.IsSorted(dst) || len(slices.Compact(slices.Clone(dst))) != len(dst) {
				t.Fatalf("seed %d: Affected %v is not ascending and unique", seed, dst)
			}
			for si, d := range defs {
				s := rs.Segment(si)
				mo, mn := s.Match(old, now), s.Match(new, now)
				if ro, rn := refMatch(d, old, now), refMatch(d, new, now); mo != ro || mn != rn {
					t.Fatalf("seed %d: segment %d: Match old/new = %v/%v, reference %v/%v\nrules %s\nold %+v\nnew %+v",
						seed, si, mo, mn, ro, rn, d.RulesKey(), *old, *new)
				}
				if e := Explain(s, new, now); e.Match != mn {
					t.Fatalf("seed %d: segment %d: Explain says %v, Match %v", seed, si, e.Match, mn)
				}
				if mo != mn {
					totalChanged++
					if _, ok := slices.BinarySearch(dst, si); !ok {
						t.Fatalf("seed %d: segment %d changed (%v → %v) but Affected = %v\nrules %s\nold %+v\nnew %+v\nnow %v",
							seed, si, mo, mn, dst, d.RulesKey(), *old, *new, now)
					}
				}
			}
			totalAffected += len(dst)
			totalSegs += len(defs)
		}
	}
	t.Logf("segments: %d, affected: %d, changed: %d", totalSegs, totalAffected, totalChanged)
}

// TestPropertyNextFlip checks NextFlip against brute force: the outcomes of every
// time-relative condition of the set are the same at every instant in (now, flip) at
// which a days-since value steps, and differ at flip; with no flip, they never change.
func TestPropertyNextFlip(t *testing.T) {
	sets, contacts := 600, 15
	if testing.Short() || raceEnabled {
		sets = 50
	}
	flips := 0
	for _, seed := range testseed.Range(t, sets) {
		r := rand.New(rand.NewPCG(seed, 2))
		defs, rs := genRuleSet(t, r)
		for range contacts {
			now := genNow(r)
			a := genAttrs(r, now)
			got := rs.NextFlip(a, now)
			want := bruteNextFlip(defs, a, now)
			if !got.Equal(want) {
				t.Fatalf("seed %d: NextFlip = %v, brute force %v (now %v)\nrules %v\nattrs %+v", seed, got, want, now, ruleKeys(defs), *a)
			}
			if !got.IsZero() {
				flips++
			}
		}
	}
	t.Logf("contacts with a next flip: %d", flips)
}

func ruleKeys(defs []*Definition) []string {
	var out []string
	for _, d := range defs {
		out = append(out, d.RulesKey())
	}
	return out
}

// bruteNextFlip finds the first instant after now at which a time-relative condition
// changes outcome, trying every instant at which a days-since value of a steps.
func bruteNextFlip(defs []*Definition, a *Attrs, now time.Time) time.Time {
	if a.Excluded {
		return time.Time{}
	}
	type decoded struct {
		c *Condition
		v any
	}
	var conds []decoded
	for _, d := range defs {
		for _, g := range d.Groups {
			for i := range g.Conditions {
				if c := &g.Conditions[i]; refTimeRelative(c) {
					conds = append(conds, decoded{c, refDecode(c)})
				}
			}
		}
	}
	if len(conds) == 0 {
		return time.Time{}
	}
	outcomes := func(at time.Time) []bool {
		var v []bool
		for _, c := range conds {
			v = append(v, refEval(c.c, c.v, a, at))
		}
		return v
	}
	var candidates []time.Time
	for _, base := range []time.Time{a.LastOrderAt, a.FirstOrderAt, a.LastMessageReceivedAt, a.LastEngagedAt, a.CustomerCreatedAt} {
		if base.IsZero() {
			continue
		}
		// No threshold of the generator lies beyond 182 days.
		for k := DaysSince(base, now) + 1; k <= 183; k++ {
			candidates = append(candidates, base.Add(time.Duration(k)*Day))
		}
	}
	// Windows: an item leaves a window of N days at its time + N·24h.
	var items []time.Time
	for _, o := range a.RecentOrders {
		items = append(items, o.At)
	}
	for _, t := range append(slices.Clone(a.RecentReceived), a.RecentRead...) {
		items = append(items, time.Unix(0, t))
	}
	for _, x := range a.RecentCompletions {
		items = append(items, x.At)
	}
	for _, c := range conds {
		if len(c.c.InLastDays) == 0 {
			continue
		}
		n, _, _ := decimal.MustParse(string(c.c.InLastDays)).Int64(0)
		for _, t := range items {
			if at := t.Add(time.Duration(n) * Day); at.After(now) {
				candidates = append(candidates, at)
			}
		}
	}
	slices.SortFunc(candidates, time.Time.Compare)
	at0 := outcomes(now)
	for _, c := range candidates {
		if !slices.Equal(outcomes(c), at0) {
			return c
		}
	}
	return time.Time{}
}

// genNow returns an instant near propBase.
func genNow(r *rand.Rand) time.Time {
	return propBase.Add(time.Duration(r.IntN(5)-2) * Day).Add(pick(r, []time.Duration{0, time.Hour, -time.Nanosecond, 13*time.Hour + 7*time.Minute}))
}

// genRuleSet returns 1–12 random valid definitions and their rule set.
func genRuleSet(t *testing.T, r *rand.Rand) ([]*Definition, *RuleSet) {
	n := 1 + r.IntN(12)
	var defs []*Definition
	var segs []*Segment
	for i := range n {
		js := genDefinitionJSON(r, fmt.Sprintf("s%d", i))
		d, err := ParseDefinition(js)
		if err != nil {
			t.Fatalf("random definition does not parse: %v\n%s", err, js)
		}
		s, err := Compile(d)
		if err != nil {
			t.Fatalf("parsed definition does not compile: %v", err)
		}
		defs, segs = append(defs, d), append(segs, s)
	}
	return defs, NewRuleSet(segs)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func genDefinitionJSON(r *rand.Rand, id string) []byte {
	var groups []map[string]any
	for range 1 + r.IntN(3) {
		var conds []map[string]any
		for range 1 + r.IntN(4) {
			conds = append(conds, genCondition(r))
		}
		groups = append(groups, map[string]any{"conditions": conds})
	}
	js, _ := json.Marshal(map[string]any{"workspace": "acme.myshopify.com", "id": id, "groups": groups})
	return js
}

var (
	propFields = []string{
		"phone", "list", "last_message_received_at", "last_engaged_at", "orders_count", "total_spent",
		"days_since_last_order", "days_since_first_order", "average_order_value", "messages_received",
		"messages_read", "automation_completions", "country", "language", "lifecycle_stage",
		"consent_status", "purchased_collection", "purchased_brand", "purchased_price_range", "tag",
		"first_order_at", "last_order_at", "customer_created_at", "email_consent_status", "city", "province",
		"email_domain", "segment",
	}
	propOps = []string{
		"eq", "gt", "lt", "gte", "lte", "between", "not_between", "before", "after", "in_last_days",
		"more_than_days_ago", "is", "is_not", "in", "not_in", "in_list", "not_in_list", "has", "has_not", "in_segment", "not_in_segment",
	}
	propPhones    = []string{"+14155552671", "+525512345678", "+5491123456789"}
	propCountries = []string{"MX", "CO", "US", "FR"}
	propLanguages = []string{"es", "pt", "en", "fr"}
	propStages    = []string{"lead", "first_time_buyer", "repeat_buyer", "at_risk", "lapsed"}
	propBrands    = []string{"nike", "adidas", "puma"}
	propColls     = []string{"summer", "shoes", "winter"}
	propTags      = []string{"vip", "new", "old"}
	propCities    = []string{"monterrey", "ciudad de méxico", "bogotá", "austin"}
	propProvinces = []string{"NL", "CDMX", "CA", "TX"}
	propDomains   = []string{"gmail.com", "example.com", "mail.mx"}
	propSegs      = []string{"vip", "lapsed", "x-1"}
	propLists     = []string{"l1", "l2", "42"}
	propAutos     = []string{"a1", "a2", "a3"}
	propMoney     = []string{"0", "0.1", "0.2", "0.3", "5", "5.5", "10", "10.01", "9.99", "15"}
	propCounts    = []string{"-1", "0", "1", "1.5", "2", "3", "4"}
	propDays      = []string{"-1", "0", "1", "2", "3", "5", "7", "7.5", "59", "60", "61", "89", "90", "91"}
	propRelDays   = []string{"0", "1", "2", "3", "7", "7.0", "30"}
	propDayOffs   = []int64{0, 1, 2, 3, 5, 7, 8, 29, 30, 31, 59, 60, 61, 62, 89, 90, 91, 92, 179, 180, 181, 182, -1}
	// Windows within every field's range; the brute force of NextFlip tries
	// departures up to 183 days.
	propWindowDays = []string{"1", "2", "7", "7.0", "30", "60", "90"}
	propJitter     = []time.Duration{0, 0, -time.Nanosecond, time.Nanosecond, -time.Hour, 5 * time.Hour, 23*time.Hour + 59*time.Minute}
)

func genCondition(r *rand.Rand) map[string]any {
	var f, o string
	for {
		f, o = pick(r, propFields), pick(r, propOps)
		if parseField(f).allows(parseOp(o)) {
			break
		}
	}
	c := map[string]any{"field": f, "op": o}
	randCase := func(s string) string {
		switch r.IntN(3) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			return " " + s
		}
		return s
	}
	subset := func(xs []string) []string {
		var out []string
		for _, x := range xs {
			if r.IntN(2) == 0 {
				out = append(out, randCase(x))
			}
		}
		if len(out) == 0 {
			out = append(out, pick(r, xs))
		}
		return out
	}
	numPair := func(xs []string) []json.Number {
		a, b := decimal.MustParse(pick(r, xs)), decimal.MustParse(pick(r, xs))
		if a.Cmp(b) > 0 {
			a, b = b, a
		}
		return []json.Number{json.Number(a.String()), json.Number(b.String())}
	}
	switch f {
	case "phone":
		c["value"] = pick(r, propPhones)
	case "list":
		c["value"] = pick(r, propLists)
	case "tag":
		c["value"] = randCase(pick(r, propTags))
	case "segment":
		c["value"] = pick(r, propSegs)
	case "purchased_brand":
		c["value"] = subset(propBrands)
	case "purchased_collection":
		c["value"] = subset(propColls)
	case "purchased_price_range":
		c["value"] = numPair(propMoney)
	case "country", "language", "lifecycle_stage", "consent_status", "email_consent_status", "city", "province", "email_domain":
		vals := map[string][]string{"country": propCountries, "language": propLanguages,
			"lifecycle_stage": propStages, "consent_status": {"yes", "no", "unknown"},
			"email_consent_status": {"yes", "no", "unknown"}, "city": propCities, "province": propProvinces,
			"email_domain": propDomains}[f]
		if o == "is" || o == "is_not" {
			c["value"] = randCase(pick(r, vals))
		} else {
			c["value"] = subset(vals)
		}
	case "last_message_received_at", "last_engaged_at", "first_order_at", "last_order_at", "customer_created_at":
		switch o {
		case "in_last_days", "more_than_days_ago":
			c["value"] = json.Number(pick(r, propRelDays))
		case "between":
			a, b := genRuleInstant(r), genRuleInstant(r)
			if a.start.After(b.start) {
				a, b = b, a
			}
			c["value"] = []string{a.String(), b.String()}
		default:
			c["value"] = genRuleInstant(r).String()
		}
	default:
		vals := propCounts
		switch f {
		case "total_spent", "average_order_value":
			vals = propMoney
		case "days_since_last_order", "days_since_first_order":
			vals = propDays
		case "automation_completions":
			if r.IntN(2) == 0 {
				c["automation_id"] = pick(r, propAutos)
			}
		}
		if o == "between" {
			c["value"] = numPair(vals)
		} else {
			c["value"] = json.Number(pick(r, vals))
		}
		if maxWindowDays(parseField(f)) > 0 && r.IntN(3) == 0 {
			c["in_last_days"] = json.Number(pick(r, propWindowDays))
		}
	}
	return c
}

// genRuleInstant returns a date or timestamp a few days around propBase.
func genRuleInstant(r *rand.Rand) dateOrTime {
	day := propBase.Truncate(Day).Add(time.Duration(r.IntN(12)-8) * Day)
	if r.IntN(2) == 0 {
		return dateOrTime{start: day, date: true}
	}
	return dateOrTime{start: day.Add(time.Duration(r.IntN(48)) * 30 * time.Minute)}
}

// genInstant returns an instant some whole days (and a jitter) before now, or an
// absolute instant around propBase.
func genInstant(r *rand.Rand, now time.Time) time.Time {
	if r.IntN(3) == 0 {
		return propBase.Truncate(Day).Add(time.Duration(r.IntN(12)-8) * Day).Add(pick(r, propJitter))
	}
	return now.Add(-time.Duration(pick(r, propDayOffs)) * Day).Add(pick(r, propJitter))
}

func genAttrs(r *rand.Rand, now time.Time) *Attrs {
	a := &Attrs{}
	for k := range numAttrKinds {
		if r.IntN(2) == 0 {
			setAttr(r, a, k, now)
		}
	}
	return a
}

// mutateAttrs returns a copy of a with one to three attributes regenerated.
func mutateAttrs(r *rand.Rand, a *Attrs, now time.Time) *Attrs {
	b := *a
	for range 1 + r.IntN(3) {
		setAttr(r, &b, r.IntN(numAttrKinds), now)
	}
	return &b
}

const numAttrKinds = 22

// setAttr regenerates attribute group k of a (replacing slices and maps, never
// modifying them in place).
func setAttr(r *rand.Rand, a *Attrs, k int, now time.Time) {
	subset := func(xs []string) []string {
		var out []string
		for _, x := range xs {
			if r.IntN(2) == 0 {
				out = append(out, x)
			}
		}
		slices.Sort(out)
		return out
	}
	maybe := func(xs []string) string {
		if r.IntN(4) == 0 {
			return ""
		}
		return pick(r, xs)
	}
	switch k {
	case 0:
		a.Phone = maybe(propPhones)
	case 1:
		a.Country = maybe(propCountries)
	case 2:
		a.Language = maybe(propLanguages)
	case 3:
		a.Consent = Consent(r.IntN(3))
	case 4: // orders
		a.OrdersCount = int64(r.IntN(4))
		a.TotalSpent = decimal.MustParse(pick(r, propMoney))
		a.AOV, a.HasAOV = decimal.Decimal{}, false
		a.FirstOrderAt, a.LastOrderAt = time.Time{}, time.Time{}
		if a.OrdersCount > 0 {
			a.AOV, a.HasAOV = decimal.MustParse(pick(r, propMoney)), true
			a.LastOrderAt = genInstant(r, now)
			a.FirstOrderAt = a.LastOrderAt
			if a.OrdersCount > 1 {
				a.FirstOrderAt = genInstant(r, now)
				if a.FirstOrderAt.After(a.LastOrderAt) {
					a.FirstOrderAt, a.LastOrderAt = a.LastOrderAt, a.FirstOrderAt
				}
			}
		}
	case 5:
		a.TotalSpent = decimal.MustParse(pick(r, propMoney))
	case 6:
		a.PurchasedBrands = subset(propBrands)
		a.PurchasedCollections = subset(propColls)
	case 7:
		var prices []decimal.Decimal
		for _, m := range propMoney {
			if r.IntN(4) == 0 {
				prices = append(prices, decimal.MustParse(m))
			}
		}
		slices.SortFunc(prices, decimal.Decimal.Cmp)
		a.PurchasedPrices = slices.CompactFunc(prices, decimal.Decimal.Equal)
	case 8:
		a.MessagesReceived = int64(r.IntN(5))
		a.MessagesRead = int64(r.IntN(int(a.MessagesReceived) + 1))
	case 9:
		a.LastMessageReceivedAt = time.Time{}
		if r.IntN(4) != 0 {
			a.LastMessageReceivedAt = genInstant(r, now)
		}
	case 10:
		a.LastEngagedAt = time.Time{}
		if r.IntN(4) != 0 {
			a.LastEngagedAt = genInstant(r, now)
		}
	case 11:
		a.CompletionsByAutomation = nil
		a.AutomationCompletions = 0
		for _, id := range propAutos {
			if n := int64(r.IntN(4)); n > 0 && r.IntN(2) == 0 {
				if a.CompletionsByAutomation == nil {
					a.CompletionsByAutomation = map[string]int64{}
				}
				a.CompletionsByAutomation[id] = n
				a.AutomationCompletions += n
			}
		}
	case 12:
		a.Lists = subset(propLists)
		a.Tags = subset(propTags)
	case 13:
		a.LifecycleOverride = StageNone
		if r.IntN(3) == 0 {
			a.LifecycleOverride = Stage(1 + r.IntN(5))
		}
	case 14:
		a.Excluded = r.IntN(6) == 0
	case 15:
		a.EmailConsent = Consent(r.IntN(3))
		a.EmailDomain = maybe(propDomains)
	case 16:
		a.City = maybe(propCities)
		a.Province = maybe(propProvinces)
	case 17:
		a.CustomerCreatedAt = time.Time{}
		if r.IntN(4) != 0 {
			a.CustomerCreatedAt = genInstant(r, now)
		}
	case 18: // counted orders of windows
		a.RecentOrders = nil
		for range r.IntN(5) {
			a.RecentOrders = append(a.RecentOrders, TimedAmount{At: genInstant(r, now), Total: decimal.MustParse(pick(r, propMoney))})
		}
		slices.SortStableFunc(a.RecentOrders, func(x, y TimedAmount) int { return x.At.Compare(y.At) })
	case 19: // messages of windows
		a.RecentReceived, a.RecentRead = nil, nil
		for range r.IntN(5) {
			t := genInstant(r, now)
			a.RecentReceived = append(a.RecentReceived, UnixNano(t))
			if r.IntN(2) == 0 {
				a.RecentRead = append(a.RecentRead, UnixNano(t))
			}
		}
		slices.Sort(a.RecentReceived)
		slices.Sort(a.RecentRead)
	case 20: // completions of windows
		a.RecentCompletions = nil
		for range r.IntN(5) {
			a.RecentCompletions = append(a.RecentCompletions, Completion{At: genInstant(r, now), Automation: pick(r, propAutos)})
		}
		slices.SortStableFunc(a.RecentCompletions, func(x, y Completion) int { return x.At.Compare(y.At) })
	case 21:
		a.Segments = subset(propSegs)
	}
}
