package state

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
)

// extremeOrder is order i of the extreme contact: 30 line items of 40 products from
// 10 vendors, except order 0, whose first item is of the vendor "first-brand", and
// order early, whose first item is of "early-brand" (product 990001).
func extremeOrder(i, early int) events.Order {
	created := t0.Add(-20000 * time.Hour).Add(time.Duration(i) * time.Hour)
	o := events.Order{ID: strconv.Itoa(5000000000000 + i), CreatedAt: created, UpdatedAt: created, Total: dec("300.00"), CustomerLocale: "es-MX"}
	for j := range 30 {
		o.LineItems = append(o.LineItems, events.LineItem{
			ProductID: strconv.Itoa(8000000000 + (i+j)%40), Vendor: fmt.Sprintf("Vendor %d", (i+j)%10),
			Price: dec(fmt.Sprintf("%d.00", 5+(i+j)%10)), Quantity: 1,
		})
	}
	switch i {
	case 0:
		o.LineItems[0].Vendor = "First-Brand"
	case early:
		o.LineItems[0].Vendor, o.LineItems[0].ProductID, o.LineItems[0].Price = "Early-Brand", "990001", dec("12345.67")
	}
	return o
}

// TestContactBoundExtreme applies the extreme contact of issue 12 (20,000 orders of 30
// line items, 50,000 message statuses, 250 tags, 1,000 lists, 1,000 automations) and
// checks that its record stays within the bound while the exact attributes stay exact.
func TestContactBoundExtreme(t *testing.T) {
	const maxBytes = DefaultMaxContactBytes
	const nOrders, early = 20000, 19000
	var c Contact
	now := t0
	n := 0
	apply := func(ev *events.Event) Outcome {
		n++
		now = now.Add(time.Second)
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now
		}
		ev.DeliveryID = fmt.Sprintf("delivery-%d", n)
		out := c.ApplyBounded(ev, now, maxBytes)
		if n%5000 == 0 {
			if b, _ := c.AppendBinary(nil); len(b) > maxBytes {
				t.Fatalf("after %d events the record takes %d bytes", n, len(b))
			}
		}
		return out
	}
	for i := range nOrders {
		if out := apply(orderEv(time.Time{}, "", extremeOrder(i, early))); out != Applied {
			t.Fatalf("order %d: %v", i, out)
		}
	}
	for i := range 50000 {
		st := events.StatusDelivered
		if i%2 == 1 {
			st = events.StatusRead
		}
		// 25,000 messages, each delivered then read, one minute apart.
		apply(statusEv(time.Time{}, "", fmt.Sprintf("wamid.%d", i/2), st, t0.Add(-50*day).Add(time.Duration(i/2)*time.Minute)))
	}
	for i := range 250 {
		apply(tagsEv(events.TagsAdded, time.Time{}, "", fmt.Sprintf("tag-%03d", i)))
	}
	for i := range 1000 {
		apply(listEv(events.ListMemberAdded, time.Time{}, "", fmt.Sprintf("list-%04d", i)))
	}
	for i := range 1000 {
		apply(automationEv(time.Time{}, "", fmt.Sprintf("automation-%04d", i)))
	}
	b, err := c.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("extreme contact: %d bytes; %d full orders, %d folded entries, %d forgotten, %d delivery ids, %d messages",
		len(b), len(c.orders), len(c.fold.entries), c.fold.forgot.count, len(c.seen), len(c.msgs))
	if len(b) > maxBytes {
		t.Fatalf("record takes %d bytes, over the bound %d", len(b), maxBytes)
	}
	if c.fold.forgot.count == 0 || len(c.fold.entries) == 0 {
		t.Fatalf("expected both remembered and forgotten folded orders")
	}
	// Decode it: what follows runs on the stored form.
	var d Contact
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	c = d
	if counted, other := c.FoldedOrders(); counted+int64(len(c.orders)) != nOrders || other != 0 {
		t.Errorf("FoldedOrders %d, %d with %d full orders", counted, other, len(c.orders))
	}
	if _, found := c.findFolded(strconv.Itoa(5000000000000 + early)); !found {
		t.Fatalf("order %d is not a remembered folded order", early)
	}
	a := c.Attrs("acme.myshopify.com", mapCatalog{"acme.myshopify.com/990001": {"Rare"}}, "")
	if a.OrdersCount != nOrders || a.TotalSpent.String() != "6000000.00" || a.AOV.String() != "300.00" {
		t.Errorf("orders_count %d, total_spent %s, aov %s", a.OrdersCount, a.TotalSpent, a.AOV)
	}
	if want := t0.Add(-20000 * time.Hour); !a.FirstOrderAt.Equal(want) {
		t.Errorf("first_order_at %v, want %v", a.FirstOrderAt, want)
	}
	if want := t0.Add(-20000 * time.Hour).Add((nOrders - 1) * time.Hour); !a.LastOrderAt.Equal(want) {
		t.Errorf("last_order_at %v, want %v", a.LastOrderAt, want)
	}
	for _, brand := range []string{"first-brand", "early-brand", "vendor 0", "vendor 9"} {
		if _, found := slices.BinarySearch(a.PurchasedBrands, brand); !found {
			t.Errorf("purchased_brands lacks %q: %v", brand, a.PurchasedBrands)
		}
	}
	if len(a.PurchasedBrands) != 12 {
		t.Errorf("purchased_brands %v", a.PurchasedBrands)
	}
	if !slices.Equal(a.PurchasedCollections, []string{"rare"}) {
		t.Errorf("purchased_collections %v", a.PurchasedCollections)
	}
	if !slices.ContainsFunc(a.PurchasedPrices, func(p decimal.Decimal) bool { return p.String() == "12345.67" }) {
		t.Errorf("purchased_prices lacks 12345.67: %v", a.PurchasedPrices)
	}
	if a.MessagesReceived != 25000 || a.MessagesRead != 25000 {
		t.Errorf("messages received %d, read %d", a.MessagesReceived, a.MessagesRead)
	}
	if want := t0.Add(-50 * day).Add(24999 * time.Minute); !a.LastMessageReceivedAt.Equal(want) {
		t.Errorf("last_message_received_at %v, want %v", a.LastMessageReceivedAt, want)
	}
	if len(a.Tags) != 250 || len(a.Lists) != 1000 || len(a.CompletionsByAutomation) != 1000 || a.AutomationCompletions != 1000 {
		t.Errorf("tags %d, lists %d, automations %d (%d completions)", len(a.Tags), len(a.Lists), len(a.CompletionsByAutomation), a.AutomationCompletions)
	}
	if a.Language != "es" {
		t.Errorf("language %q", a.Language)
	}

	// Cancelling the early folded order removes it exactly: its brand, product and
	// price were bought nowhere else.
	o := extremeOrder(early, early)
	o.UpdatedAt, o.CancelledAt = now, now
	if out := apply(orderEv(time.Time{}, "", o)); out != Applied {
		t.Fatalf("cancellation: %v", out)
	}
	a = c.Attrs("acme.myshopify.com", mapCatalog{"acme.myshopify.com/990001": {"Rare"}}, "")
	if a.OrdersCount != nOrders-1 || a.TotalSpent.String() != "5999700.00" {
		t.Errorf("after cancelling: orders_count %d, total_spent %s", a.OrdersCount, a.TotalSpent)
	}
	if _, found := slices.BinarySearch(a.PurchasedBrands, "early-brand"); found {
		t.Errorf("early-brand still purchased after its only order was cancelled")
	}
	if len(a.PurchasedCollections) != 0 {
		t.Errorf("purchased_collections %v after cancelling", a.PurchasedCollections)
	}
	if slices.ContainsFunc(a.PurchasedPrices, func(p decimal.Decimal) bool { return p.String() == "12345.67" }) {
		t.Errorf("purchased_prices still has 12345.67")
	}
	// A late, older update of the cancelled order is stale; the cancellation stays.
	late := extremeOrder(early, early)
	late.UpdatedAt = now.Add(-time.Hour)
	if out := apply(orderEv(time.Time{}, "", late)); out != Stale {
		t.Errorf("older update of the cancelled order: %v, want stale", out)
	}
}

// TestContactBoundRefusesExactGrowth checks that an event growing what is kept exactly
// past its share of the bound is refused, leaving the record as it was.
func TestContactBoundRefusesExactGrowth(t *testing.T) {
	const maxBytes = MinMaxContactBytes // the exact share is 4 KiB
	var c Contact
	now := t0
	for i := 0; ; i++ {
		now = now.Add(time.Second)
		before, _ := c.AppendBinary(nil)
		out := c.ApplyBounded(tagsEv(events.TagsAdded, now, fmt.Sprint("d", i), fmt.Sprintf("%s-%03d", strings.Repeat("t", 40), i)), now, maxBytes)
		if out == TooLarge {
			after, _ := c.AppendBinary(nil)
			if string(before) != string(after) {
				t.Fatalf("a refused event changed the record")
			}
			if i < 50 || i > 120 {
				t.Fatalf("refused at tag %d", i)
			}
			// A removal still works, and then an addition again.
			if out := c.ApplyBounded(tagsEv(events.TagsRemoved, now, "rm", c.Tags()[0]), now, maxBytes); out != Applied {
				t.Fatalf("removal: %v", out)
			}
			if out := c.ApplyBounded(tagsEv(events.TagsAdded, now, "again", "x"), now, maxBytes); out != Applied {
				t.Fatalf("addition after removal: %v", out)
			}
			return
		}
		if out != Applied {
			t.Fatalf("tag %d: %v", i, out)
		}
	}
}

// TestContactFoldedOrderUpdates checks updates and deletions of folded orders.
func TestContactFoldedOrderUpdates(t *testing.T) {
	var c Contact
	now := t0
	apply := func(ev *events.Event) Outcome {
		now = now.Add(time.Second)
		return c.ApplyBounded(ev, now, 32<<10)
	}
	common := item("7", "common", "1.00")
	for i := range 150 {
		o := order(strconv.Itoa(1000+i), at(time.Duration(i)*time.Hour), "10.00", item(strconv.Itoa(i), fmt.Sprint("v", i), "10.00"), common, common, common, common)
		if i == 1 {
			o.CancelledAt = o.CreatedAt.Add(time.Minute)
		}
		apply(orderEv(at(time.Duration(i)*time.Hour), "", o))
	}
	if len(c.fold.entries) == 0 {
		t.Fatal("nothing folded")
	}
	roundTrip(t, &c)
	a := attrs(&c)
	if a.OrdersCount != 149 || a.TotalSpent.String() != "1490.00" || !a.FirstOrderAt.Equal(at(0)) {
		t.Fatalf("count %d total %s first %v", a.OrdersCount, a.TotalSpent, a.FirstOrderAt)
	}
	// Un-cancelling a folded cancelled order counts it again, with its items.
	if _, found := c.findFolded("1001"); !found {
		t.Fatal("order 1001 not folded")
	}
	o := order("1001", at(time.Hour), "10.00", item("1", "v1", "10.00"), common, common, common, common)
	o.UpdatedAt = at(300 * time.Hour)
	if out := apply(orderEv(at(300*time.Hour), "", o)); out != Applied {
		t.Fatalf("un-cancel: %v", out)
	}
	a = attrs(&c)
	if a.OrdersCount != 150 || !slices.Contains(a.PurchasedBrands, "v1") {
		t.Fatalf("after un-cancel: count %d, brands has v1: %v", a.OrdersCount, slices.Contains(a.PurchasedBrands, "v1"))
	}
	// Deleting the first (folded) order moves first_order_at to the next one.
	if _, found := c.findFolded("1000"); !found {
		t.Fatal("order 1000 not folded")
	}
	if out := apply(orderDeleteEv(at(301*time.Hour), "", "1000")); out != Applied {
		t.Fatalf("delete: %v", out)
	}
	roundTrip(t, &c)
	a = attrs(&c)
	if a.OrdersCount != 149 || !a.FirstOrderAt.Equal(at(time.Hour)) {
		t.Fatalf("after delete: count %d first %v", a.OrdersCount, a.FirstOrderAt)
	}
}

// TestContactAppendBounded checks the last resort: a record over the bound (here one
// applied without a bound) is folded when encoded with AppendBounded.
func TestContactAppendBounded(t *testing.T) {
	var c Contact
	for i := range 3000 {
		now := at(time.Duration(i) * time.Minute)
		c.ApplyBounded(orderEv(now, fmt.Sprint("d", i), extremeOrder(i, -1)), now, 0)
	}
	before := attrs(&c)
	b, over, err := c.AppendBounded(nil, MinMaxContactBytes)
	if err != nil || over || len(b) > MinMaxContactBytes {
		t.Fatalf("AppendBounded: %d bytes, over %v, err %v", len(b), over, err)
	}
	var d Contact
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	after := attrs(&d)
	if before.OrdersCount != after.OrdersCount || before.TotalSpent != after.TotalSpent || !before.FirstOrderAt.Equal(after.FirstOrderAt) ||
		!before.LastOrderAt.Equal(after.LastOrderAt) || !slices.Equal(before.PurchasedBrands, after.PurchasedBrands) {
		t.Fatalf("attributes changed:\n%s", attrsDiff(before, after))
	}
}
