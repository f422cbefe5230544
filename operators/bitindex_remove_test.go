package operators

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/segmentd/segmentd/internal/testseed"
)

// TestIndexRemoveAll checks that an index whose contacts were indexed, partly taken
// out with RemoveAll and partly indexed again with other attributes answers as an
// index built over the final attributes alone, and keeps no emptied value bitmaps.
func TestIndexRemoveAll(t *testing.T) {
	for _, seed := range testseed.Range(t, 20) {
		r := rand.New(rand.NewPCG(seed, 4))
		defs, rs := genRuleSet(t, r)
		now := genNow(r)
		x, whole := NewIndex(), NewIndex()
		final := map[uint32]*Attrs{}
		stale := roaring.New()
		for id := range uint32(300) {
			a := genAttrs(r, now)
			if r.IntN(8) == 0 {
				makeInexact(r, a)
			}
			x.Update(id, nil, a)
			final[id] = a
			if r.IntN(3) == 0 {
				stale.Add(id)
				switch r.IntN(3) {
				case 0:
					delete(final, id) // gone
				case 1:
					final[id] = mutateAttrs(r, a, now)
				default:
					final[id] = genAttrs(r, now)
				}
			}
		}
		x.RemoveAll(stale)
		for _, id := range stale.ToArray() {
			if a := final[id]; a != nil {
				x.Update(id, nil, a)
			}
		}
		for id, a := range final {
			whole.Update(id, nil, a)
		}
		if x.Len() != whole.Len() || x.Inexact() != whole.Inexact() {
			t.Fatalf("seed %d: %d contacts (%d inexact), want %d (%d)", seed, x.Len(), x.Inexact(), whole.Len(), whole.Inexact())
		}
		for i := range x.strs {
			if got, want := slices.Sorted(maps.Keys(x.strs[i])), slices.Sorted(maps.Keys(whole.strs[i])); !slices.Equal(got, want) {
				t.Fatalf("seed %d: string attribute %d: values %q, want %q", seed, i, got, want)
			}
		}
		for i := range x.sets {
			if got, want := slices.Sorted(maps.Keys(x.sets[i])), slices.Sorted(maps.Keys(whole.sets[i])); !slices.Equal(got, want) {
				t.Fatalf("seed %d: set %d: values %q, want %q", seed, i, got, want)
			}
		}
		if got, want := slices.Sorted(maps.Keys(x.prices)), slices.Sorted(maps.Keys(whole.prices)); !slices.Equal(got, want) {
			t.Fatalf("seed %d: prices %q, want %q", seed, got, want)
		}
		if !x.Equal(whole) || !whole.Equal(x) {
			t.Fatalf("seed %d: the index differs from one built over the final attributes", seed)
		}
		attrs := func(id uint32) (*Attrs, error) { return final[id], nil }
		qx, qw := x.NewQuery(now, attrs), whole.NewQuery(now, attrs)
		for si := range defs {
			s := rs.Segment(si)
			got, err1 := qx.Members(s)
			want, err2 := qw.Members(s)
			if err1 != nil || err2 != nil {
				t.Fatalf("seed %d: segment %d: %v, %v", seed, si, err1, err2)
			}
			if !got.Equals(want) {
				t.Fatalf("seed %d: segment %d: %v, want %v", seed, si, got.ToArray(), want.ToArray())
			}
		}
		for id, a := range final { // Equal sees a difference
			x.Update(id, a, nil)
			if x.Equal(whole) {
				t.Fatalf("seed %d: Equal after contact %d was removed", seed, id)
			}
			break
		}
	}
}
