package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/operators"
)

// TestPrintExplanationWindow: `contact explain` shows a windowed condition's window,
// how many items are in it and when the earliest leaves it.
func TestPrintExplanationWindow(t *testing.T) {
	d, err := operators.ParseDefinition([]byte(`{"workspace":"acme.myshopify.com","id":"repeat","groups":[{"conditions":[{"field":"orders_count","op":"gte","value":2,"in_last_days":30}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := operators.Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a := &operators.Attrs{OrdersCount: 3, RecentOrders: []operators.TimedAmount{
		{At: now.Add(-40 * 24 * time.Hour)}, {At: now.Add(-20 * 24 * time.Hour)}, {At: now.Add(-time.Hour)},
	}}
	ex := operators.Explain(s, a, now)
	var b strings.Builder
	printExplanation(&b, "acme.myshopify.com/7", &ex)
	want := `acme.myshopify.com/7 matches segment repeat (at 2026-11-21T10:00:00Z)
  group 1: match
    + orders_count gte 2 in the last 30 days (actual: 2)
        window: 2 in it; the earliest leaves it at 2026-12-01T10:00:00Z
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestPrintExplanationReference: `contact explain` shows a segment reference's
// membership in words.
func TestPrintExplanationReference(t *testing.T) {
	ex := &operators.Explanation{Segment: "vip-not-suppressed", Now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Groups: []operators.GroupExplanation{{
		Conditions: []operators.ConditionExplanation{
			{Field: "segment", Op: "in_segment", Value: []byte(`"vip"`), Actual: true, Match: true},
			{Field: "segment", Op: "not_in_segment", Value: []byte(`"re-engagement-suppression"`), Actual: true},
		},
	}}}
	var b bytes.Buffer
	printExplanation(&b, "acme.myshopify.com/1", ex)
	for _, want := range []string{
		`    + segment in_segment "vip" (actual: a member)`,
		`    - segment not_in_segment "re-engagement-suppression" (actual: a member)`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("explanation lacks %q:\n%s", want, b.String())
		}
	}
}
