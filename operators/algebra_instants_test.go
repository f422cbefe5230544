package operators

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/segmentd/segmentd/internal/testseed"
)

// TestPropertyInstantSeconds checks Query against Match where the index's seconds
// matter: now, the rules' timestamps and the contacts' instants have sub-second
// fractions, and the contacts' instants lie in the very second of a threshold (now −
// N days, a timestamp, a day's start), on either side of it and a nanosecond off it.
// The index holds whole seconds, so those contacts must be left to their Attrs.
func TestPropertyInstantSeconds(t *testing.T) {
	sets, contacts := 200, 150
	if testing.Short() || raceEnabled {
		sets = 40
	}
	var evaluated, members, contactsTotal int
	for _, seed := range testseed.Range(t, sets) {
		r := rand.New(rand.NewPCG(seed, 11))
		now := propBase.Add(time.Duration(r.IntN(3)-1)*Day + time.Duration(r.Int64N(int64(Day))))
		if r.IntN(3) == 0 {
			now = now.Truncate(time.Second) // a threshold on a second's boundary
		}
		// Timestamps of rules, with fractions; dates start whole seconds.
		var stamps []time.Time
		for range 3 {
			ts := now.Add(-time.Duration(r.IntN(4)) * Day).Add(time.Duration(r.Int64N(int64(time.Hour))) - time.Duration(r.Int64N(int64(time.Hour))))
			stamps = append(stamps, ts)
		}
		days := []int64{0, 1, 7, 30, 60, 61, 90, 91, 180, 181}
		// Thresholds the rules compare with: now − N days, the timestamps, and the
		// start of the days around them.
		var thresholds []time.Time
		for _, n := range days {
			thresholds = append(thresholds, now.Add(-time.Duration(n)*Day), now.Add(-time.Duration(n+1)*Day))
		}
		for _, ts := range stamps {
			thresholds = append(thresholds, ts, ts.Truncate(Day), ts.Truncate(Day).Add(Day))
		}
		instant := func() time.Time {
			th := pick(r, thresholds)
			switch r.IntN(6) {
			case 0:
				return th
			case 1:
				return th.Add(time.Duration(pick(r, []int64{-1, 1})))
			case 2: // elsewhere in the threshold's second
				return th.Truncate(time.Second).Add(time.Duration(r.Int64N(int64(time.Second))))
			case 3: // its second's ends
				return th.Truncate(time.Second).Add(time.Duration(pick(r, []int64{0, int64(time.Second) - 1})))
			case 4: // a neighbouring second
				return th.Add(time.Duration(pick(r, []int64{-1, 1})) * time.Second)
			}
			return th.Add(time.Duration(r.Int64N(int64(2*Day))) - Day)
		}
		maybe := func() time.Time {
			if r.IntN(6) == 0 {
				return time.Time{}
			}
			return instant()
		}
		var segs []*Segment
		for i := range 6 {
			var groups []map[string]any
			for range 1 + r.IntN(2) {
				var conds []map[string]any
				for range 1 + r.IntN(2) {
					conds = append(conds, genInstantCondition(r, stamps, days))
				}
				groups = append(groups, map[string]any{"conditions": conds})
			}
			js, _ := json.Marshal(map[string]any{"workspace": "acme.myshopify.com", "id": fmt.Sprintf("s%d", i), "groups": groups})
			d, err := ParseDefinition(js)
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", seed, err, js)
			}
			s, err := Compile(d)
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", seed, err, js)
			}
			segs = append(segs, s)
		}
		x := NewIndex()
		byID := map[uint32]*Attrs{}
		for id := range uint32(contacts) {
			a := &Attrs{OrdersCount: int64(r.IntN(3)), LastMessageReceivedAt: maybe(), LastEngagedAt: maybe(),
				CustomerCreatedAt: maybe()}
			if a.OrdersCount > 0 {
				a.LastOrderAt, a.FirstOrderAt = instant(), instant()
			}
			if r.IntN(2) == 0 { // changed afterwards: within its second or not
				x.Update(id, nil, a)
				b := *a
				b.LastOrderAt = instant()
				b.LastEngagedAt = maybe()
				x.Update(id, a, &b)
				a = &b
			} else {
				x.Update(id, nil, a)
			}
			byID[id] = a
		}
		q := x.NewQuery(now, func(id uint32) (*Attrs, error) { return byID[id], nil })
		for si, s := range segs {
			got, err := q.Members(s)
			if err != nil {
				t.Fatalf("seed %d: segment %d: %v", seed, si, err)
			}
			want := roaring.New()
			for id, a := range byID {
				if s.Match(a, now) {
					want.Add(id)
				}
			}
			if !got.Equals(want) {
				extra, missing := roaring.AndNot(got, want), roaring.AndNot(want, got)
				t.Fatalf("seed %d: segment %d (%s): members differ from Match at %v: extra %v, missing %v",
					seed, si, s.ID(), now.Format(time.RFC3339Nano), extra.ToArray(), missing.ToArray())
			}
			members += int(want.GetCardinality())
		}
		evaluated += q.Evaluated()
		contactsTotal += contacts * len(segs)
	}
	if evaluated == 0 {
		t.Fatal("no contact was left to its attributes: the thresholds' seconds were not exercised")
	}
	t.Logf("members %d; contacts decided by their attributes %d of %d contact×segment", members, evaluated, contactsTotal)
}

// genInstantCondition returns a condition on an instant or a days-since field with a
// timestamp of stamps, a date, or a number of days.
func genInstantCondition(r *rand.Rand, stamps []time.Time, days []int64) map[string]any {
	fields := []string{"last_order_at", "first_order_at", "customer_created_at", "last_message_received_at",
		"last_engaged_at", "days_since_last_order", "days_since_first_order", "lifecycle_stage"}
	ops := []string{"eq", "gt", "lt", "gte", "lte", "between", "not_between", "before", "after", "in_last_days",
		"more_than_days_ago", "in", "not_in"}
	var f, o string
	for {
		f, o = pick(r, fields), pick(r, ops)
		if parseField(f).allows(parseOp(o)) {
			break
		}
	}
	c := map[string]any{"field": f, "op": o}
	stamp := func() string {
		ts := pick(r, stamps)
		if r.IntN(4) == 0 {
			return ts.UTC().Format(time.DateOnly)
		}
		return ts.UTC().Format(time.RFC3339Nano)
	}
	num := func() json.Number { return json.Number(fmt.Sprint(pick(r, days))) }
	switch {
	case f == "lifecycle_stage":
		c["value"] = []string{pick(r, propStages), pick(r, propStages)}
	case o == "in_last_days" || o == "more_than_days_ago" || f == "days_since_last_order" || f == "days_since_first_order":
		if o == "between" || o == "not_between" {
			a, b := pick(r, days), pick(r, days)
			c["value"] = []json.Number{json.Number(fmt.Sprint(min(a, b))), json.Number(fmt.Sprint(max(a, b)))}
		} else {
			c["value"] = num()
		}
	case o == "between" || o == "not_between":
		a, b := pick(r, stamps), pick(r, stamps)
		if a.After(b) {
			a, b = b, a
		}
		c["value"] = []string{a.UTC().Format(time.RFC3339Nano), b.UTC().Format(time.RFC3339Nano)}
	default:
		c["value"] = stamp()
	}
	return c
}
