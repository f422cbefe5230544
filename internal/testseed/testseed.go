// Package testseed gives the randomized (property) tests their seeds: the fixed seeds
// each test has always run, plus fresh random ones, different at every run, so that
// the tests keep exploring new inputs. The fresh seeds are logged; a failing test
// prints the command that reruns one seed:
//
//	SEGMENTD_TEST_SEED=<seed> go test ./<package> -run '^<Test>$'
//
// With SEGMENTD_TEST_SEED set, every randomized test runs that seed alone.
package testseed

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/segmentd/segmentd/internal/testenv"
)

// Env names the environment variable that replays one seed.
const Env = "SEGMENTD_TEST_SEED"

// freshBase is where fresh seeds start: far above the small fixed seeds.
const freshBase = 1_000_000

// Seeds returns the seeds a randomized test runs: fixed, then fresh consecutive
// random seeds; or, when SEGMENTD_TEST_SEED is set, that seed alone. It logs the
// fresh seeds, and if the test fails, how to rerun one of them.
func Seeds(t testing.TB, fixed []uint64, fresh int) []uint64 {
	t.Helper()
	if v, ok := os.LookupEnv(Env); ok {
		seed, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			t.Fatalf("testseed: %s=%q is not a seed (an unsigned integer)", Env, v)
		}
		t.Logf("testseed: seed %d (from %s)", seed, Env)
		return []uint64{seed}
	}
	seeds := append([]uint64(nil), fixed...)
	if fresh > 0 {
		base := freshBase + rand.Uint64N(1<<40)
		for i := range uint64(fresh) {
			seeds = append(seeds, base+i)
		}
		if fresh == 1 {
			t.Logf("testseed: fresh seed %d", base)
		} else {
			t.Logf("testseed: fresh seeds %d to %d", base, base+uint64(fresh)-1)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testseed: rerun a failing seed with: %s", Command(t, "<seed>"))
		}
	})
	return seeds
}

// Range returns n seeds: the fixed seeds 0 … n/2−1 and n−n/2 fresh ones (see Seeds).
// It suits tests that try many seeds.
func Range(t testing.TB, n int) []uint64 {
	t.Helper()
	fixed := make([]uint64, n/2)
	for i := range fixed {
		fixed[i] = uint64(i)
	}
	return Seeds(t, fixed, n-n/2)
}

// Command returns the command that reruns test t with the given seed.
func Command(t testing.TB, seed string) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return Env + "=" + seed + " go test " + testenv.PackageDir() + " -run '^" + name + "$' -count=1"
}

// Run runs fn as a subtest "seed=N" for each seed, so that a failure names its seed.
func Run(t *testing.T, seeds []uint64, fn func(t *testing.T, seed uint64)) {
	t.Helper()
	for _, seed := range seeds {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) { fn(t, seed) })
	}
}
