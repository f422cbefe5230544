package testseed

import (
	"os"
	"slices"
	"testing"
)

func unsetEnv(t *testing.T) {
	t.Setenv(Env, "") // restored when the test ends
	os.Unsetenv(Env)
}

func TestSeedsFixedAndFresh(t *testing.T) {
	unsetEnv(t)
	a := Seeds(t, []uint64{1, 2}, 3)
	b := Seeds(t, []uint64{1, 2}, 3)
	if len(a) != 5 || a[0] != 1 || a[1] != 2 {
		t.Fatalf("seeds %v, want 1, 2 and three fresh ones", a)
	}
	for i := 2; i < 5; i++ {
		if a[i] < freshBase || a[i] != a[2]+uint64(i-2) {
			t.Fatalf("fresh seeds %v are not consecutive from ≥ %d", a[2:], freshBase)
		}
	}
	if slices.Equal(a, b) {
		t.Errorf("two calls gave the same fresh seeds %v", a[2:])
	}
	if r := Range(t, 5); len(r) != 5 || r[0] != 0 || r[1] != 1 || r[2] < freshBase {
		t.Errorf("Range(5) = %v, want 0, 1 and three fresh seeds", r)
	}
}

func TestSeedsFromEnv(t *testing.T) {
	t.Setenv(Env, " 42 ")
	if got := Seeds(t, []uint64{1, 2}, 3); !slices.Equal(got, []uint64{42}) {
		t.Errorf("with %s=42: seeds %v, want [42]", Env, got)
	}
}

func TestCommand(t *testing.T) {
	want := "SEGMENTD_TEST_SEED=5 go test ./internal/testseed -run '^TestCommand$' -count=1"
	t.Run("sub", func(t *testing.T) {
		if got := Command(t, "5"); got != want {
			t.Errorf("Command = %s, want %s", got, want)
		}
	})
}

func TestRunNamesSubtestsBySeed(t *testing.T) {
	var got []uint64
	Run(t, []uint64{3, 1000001}, func(t *testing.T, seed uint64) {
		got = append(got, seed)
		if want := "TestRunNamesSubtestsBySeed/seed=" + map[uint64]string{3: "3", 1000001: "1000001"}[seed]; t.Name() != want {
			t.Errorf("subtest %s, want %s", t.Name(), want)
		}
	})
	if !slices.Equal(got, []uint64{3, 1000001}) {
		t.Errorf("ran seeds %v", got)
	}
}
