package operators

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/govalues/decimal"
)

// Benchmarks of the per-event work for a workspace of 100 segments: the incremental
// path (Affected, then Match of the affected segments only) against evaluating every
// segment. Compare runs with benchstat:
//
//	go test ./operators -run '^$' -bench . -count 10 > new.txt
//	benchstat old.txt new.txt

const benchSegments = 100

// benchWorkspace returns a rule set of n segments drawn from realistic value ranges
// (thresholds spread out, many countries, tags and collections), so that an event
// touches a few segments, as in production.
func benchWorkspace(tb testing.TB, n int) *RuleSet {
	r := rand.New(rand.NewPCG(42, 42))
	conds := []func() map[string]any{
		func() map[string]any {
			return map[string]any{"field": "total_spent", "op": pick(r, []string{"gt", "gte", "lt"}), "value": json.Number(fmt.Sprint(50 * (1 + r.IntN(40))))}
		},
		func() map[string]any {
			return map[string]any{"field": "orders_count", "op": pick(r, []string{"gt", "gte", "eq", "lt"}), "value": 1 + r.IntN(10)}
		},
		func() map[string]any {
			return map[string]any{"field": "days_since_last_order", "op": pick(r, []string{"gt", "lt"}), "value": pick(r, []int{7, 14, 30, 60, 90, 180, 365})}
		},
		func() map[string]any {
			return map[string]any{"field": "average_order_value", "op": "gte", "value": 20 * (1 + r.IntN(20))}
		},
		func() map[string]any {
			op := pick(r, []string{"is", "in", "not_in"})
			return map[string]any{"field": "country", "op": op, "value": benchValue(r, op, benchCountries)}
		},
		func() map[string]any {
			return map[string]any{"field": "consent_status", "op": "is", "value": "yes"}
		},
		func() map[string]any {
			return map[string]any{"field": "tag", "op": pick(r, []string{"has", "has", "has_not"}), "value": pick(r, benchTags)}
		},
		func() map[string]any {
			return map[string]any{"field": "purchased_collection", "op": "in", "value": benchValue(r, "in", benchCollections)}
		},
		func() map[string]any {
			return map[string]any{"field": "purchased_brand", "op": "in", "value": benchValue(r, "in", benchBrands)}
		},
		func() map[string]any {
			return map[string]any{"field": "last_engaged_at", "op": pick(r, []string{"in_last_days", "more_than_days_ago"}), "value": pick(r, []int{7, 30, 90})}
		},
		func() map[string]any {
			return map[string]any{"field": "lifecycle_stage", "op": "is", "value": pick(r, propStages)}
		},
		func() map[string]any {
			return map[string]any{"field": "automation_completions", "op": "gte", "value": 1, "automation_id": fmt.Sprint("auto-", r.IntN(20))}
		},
		func() map[string]any {
			return map[string]any{"field": "list", "op": "in_list", "value": fmt.Sprint("list-", r.IntN(20))}
		},
	}
	var segs []*Segment
	for i := range n {
		var groups []map[string]any
		for range 1 + r.IntN(2) {
			var cs []map[string]any
			for range 1 + r.IntN(4) {
				cs = append(cs, pick(r, conds)())
			}
			groups = append(groups, map[string]any{"conditions": cs})
		}
		js, _ := json.Marshal(map[string]any{"workspace": "acme.myshopify.com", "id": fmt.Sprint("seg-", i), "groups": groups})
		d, err := ParseDefinition(js)
		if err != nil {
			tb.Fatalf("%v\n%s", err, js)
		}
		s, err := Compile(d)
		if err != nil {
			tb.Fatal(err)
		}
		segs = append(segs, s)
	}
	return NewRuleSet(segs)
}

var (
	benchCountries   = []string{"MX", "CO", "US", "CA", "BR", "AR", "CL", "PE", "ES", "FR", "DE", "IT", "GB", "PT", "NL"}
	benchTags        = []string{"vip", "wholesale", "newsletter", "influencer", "staff", "b2b", "returning", "gift", "sale", "loyal"}
	benchCollections = []string{"summer", "winter", "shoes", "bags", "sale", "new", "kids", "men", "women", "sport", "home", "beauty"}
	benchBrands      = []string{"nike", "adidas", "puma", "reebok", "asics", "vans", "converse", "fila", "lacoste", "levis"}
)

func benchValue(r *rand.Rand, op string, xs []string) any {
	if op == "is" {
		return pick(r, xs)
	}
	return []string{pick(r, xs), pick(r, xs)}
}

// benchEvents returns typical before/after pairs of one contact.
func benchEvents(now time.Time) map[string][2]*Attrs {
	old := &Attrs{
		Phone: "+525512345678", Country: "MX", Language: "es", Consent: ConsentYes,
		OrdersCount: 3, TotalSpent: decimal.MustParse("412.50"), AOV: decimal.MustParse("137.50"), HasAOV: true,
		FirstOrderAt: now.Add(-400 * Day), LastOrderAt: now.Add(-75 * Day),
		PurchasedBrands: []string{"adidas", "nike"}, PurchasedCollections: []string{"shoes", "summer"},
		PurchasedPrices:  []decimal.Decimal{decimal.MustParse("49.90"), decimal.MustParse("89.00")},
		MessagesReceived: 12, MessagesRead: 9, LastMessageReceivedAt: now.Add(-3 * Day), LastEngagedAt: now.Add(-20 * Day),
		AutomationCompletions: 2, CompletionsByAutomation: map[string]int64{"auto-1": 1, "auto-2": 1},
		Lists: []string{"list-3"}, Tags: []string{"newsletter", "returning"},
	}
	order := *old
	order.OrdersCount, order.TotalSpent, order.AOV = 4, decimal.MustParse("511.40"), decimal.MustParse("127.85")
	order.LastOrderAt = now
	order.PurchasedBrands = []string{"adidas", "nike", "puma"}
	order.PurchasedCollections = []string{"sale", "shoes", "summer"}
	order.PurchasedPrices = []decimal.Decimal{decimal.MustParse("49.90"), decimal.MustParse("89.00"), decimal.MustParse("98.90")}
	tag := *old
	tag.Tags = []string{"newsletter", "returning", "vip"}
	msg := *old
	msg.MessagesReceived, msg.LastMessageReceivedAt = 13, now
	inbound := *old
	inbound.LastEngagedAt = now
	return map[string][2]*Attrs{
		"order":   {old, &order},
		"tag":     {old, &tag},
		"message": {old, &msg},
		"inbound": {old, &inbound},
	}
}

// BenchmarkEvent compares the work per event: "incremental" is Affected plus Match of
// the affected segments, "all" matches every segment. segments-evaluated/op is how
// many segments each evaluates.
func BenchmarkEvent(b *testing.B) {
	rs := benchWorkspace(b, benchSegments)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	events := benchEvents(now)
	for _, name := range []string{"order", "tag", "message", "inbound"} {
		ev := events[name]
		b.Run(name+"/incremental", func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]int, 0, rs.Len())
			evaluated := 0
			for b.Loop() {
				dst = rs.Affected(ev[0], ev[1], now, dst[:0])
				for _, si := range dst {
					rs.Segment(si).Match(ev[1], now)
				}
				evaluated += len(dst)
			}
			b.ReportMetric(float64(evaluated)/float64(b.N), "segments-evaluated/op")
		})
		b.Run(name+"/all", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for si := range rs.Len() {
					rs.Segment(si).Match(ev[0], now)
					rs.Segment(si).Match(ev[1], now)
				}
			}
			b.ReportMetric(float64(2*rs.Len()), "segments-evaluated/op")
		})
	}
}

// BenchmarkAffected measures Affected alone (ns/affected: per affected segment found).
func BenchmarkAffected(b *testing.B) {
	rs := benchWorkspace(b, benchSegments)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	ev := benchEvents(now)["order"]
	dst := make([]int, 0, rs.Len())
	b.ReportAllocs()
	found := 0
	start := time.Now()
	for b.Loop() {
		dst = rs.Affected(ev[0], ev[1], now, dst[:0])
		found += len(dst)
	}
	if found > 0 {
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(found), "ns/affected")
	}
}

// BenchmarkNextFlip measures the timer re-arm computation.
func BenchmarkNextFlip(b *testing.B) {
	rs := benchWorkspace(b, benchSegments)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	a := benchEvents(now)["order"][1]
	b.ReportAllocs()
	for b.Loop() {
		rs.NextFlip(a, now)
	}
}

// TestAllocations pins the allocation-free steady state of Match, Affected and
// NextFlip.
func TestAllocations(t *testing.T) {
	rs := benchWorkspace(t, benchSegments)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	dst := make([]int, 0, 4*rs.Len())
	for name, ev := range benchEvents(now) {
		allocs := testing.AllocsPerRun(100, func() {
			dst = rs.Affected(ev[0], ev[1], now, dst[:0])
			for si := range rs.Len() {
				rs.Segment(si).Match(ev[1], now)
			}
			rs.NextFlip(ev[1], now)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per event, want 0", name, allocs)
		}
		if len(dst) == rs.Len() {
			t.Errorf("%s: every segment affected: the indexes are not selective", name)
		}
		if !slices.IsSorted(dst) {
			t.Errorf("%s: Affected not sorted", name)
		}
	}
}
