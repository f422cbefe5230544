package operators

import (
	"github.com/RoaringBitmap/roaring/v2"
	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
)

// RemoveAll takes the contacts of ids out of the index, whatever attributes they were
// indexed with: what a restore does with contacts indexed from a record that a later
// one replaced, before it indexes them again (Update with old nil). Empty value
// bitmaps are dropped, as Update drops them.
func (x *Index) RemoveAll(ids *roaring.Bitmap) {
	for _, b := range []*roaring.Bitmap{x.live, x.excluded, x.inexact} {
		b.AndNot(ids)
	}
	for i := range x.strs {
		x.strs[i].removeAll(ids)
		x.strsAny[i].AndNot(ids)
	}
	for i := range x.consent {
		for _, b := range x.consent[i] {
			b.AndNot(ids)
		}
	}
	for _, b := range x.override {
		b.AndNot(ids)
	}
	for i := range x.sets {
		x.sets[i].removeAll(ids)
	}
	for k, pb := range x.prices {
		if pb.ids.AndNot(ids); pb.ids.IsEmpty() {
			delete(x.prices, k)
		}
	}
	for _, b := range x.bsis() {
		(*b).ClearValues(ids)
	}
	for auto, b := range x.byAutomation {
		if b.ClearValues(ids); b.GetExistenceBitmap().IsEmpty() {
			delete(x.byAutomation, auto)
		}
	}
}

func (m valueBitmaps) removeAll(ids *roaring.Bitmap) {
	for v, b := range m {
		if b.AndNot(ids); b.IsEmpty() {
			delete(m, v)
		}
	}
}

// Equal reports whether x and o hold the same contacts with the same indexed values:
// how a restore's index is checked against one built by a full read of the store.
func (x *Index) Equal(o *Index) bool {
	for _, p := range [...]struct{ a, b *roaring.Bitmap }{{x.live, o.live}, {x.excluded, o.excluded}, {x.inexact, o.inexact}} {
		if !p.a.Equals(p.b) {
			return false
		}
	}
	for i := range x.strs {
		if !x.strs[i].equal(o.strs[i]) || !x.strsAny[i].Equals(o.strsAny[i]) {
			return false
		}
	}
	for i := range x.consent {
		for j := range x.consent[i] {
			if !x.consent[i][j].Equals(o.consent[i][j]) {
				return false
			}
		}
	}
	for i := range x.override {
		if !x.override[i].Equals(o.override[i]) {
			return false
		}
	}
	for i := range x.sets {
		if !x.sets[i].equal(o.sets[i]) {
			return false
		}
	}
	if len(x.prices) != len(o.prices) {
		return false
	}
	for k, pb := range x.prices {
		if ob := o.prices[k]; ob == nil || !pb.ids.Equals(ob.ids) {
			return false
		}
	}
	xs, os := x.bsis(), o.bsis()
	for i := range xs {
		if !bsiEqual(*xs[i], *os[i]) {
			return false
		}
	}
	if len(x.byAutomation) != len(o.byAutomation) {
		return false
	}
	for auto, b := range x.byAutomation {
		if ob := o.byAutomation[auto]; ob == nil || !bsiEqual(b, ob) {
			return false
		}
	}
	return true
}

func (m valueBitmaps) equal(o valueBitmaps) bool {
	if len(m) != len(o) {
		return false
	}
	for v, b := range m {
		if ob := o[v]; ob == nil || !b.Equals(ob) {
			return false
		}
	}
	return true
}

// bsiEqual compares the values of two BSIs (not their bit counts, which only grow).
func bsiEqual(a, b *bsi.BSI) bool {
	if !a.GetExistenceBitmap().Equals(b.GetExistenceBitmap()) {
		return false
	}
	it := a.GetExistenceBitmap().Iterator()
	for it.HasNext() {
		id := uint64(it.Next())
		va, _ := a.GetValue(id)
		vb, _ := b.GetValue(id)
		if va != vb {
			return false
		}
	}
	return true
}
