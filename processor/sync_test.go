package processor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestSyncSegmentsReadsYourWrites: once SyncSegments returns, a query sees every
// definition the segments topic held when it was called, whether the last records
// are plain, a committed transaction or an aborted one (whose markers are no
// entries); WaitSegmentRecord waits for one record; both end with their context.
func TestSyncSegmentsReadsYourWrites(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		def := func(id string) []byte {
			return []byte(`{"workspace":"acme.myshopify.com","id":"` + id + `","groups":[{"conditions":[{"field":"tag","op":"has","value":"x"}]}]}`)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		seen := func(id string) bool {
			_, _, err := h.proc.Segment(ctx, ws, id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		sync := func(what string) {
			t.Helper()
			start := time.Now()
			if err := h.proc.SyncSegments(ctx); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s: SyncSegments took %v", what, d)
			}
		}
		sync("empty topic")

		// Plain records, then a tombstone.
		h.putSegment(ws, "a", string(def("a")))
		sync("after a")
		if !seen("a") {
			t.Fatal("a not seen after SyncSegments")
		}
		h.putSegment(ws, "a", "")
		sync("after deleting a")
		if seen("a") {
			t.Fatal("a seen after its tombstone")
		}

		// A committed transaction, then an aborted one: the topic ends with markers.
		txn, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs...), kgo.TransactionalID(kafkatest.UniqueName("txn")), kgo.ProducerLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		defer txn.Close()
		for _, commit := range []bool{true, false} {
			id := map[bool]string{true: "committed", false: "aborted"}[commit]
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := txn.ProduceSync(ctx, &kgo.Record{Topic: h.cfg.Topics.Segments, Key: []byte(ws + "/" + id), Value: def(id)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatal(err)
			}
			sync("after the " + id + " transaction")
			if seen(id) != commit {
				t.Fatalf("%s: seen %v", id, !commit)
			}
		}

		// One record, by its offset.
		r := &kgo.Record{Topic: h.cfg.Topics.Segments, Key: []byte(ws + "/b"), Value: def("b")}
		if err := h.prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := h.proc.WaitSegmentRecord(ctx, r.Partition, r.Offset); err != nil || !seen("b") {
			t.Fatalf("WaitSegmentRecord: %v", err)
		}

		// A record that never comes: the wait ends with the context.
		short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancelShort()
		if err := h.proc.WaitSegmentRecord(short, r.Partition, r.Offset+100); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitSegmentRecord of a future offset: %v", err)
		}
	})
}
