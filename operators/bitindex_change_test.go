package operators

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
	"github.com/govalues/decimal"

	"github.com/segmentd/segmentd/internal/testseed"
)

// TestIndexChangeMatchesRemoveAdd checks that Update of an indexed contact (which
// changes only what differs) leaves the index exactly as removing the old attributes
// and adding the new ones does, for random contacts changed many times, with values
// the index cannot represent exactly among them, and that queries find the same
// members.
func TestIndexChangeMatchesRemoveAdd(t *testing.T) {
	for _, seed := range testseed.Range(t, 20) {
		r := rand.New(rand.NewPCG(seed, 11))
		defs, rs := genRuleSet(t, r)
		now := genNow(r)
		got, want := NewIndex(), NewIndex()
		cur := make([]*Attrs, 2+r.IntN(60)) // few contacts: values and automations of no one
		for id := range cur {
			cur[id] = genAttrs(r, now)
			oddValues(r, cur[id])
			got.Update(uint32(id), nil, cur[id])
			want.Update(uint32(id), nil, cur[id])
		}
		for step := range 600 {
			id := r.IntN(len(cur))
			next := mutateAttrs(r, cur[id], now)
			if r.IntN(3) == 0 {
				next = genAttrs(r, now) // everything may differ
			}
			oddValues(r, next)
			got.Update(uint32(id), cur[id], next)
			want.remove(uint32(id), cur[id])
			want.add(uint32(id), next)
			cur[id] = next
			if d := indexDiff(got, want); d != "" {
				t.Fatalf("seed %d, step %d, contact %d: %s\nfrom %+v\nto %+v", seed, step, id, d, *cur[id], *next)
			}
		}
		attrs := func(id uint32) (*Attrs, error) { return cur[id], nil }
		qg, qw := got.NewQuery(now, attrs), want.NewQuery(now, attrs)
		for si := range defs {
			g, err1 := qg.Members(rs.Segment(si))
			w, err2 := qw.Members(rs.Segment(si))
			if err1 != nil || err2 != nil {
				t.Fatalf("seed %d: segment %d: %v, %v", seed, si, err1, err2)
			}
			if !g.Equals(w) {
				t.Fatalf("seed %d: segment %d: changed %v, removed and added %v", seed, si, g.ToArray(), w.ToArray())
			}
		}
	}
}

// oddValues sometimes gives a a value the index cannot represent exactly, or one it
// represents under another spelling.
func oddValues(r *rand.Rand, a *Attrs) {
	switch r.IntN(12) {
	case 0, 1:
		makeInexact(r, a)
	case 2:
		a.Consent = ConsentNo + 1
	case 3:
		a.LifecycleOverride = StageLapsed + 1
	case 4:
		a.CompletionsByAutomation = maps.Clone(a.CompletionsByAutomation)
		if a.CompletionsByAutomation == nil {
			a.CompletionsByAutomation = map[string]int64{}
		}
		a.CompletionsByAutomation[pick(r, propAutos)] = -1
	case 5:
		a.PurchasedPrices = []decimal.Decimal{decimal.MustParse("1.0"), decimal.MustParse("2.50")}
	case 6:
		a.PurchasedPrices = []decimal.Decimal{decimal.MustParse("1.00"), decimal.MustParse("2.5")}
	case 7:
		a.Tags = []string{"vip", "vip"}
	}
}

// indexDiff describes how two indexes differ in what they hold ("" when they hold the
// same), ignoring how many bit slices a bit-sliced index has.
func indexDiff(x, y *Index) string {
	bm := func(name string, a, b *roaring.Bitmap) string {
		if !a.Equals(b) {
			return fmt.Sprintf("%s: %v vs %v", name, a.ToArray(), b.ToArray())
		}
		return ""
	}
	vb := func(name string, a, b valueBitmaps) string {
		if !slices.Equal(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))) {
			return fmt.Sprintf("%s: values %v vs %v", name, slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
		}
		for k := range a {
			if d := bm(name+" "+k, a[k], b[k]); d != "" {
				return d
			}
		}
		return ""
	}
	bs := func(name string, a, b *bsi.BSI) string {
		if d := bm(name+" existence", a.GetExistenceBitmap(), b.GetExistenceBitmap()); d != "" {
			return d
		}
		for _, id := range a.GetExistenceBitmap().ToArray() {
			va, _ := a.GetValue(uint64(id))
			vb, _ := b.GetValue(uint64(id))
			if va != vb {
				return fmt.Sprintf("%s of %d: %d vs %d", name, id, va, vb)
			}
		}
		return ""
	}
	var ds []string
	ds = append(ds, bm("live", x.live, y.live), bm("excluded", x.excluded, y.excluded), bm("inexact", x.inexact, y.inexact))
	for i := range x.strs {
		ds = append(ds, vb(fmt.Sprint("strs ", i), x.strs[i], y.strs[i]), bm(fmt.Sprint("strsAny ", i), x.strsAny[i], y.strsAny[i]))
	}
	for i := range x.consent {
		for j := range x.consent[i] {
			ds = append(ds, bm(fmt.Sprint("consent ", i, j), x.consent[i][j], y.consent[i][j]))
		}
	}
	for i := range x.override {
		ds = append(ds, bm(fmt.Sprint("override ", i), x.override[i], y.override[i]))
	}
	for i := range x.sets {
		ds = append(ds, vb(fmt.Sprint("sets ", i), x.sets[i], y.sets[i]))
	}
	if !slices.Equal(slices.Sorted(maps.Keys(x.prices)), slices.Sorted(maps.Keys(y.prices))) {
		ds = append(ds, fmt.Sprintf("prices %v vs %v", slices.Sorted(maps.Keys(x.prices)), slices.Sorted(maps.Keys(y.prices))))
	} else {
		for k := range x.prices {
			ds = append(ds, bm("price "+k, x.prices[k].ids, y.prices[k].ids))
			if !x.prices[k].price.Equal(y.prices[k].price) {
				ds = append(ds, fmt.Sprintf("price %s: %s vs %s", k, x.prices[k].price, y.prices[k].price))
			}
		}
	}
	xb, yb := x.bsis(), y.bsis()
	for i := range xb {
		ds = append(ds, bs(fmt.Sprint("bsi ", i), *xb[i], *yb[i]))
	}
	if !slices.Equal(slices.Sorted(maps.Keys(x.byAutomation)), slices.Sorted(maps.Keys(y.byAutomation))) {
		ds = append(ds, fmt.Sprintf("automations %v vs %v", slices.Sorted(maps.Keys(x.byAutomation)), slices.Sorted(maps.Keys(y.byAutomation))))
	} else {
		for k := range x.byAutomation {
			ds = append(ds, bs("automation "+k, x.byAutomation[k], y.byAutomation[k]))
		}
	}
	for _, d := range ds {
		if d != "" {
			return d
		}
	}
	return ""
}
