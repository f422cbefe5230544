package processor

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

func order(cid, id int64, created time.Time, total string) string {
	return fmt.Sprintf(`{"id":%d,"customer":{"id":%d},"created_at":%q,"updated_at":%q,"test":false,"total_price":%q,"line_items":[]}`,
		id, cid, created.Format(time.RFC3339Nano), created.Format(time.RFC3339Nano), total)
}

func dueCause(t time.Time) string {
	return fmt.Sprintf(`{"due_at":%q}`, t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// TestTimers checks that time-relative conditions flip by themselves at their
// instant, with reason "time", using a test clock.
func TestTimers(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		t0 := h.now()
		h.putSegment(ws, "lapsed", seg("lapsed", `{"field":"days_since_last_order","op":"gt","value":60}`))
		h.putSegment(ws, "engaged", seg("engaged", `{"field":"last_engaged_at","op":"in_last_days","value":7}`))
		h.putSegment(ws, "ftb", seg("ftb", `{"field":"lifecycle_stage","op":"is","value":"first_time_buyer"}`))
		h.putSegment(ws, "risk", seg("risk", `{"field":"lifecycle_stage","op":"is","value":"at_risk"}`))
		h.putSegment(ws, "gone", seg("gone", `{"field":"lifecycle_stage","op":"is","value":"lapsed"}`))
		h.putSegment(ws, "recent", seg("recent", `{"field":"days_since_first_order","op":"lte","value":30}`))
		time.Sleep(300 * time.Millisecond)
		n := 0

		// Contact 1: one order 60 days and 12 hours ago: 60 whole days, not > 60.
		created := t0.Add(-60*24*time.Hour - 12*time.Hour)
		h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, created, "10.00"))
		n = h.expect(n, `+ftb 1 v1 event {"topic":"orders/create","delivery_id":"o1"}`)
		// Contact 2: engaged 6 days and 23 hours ago.
		engaged := t0.Add(-6*24*time.Hour - 23*time.Hour)
		h.envelope(ws+"/2", "messages/inbound", ws, "i2", fmt.Sprintf(`{"customer_id":2,"message_id":"m","timestamp":%q}`, engaged.Format(time.RFC3339)))
		n = h.expect(n, `+engaged 2 v1 event {"topic":"messages/inbound","delivery_id":"i2"}`)

		// One millisecond before the instant: nothing.
		h.advance(12*time.Hour - time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		// The in_last_days window of contact 2 expired at engaged+7d = t0+1h.
		n = h.expect(n, "-engaged 2 v1 time "+dueCause(engaged.Add(7*24*time.Hour)))
		h.advance(time.Millisecond)
		flip := created.Add(61 * 24 * time.Hour)
		n = h.expect(n, "+lapsed 1 v1 time "+dueCause(flip))
		h.out.Lock()
		got := h.out.membership[n-1].T.OccurredAt
		h.out.Unlock()
		if want := flip.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Errorf("occurred_at of a time flip = %s, want the flip instant %s", got, want)
		}

		// Lifecycle: first_time_buyer until 90 days, at_risk from 91, lapsed from 181.
		h.advance(created.Add(91 * 24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "-ftb 1 v1 time "+dueCause(created.Add(91*24*time.Hour)),
			"+risk 1 v1 time "+dueCause(created.Add(91*24*time.Hour)))
		h.advance(created.Add(181 * 24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "-risk 1 v1 time "+dueCause(created.Add(181*24*time.Hour)),
			"+gone 1 v1 time "+dueCause(created.Add(181*24*time.Hour)))

		// A new order cancels a pending flip: contact 3 ordered 59 days ago, then
		// orders again today; two days later it is not lapsed.
		now := h.now()
		h.envelope(ws+"/3", "orders/create", ws, "o3a", order(3, 31, now.Add(-59*24*time.Hour), "10.00"))
		n = h.expect(n, `+ftb 3 v1 event {"topic":"orders/create","delivery_id":"o3a"}`)
		h.envelope(ws+"/3", "orders/create", ws, "o3b", order(3, 32, now, "10.00"))
		n = h.expect(n, `-ftb 3 v1 event {"topic":"orders/create","delivery_id":"o3b"}`)
		h.advance(2 * 24 * time.Hour)
		time.Sleep(300 * time.Millisecond)
		n = h.expect(n)

		// A definition change re-arms timers: contact 4's first order is 20 days
		// old; "recent" (first order ≤ 30 days) would drop it in 11 days, but
		// becoming "≤ 25 days" drops it in 6.
		now = h.now()
		first := now.Add(-20 * 24 * time.Hour)
		h.envelope(ws+"/4", "orders/create", ws, "o4", order(4, 41, first, "10.00"))
		n = h.expect(n, `+ftb 4 v1 event {"topic":"orders/create","delivery_id":"o4"}`,
			`+recent 4 v1 event {"topic":"orders/create","delivery_id":"o4"}`)
		h.putSegment(ws, "recent", seg("recent", `{"field":"days_since_first_order","op":"lte","value":25}`))
		time.Sleep(300 * time.Millisecond)
		n = h.expect(n)
		h.advance(6 * 24 * time.Hour)
		n = h.expect(n, "-recent 4 v2 time "+dueCause(first.Add(26*24*time.Hour)))

		// Timers survive a restart, and overdue ones fire right after it: contact 4
		// becomes lapsed (> 60 days) at first+61d while the processor is stopped.
		h.stop()
		h.advance(first.Add(61*24*time.Hour).Sub(h.now()) + time.Hour)
		h.start()
		n = h.expect(n, "+lapsed 4 v1 time "+dueCause(first.Add(61*24*time.Hour)))
		_ = n
	})
}

// TestTimerRealClock: an order dated 60 days minus 5 seconds ago makes a
// "days_since_last_order >= 60" segment emit UserAddedToSegment within 7 seconds.
func TestTimerRealClock(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.Now = time.Now })
		h.putSegment(ws, "sixty", seg("sixty", `{"field":"days_since_last_order","op":"gte","value":60}`))
		time.Sleep(300 * time.Millisecond)
		created := time.Now().Round(0).Add(-60*24*time.Hour + 5*time.Second) // wall clock, as the processor
		start := time.Now()
		h.envelope(ws+"/9", "orders/create", ws, "o9", order(9, 91, created, "10.00"))
		recs := h.waitTransitions(0, 1)
		took := time.Since(start)
		if r := recs[0]; r.T.Type != TypeAdded || r.T.SegmentID != "sixty" || r.T.Reason != ReasonTime {
			t.Fatalf("unexpected transition %s", r.short())
		}
		if took > 7*time.Second {
			t.Errorf("added after %s, want within 7s", took)
		}
		due := created.Add(60 * 24 * time.Hour)
		occurred, err := time.Parse(time.RFC3339Nano, recs[0].T.OccurredAt)
		if err != nil {
			t.Fatal(err)
		}
		if d := occurred.Sub(due); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("occurred_at %s, want the flip instant %s", occurred, due)
		}
		t.Logf("flipped %s after the order was produced; lateness %s", took.Round(time.Millisecond), time.Since(due).Round(time.Millisecond))
	})
}
