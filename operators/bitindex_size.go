package operators

import (
	"github.com/RoaringBitmap/roaring/v2"
	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
)

// SizeInBytes estimates the memory the index holds: roaring's GetSizeInBytes of every
// bitmap, the map entries of value bitmaps, and for each bit-sliced index its
// existence bitmap times its bit count plus one. A bit slice holds a subset of the
// existence bitmap, so that part is an upper bound (exact for slices as dense as the
// existence bitmap, such as the low bits of instants). It walks every bitmap: cost
// proportional to the number of distinct values, not of contacts.
func (x *Index) SizeInBytes() uint64 {
	n := size(x.live) + size(x.excluded) + size(x.inexact)
	for i := range x.strs {
		n += x.strs[i].sizeInBytes() + size(x.strsAny[i])
	}
	for i := range x.consent {
		for _, b := range x.consent[i] {
			n += size(b)
		}
	}
	for _, b := range x.override {
		n += size(b)
	}
	for i := range x.sets {
		n += x.sets[i].sizeInBytes()
	}
	for k, pb := range x.prices {
		n += mapEntryBytes + uint64(len(k)) + priceBitmapBytes + size(pb.ids)
	}
	for _, b := range x.bsis() {
		n += bsiSize(*b)
	}
	for auto, b := range x.byAutomation {
		n += mapEntryBytes + uint64(len(auto)) + bsiSize(b)
	}
	return n
}

// Estimated fixed costs on the Go heap: a map entry with its string header and
// pointer (at the map's load factor), a roaring.Bitmap's struct, slice headers and
// smallest allocations beyond what GetSizeInBytes counts, a priceBitmap.
const (
	mapEntryBytes    = 48
	bitmapBytes      = 150
	priceBitmapBytes = 48
)

func size(b *roaring.Bitmap) uint64 { return bitmapBytes + b.GetSizeInBytes() }

func (m valueBitmaps) sizeInBytes() uint64 {
	var n uint64
	for v, b := range m {
		n += mapEntryBytes + uint64(len(v)) + size(b)
	}
	return n
}

func bsiSize(b *bsi.BSI) uint64 {
	e := size(b.GetExistenceBitmap())
	return e * uint64(b.BitCount()+1)
}
