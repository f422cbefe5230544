package state

import (
	"testing"
)

// TestBatchCloseAfterCommit: closing a committed batch (the processor defers Close and
// commits on success) must not touch the batch Pebble hands out next. Pebble pools
// its batches: a committed batch closed twice released whatever batch another user
// had received from the pool in between, resetting its writes.
func TestBatchCloseAfterCommit(t *testing.T) {
	s, err := Open(t.TempDir(), Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reused := 0
	for i := range 200 {
		first := s.NewBatch()
		pooled := first.b
		if err := first.PutChangelogOffset(1, int64(i)); err != nil {
			t.Fatal(err)
		}
		if err := first.Commit(false); err != nil {
			t.Fatal(err)
		}
		second := s.NewBatch() // usually the pooled batch first just released
		if second.b == pooled {
			reused++
		}
		if err := second.PutChangelogOffset(2, int64(i)+1); err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatalf("Close after Commit: %v", err)
		}
		if second.Empty() {
			t.Fatalf("iteration %d: closing a committed batch emptied the batch obtained after it", i)
		}
		if err := second.Commit(false); err != nil {
			t.Fatal(err)
		}
		if err := second.Close(); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ChangelogOffset(2); err != nil || got != int64(i)+1 {
			t.Fatalf("iteration %d: offset of partition 2 = %d, %v; want %d", i, got, err, i+1)
		}
		if err := second.Commit(false); err == nil {
			t.Fatal("Commit of a committed batch succeeded")
		}
	}
	if reused == 0 {
		t.Fatal("Pebble never handed out a released batch again: the test did not exercise the reuse")
	}
	t.Logf("%d of 200 batches were reused", reused)
}
