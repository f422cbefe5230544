package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/operators"
)

// TestQueries checks the admin views against a small known population.
func TestQueries(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		h.putSegment(ws, "big", seg("big", `{"field":"total_spent","op":"gte","value":100}`))
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		time.Sleep(300 * time.Millisecond)
		// Ten contacts: i spends 30*i; even ones are VIP; multiples of 3 subscribe
		// to SMS; 1..5 are on list "news"; contact 9 is excluded.
		for i := int64(1); i <= 10; i++ {
			tags := "x"
			if i%2 == 0 {
				tags = "vip"
			}
			if i == 9 {
				tags = "exclude_from_galantis"
			}
			state := "unsubscribed"
			if i%3 == 0 {
				state = "subscribed"
			}
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "customers/update", ws, fmt.Sprintf("c%d", i),
				fmt.Sprintf(`{"id":%d,"first_name":"Name%d","last_name":"Doe","email":"user%d@example.com","phone":"+52 55 0000 %04d","tags":%q,"sms_marketing_consent":{"state":%q}}`, i, i, i, i, tags, state))
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("o%d", i), order(i, 100+i, h.now(), fmt.Sprintf("%d.00", 30*i)))
			if i <= 5 {
				h.envelope(fmt.Sprintf("%s/%d", ws, i), "lists/member_added", ws, fmt.Sprintf("l%d", i), fmt.Sprintf(`{"customer_id":%d,"list_id":"news"}`, i))
			}
		}
		// big: 4..10 except 9 = 6; vip: 2,4,6,8,10 = 5.
		h.waitTransitions(0, 11)
		time.Sleep(200 * time.Millisecond)

		segs, local, err := h.proc.Segments(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if len(local.Partitions) != 3 {
			t.Errorf("local partitions %v", local.Partitions)
		}
		counts := map[string]int64{}
		for _, s := range segs {
			counts[s.ID] = s.Members
		}
		if counts["big"] != 6 || counts["vip"] != 5 || len(segs) != 2 {
			t.Errorf("segment counts %v", counts)
		}
		if _, _, err := h.proc.Segment(ctx, ws, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown segment: %v", err)
		}

		// Paging through members, 4 at a time.
		var all []int64
		cur := MemberCursor{}
		for pages := 0; ; pages++ {
			ids, next, done, err := h.proc.Members(ctx, ws, "big", cur, 4)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ids...)
			if done || pages > 5 {
				break
			}
			cur = next
		}
		slices.Sort(all)
		if !slices.Equal(all, []int64{4, 5, 6, 7, 8, 10}) {
			t.Errorf("members of big: %v", all)
		}

		v, err := h.proc.Contact(ctx, ws, 6)
		if err != nil {
			t.Fatal(err)
		}
		if v.Attrs.TotalSpent.String() != "180.00" || v.Attrs.OrdersCount != 1 || v.Attrs.Consent != operators.ConsentYes ||
			v.Profile.Email != "user6@example.com" || len(v.Memberships) != 2 || v.Orders.Counted != 1 {
			t.Errorf("contact 6: %+v", v)
		}
		if _, err := h.proc.Contact(ctx, ws, 99); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown contact: %v", err)
		}

		ex, err := h.proc.Explain(ctx, ws, 3, "big")
		if err != nil {
			t.Fatal(err)
		}
		if ex.Match || len(ex.Groups) != 1 || ex.Groups[0].Conditions[0].Match {
			t.Errorf("explain 3 in big: %+v", ex)
		}

		def, err := operators.ParseDefinition([]byte(seg("preview", `{"field":"total_spent","op":"gt","value":200}`)))
		if err != nil {
			t.Fatal(err)
		}
		n, sample, _, err := h.proc.Preview(ctx, def, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 || len(sample) != 2 { // 7, 8, 10 (9 is excluded)
			t.Errorf("preview: %d %v", n, sample)
		}

		found, _, err := h.proc.Search(ctx, ws, "user7@", 10)
		if err != nil || len(found) != 1 || found[0].CustomerID != 7 {
			t.Errorf("search by email: %v %v", found, err)
		}
		found, _, err = h.proc.Search(ctx, ws, "55 0000 0004", 10)
		if err != nil || len(found) != 1 || found[0].CustomerID != 4 {
			t.Errorf("search by phone: %v %v", found, err)
		}

		// Consent yes: 3, 6, 9(excluded) → reachable 3, 6. news ∪ vip = 1..5,6,8,10;
		// reachable among them: 3, 6; minus big (4..) → 3.
		est, _, err := h.proc.Estimate(ctx, ws, []AudienceRef{{List: "news"}, {Segment: "vip"}}, nil)
		if err != nil || est != 2 {
			t.Errorf("estimate news+vip: %d %v", est, err)
		}
		est, _, err = h.proc.Estimate(ctx, ws, []AudienceRef{{List: "news"}, {Segment: "vip"}}, []AudienceRef{{Segment: "big"}})
		if err != nil || est != 1 {
			t.Errorf("estimate news+vip-big: %d %v", est, err)
		}
	})
}

// TestQueryWakesIdleLoop checks that a query does not wait for the loop's wait for
// input to end: with a 3 s commit interval and no input, each of several queries in a
// row must be answered well within the interval (before the loop woke on queries,
// each one waited for the poll in progress, up to the whole interval).
func TestQueryWakesIdleLoop(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const interval = 3 * time.Second
		h := newHarness(t, b, func(c *Config) { c.CommitInterval = interval })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		time.Sleep(interval) // the loop is idle, in a poll
		for i := range 4 {
			start := time.Now()
			if _, _, err := h.proc.Segments(ctx, ws); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > interval/3 {
				t.Errorf("query %d took %v with an idle loop and a %v commit interval", i, took, interval)
			}
		}
	})
}
