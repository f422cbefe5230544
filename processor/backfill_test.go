package processor

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// orderOf is an order of total cents/100 of product `product`.
func orderOf(cid, id int64, cents int, product int) string {
	return fmt.Sprintf(`{"id":%d,"customer":{"id":%d},"created_at":"2026-11-20T12:00:00Z","updated_at":"2026-11-20T12:00:00Z",
		"test":false,"total_price":"%d.%02d","line_items":[{"product_id":%d,"vendor":"Acme","price":"1.00","quantity":1}]}`,
		id, cid, cents/100, cents%100, product)
}

// waitBackfilled waits until segment id is applied to every owned partition.
func (h *harness) waitBackfilled(id string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, _, err := h.proc.Segment(ctx, ws, id)
		cancel()
		if err == nil && !info.Backfilling {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("segment %s still backfilling after 20s (%v)", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBackfillManyWindows: backfills larger than one window's budget (8 contacts per
// window here, so each spans several windows) produce each transition exactly
// once: a new segment, a changed definition, a catalog change, a deletion; events
// for contacts the backfill has not reached yet (evaluated on the window's copy);
// and a backfill interrupted by a restart onto an empty store, which resumes from the
// cursor restored from the changelog.
func TestBackfillManyWindows(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const n = 60
		h := newHarness(t, b, func(c *Config) { c.BackfillChunk = 8 })
		// Contact i has one order of i.00 of product 9000+i%3.
		h.putSegment(ws, "buyer", seg("buyer", `{"field":"orders_count","op":"gte","value":1}`))
		h.waitBackfilled("buyer")
		var want []string
		for i := 1; i <= n; i++ {
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("o%d", i), orderOf(int64(i), int64(5000+i), 100*i, 9000+i%3))
			want = append(want, fmt.Sprintf(`+buyer %d v1 event {"topic":"orders/create","delivery_id":"o%d"}`, i, i))
		}
		k := h.expect(0, want...)

		// A new segment: contacts 31..60.
		h.putSegment(ws, "big", seg("big", `{"field":"total_spent","op":"gte","value":31}`))
		want = want[:0]
		for i := 31; i <= n; i++ {
			want = append(want, fmt.Sprintf(`+big %d v1 definition {"segment_version":1}`, i))
		}
		k = h.expect(k, want...)
		h.waitBackfilled("big")

		// A changed definition: 31..45 leave.
		h.putSegment(ws, "big", seg("big", `{"field":"total_spent","op":"gte","value":46}`))
		want = want[:0]
		for i := 31; i <= 45; i++ {
			want = append(want, fmt.Sprintf(`-big %d v2 definition {"segment_version":2}`, i))
		}
		k = h.expect(k, want...)
		h.waitBackfilled("big")

		// A catalog change: the buyers of 9001 (i%3 == 1) join "summer".
		h.putSegment(ws, "summer", seg("summer", `{"field":"purchased_collection","op":"in","value":["summer"]}`))
		h.waitBackfilled("summer")
		h.putCatalog(ws, "9001", `{"workspace":"acme.myshopify.com","product_id":"9001","collections":["Summer"]}`)
		want = want[:0]
		for i := 1; i <= n; i++ {
			if i%3 == 1 {
				want = append(want, fmt.Sprintf(`+summer %d v1 catalog {"product_id":"9001"}`, i))
			}
		}
		k = h.expect(k, want...)

		// A deletion: 46..60 leave "big".
		h.putSegment(ws, "big", "")
		want = want[:0]
		for i := 46; i <= n; i++ {
			want = append(want, fmt.Sprintf(`-big %d v2 definition {"segment_version":2}`, i))
		}
		k = h.expect(k, want...)

		// A backfill interrupted by a restart onto an empty store, with events during
		// it: new orders of contacts 1..10 (still members) and of new contacts
		// 61..70 (members by their event or by the backfill, whichever comes first).
		h.putSegment(ws, "any", seg("any", `{"field":"total_spent","op":"gte","value":1}`))
		for i := 1; i <= 10; i++ {
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("o2-%d", i), orderOf(int64(i), int64(6000+i), 100, 9000))
			h.envelope(fmt.Sprintf("%s/%d", ws, n+i), "orders/create", ws, fmt.Sprintf("o%d", n+i), orderOf(int64(n+i), int64(5000+n+i), 100, 9000))
		}
		const newBuyers = 10 // +buyer of contacts 61..70
		for {
			h.out.Lock()
			got := len(h.out.membership) - k
			h.out.Unlock()
			if got >= 20 {
				if got >= n+newBuyers {
					t.Fatalf("the backfill was over (%d transitions) before the restart", got)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.restartOnEmptyStore()
		h.waitTransitions(k, n+10+newBuyers)
		h.waitBackfilled("any")
		time.Sleep(200 * time.Millisecond)
		h.out.Lock()
		recs := append([]outRecord(nil), h.out.membership[k:]...)
		h.out.Unlock()
		count := map[string]int{}
		for _, r := range recs {
			switch {
			case r.T.SegmentID == "any" && r.T.Type == TypeAdded:
				count[fmt.Sprint(r.T.CustomerID)]++
			case r.T.SegmentID == "buyer" && r.T.Type == TypeAdded && r.T.CustomerID > n:
			default:
				t.Errorf("unexpected transition %s", r.short())
			}
		}
		var dup []string
		for c, x := range count {
			if x != 1 {
				dup = append(dup, fmt.Sprintf("%s×%d", c, x))
			}
		}
		sort.Strings(dup)
		if len(count) != n+10 || len(dup) > 0 || len(recs) != n+10+newBuyers {
			t.Fatalf("+any for %d contacts (want %d), repeated: %v; %d transitions in all (want %d)", len(count), n+10, dup, len(recs), n+10+newBuyers)
		}
	})
}
