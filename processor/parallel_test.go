package processor

import (
	"sync/atomic"
	"testing"
)

// TestParallelJoins checks that join waits for every job submitted and for the
// workers: each job has run, once, on a worker index in range, when join returns.
func TestParallelJoins(t *testing.T) {
	const workers, jobs = 3, 100
	par := startParallel(workers, 2)
	var ran [jobs]atomic.Int32
	var badWorker atomic.Bool
	for i := range jobs {
		par.submit(func(w int) {
			if w < 0 || w >= workers {
				badWorker.Store(true)
			}
			ran[i].Add(1)
		})
	}
	par.join()
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Fatalf("job %d ran %d times before join returned, want 1", i, n)
		}
	}
	if badWorker.Load() {
		t.Fatalf("a job ran with a worker index outside [0, %d)", workers)
	}
}

// TestRunChunked checks that every index runs once, that wait(i) returns only once
// index i is done, whatever the order the chunks finish in.
func TestRunChunked(t *testing.T) {
	for _, n := range []int{1, 7, 64, 65, 1000} {
		done := make([]atomic.Bool, n)
		c := runChunked(n, 16, func(i int) {
			if done[i].Swap(true) {
				t.Errorf("n=%d: index %d ran twice", n, i)
			}
		})
		for i := n - 1; i >= 0; i -= 5 {
			c.wait(i)
			if !done[i].Load() {
				t.Fatalf("n=%d: wait(%d) returned before index %d ran", n, i, i)
			}
		}
		c.finish()
		for i := range done {
			if !done[i].Load() {
				t.Fatalf("n=%d: index %d did not run before finish returned", n, i)
			}
		}
	}
}
