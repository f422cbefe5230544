package processor

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// Rolling windows (SPEC §6 "Windows"): a windowed condition flips by itself, with
// reason "time", when an order, message or completion leaves its window; no code of
// the processor is specific to windows (operators.RuleSet.NextFlip arms the timer).

// TestWindowTimers: on a test clock, orders, messages and completions enter windows
// with their events and leave them at exactly their time + N days.
func TestWindowTimers(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		t0 := h.now()
		h.putSegment(ws, "two30", seg("two30", `{"field":"orders_count","op":"gte","value":2,"in_last_days":30}`))
		h.putSegment(ws, "spent30", seg("spent30", `{"field":"total_spent","op":"gt","value":100,"in_last_days":30}`))
		h.putSegment(ws, "recv7", seg("recv7", `{"field":"messages_received","op":"gte","value":1,"in_last_days":7}`))
		h.putSegment(ws, "welcome2", seg("welcome2", `{"field":"automation_completions","op":"gte","value":1,"automation_id":"welcome","in_last_days":2}`))
		time.Sleep(300 * time.Millisecond)
		n := 0

		// Contact 1: two orders, the first 29 days and 12 hours old.
		first := t0.Add(-29*24*time.Hour - 12*time.Hour)
		h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, first, "60.00"))
		n = h.expect(n)
		h.envelope(ws+"/1", "orders/create", ws, "o2", order(1, 12, t0.Add(-24*time.Hour), "60.00"))
		n = h.expect(n, `+spent30 1 v1 event {"topic":"orders/create","delivery_id":"o2"}`,
			`+two30 1 v1 event {"topic":"orders/create","delivery_id":"o2"}`)
		// Contact 2: a message received 5 days ago.
		recv := t0.Add(-5 * 24 * time.Hour)
		h.envelope(ws+"/2", "messages/status", ws, "m2", fmt.Sprintf(`{"customer_id":2,"message_id":"x","status":"delivered","timestamp":%q}`, recv.Format(time.RFC3339)))
		n = h.expect(n, `+recv7 2 v1 event {"topic":"messages/status","delivery_id":"m2"}`)
		// Contact 3: completions of another automation do not count; welcome 1 day ago does.
		h.envelope(ws+"/3", "automations/completed", ws, "a1", fmt.Sprintf(`{"customer_id":3,"automation_id":"winback","completed_at":%q}`, t0.Format(time.RFC3339)))
		n = h.expect(n)
		done := t0.Add(-24 * time.Hour)
		h.envelope(ws+"/3", "automations/completed", ws, "a2", fmt.Sprintf(`{"customer_id":3,"automation_id":"welcome","completed_at":%q}`, done.Format(time.RFC3339)))
		n = h.expect(n, `+welcome2 3 v1 event {"topic":"automations/completed","delivery_id":"a2"}`)

		// One millisecond before the first order leaves its window: nothing.
		h.advance(12*time.Hour - time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		n = h.expect(n)
		h.advance(time.Millisecond)
		leave := first.Add(30 * 24 * time.Hour)
		n = h.expect(n, "-spent30 1 v1 time "+dueCause(leave), "-two30 1 v1 time "+dueCause(leave))
		h.out.Lock()
		got := h.out.membership[n-1].T.OccurredAt
		h.out.Unlock()
		if want := leave.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Errorf("occurred_at of a window flip = %s, want the instant the order left %s", got, want)
		}
		// The completion leaves its 2-day window at done + 2 days.
		h.advance(done.Add(2 * 24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "-welcome2 3 v1 time "+dueCause(done.Add(2*24*time.Hour)))
		// The message leaves its 7-day window at recv + 7 days.
		h.advance(recv.Add(7 * 24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "-recv7 2 v1 time "+dueCause(recv.Add(7*24*time.Hour)))

		// A new order brings contact 1 back; only the order's event, nothing else.
		h.envelope(ws+"/1", "orders/create", ws, "o3", order(1, 13, h.now(), "10.00"))
		n = h.expect(n, `+two30 1 v1 event {"topic":"orders/create","delivery_id":"o3"}`)
		h.advance(20 * 24 * time.Hour)
		time.Sleep(300 * time.Millisecond)
		h.expect(n)
	})
}

// TestWindowRealClock: with the wall clock, an order that leaves a 30-day window 3
// seconds after it is produced removes its contact with reason "time" within a second
// of that instant (SPEC §7).
func TestWindowRealClock(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.Now = time.Now })
		h.putSegment(ws, "month", seg("month", `{"field":"orders_count","op":"gte","value":1,"in_last_days":30}`))
		time.Sleep(300 * time.Millisecond)
		created := time.Now().Round(0).Add(-30*24*time.Hour + 3*time.Second)
		h.envelope(ws+"/9", "orders/create", ws, "o9", order(9, 91, created, "10.00"))
		recs := h.waitTransitions(0, 2)
		seen := time.Now()
		if r := recs[0]; r.T.Type != TypeAdded || r.T.Reason != ReasonEvent {
			t.Fatalf("unexpected first transition %s", r.short())
		}
		if r := recs[1]; r.T.Type != TypeRemoved || r.T.SegmentID != "month" || r.T.Reason != ReasonTime {
			t.Fatalf("unexpected second transition %s", r.short())
		}
		due := created.Add(30 * 24 * time.Hour)
		occurred, err := time.Parse(time.RFC3339Nano, recs[1].T.OccurredAt)
		if err != nil {
			t.Fatal(err)
		}
		if d := occurred.Sub(due); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("occurred_at %s, want the instant the order left the window %s", occurred, due)
		}
		if late := seen.Sub(due); late > time.Second {
			t.Errorf("the removal was consumed %s after the order left the window, want within a second", late)
		}
		t.Logf("removal consumed %s after the order left the window", seen.Sub(due).Round(time.Millisecond))
	})
}
