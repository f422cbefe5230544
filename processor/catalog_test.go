package processor

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// Tests of SPEC §4.3: every catalog record is a step, applied in topic order with
// the catalog as of that record, whatever the batching.

const (
	catContacts = 12
	catA        = 9001
	catB        = 9002
)

// catProducts returns the products contact i bought: both (i%3 == 0), catA (1) or
// catB (2).
func catProducts(i int) []int {
	switch i % 3 {
	case 0:
		return []int{catA, catB}
	case 1:
		return []int{catA}
	}
	return []int{catB}
}

// catHarness starts a processor with segment "summer" (purchased_collection
// summer) and contacts 1..catContacts with an order of catProducts(i), none in a
// collection yet. It returns the number of transitions so far.
func catHarness(t *testing.T, b *kafkatest.Broker, chunk int) (*harness, int) {
	t.Helper()
	h := newHarness(t, b, func(c *Config) { c.BackfillChunk = chunk })
	h.putSegment(ws, "summer", seg("summer", `{"field":"purchased_collection","op":"in","value":["summer"]}`))
	h.waitBackfilled("summer")
	h.putSegment(ws, "any", seg("any", `{"field":"orders_count","op":"gte","value":1}`))
	h.waitBackfilled("any")
	var want []string
	for i := 1; i <= catContacts; i++ {
		var items []string
		for _, p := range catProducts(i) {
			items = append(items, fmt.Sprintf(`{"product_id":%d,"vendor":"Acme","price":"1.00","quantity":1}`, p))
		}
		h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("o%d", i), fmt.Sprintf(
			`{"id":%d,"customer":{"id":%d},"created_at":"2026-11-20T12:00:00Z","updated_at":"2026-11-20T12:00:00Z","test":false,"total_price":"2.00","line_items":[%s]}`,
			5000+i, i, joinComma(items)))
		want = append(want, fmt.Sprintf(`+any %d v1 event {"topic":"orders/create","delivery_id":"o%d"}`, i, i))
	}
	return h, h.expect(0, want...)
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// catRecord is a catalog record: product p in collections cs; nil cs is a
// tombstone.
type catRecord struct {
	p  int
	cs []string
}

func (r catRecord) value() string {
	if r.cs == nil {
		return ""
	}
	q := make([]string, len(r.cs))
	for i, c := range r.cs {
		q[i] = fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf(`{"workspace":%q,"product_id":"%d","collections":[%s]}`, ws, r.p, joinComma(q))
}

// putCatalogAtOnce writes catalog records in one transaction: a read_committed
// reader sees them together, in one fetch.
func (h *harness) putCatalogAtOnce(recs ...catRecord) {
	h.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.b.Addrs...), kgo.TransactionalID(kafkatest.UniqueName("cat-txn")),
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
		rec := &kgo.Record{Topic: h.cfg.Topics.Catalog, Key: []byte(fmt.Sprintf("%s/product/%d", ws, r.p))}
		if v := r.value(); v != "" {
			rec.Value = []byte(v)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		h.t.Fatal(err)
	}
}

// waitCatalogRead waits until the processor has read n records of the catalog topic.
func (h *harness) waitCatalogRead(n int) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, got := h.proc.logs.counts()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("processor read %d catalog records after 20s, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// catWant computes what a sequence of catalog records produces per contact, one
// record at a time: each record's change is attributed to its product.
func catWant(recs []catRecord) (map[int64][]string, int) {
	colls := map[int][]string{}
	want := map[int64][]string{}
	n := 0
	member := map[int]bool{}
	for _, r := range recs {
		colls[r.p] = r.cs
		for i := 1; i <= catContacts; i++ {
			if !slices.Contains(catProducts(i), r.p) {
				continue
			}
			m := false
			for _, p := range catProducts(i) {
				m = m || slices.Contains(colls[p], "summer")
			}
			if m != member[i] {
				sign := "-"
				if m {
					sign = "+"
				}
				want[int64(i)] = append(want[int64(i)], fmt.Sprintf(`%ssummer %d v1 catalog {"product_id":"%d"}`, sign, i, r.p))
				member[i] = m
				n++
			}
		}
	}
	return want, n
}

// catBatchingTest runs recs at once (one transaction, scans of chunk contacts per
// window) and one at a time (each applied before the next), and asserts both give
// catWant's transitions per contact.
func catBatchingTest(t *testing.T, recs []catRecord) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		want, n := catWant(recs)
		var atOnce, paused map[int64][]string
		t.Run("at-once", func(t *testing.T) {
			h, k := catHarness(t, b, 1)
			h.putCatalogAtOnce(recs...)
			got := h.settle(k, n)
			atOnce = perContact(got)
			assertPerContact(t, got, want)
		})
		t.Run("paused", func(t *testing.T) {
			h, k := catHarness(t, b, 1000)
			for i, r := range recs {
				h.putCatalog(ws, fmt.Sprint(r.p), r.value())
				h.waitCatalogRead(i + 1)
				time.Sleep(100 * time.Millisecond) // at least one window
				h.waitIdle()
			}
			got := h.settle(k, n)
			paused = perContact(got)
			assertPerContact(t, got, want)
		})
		if !t.Failed() {
			for i := int64(1); i <= catContacts; i++ {
				if !slices.Equal(atOnce[i], paused[i]) {
					t.Errorf("contact %d: at once %q, paused %q", i, atOnce[i], paused[i])
				}
			}
		}
	})
}

// TestCatalogChangesOfTwoProductsAtOnce: two products change in one poll; a contact
// who bought both joins because of the first record (catB), and its transition
// names catB, not the product scanned first.
func TestCatalogChangesOfTwoProductsAtOnce(t *testing.T) {
	catBatchingTest(t, []catRecord{{catB, []string{"summer"}}, {catA, []string{"summer", "x"}}})
}

// TestCatalogSameProductTwiceAtOnce: a product put in a collection and taken out
// again in one poll adds then removes its buyers, as with a pause in between.
func TestCatalogSameProductTwiceAtOnce(t *testing.T) {
	catBatchingTest(t, []catRecord{{catA, []string{"summer"}}, {catA, []string{}}})
}

// TestCatalogStepsAcrossRestart: a restart onto an empty store in the middle of a
// sequence of catalog records applied one contact per window still applies every
// record once, in order, from the step and cursor restored from the changelog.
func TestCatalogStepsAcrossRestart(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		recs := []catRecord{{catB, []string{"summer"}}, {catA, []string{"summer"}}, {catB, []string{}}, {catA, nil}}
		want, n := catWant(recs)
		h, k := catHarness(t, b, 1)
		h.putCatalogAtOnce(recs...)
		h.restartMidway(k, 2, n)
		assertPerContact(t, h.settle(k, n), want)
	})
}

// TestCatalogBeforeEventWhateverTheScan: orders of catB, right after catB joins
// "summer", give the same transitions per contact whether the scan (one contact
// per window) reached the contact before its order or not: the buyers of catB
// join by the catalog record, the others (and new contacts) by their order.
func TestCatalogBeforeEventWhateverTheScan(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		want := map[int64][]string{}
		n := 0
		for i := 1; i <= catContacts+2; i++ {
			switch {
			case i > catContacts:
				want[int64(i)] = []string{
					fmt.Sprintf(`+any %d v1 event {"topic":"orders/create","delivery_id":"n%d"}`, i, i),
					fmt.Sprintf(`+summer %d v1 event {"topic":"orders/create","delivery_id":"n%d"}`, i, i),
				}
			case slices.Contains(catProducts(i), catB):
				want[int64(i)] = []string{fmt.Sprintf(`+summer %d v1 catalog {"product_id":"%d"}`, i, catB)}
			default:
				want[int64(i)] = []string{fmt.Sprintf(`+summer %d v1 event {"topic":"orders/create","delivery_id":"n%d"}`, i, i)}
			}
			n += len(want[int64(i)])
		}
		orders := func(h *harness) {
			for i := 1; i <= catContacts+2; i++ {
				h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 100, catB))
			}
		}
		for _, mode := range []string{"scan-first", "events-first"} {
			t.Run(mode, func(t *testing.T) {
				chunk := 1
				if mode == "scan-first" {
					chunk = 1000
				}
				h, k := catHarness(t, b, chunk)
				h.putCatalog(ws, fmt.Sprint(catB), catRecord{catB, []string{"summer"}}.value())
				h.waitCatalogRead(1)
				if mode == "scan-first" {
					time.Sleep(100 * time.Millisecond) // at least one window
					h.waitIdle()
				}
				orders(h)
				assertPerContact(t, h.settle(k, n), want)
			})
		}
	})
}

// TestCatalogStepsCaughtUpByEvents: three catalog records at once, then an order
// (of a product in no collection) for every contact: whether the scans (one contact
// per window) or the orders reach a contact first, it gets each record's transition,
// attributed to its product, in topic order, and nothing from its order.
func TestCatalogStepsCaughtUpByEvents(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		recs := []catRecord{{catB, []string{"summer"}}, {catA, []string{"summer"}}, {catB, []string{"winter"}}}
		want, n := catWant(recs)
		for _, mode := range []string{"scan-first", "events-first"} {
			t.Run(mode, func(t *testing.T) {
				chunk := 1
				if mode == "scan-first" {
					chunk = 1000
				}
				h, k := catHarness(t, b, chunk)
				h.putCatalogAtOnce(recs...)
				h.waitCatalogRead(len(recs))
				if mode == "scan-first" {
					time.Sleep(100 * time.Millisecond) // at least one window
					h.waitIdle()
				}
				for i := 1; i <= catContacts; i++ {
					h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("n%d", i), orderOf(int64(i), int64(7000+i), 100, 9100))
				}
				assertPerContact(t, h.settle(k, n), want)
			})
		}
	})
}
