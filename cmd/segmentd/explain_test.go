package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/operators"
)

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
