package chaos

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCompareCatchesViolations checks the checker, without a broker: outputs with a
// lost transition, a lost added+removed pair, a duplicate, a repeated type, a first
// removal, a missing member or a dead letter twice must each be reported, and the
// exact output must not.
func TestCompareCatchesViolations(t *testing.T) {
	const ws = "chk.myshopify.com"
	ref := newReference(exclusionTag)
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	ref.applySegmentRecord(&kgo.Record{Key: []byte(ws + "/st-vip"),
		Value: definitionJSON(ws, "st-vip", "vip", [][]cond{{c("tag", "has", "vip")}})}, map[string]bool{"st-vip": true})
	ref.applySegmentRecord(&kgo.Record{Key: []byte(ws + "/mx"),
		Value: definitionJSON(ws, "mx", "mx", [][]cond{{c("country", "is", "MX")}})}, nil)
	ref.finishGlobals()
	offset := int64(0)
	ev := func(topic string, cid int, payload string) *kgo.Record {
		offset++
		v := fmt.Sprintf(`{"topic":%q,"shop":%q,"id":"d%d","occurred_at":%q,"payload":%s}`, topic, ws, offset,
			at.Add(time.Duration(offset)*time.Second).Format(time.RFC3339), payload)
		return &kgo.Record{Key: []byte(fmt.Sprintf("%s/%d", ws, cid)), Value: []byte(v), Offset: offset, Timestamp: at}
	}
	bad := ev("products/create", 1, `{"id":1}`)
	for _, r := range []*kgo.Record{
		ev("customers/create", 1, `{"id":1,"default_address":{"country_code":"MX"},"updated_at":"2026-01-14T00:00:00Z"}`),
		ev("customer.tags_added", 1, `{"customer_id":1,"tags":["vip"]}`),
		ev("customer.tags_removed", 1, `{"customer_id":1,"tags":["vip"]}`),
		ev("customer.tags_added", 1, `{"customer_id":1,"tags":["VIP"]}`),
		bad,
	} {
		ref.applyEvent(r)
	}
	if got := ref.steps[pairKey(ws+"/1", "st-vip")]; len(got) != 3 {
		t.Fatalf("reference steps of st-vip: %v, want + - +", got)
	}

	n := 0
	out := func(seg string, signs string) []*outRec {
		var rs []*outRec
		for _, s := range signs {
			n++
			typ := typeAdded
			if s == '-' {
				typ = typeRemoved
			}
			v, _ := json.Marshal(map[string]any{"type": typ, "id": fmt.Sprintf("id-%d", n), "workspace": ws, "segment_id": seg,
				"segment_version": 1, "customer_id": 1, "occurred_at": at.Format(time.RFC3339), "reason": "event", "cause": map[string]any{}})
			rs = append(rs, parseOut(&kgo.Record{Key: []byte(ws + "/1"), Value: v, Offset: int64(n),
				Headers: []kgo.RecordHeader{{Key: "type", Value: []byte(typ)}}}))
		}
		return rs
	}
	dlq := []*kgo.Record{{Key: bad.Key, Value: bad.Value}}
	for _, tc := range []struct {
		name string
		out  []*outRec
		dlq  []*kgo.Record
		want []string // non-empty verdict lists
	}{
		{"exact", slices.Concat(out("st-vip", "+-+"), out("mx", "+")), dlq, nil},
		{"lost added+removed pair", slices.Concat(out("st-vip", "+"), out("mx", "+")), dlq, []string{"stable"}},
		{"lost last transition", slices.Concat(out("st-vip", "+-"), out("mx", "+")), dlq, []string{"final", "stable"}},
		{"nothing at all", nil, dlq, []string{"final", "missing", "stable"}},
		{"repeated type", slices.Concat(out("st-vip", "+-++"), out("mx", "+")), dlq, []string{"repeats", "stable"}},
		{"first is a removal", slices.Concat(out("st-vip", "+-+"), out("mx", "-+")), dlq, []string{"startsRemoved"}},
		{"duplicate id", func() []*outRec {
			rs := slices.Concat(out("st-vip", "+-+"), out("mx", "+"))
			rs[3].ID = rs[0].ID
			return rs
		}(), dlq, []string{"dupIDs"}},
		{"dead letter twice", slices.Concat(out("st-vip", "+-+"), out("mx", "+")), append(slices.Clone(dlq), dlq...), []string{"deadLetter"}},
		{"dead letter lost", slices.Concat(out("st-vip", "+-+"), out("mx", "+")), nil, []string{"deadLetter"}},
	} {
		v := compare(tc.out, tc.dlq, ref)
		var got []string
		for name, l := range map[string][]string{"malformed": v.malformed, "dupIDs": v.dupIDs, "repeats": v.repeats,
			"startsRemoved": v.startsRemoved, "final": v.finalDiff, "missing": v.missing, "stable": v.stableDiff,
			"deadLetter": v.deadLetterDiff, "split": v.splitPartition} {
			if len(l) > 0 {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: verdict lists %v, want %v (%s)", tc.name, got, tc.want, strings.Join(slices.Concat(v.finalDiff, v.stableDiff, v.deadLetterDiff), "; "))
		}
	}
}
