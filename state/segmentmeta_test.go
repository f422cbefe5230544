package state

import (
	"encoding/json"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestSegmentMetaAheadRoundTrip: the marks of contacts ahead of a backfill survive
// the JSON of the changelog, and a clone does not share them.
func TestSegmentMetaAheadRoundTrip(t *testing.T) {
	sm := SegmentMeta{Incarnation: 7, Version: 2, RulesKey: "r", Pos: 5 << 16, Backfilling: true, Cursor: "ws/9",
		Ahead: map[int64]DenseSet{9 << 16: {roaring.BitmapOf(1, 70000, 1<<30)}, 11 << 16: {roaring.BitmapOf(3)}}}
	enc, err := json.Marshal(sm)
	if err != nil {
		t.Fatal(err)
	}
	var got SegmentMeta
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	if got.Pos != sm.Pos || got.Cursor != sm.Cursor || len(got.Ahead) != 2 {
		t.Fatalf("round trip: got %+v from %s", got, enc)
	}
	for pos, d := range sm.Ahead {
		if !got.Ahead[pos].Equals(d.Bitmap) {
			t.Errorf("marks of %d: got %v, want %v", pos, got.Ahead[pos].ToArray(), d.ToArray())
		}
	}
	c := got.Clone()
	c.Ahead[9<<16].Add(5)
	if got.Ahead[9<<16].Contains(5) {
		t.Error("a clone shares its marks with the original")
	}
	// A meta of an older release, without the new fields, still decodes.
	var old SegmentMeta
	if err := json.Unmarshal([]byte(`{"inc":3,"version":1,"rules":"x","backfilling":true}`), &old); err != nil || old.Ahead != nil || old.Pos != 0 {
		t.Errorf("old meta: %+v, %v", old, err)
	}
}
