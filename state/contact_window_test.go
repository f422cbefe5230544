package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
)

// TestAttrsWindowItems checks the dated items that windows count: counted orders by
// created_at (full and folded; not cancelled or test ones), messages by received time
// (read ones apart), completions by completed_at; each ascending.
func TestAttrsWindowItems(t *testing.T) {
	var c Contact
	now := ts("2026-07-01T00:00:00Z")
	apply := func(ev *events.Event) {
		t.Helper()
		if out := c.Apply(ev, now); out != Applied {
			t.Fatalf("%v: %v", ev.Kind, out)
		}
	}
	order := func(id, created string, total string, cancelled bool, test bool) *events.Event {
		o := events.Order{ID: id, CreatedAt: ts(created), UpdatedAt: ts(created), Total: decimal.MustParse(total), Test: test}
		if cancelled {
			o.CancelledAt = ts(created)
		}
		return orderEv(ts(created), "", o)
	}
	apply(order("3", "2026-06-20T00:00:00Z", "30", false, false))
	apply(order("1", "2026-05-01T00:00:00Z", "10", false, false))
	apply(order("2", "2026-06-01T00:00:00Z", "20", true, false))
	apply(order("4", "2026-06-25T00:00:00Z", "40", false, true))
	apply(statusEv(now, "", "m1", events.StatusRead, ts("2026-06-29T00:00:00Z")))
	apply(statusEv(now, "", "m2", events.StatusDelivered, ts("2026-06-10T00:00:00Z")))
	apply(statusEv(now, "", "m2", events.StatusRead, ts("2026-06-11T00:00:00Z"))) // received time stays the earliest
	apply(statusEv(now, "", "m3", events.StatusDelivered, ts("2026-06-28T00:00:00Z")))
	apply(automationEv(ts("2026-06-30T00:00:00Z"), "", "b"))
	apply(automationEv(ts("2026-06-15T00:00:00Z"), "", "a"))

	a := c.Attrs("ws", nil, "")
	eqJSON(t, "RecentOrders", a.RecentOrders, `[{"At":"2026-05-01T00:00:00Z","Total":"10"},{"At":"2026-06-20T00:00:00Z","Total":"30"}]`)
	ns := func(s string) int64 { return ts(s).UnixNano() }
	eqJSON(t, "RecentReceived", a.RecentReceived, fmt.Sprint("[", ns("2026-06-10T00:00:00Z"), ",", ns("2026-06-28T00:00:00Z"), ",", ns("2026-06-29T00:00:00Z"), "]"))
	eqJSON(t, "RecentRead", a.RecentRead, fmt.Sprint("[", ns("2026-06-10T00:00:00Z"), ",", ns("2026-06-29T00:00:00Z"), "]"))
	eqJSON(t, "RecentCompletions", a.RecentCompletions, `[{"At":"2026-06-15T00:00:00Z","Automation":"a"},{"At":"2026-06-30T00:00:00Z","Automation":"b"}]`)

	// A new order is inserted in time order by the incremental path (withOrder).
	apply(order("5", "2026-05-15T00:00:00Z", "15", false, false))
	a = c.Attrs("ws", nil, "")
	eqJSON(t, "RecentOrders after an order", a.RecentOrders, `[{"At":"2026-05-01T00:00:00Z","Total":"10"},{"At":"2026-05-15T00:00:00Z","Total":"15"},{"At":"2026-06-20T00:00:00Z","Total":"30"}]`)
	c.agg = nil // recomputed from scratch: the same
	eqJSON(t, "RecentOrders recomputed", c.Attrs("ws", nil, "").RecentOrders, `[{"At":"2026-05-01T00:00:00Z","Total":"10"},{"At":"2026-05-15T00:00:00Z","Total":"15"},{"At":"2026-06-20T00:00:00Z","Total":"30"}]`)
}

// TestWindowItemsBounded: folded orders stay in windows; completion times more than
// 90 days before the latest are dropped, and beyond their share of the bound the
// oldest go, while the counts stay exact.
func TestWindowItemsBounded(t *testing.T) {
	var c Contact
	now := ts("2026-07-01T00:00:00Z")
	const bound = MinMaxContactBytes
	start := ts("2026-01-01T00:00:00Z")
	for i := range 400 {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		o := events.Order{ID: fmt.Sprint(1000 + i), CreatedAt: at, UpdatedAt: at, Total: decimal.MustParse("1"),
			LineItems: []events.LineItem{{ProductID: "p", Vendor: "v", Price: decimal.MustParse("1"), Quantity: 1}}}
		if out := c.ApplyBounded(orderEv(at, "", o), now, bound); out != Applied {
			t.Fatalf("order %d: %v", i, out)
		}
	}
	if counted, _ := c.FoldedOrders(); counted == 0 {
		t.Fatal("no order was folded: the test does not exercise folding")
	}
	a := c.Attrs("ws", nil, "")
	if int64(len(a.RecentOrders)) != a.OrdersCount-c.fold.forgot.count {
		t.Errorf("RecentOrders = %d, want every remembered counted order: %d", len(a.RecentOrders), a.OrdersCount-c.fold.forgot.count)
	}

	var d Contact
	lim := newLimits(bound, 1).completions
	n := 3 * lim
	for i := range n {
		at := now.Add(-time.Duration(n-i) * time.Minute)
		if out := d.ApplyBounded(automationEv(at, "", "a"), now, bound); out != Applied {
			t.Fatalf("completion %d: %v", i, out)
		}
	}
	if len(d.completions) > lim || len(d.completions) == 0 {
		t.Errorf("completion times kept = %d, want 1..%d", len(d.completions), lim)
	}
	if last := d.completions[len(d.completions)-1].At; !last.Equal(now.Add(-time.Minute)) {
		t.Errorf("latest completion kept = %v: the oldest must go first", last)
	}
	if got, _ := d.automationAggregates(); got != int64(n) {
		t.Errorf("automation_completions = %d, want %d (counts stay exact)", got, n)
	}
	// 90 days after the latest, an older one is dropped from the window part.
	if out := d.ApplyBounded(automationEv(now.Add(91*24*time.Hour), "", "a"), now, bound); out != Applied {
		t.Fatal(out)
	}
	if len(d.completions) != 1 {
		t.Errorf("after a completion 91 days later, %d completion times kept, want 1", len(d.completions))
	}
}
