package state

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/segmentd/segmentd/internal/testseed"
)

// PeekHeader agrees with the full decoder on every record, and rejects what the full
// decoder rejects in the header (random records of a fixed seed and a fresh one:
// internal/testseed).
func TestPeekHeader(t *testing.T) {
	seeds := testseed.Seeds(t, []uint64{7}, 1)
	testseed.Run(t, seeds, func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 8))
		contacts := []*Contact{{}, typicalContact()}
		for range 2000 / len(seeds) {
			contacts = append(contacts, randContact(r))
		}
		peekHeaderAgrees(t, contacts)
	})
	for _, b := range [][]byte{nil, {codecVersion + 1}, {codecVersion}, {codecVersion, byte(numStates)}, {codecVersion, 0, 0x80}} {
		if _, _, err := PeekHeader(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("PeekHeader(%x) = %v, want ErrCorrupt", b, err)
		}
	}
}

func peekHeaderAgrees(t *testing.T, contacts []*Contact) {
	for i, c := range contacts {
		b, err := c.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var full Contact
		if err := full.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		dense, due, err := PeekHeader(b)
		if err != nil {
			t.Fatalf("contact %d: %v", i, err)
		}
		if dense != full.DenseID || !due.Equal(full.NextDue) {
			t.Fatalf("contact %d: peek (%d, %v), decode (%d, %v)", i, dense, due, full.DenseID, full.NextDue)
		}
	}
}
