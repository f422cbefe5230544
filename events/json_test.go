package events

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestSpecialLanes checks the 8-bytes-at-a-time string scan against a byte-by-byte one:
// the lowest lane specialLanes flags is the first byte that is special in strings.
func TestSpecialLanes(t *testing.T) {
	pool := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', '#', '\\', ']', 'a', 0x7f, 0x80, 0xc3, 0xff, 0x5b, 0x5d, 0x1e, 0x23}
	r := rand.New(rand.NewPCG(15, 15))
	var b [8]byte
	for n := 0; n < 200000; n++ {
		for k := range b {
			if r.IntN(4) == 0 {
				b[k] = byte(r.IntN(256))
			} else {
				b[k] = pool[r.IntN(len(pool))]
			}
		}
		want := 8
		for k, c := range b {
			if strSpecial[c] {
				want = k
				break
			}
		}
		got := 8
		if m := specialLanes(binary.LittleEndian.Uint64(b[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("% x: first special byte %d, want %d", b, got, want)
		}
	}
}
