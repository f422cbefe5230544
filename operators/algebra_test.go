package operators

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/govalues/decimal"

	"github.com/segmentd/segmentd/internal/testseed"
)

// TestPropertyMembers checks that segments evaluated as bitmap algebra over an Index
// have exactly the members that Match finds contact by contact, for random rule sets
// over random contacts that are added, changed and removed, at random instants, with
// some contacts holding values the index cannot represent exactly.
func TestPropertyMembers(t *testing.T) {
	sets, contacts := 150, 120
	if testing.Short() || raceEnabled {
		sets = 30
	}
	var decided, evaluated int
	for _, seed := range testseed.Range(t, sets) {
		r := rand.New(rand.NewPCG(seed, 2))
		defs, rs := genRuleSet(t, r)
		now := genNow(r)
		x := NewIndex()
		byID := map[uint32]*Attrs{}
		for range contacts {
			id := uint32(r.IntN(contacts * 2))
			var a *Attrs
			if r.IntN(8) != 0 {
				if old := byID[id]; old != nil && r.IntN(2) == 0 {
					a = mutateAttrs(r, old, now)
				} else {
					a = genAttrs(r, now)
				}
				if r.IntN(10) == 0 {
					makeInexact(r, a)
				}
			}
			x.Update(id, byID[id], a)
			if a == nil {
				delete(byID, id)
			} else {
				byID[id] = a
			}
		}
		if x.Len() != len(byID) {
			t.Fatalf("seed %d: index holds %d contacts, want %d", seed, x.Len(), len(byID))
		}
		q := x.NewQuery(now, func(id uint32) (*Attrs, error) {
			a, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("contact %d is not live", id)
			}
			return a, nil
		})
		if r.IntN(2) == 0 { // buyers of the collections, and some others
			q.Collections = func(names []string) *roaring.Bitmap {
				b := roaring.New()
				for id, a := range byID {
					if intersects(a.PurchasedCollections, names) || id%7 == 0 {
						b.Add(id)
					}
				}
				return b
			}
		}
		if r.IntN(2) == 0 { // the members of each referenced segment
			q.Segments = func(id string) *roaring.Bitmap {
				b := roaring.New()
				for cid, a := range byID {
					if _, in := slices.BinarySearch(a.Segments, id); in {
						b.Add(cid)
					}
				}
				return b
			}
		}
		for si := range defs {
			s := rs.Segment(si)
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
				id := uint32(0)
				if !extra.IsEmpty() {
					id = extra.Minimum()
				} else {
					id = missing.Minimum()
				}
				t.Fatalf("seed %d: segment %d: members differ from Match: extra %v, missing %v\nrules %s\nnow %v\ncontact %d: %+v",
					seed, si, extra.ToArray(), missing.ToArray(), defs[si].RulesKey(), now, id, *byID[id])
			}
			decided += int(want.GetCardinality())
		}
		evaluated += q.Evaluated()
	}
	t.Logf("members found: %d; contacts decided by their attributes: %d", decided, evaluated)
}

// makeInexact gives a one value the index cannot hold exactly.
func makeInexact(r *rand.Rand, a *Attrs) {
	switch r.IntN(4) {
	case 0:
		a.TotalSpent = decimal.MustParse("10.0000001")
	case 1:
		a.AOV, a.HasAOV = decimal.MustParse("-3.5"), true
	case 2:
		a.LastEngagedAt = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
	default:
		a.MessagesRead = -1
	}
}

// TestIndexRemovesEveryValue checks that removing every contact leaves an index that
// finds no member of any segment, including segments that match the empty contact.
func TestIndexRemovesEveryValue(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	defs, rs := genRuleSet(t, r)
	now := genNow(r)
	x := NewIndex()
	var all []*Attrs
	for id := range uint32(200) {
		a := genAttrs(r, now)
		x.Update(id, nil, a)
		all = append(all, a)
	}
	for id, a := range all {
		x.Update(uint32(id), a, nil)
	}
	if x.Len() != 0 || x.Inexact() != 0 || len(x.prices) != 0 || len(x.byAutomation) != 0 {
		t.Fatalf("index not empty after removing every contact: %d live, %d inexact, %d prices, %d automations",
			x.Len(), x.Inexact(), len(x.prices), len(x.byAutomation))
	}
	for i, m := range x.sets {
		if len(m) != 0 {
			t.Fatalf("set %d keeps values %v", i, m)
		}
	}
	q := x.NewQuery(now, nil)
	for si := range defs {
		got, err := q.Members(rs.Segment(si))
		if err != nil || !got.IsEmpty() {
			t.Fatalf("segment %d over an empty index: %v, %v", si, got, err)
		}
	}
}

// TestQueryNeedsAttrsOnlyWhenUndecided checks that a query over indexed fields and
// exact values decides every contact from the bitmaps alone, except one whose instant
// lies in the second of a threshold (the index holds whole seconds).
func TestQueryNeedsAttrsOnlyWhenUndecided(t *testing.T) {
	d, err := ParseDefinition([]byte(`{"workspace":"acme.myshopify.com","id":"s","groups":[
		{"conditions":[{"field":"total_spent","op":"gt","value":500},{"field":"days_since_last_order","op":"gt","value":60}]},
		{"conditions":[{"field":"tag","op":"has_not","value":"vip"},{"field":"lifecycle_stage","op":"in","value":["lead","lapsed"]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	x := NewIndex()
	x.Update(1, nil, &Attrs{OrdersCount: 2, TotalSpent: decimal.MustParse("600"), LastOrderAt: now.Add(-61*Day - time.Second), Tags: []string{"vip"}})
	x.Update(2, nil, &Attrs{OrdersCount: 2, TotalSpent: decimal.MustParse("600"), LastOrderAt: now.Add(-60 * Day), Tags: []string{"vip"}})
	x.Update(3, nil, &Attrs{})
	x.Update(4, nil, &Attrs{Excluded: true})
	got, err := x.NewQuery(now, nil).Members(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := roaring.BitmapOf(1, 3); !got.Equals(want) {
		t.Fatalf("members %v, want %v", got.ToArray(), want.ToArray())
	}
	x.Update(5, nil, &Attrs{TotalSpent: decimal.MustParse("600.0000001")})
	if _, err := x.NewQuery(now, nil).Members(s); err == nil {
		t.Fatal("an inexact contact was decided without its attributes")
	}
	x.Update(5, &Attrs{TotalSpent: decimal.MustParse("600.0000001")}, nil)
	// Exactly 61 days ago: days since is 61, but 61 days ago less 0.5 s (60 days) lies
	// in the same second.
	a6 := &Attrs{OrdersCount: 2, TotalSpent: decimal.MustParse("600"), LastOrderAt: now.Add(-61 * Day), Tags: []string{"vip"}}
	x.Update(6, nil, a6)
	if _, err := x.NewQuery(now, nil).Members(s); err == nil {
		t.Fatal("a contact in the threshold's second was decided without its attributes")
	}
	q := x.NewQuery(now, func(id uint32) (*Attrs, error) {
		if id != 6 {
			return nil, fmt.Errorf("contact %d needs no attributes", id)
		}
		return a6, nil
	})
	got, err = q.Members(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := roaring.BitmapOf(1, 3, 6); !got.Equals(want) || q.Evaluated() != 1 {
		t.Fatalf("members %v (%d evaluated), want %v (1)", got.ToArray(), q.Evaluated(), want.ToArray())
	}
}

// BenchmarkQueryMembers measures one segment of four conditions over an index of a
// million random contacts (bitmap algebra, but for the contacts whose last order lies
// in the second of the 60 days' threshold: decided by their Attrs).
func BenchmarkQueryMembers(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	now := genNow(r)
	x := NewIndex()
	all := make([]*Attrs, 1_000_000)
	for id := range uint32(len(all)) {
		all[id] = genAttrs(r, now)
		x.Update(id, nil, all[id])
	}
	attrs := func(id uint32) (*Attrs, error) { return all[id], nil }
	d, err := ParseDefinition([]byte(`{"workspace":"acme.myshopify.com","id":"s","groups":[
		{"conditions":[{"field":"total_spent","op":"gt","value":5},{"field":"days_since_last_order","op":"gt","value":60},
		{"field":"consent_status","op":"is","value":"yes"}]},
		{"conditions":[{"field":"orders_count","op":"gte","value":3},{"field":"country","op":"in","value":["MX","CO"]}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	s, err := Compile(d)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		q := x.NewQuery(now, attrs)
		m, err := q.Members(s)
		if err != nil || m.IsEmpty() {
			b.Fatal(m, err)
		}
		b.ReportMetric(float64(q.Evaluated()), "evaluated/op")
	}
}

// TestIndexMerge checks that indexes built over disjoint contacts and merged answer
// as one index built over all of them.
func TestIndexMerge(t *testing.T) {
	for _, seed := range testseed.Range(t, 20) {
		r := rand.New(rand.NewPCG(seed, 3))
		defs, rs := genRuleSet(t, r)
		now := genNow(r)
		whole := NewIndex()
		parts := []*Index{NewIndex(), NewIndex(), NewIndex()}
		var all []*Attrs
		for id := range uint32(300) {
			a := genAttrs(r, now)
			all = append(all, a)
			whole.Update(id, nil, a)
			parts[r.IntN(len(parts))].Update(id, nil, a)
		}
		merged := parts[0]
		for _, p := range parts[1:] {
			merged.Merge(p)
		}
		attrs := func(id uint32) (*Attrs, error) { return all[id], nil }
		qw, qm := whole.NewQuery(now, attrs), merged.NewQuery(now, attrs)
		for si := range defs {
			{
				s := rs.Segment(si)
				w, err1 := qw.Members(s)
				m, err2 := qm.Members(s)
				if err1 != nil || err2 != nil {
					t.Fatalf("seed %d: segment %d: %v, %v", seed, si, err1, err2)
				}
				if !w.Equals(m) {
					t.Fatalf("seed %d: segment %d: merged %v, whole %v", seed, si, m.ToArray(), w.ToArray())
				}
			}
		}
	}
}
