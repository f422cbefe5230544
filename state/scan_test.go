package state

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/segmentd/segmentd/internal/testseed"
)

// TestSegmentEntry: SegmentEntry agrees with the full decoding on random records, for
// every segment id they have an entry of and for absent ones (number-form and raw),
// and rejects what is not a record (random records of a fixed seed and a fresh one:
// internal/testseed).
func TestSegmentEntry(t *testing.T) {
	seeds := testseed.Seeds(t, []uint64{3}, 1)
	testseed.Run(t, seeds, func(t *testing.T, seed uint64) { segmentEntry(t, seed, 5000/len(seeds)) })
	for _, b := range [][]byte{nil, {2}, {1}, {1, 1, 1}, {1, 1, 1, 0, 0, 0, 5, 0x80}} {
		if _, _, err := SegmentEntry(b, "s"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err %v, want ErrCorrupt", b, err)
		}
	}
}

func segmentEntry(t *testing.T, seed uint64, records int) {
	r := rand.New(rand.NewPCG(seed, 4))
	for i := range records {
		c := randContact(r)
		enc, err := c.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var full Contact
		if err := full.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		ids := []string{"absent", "123456", "0123", ""}
		for _, m := range full.Memberships {
			ids = append(ids, m.Segment, m.Segment+"x")
		}
		for _, id := range ids {
			live, has, err := SegmentEntry(enc, id)
			if err != nil {
				t.Fatalf("record %d, segment %q: %v", i, id, err)
			}
			want := false
			for _, m := range full.Memberships {
				want = want || m.Segment == id
			}
			if live != (!full.IsNew() && !full.IsTombstone()) || has != want {
				t.Fatalf("record %d, segment %q: live %v has %v, want live %v has %v", i, id, live, has, !full.IsNew() && !full.IsTombstone(), want)
			}
		}
	}
}
