package processor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

// Tests of SPEC §6 "Segment references": a membership change re-evaluates the
// segments referencing it for that contact in the same transaction, in dependency
// order, whatever caused it, and those transitions carry the causing transition's
// reason and cause plus via_segment.

func via(cause, seg string) string {
	return strings.TrimSuffix(cause, "}") + fmt.Sprintf(`,"via_segment":%q}`, seg)
}

func ref(op, id string) string {
	return fmt.Sprintf(`{"field":"segment","op":%q,"value":%q}`, op, id)
}

// contactOrder returns the short forms of contact cid's transitions after from, in
// output order.
func (h *harness) contactOrder(from int, cid int64) []string {
	h.out.Lock()
	defer h.out.Unlock()
	var out []string
	for _, r := range h.out.membership[from:] {
		if r.T.CustomerID == cid {
			out = append(out, r.short())
		}
	}
	return out
}

// expectOrdered is expect, and checks that contact cid's transitions came in the
// order of want (dependency order).
func (h *harness) expectOrdered(from int, cid int64, want ...string) int {
	h.t.Helper()
	n := h.expect(from, want...)
	if got := h.contactOrder(from, cid); strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("transitions of contact %d out of dependency order:\n got: %s\nwant: %s", cid,
			strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	return n
}

func TestReferences(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		t0 := h.now()
		// Defined top-down: a reference to a segment not defined yet is valid.
		h.putSegment(ws, "top", seg("top", ref("in_segment", "vip-ok")))
		h.putSegment(ws, "vip-ok", seg("vip-ok", ref("in_segment", "vip")+","+ref("not_in_segment", "supp")))
		h.putSegment(ws, "vip", seg("vip", `{"field":"total_spent","op":"gte","value":100}`))
		h.putSegment(ws, "supp", seg("supp", `{"field":"tag","op":"has","value":"supp"}`))
		h.putSegment(ws, "lapsed", seg("lapsed", `{"field":"days_since_last_order","op":"gt","value":60}`))
		h.putSegment(ws, "lapsed-vip", seg("lapsed-vip", ref("in_segment", "lapsed")+","+ref("in_segment", "vip")))
		h.putSegment(ws, "summer", seg("summer", `{"field":"purchased_collection","op":"in","value":["summer"]}`))
		h.putSegment(ws, "summer-fan", seg("summer-fan", ref("in_segment", "summer")))
		for _, id := range []string{"top", "vip-ok", "vip", "supp", "lapsed", "lapsed-vip", "summer", "summer-fan"} {
			h.waitBackfilled(id)
		}
		n := 0
		// The segments' dependencies (the admin list and `segments list` show them).
		infos, _, err := h.proc.Segments(context.Background(), ws)
		if err != nil {
			t.Fatal(err)
		}
		deps := map[string]string{}
		for _, s := range infos {
			deps[s.ID] = strings.Join(s.References, ",") + "/" + strings.Join(s.ReferencedBy, ",")
		}
		if deps["vip-ok"] != "supp,vip/top" || deps["vip"] != "/lapsed-vip,vip-ok" || deps["top"] != "vip-ok/" {
			t.Fatalf("dependencies: %v", deps)
		}

		// Event: contact 1 spends 150: vip, then vip-ok through vip, then top
		// through vip-ok, all with the event's cause.
		ev1 := `{"topic":"orders/create","delivery_id":"o1"}`
		h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, t0.Add(-time.Hour), "150.00"))
		n = h.expectOrdered(n, 1, "+vip 1 v1 event "+ev1, "+vip-ok 1 v1 event "+via(ev1, "vip"), "+top 1 v1 event "+via(ev1, "vip-ok"))
		// Explain shows the memberships a reference reads.
		ex, err := h.proc.Explain(context.Background(), ws, 1, "vip-ok")
		if err != nil {
			t.Fatal(err)
		}
		if c := ex.Groups[0].Conditions; !ex.Match || c[0].Actual != true || c[1].Actual != false {
			t.Fatalf("explain vip-ok: %+v", ex)
		}
		// The tag "supp" makes it suppressed: vip-ok and top leave, through supp and vip-ok.
		ev2 := `{"topic":"customer.tags_added","delivery_id":"t1"}`
		h.envelope(ws+"/1", "customer.tags_added", ws, "t1", `{"customerId":"gid://shopify/Customer/1","tags":["supp"],"occurredAt":"2026-11-21T09:00:00Z"}`)
		n = h.expectOrdered(n, 1, "+supp 1 v1 event "+ev2, "-vip-ok 1 v1 event "+via(ev2, "supp"), "-top 1 v1 event "+via(ev2, "vip-ok"))

		// Time: contact 2 spent 150 with its order 60.5 days ago; at 61 days it is
		// lapsed, and lapsed-vip follows through lapsed with the timer's cause.
		created := t0.Add(-60*24*time.Hour - 12*time.Hour)
		ev3 := `{"topic":"orders/create","delivery_id":"o2"}`
		h.envelope(ws+"/2", "orders/create", ws, "o2", order(2, 21, created, "150.00"))
		n = h.expectOrdered(n, 2, "+vip 2 v1 event "+ev3, "+vip-ok 2 v1 event "+via(ev3, "vip"), "+top 2 v1 event "+via(ev3, "vip-ok"))
		flip := created.Add(61 * 24 * time.Hour)
		h.advance(flip.Sub(h.now()))
		n = h.expectOrdered(n, 2, "+lapsed 2 v1 time "+dueCause(flip), "+lapsed-vip 2 v1 time "+via(dueCause(flip), "lapsed"))
		h.out.Lock()
		at := h.out.membership[n-1].T.OccurredAt
		h.out.Unlock()
		if want := flip.UTC().Format("2006-01-02T15:04:05.000Z07:00"); at != want {
			t.Errorf("occurred_at of a time flip through a reference = %s, want the flip instant %s", at, want)
		}

		// Definition: vip becomes "spent ≥ 200": contacts 1 and 2 leave it, and the
		// segments referencing vip follow for them only, with vip's version as cause.
		def2 := `{"segment_version":2}`
		h.putSegment(ws, "vip", seg("vip", `{"field":"total_spent","op":"gte","value":200}`))
		n = h.expect(n, "-vip 1 v2 definition "+def2,
			"-vip 2 v2 definition "+def2, "-vip-ok 2 v1 definition "+via(def2, "vip"), "-top 2 v1 definition "+via(def2, "vip-ok"),
			"-lapsed-vip 2 v1 definition "+via(def2, "vip"))
		if got := h.contactOrder(n-5, 2); len(got) != 4 || got[0] != "-vip 2 v2 definition "+def2 || got[3] != "-top 2 v1 definition "+via(def2, "vip-ok") {
			t.Fatalf("definition cascade out of dependency order: %v", got)
		}

		// Catalog: contact 3 bought product 9001; once 9001 is in "summer", summer
		// and summer-fan (through summer) follow with the catalog's cause.
		h.envelope(ws+"/3", "orders/create", ws, "o3", orderOf(3, 31, 500, 9001))
		n = h.expect(n)
		h.putCatalog(ws, "9001", fmt.Sprintf(`{"workspace":%q,"product_id":"9001","collections":["summer"]}`, ws))
		cat := `{"product_id":"9001"}`
		n = h.expectOrdered(n, 3, "+summer 3 v1 catalog "+cat, "+summer-fan 3 v1 catalog "+via(cat, "summer"))

		// Deletion of summer: it has no members any more, so summer-fan loses
		// contact 3 through summer, with the deletion's cause.
		h.putSegment(ws, "summer", "")
		del := `{"segment_version":1}`
		n = h.expectOrdered(n, 3, "-summer 3 v1 definition "+del, "-summer-fan 3 v1 definition "+via(del, "summer"))

		// A definition that would close a cycle is dead-lettered and the old rules
		// stay: vip referencing top (top -> vip-ok -> vip).
		h.putSegment(ws, "vip", seg("vip", ref("in_segment", "top")))
		dl := h.waitDLQ(0, 1)
		if got := dl[0].Headers[HeaderError]; got != "invalid_definition" {
			t.Fatalf("dead letter reason %q, want invalid_definition", got)
		}
		if d := dl[0].Headers[HeaderDetail]; !strings.Contains(d, "groups[0].conditions[0].value") || !strings.Contains(d, "vip → top → vip-ok → vip") {
			t.Fatalf("dead letter detail %q does not name the condition and the cycle", d)
		}
		ev4 := `{"topic":"orders/create","delivery_id":"o4"}`
		h.envelope(ws+"/4", "orders/create", ws, "o4", order(4, 41, t0, "250.00"))
		n = h.expectOrdered(n, 4, "+vip 4 v2 event "+ev4, "+vip-ok 4 v1 event "+via(ev4, "vip"), "+top 4 v1 event "+via(ev4, "vip-ok"))
		_ = n
	})
}

// TestReferencesViaOnlyWhenCausedThrough: a transition the contact's own attributes
// cause has no via_segment, even when a segment it references changed in the same
// event; the same whether evaluation is incremental or naive.
func TestReferencesViaOnlyWhenCausedThrough(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		for _, naive := range []bool{false, true} {
			h := newHarness(t, b, func(c *Config) { c.NaiveEvaluation = naive })
			h.putSegment(ws, "vip", seg("vip", `{"field":"total_spent","op":"gte","value":100}`))
			h.putSegment(ws, "big-or-vip", fmt.Sprintf(`{"workspace":%q,"id":"big-or-vip","groups":[{"conditions":[{"field":"total_spent","op":"gte","value":1000}]},{"conditions":[%s]}]}`,
				ws, ref("in_segment", "vip")))
			h.waitBackfilled("vip")
			h.waitBackfilled("big-or-vip")
			ev1 := `{"topic":"orders/create","delivery_id":"o1"}`
			h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, h.now(), "150.00"))
			n := h.expectOrdered(0, 1, "+vip 1 v1 event "+ev1, "+big-or-vip 1 v1 event "+via(ev1, "vip"))
			ev2 := `{"topic":"orders/create","delivery_id":"o2"}`
			h.envelope(ws+"/2", "orders/create", ws, "o2", order(2, 21, h.now(), "1500.00"))
			h.expectOrdered(n, 2, "+vip 2 v1 event "+ev2, "+big-or-vip 2 v1 event "+ev2)
			h.stop()
		}
	})
}

// refSequence: segment references across definition steps. "ref" (in big) is
// created, big widens, "later" (in big) and "ref2" (not in ref) are created, big
// narrows, big is deleted. A contact the widening of big reaches has not reached
// "later" yet: it joins later through later's own step, not through big.
var refSequence = [][2]string{
	{"ref", seg("ref", ref("in_segment", "big"))},
	{"big", seg("big", `{"field":"total_spent","op":"gte","value":6}`)},
	{"later", seg("later", ref("in_segment", "big"))},
	{"ref2", seg("ref2", ref("not_in_segment", "ref"))},
	{"big", seg("big", `{"field":"total_spent","op":"gte","value":16}`)},
	{"big", ""},
}

// refSequenceWant is what refSequence, then an order of 1.00 for every contact and
// five new contacts, produce per contact (defHarness: contact i spent i.00, big is
// spent ≥ 11 at version 1).
func refSequenceWant() (map[int64][]string, int) {
	want := map[int64][]string{}
	n := 0
	add := func(i int, s string) {
		want[int64(i)] = append(want[int64(i)], s)
		n++
	}
	def := func(v int) string { return fmt.Sprintf(`{"segment_version":%d}`, v) }
	for i := 1; i <= defContacts; i++ {
		switch {
		case i <= 5:
			add(i, fmt.Sprintf("+ref2 %d v1 definition %s", i, def(1)))
		case i <= 10:
			add(i, defTransition("+", "big", i, 2))
			add(i, fmt.Sprintf("+ref %d v1 definition %s", i, via(def(2), "big")))
		default:
			add(i, fmt.Sprintf("+ref %d v1 definition %s", i, def(1)))
		}
		if i >= 6 {
			add(i, fmt.Sprintf("+later %d v1 definition %s", i, def(1)))
		}
		if i >= 6 {
			add(i, defTransition("-", "big", i, 3)) // narrowed (6..15) or deleted (16..20)
			add(i, fmt.Sprintf("-later %d v1 definition %s", i, via(def(3), "big")))
			add(i, fmt.Sprintf("-ref %d v1 definition %s", i, via(def(3), "big")))
			add(i, fmt.Sprintf("+ref2 %d v1 definition %s", i, via(def(3), "ref")))
		}
	}
	for i := defContacts + 1; i <= defContacts+5; i++ {
		add(i, fmt.Sprintf(`+ref2 %d v1 event {"topic":"orders/create","delivery_id":"n%d"}`, i, i))
	}
	return want, n
}

// TestReferencesWhateverTheBatching: definition steps cascade through references
// with the versions each contact has reached, so the transitions per contact are the
// same whether the definitions come at once and the backfills advance one contact
// per window while events bring contacts through the pending steps, or one by one.
func TestReferencesWhateverTheBatching(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		want, n := refSequenceWant()
		orders := func(h *harness) {
			for i := 1; i <= defContacts+5; i++ {
				h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 100, 9000))
			}
		}
		t.Run("at-once", func(t *testing.T) {
			h, k := defHarness(t, b, 1)
			h.putSegmentsAtOnce(refSequence...)
			h.waitDefinitionsRead(1 + len(refSequence))
			orders(h)
			assertPerContact(t, h.settle(k, n), want)
		})
		t.Run("paused", func(t *testing.T) {
			h, k := defHarness(t, b, 1000)
			for i, r := range refSequence {
				h.putSegment(ws, r[0], r[1])
				h.waitDefinitionsRead(2 + i)
				time.Sleep(100 * time.Millisecond) // at least one window
				h.waitIdle()
			}
			orders(h)
			assertPerContact(t, h.settle(k, n), want)
		})
	})
}

// TestReferencesEvaluateOnlyWhatChanged: a segment referencing vip is evaluated for a
// contact only when the contact's membership of vip changed, or when an attribute of
// its own conditions did; the work per event follows what changed.
func TestReferencesEvaluateOnlyWhatChanged(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		const deps = 20
		h.putSegment(ws, "vip", seg("vip", `{"field":"total_spent","op":"gte","value":100}`))
		for i := range deps {
			id := fmt.Sprintf("d%02d", i)
			h.putSegment(ws, id, seg(id, ref("in_segment", "vip")+fmt.Sprintf(`,{"field":"tag","op":"has","value":"t%d"}`, i)))
		}
		h.waitBackfilled("vip")
		for i := range deps {
			h.waitBackfilled(fmt.Sprintf("d%02d", i))
		}
		evals := func() float64 { return testutil.ToFloat64(h.proc.m.evaluations) }
		applied := func() float64 {
			return testutil.ToFloat64(h.proc.m.events.WithLabelValues("orders/create", "applied")) +
				testutil.ToFloat64(h.proc.m.events.WithLabelValues("customer.tags_added", "applied"))
		}
		step := func(what string, want float64, do func() int) {
			t.Helper()
			before, applied0 := evals(), applied()
			do()
			testenv.Eventually(t, what+" applied", func() (bool, string) { return applied() > applied0, "" })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.proc.inLoop(ctx, func() {}); err != nil { // the event's evaluation is over
				t.Fatal(err)
			}
			if got := evals() - before; got != want {
				t.Fatalf("%s: %v segment evaluations, want %v", what, got, want)
			}
		}
		n := 0
		ev := func(id string) string { return fmt.Sprintf(`{"topic":"orders/create","delivery_id":%q}`, id) }
		// An order that crosses no threshold of any segment evaluates nothing.
		step("order below vip", 0, func() int {
			h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, h.now(), "50.00"))
			n = h.expect(n)
			return n
		})
		// One that makes the contact a vip evaluates vip and its 20 dependents.
		step("order into vip", 1+deps, func() int {
			h.envelope(ws+"/1", "orders/create", ws, "o2", order(1, 12, h.now(), "60.00"))
			n = h.expect(n, "+vip 1 v1 event "+ev("o2"))
			return n
		})
		// A vip's order that keeps it a vip: nothing again, dependents included.
		step("order within vip", 0, func() int {
			h.envelope(ws+"/1", "orders/create", ws, "o3", order(1, 13, h.now(), "70.00"))
			n = h.expect(n)
			return n
		})
		// A tag evaluates the one segment whose condition reads it.
		step("tag t3", 1, func() int {
			h.envelope(ws+"/1", "customer.tags_added", ws, "t1", `{"customerId":"gid://shopify/Customer/1","tags":["t3"],"occurredAt":"2026-11-21T09:00:00Z"}`)
			n = h.expect(n, `+d03 1 v1 event {"topic":"customer.tags_added","delivery_id":"t1"}`)
			return n
		})
	})
}
