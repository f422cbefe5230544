package processor

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// keepLowest keeps the n lowest ids seen and never more than 2n, whatever the order
// they arrive in (the store scans keys in string order: "ws/10" before "ws/6").
func TestKeepLowest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 10} {
		for range 50 {
			seen := rng.Perm(200)[:rng.IntN(200)]
			var kept []int64
			for _, x := range seen {
				kept = keepLowest(kept, int64(x), n)
				if len(kept) > 2*n {
					t.Fatalf("n=%d: %d ids kept", n, len(kept))
				}
			}
			want := make([]int64, len(seen))
			for i, x := range seen {
				want[i] = int64(x)
			}
			slices.Sort(want)
			want = want[:min(n, len(want))]
			if got := lowest(kept, n); !slices.Equal(got, want) {
				t.Fatalf("n=%d: %v, want %v", n, got, want)
			}
		}
	}
}
