package processor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// Tests of SPEC §6 "Order of definitions": every accepted version of a definition
// takes effect, in topic order, whatever the batching.

const defContacts = 20 // contact i has spent i.00

// defHarness starts a processor with contacts 1..defContacts, each with one order of
// i.00, and segment "big" (spent ≥ 11) backfilled: 11..20 are members.
func defHarness(t *testing.T, b *kafkatest.Broker, chunk int) (*harness, int) {
	t.Helper()
	h := newHarness(t, b, func(c *Config) { c.BackfillChunk = chunk })
	h.putSegment(ws, "big", seg("big", `{"field":"total_spent","op":"gte","value":11}`))
	h.waitBackfilled("big")
	var want []string
	for i := 1; i <= defContacts; i++ {
		h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("o%d", i), orderOf(int64(i), int64(5000+i), 100*i, 9000))
		if i >= 11 {
			want = append(want, fmt.Sprintf(`+big %d v1 event {"topic":"orders/create","delivery_id":"o%d"}`, i, i))
		}
	}
	return h, h.expect(0, want...)
}

// putSegmentsAtOnce writes segment records ({id, definition}; "" deletes) in one
// transaction: a read_committed reader sees them together, in one fetch.
func (h *harness) putSegmentsAtOnce(recs ...[2]string) {
	h.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.b.Addrs...), kgo.TransactionalID(kafkatest.UniqueName("defs-txn")),
		kgo.TransactionTimeout(10*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		h.t.Fatal(err)
	}
	for _, r := range recs {
		rec := &kgo.Record{Topic: h.cfg.Topics.Segments, Key: []byte(ws + "/" + r[0])}
		if r[1] != "" {
			rec.Value = []byte(r[1])
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		h.t.Fatal(err)
	}
}

// waitDefinitionsRead waits until the processor has read n records of the segments
// topic, so that input produced afterwards is processed after them.
func (h *harness) waitDefinitionsRead(n int) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := h.proc.logs.counts()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("processor read %d segment records after 20s, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIdle waits until no owned partition has a backfill pending.
func (h *harness) waitIdle() {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := -1
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := h.proc.inLoop(ctx, func() { n = h.proc.backfillsPending() })
		cancel()
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("backfills still pending after 30s (%d, %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// perContact groups transitions by contact, in output order (one contact's records
// share a partition of the membership topic, so their order is the output order).
func perContact(recs []outRecord) map[int64][]string {
	m := map[int64][]string{}
	for _, r := range recs {
		m[r.T.CustomerID] = append(m[r.T.CustomerID], r.short())
	}
	return m
}

// settle waits until want transitions after from arrived, the backfills are done
// and nothing more arrives; it returns the transitions after from.
func (h *harness) settle(from, want int) []outRecord {
	h.t.Helper()
	h.waitTransitions(from, want)
	h.waitIdle()
	time.Sleep(200 * time.Millisecond)
	h.out.Lock()
	defer h.out.Unlock()
	return append([]outRecord(nil), h.out.membership[from:]...)
}

func defTransition(sign string, seg string, i int, v int) string {
	return fmt.Sprintf(`%s%s %d v%d definition {"segment_version":%d}`, sign, seg, i, v, v)
}

// assertPerContact compares the transitions of each contact, in order.
func assertPerContact(t *testing.T, got []outRecord, want map[int64][]string) {
	t.Helper()
	g := perContact(got)
	var diffs []string
	for i := int64(1); i <= defContacts+5; i++ {
		if !slices.Equal(g[i], want[i]) {
			diffs = append(diffs, fmt.Sprintf("contact %d:\n   got %q\n  want %q", i, g[i], want[i]))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("transitions per contact differ:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestDefinitionChangeThenDeleteAtOnce: a rules change followed at once by the
// deletion of the segment (one transaction, so one fetch of the globals reader)
// still applies the change: the contacts it adds are added with version 2, then
// every member is removed. The removals of a deletion carry the version of the
// deleted definition, the last accepted one (SPEC §6, §7): here 2.
func TestDefinitionChangeThenDeleteAtOnce(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h, k := defHarness(t, b, 4)
		h.putSegmentsAtOnce(
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":6}`)},
			[2]string{"big", ""},
		)
		want := map[int64][]string{}
		for i := 6; i <= defContacts; i++ {
			if i <= 10 {
				want[int64(i)] = append(want[int64(i)], defTransition("+", "big", i, 2))
			}
			want[int64(i)] = append(want[int64(i)], defTransition("-", "big", i, 2))
		}
		assertPerContact(t, h.settle(k, 5+15), want)
	})
}

// TestDefinitionChangesAtOnce: two rules changes at once each take effect, with
// their own version.
func TestDefinitionChangesAtOnce(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h, k := defHarness(t, b, 4)
		h.putSegmentsAtOnce(
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":6}`)},
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":16}`)},
		)
		want := map[int64][]string{}
		for i := 6; i <= 15; i++ {
			if i <= 10 {
				want[int64(i)] = append(want[int64(i)], defTransition("+", "big", i, 2))
			}
			want[int64(i)] = append(want[int64(i)], defTransition("-", "big", i, 3))
		}
		assertPerContact(t, h.settle(k, 5+10), want)
		h.waitBackfilled("big")
	})
}

// defSequence is the sequence of the batching test: "big" changes, "small" is
// created, "big" changes again and is deleted.
var defSequence = [][2]string{
	{"big", seg("big", `{"field":"total_spent","op":"gte","value":6}`)},
	{"small", seg("small", `{"field":"total_spent","op":"lt","value":8}`)},
	{"big", seg("big", `{"field":"total_spent","op":"gte","value":16}`)},
	{"big", ""},
}

// defSequenceWant is what defSequence, then a new order of 1.00 for every contact
// (and new contacts), produce per contact.
func defSequenceWant() (map[int64][]string, int) {
	want := map[int64][]string{}
	n := 0
	add := func(i int, s string) {
		want[int64(i)] = append(want[int64(i)], s)
		n++
	}
	for i := 1; i <= defContacts; i++ {
		if i >= 6 && i <= 10 {
			add(i, defTransition("+", "big", i, 2))
		}
		if i < 8 {
			add(i, defTransition("+", "small", i, 1))
		}
		if i >= 6 && i <= 15 {
			add(i, defTransition("-", "big", i, 3))
		}
		if i >= 16 {
			add(i, defTransition("-", "big", i, 3))
		}
		if i == 7 { // 8.00 spent after its new order
			add(i, fmt.Sprintf(`-small %d v1 event {"topic":"orders/create","delivery_id":"n%d"}`, i, i))
		}
	}
	return want, n
}

// TestDefinitionOrderWhateverTheBatching: the same sequence of definitions, then
// an order for every contact, gives the same transitions per contact whether the
// definitions come at once and the backfills advance one contact per window (the
// events reach most contacts before the backfills do: they are first brought
// through the pending versions), or come one by one with each backfill complete
// before the next record.
func TestDefinitionOrderWhateverTheBatching(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		want, n := defSequenceWant()
		orders := func(h *harness) {
			for i := 1; i <= defContacts; i++ {
				h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 100, 9000))
			}
			// New contacts, spent 10.00: they start with the definitions in force
			// and so join no segment, though "big" v2 (6.00) matched them.
			for i := defContacts + 1; i <= defContacts+5; i++ {
				h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 1000, 9000))
			}
		}
		var atOnce, paused map[int64][]string
		t.Run("at-once", func(t *testing.T) {
			h, k := defHarness(t, b, 1)
			h.putSegmentsAtOnce(defSequence...)
			h.waitDefinitionsRead(1 + len(defSequence))
			orders(h)
			got := h.settle(k, n)
			atOnce = perContact(got)
			assertPerContact(t, got, want)
		})
		t.Run("paused", func(t *testing.T) {
			h, k := defHarness(t, b, 1000)
			for i, r := range defSequence {
				h.putSegment(ws, r[0], r[1])
				h.waitDefinitionsRead(2 + i)
				time.Sleep(100 * time.Millisecond) // at least one window
				h.waitIdle()
			}
			orders(h)
			got := h.settle(k, n)
			paused = perContact(got)
			assertPerContact(t, got, want)
		})
		if !t.Failed() {
			for i := int64(1); i <= defContacts+5; i++ {
				if !slices.Equal(atOnce[i], paused[i]) {
					t.Errorf("contact %d: at once %q, paused %q", i, atOnce[i], paused[i])
				}
			}
		}
	})
}

// TestDefinitionStepsAcrossRestart: a restart onto an empty store in the middle of a
// sequence of versions (a change, another, a deletion, applied one contact per
// window) still applies every version exactly once, from the cursor and the version
// restored from the changelog.
func TestDefinitionStepsAcrossRestart(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h, k := defHarness(t, b, 1)
		h.putSegmentsAtOnce(
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":6}`)},
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":16}`)},
			[2]string{"big", ""},
		)
		want := map[int64][]string{}
		for i := 6; i <= defContacts; i++ {
			if i <= 10 {
				want[int64(i)] = append(want[int64(i)], defTransition("+", "big", i, 2))
			}
			want[int64(i)] = append(want[int64(i)], defTransition("-", "big", i, 3))
		}
		const total = 5 + 10 + 5
		h.restartMidway(k, 2, total)
		assertPerContact(t, h.settle(k, total), want)
	})
}

// TestDefinitionBeforeEventWhateverTheBackfill: an event for a contact the backfill
// of a new definition has not reached yet is evaluated after the definition, as if
// the backfill had reached it: contact 7 joins "small" (definition) and leaves it
// (its event), however far the backfill, one contact per window, got.
func TestDefinitionBeforeEventWhateverTheBackfill(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h, k := defHarness(t, b, 1)
		h.putSegment(ws, "small", seg("small", `{"field":"total_spent","op":"lt","value":8}`))
		h.waitDefinitionsRead(2)
		for i := 1; i <= defContacts; i++ {
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 100, 9000))
		}
		want := map[int64][]string{}
		for i := 1; i < 8; i++ {
			want[int64(i)] = []string{defTransition("+", "small", i, 1)}
		}
		want[7] = append(want[7], `-small 7 v1 event {"topic":"orders/create","delivery_id":"n7"}`)
		want[10] = []string{`+big 10 v1 event {"topic":"orders/create","delivery_id":"n10"}`} // 11.00
		assertPerContact(t, h.settle(k, 9), want)
	})
}

// fillers creates contacts 100001.. with nothing spent, which no segment of these
// tests matches: they make each backfill step scan n more contacts.
func (h *harness) fillers(n int) {
	h.t.Helper()
	for i := 100001; i <= 100000+n; i++ {
		v := fmt.Sprintf(`{"topic":"orders/create","shop":%q,"id":"f%d","payload":%s}`, ws, i, orderOf(int64(i), int64(i), 0, 9000))
		h.prod.Produce(context.Background(), &kgo.Record{Topic: h.cfg.Topics.Events[0], Key: []byte(fmt.Sprintf("%s/%d", ws, i)), Value: []byte(v)}, nil)
	}
	if err := h.prod.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// TestDefinitionStepsAcrossPartitionMove: a second process joining the group in the
// middle of a sequence of versions takes partitions over from their changelog, and
// every version is still applied exactly once, in order.
func TestDefinitionStepsAcrossPartitionMove(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h, k := defHarness(t, b, 1)
		h.fillers(200)
		h.putSegmentsAtOnce(
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":6}`)},
			[2]string{"big", seg("big", `{"field":"total_spent","op":"gte","value":16}`)},
			[2]string{"big", ""},
		)
		want := map[int64][]string{}
		for i := 6; i <= defContacts; i++ {
			if i <= 10 {
				want[int64(i)] = append(want[int64(i)], defTransition("+", "big", i, 2))
			}
			want[int64(i)] = append(want[int64(i)], defTransition("-", "big", i, 3))
		}
		const total = 5 + 10 + 5
		h.waitTransitions(k, 1)

		cfg := h.cfg
		cfg.Store = emptyStore(t)
		cfg.Registerer = nil
		p2, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p2.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("second process: %v", err)
			}
		}()
		deadline := time.Now().Add(30 * time.Second)
		for len(*p2.owned.Load()) == 0 || !p2.Ready() {
			if time.Now().After(deadline) {
				t.Fatal("the second process owns no partition after 30s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		h.out.Lock()
		moved := len(h.out.membership) - k
		h.out.Unlock()
		if moved >= total {
			t.Fatalf("the sequence was over (%d transitions) before the second process took partitions", moved)
		}
		t.Logf("%d of %d transitions before the second process took partitions %v", moved, total, *p2.owned.Load())
		got := h.waitTransitions(k, total)
		for _, p := range []*Processor{h.proc, p2} {
			for {
				n := -1
				qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := p.inLoop(qctx, func() { n = p.backfillsPending() })
				qcancel()
				if err == nil && n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("backfills still pending (%d, %v)", n, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(200 * time.Millisecond)
		h.out.Lock()
		got = append([]outRecord(nil), h.out.membership[k:]...)
		h.out.Unlock()
		assertPerContact(t, got, want)
	})
}

// TestDefinitionEarlierVersionReadsCollections: a version that reads purchased
// collections takes effect even when, by the time it is applied, no live rule reads
// them (attributes then skip the catalog): a segment on a collection created and
// deleted at once adds and removes its buyers, whether an event or the backfill
// reaches them first.
func TestDefinitionEarlierVersionReadsCollections(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h, k := defHarness(t, b, 1)
		h.putCatalog(ws, "9000", `{"workspace":"acme.myshopify.com","product_id":"9000","collections":["Summer"]}`)
		deadline := time.Now().Add(20 * time.Second)
		for len(h.proc.rules.Collections(ws, "9000")) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("catalog entry not read after 20s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		h.putSegmentsAtOnce(
			[2]string{"summer", seg("summer", `{"field":"purchased_collection","op":"in","value":["summer"]}`)},
			[2]string{"summer", ""},
		)
		h.waitDefinitionsRead(3)
		for i := 1; i <= defContacts; i += 2 {
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 100, 9001))
		}
		want := map[int64][]string{}
		for i := 1; i <= defContacts; i++ {
			want[int64(i)] = []string{defTransition("+", "summer", i, 1), defTransition("-", "summer", i, 1)}
		}
		assertPerContact(t, h.settle(k, 2*defContacts), want)
	})
}
