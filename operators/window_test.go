package operators

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/govalues/decimal"
)

// TestWindowsDoNotAllocate: Match, Affected and NextFlip stay allocation-free with
// windowed conditions (package doc, "Invariants").
func TestWindowsDoNotAllocate(t *testing.T) {
	var segs []*Segment
	for i, c := range []string{
		`{"field":"orders_count","op":"gte","value":2,"in_last_days":30}`,
		`{"field":"total_spent","op":"gt","value":100,"in_last_days":90}`,
		`{"field":"messages_received","op":"gte","value":3,"in_last_days":7}`,
		`{"field":"messages_read","op":"lt","value":1,"in_last_days":14}`,
		`{"field":"automation_completions","op":"gte","value":1,"automation_id":"welcome","in_last_days":5}`,
		`{"field":"automation_completions","op":"eq","value":0,"in_last_days":60}`,
	} {
		d, err := ParseDefinition([]byte(fmt.Sprintf(`{"workspace":"acme.myshopify.com","id":"w%d","groups":[{"conditions":[%s]}]}`, i, c)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	rs := NewRuleSet(segs)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	old := &Attrs{}
	for d := 40; d > 0; d -= 3 {
		at := now.Add(-time.Duration(d) * Day)
		old.RecentOrders = append(old.RecentOrders, TimedAmount{At: at, Total: decimal.MustNew(25, 0)})
		old.RecentReceived = append(old.RecentReceived, UnixNano(at))
		old.RecentCompletions = append(old.RecentCompletions, Completion{At: at, Automation: "welcome"})
	}
	new := *old
	new.RecentOrders = append(old.RecentOrders[:len(old.RecentOrders):len(old.RecentOrders)], TimedAmount{At: now, Total: decimal.MustNew(25, 0)})
	new.RecentRead = []int64{UnixNano(now)}
	dst := make([]int, 0, rs.Len())
	allocs := testing.AllocsPerRun(100, func() {
		dst = rs.Affected(old, &new, now, dst[:0])
		for si := range rs.Len() {
			rs.Segment(si).Match(&new, now)
		}
		rs.NextFlip(&new, now)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per event with windows, want 0", allocs)
	}
	if len(dst) == 0 || rs.NextFlip(&new, now).IsZero() {
		t.Errorf("Affected %v, NextFlip %v: the test exercises nothing", dst, rs.NextFlip(&new, now))
	}
}

// TestExplainWindowJSON pins the JSON of a windowed condition's explanation (the
// admin API's explain): the window as written, its count and the instant its
// earliest item (10 days old, in a 30-day window) leaves it.
func TestExplainWindowJSON(t *testing.T) {
	d, err := ParseDefinition([]byte(`{"workspace":"acme.myshopify.com","id":"w","groups":[{"conditions":[{"field":"orders_count","op":"gte","value":2,"in_last_days":30.0}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	a := &Attrs{OrdersCount: 2, RecentOrders: []TimedAmount{{At: now.Add(-10 * Day)}, {At: now.Add(-time.Hour)}}}
	b, err := json.Marshal(Explain(s, a, now).Groups[0].Conditions[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"field":"orders_count","op":"gte","value":2,"actual":2,"match":true,"in_last_days":30.0,"window_count":2,"next_change":"2025-07-05T12:00:00Z"}`
	if string(b) != want {
		t.Errorf("explanation\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(Explain(s, &Attrs{}, now).Groups[0].Conditions[0])
	if want := `{"field":"orders_count","op":"gte","value":2,"actual":0,"match":false,"in_last_days":30.0,"window_count":0}`; string(b) != want {
		t.Errorf("empty window\n got %s\nwant %s", b, want)
	}
}
