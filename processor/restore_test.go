package processor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/state"
)

// TestRestoreIndexesInOnePass: a restore builds the partition's bitmaps and attribute
// indexes as it writes the changelog's records into the store, and ends with exactly
// what a full read of the store builds (partition.load), both into an empty store and
// into one that already held part of the state: through contacts updated, deleted and
// purged, re-created under a new dense id, and (as compaction can leave them) purged
// or re-created with no tombstone in the records restored.
func TestRestoreIndexesInOnePass(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		cfg := Config{
			Brokers:            b.Addrs,
			Topics:             Topics{Changelog: b.Topic(t, kafkatest.UniqueName("changelog-restore"), 1, nil)},
			Partitions:         1,
			TransactionTimeout: 10 * time.Second,
			Logger:             testLogger(t),
			Store:              emptyStore(t),
		}
		p := &Processor{cfg: cfg, m: newMetrics(prometheus.NewRegistry(), func() bool { return true }, false)}
		cl := b.Client(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
		countries := []string{"MX", "US"}
		produce := func(name string, c *state.Contact) {
			t.Helper()
			r := &kgo.Record{Topic: cfg.Topics.Changelog, Partition: 0, Key: []byte(ws + "/" + name)}
			if c != nil {
				enc, err := c.AppendBinary(nil)
				if err != nil {
					t.Fatal(err)
				}
				r.Value = enc
			}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		// contact returns contact i of the benchmark, in ws, with dense id dense.
		contact := func(i int, dense uint32) *state.Contact {
			c := restoreTestContact(i, now, countries)
			c.DenseID = dense
			return c
		}
		tombstone := func(c *state.Contact) *state.Contact {
			ev := &events.Event{Kind: events.CustomerDelete, Topic: "customers/delete", Workspace: ws, CustomerID: 1, DeliveryID: "del", OccurredAt: now}
			if out := c.Apply(ev, now); out != state.Deleted {
				t.Fatalf("delete: %v", out)
			}
			return c
		}
		check := func(stage string, wantLive ...uint32) {
			t.Helper()
			pt, err := p.openPartition(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			full := newPartition(0)
			if err := full.load(cfg.Store, ""); err != nil {
				t.Fatal(err)
			}
			if got := pt.attrs[ws].Live(); !got.Equals(roaring.BitmapOf(wantLive...)) {
				t.Errorf("%s: contacts indexed %v, want %v", stage, got.ToArray(), wantLive)
			}
			samePartitions(t, stage, pt, full)
		}

		// Into an empty store.
		produce("101", contact(0, 1))
		produce("101", contact(10, 1)) // updated
		produce("102", contact(1, 2))
		produce("102", tombstone(contact(1, 2)))
		produce("102", nil) // purged
		produce("103", contact(2, 3))
		produce("103", tombstone(contact(2, 3)))
		produce("103", contact(12, 4)) // re-created
		produce("104", contact(3, 5))
		produce("105", contact(4, 6))
		produce("106", contact(5, 7))
		produce("107", contact(6, 8))
		check("empty store", 1, 4, 5, 6, 7, 8)

		// Into a store that holds the records above.
		produce("105", nil)            // purged, its tombstone compacted away
		produce("106", contact(15, 9)) // re-created, its tombstone compacted away
		produce("107", contact(16, 8)) // updated
		produce("108", contact(7, 10))
		produce("104", tombstone(contact(3, 5)))
		check("store holding part of the state", 1, 4, 8, 9, 10)
	})
}

// restoreTestContact is benchContact i with a segment membership by its parity.
func restoreTestContact(i int, now time.Time, countries []string) *state.Contact {
	c := benchContact(i, now, countries)
	c.Memberships = []state.Membership{{Segment: fmt.Sprint("seg", i%2), Incarnation: 1, N: 1}}
	return c
}

// samePartitions fails the test unless a and b hold the same bitmaps and indexes.
func samePartitions(t *testing.T, stage string, a, b *partition) {
	t.Helper()
	for _, m := range [...]struct {
		name      string
		got, want map[string]*roaring.Bitmap
	}{{"members", a.members, b.members}, {"products", a.products, b.products}, {"lists", a.lists, b.lists}, {"reachable", a.reachable, b.reachable}} {
		if gk, wk := slices.Sorted(maps.Keys(m.got)), slices.Sorted(maps.Keys(m.want)); !slices.Equal(gk, wk) {
			t.Errorf("%s: %s keys %q, want %q", stage, m.name, gk, wk)
			continue
		}
		for k, w := range m.want {
			if !m.got[k].Equals(w) {
				t.Errorf("%s: %s %s: %v, want %v", stage, m.name, k, m.got[k].ToArray(), w.ToArray())
			}
		}
	}
	if gk, wk := slices.Sorted(maps.Keys(a.attrs)), slices.Sorted(maps.Keys(b.attrs)); !slices.Equal(gk, wk) {
		t.Fatalf("%s: indexed workspaces %q, want %q", stage, gk, wk)
	}
	for ws, x := range b.attrs {
		if !a.attrs[ws].Equal(x) {
			t.Errorf("%s: the attribute index of %s differs from a full load's", stage, ws)
		}
	}
	it := b.attrs[ws].Live().Iterator()
	for it.HasNext() {
		d := it.Next()
		if a.customer(d) != b.customer(d) {
			t.Errorf("%s: dense id %d: customer %d, want %d", stage, d, a.customer(d), b.customer(d))
		}
	}
	if a.meta.NextDense != b.meta.NextDense {
		t.Errorf("%s: meta %+v, want %+v", stage, a.meta, b.meta)
	}
}
