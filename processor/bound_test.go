package processor

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
	"github.com/segmentd/segmentd/state"
)

// extremeOrderJSON is order i of the extreme contact (Form B orders/create payload): 30
// line items of 40 products and 10 vendors; order `early` has one item of vendor
// "Early-Brand" that no other order has.
func extremeOrderJSON(cid int64, i, early int, cancelled bool) string {
	var items strings.Builder
	for j := range 30 {
		vendor, product, price := fmt.Sprintf("Vendor %d", (i+j)%10), 8000000000+(i+j)%40, fmt.Sprintf("%d.00", 5+(i+j)%10)
		if i == early && j == 0 {
			vendor, product, price = "Early-Brand", 990001, "12345.67"
		}
		if j > 0 {
			items.WriteByte(',')
		}
		fmt.Fprintf(&items, `{"product_id":%d,"vendor":%q,"price":%q,"quantity":1}`, product, vendor, price)
	}
	created := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
	updated, cancel := created, ""
	if cancelled {
		updated = "2026-11-21T09:00:00Z"
		cancel = `,"cancelled_at":"2026-11-21T09:00:00Z"`
	}
	return fmt.Sprintf(`{"id":%d,"customer":{"id":%d},"created_at":%q,"updated_at":%q%s,"total_price":"300.00","line_items":[%s]}`,
		5000000000000+i, cid, created, updated, cancel, items.String())
}

// TestExtremeContactKeepsPipelineFlowing is issue 12's extreme contact: 20,000 orders
// of 30 line items, 50,000 message statuses, 250 tags, 1,000 lists and 1,000
// automation completions for one contact. The pipeline must keep flowing (another
// contact's update reaches its segment), the contact's record must stay within
// --max-contact-bytes, and its exact attributes must stay exact, a cancellation of a
// folded order included.
func TestExtremeContactKeepsPipelineFlowing(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		h.putSegment(ws, "big", seg("big", `{"field":"orders_count","op":"gte","value":20000}`))
		h.putSegment(ws, "early", seg("early", `{"field":"purchased_brand","op":"in","value":["early-brand"]}`))
		h.putSegment(ws, "engaged", seg("engaged", `{"field":"messages_read","op":"gte","value":25000}`))
		h.putSegment(ws, "end", seg("end", `{"field":"tag","op":"has","value":"the-end"}`))
		const big, other = int64(1), int64(2)
		const nOrders, early = 20000, 19000
		bigKey := fmt.Sprintf("%s/%d", ws, big)

		var batch []*kgo.Record
		send := func(force bool) {
			if len(batch) >= 2000 || (force && len(batch) > 0) {
				if err := h.prod.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		n := 0
		add := func(topic, payload string) {
			n++
			v := fmt.Sprintf(`{"topic":%q,"shop":%q,"id":"x-%d","payload":%s}`, topic, ws, n, payload)
			batch = append(batch, &kgo.Record{Topic: h.cfg.Topics.Events[0], Key: []byte(bigKey), Value: []byte(v)})
			send(false)
		}
		start := time.Now()
		for i := range nOrders {
			add("orders/create", extremeOrderJSON(big, i, early, false))
		}
		for i := range 50000 {
			status := "delivered"
			if i%2 == 1 {
				status = "read"
			}
			ts := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i/2) * time.Minute).Format(time.RFC3339)
			add("messages/status", fmt.Sprintf(`{"customer_id":%d,"message_id":"wamid.%d","status":%q,"timestamp":%q}`, big, i/2, status, ts))
		}
		for i := range 250 {
			add("customer.tags_added", fmt.Sprintf(`{"customer_id":%d,"tags":["tag-%03d"]}`, big, i))
		}
		for i := range 1000 {
			add("lists/member_added", fmt.Sprintf(`{"customer_id":%d,"list_id":"list-%04d"}`, big, i))
		}
		for i := range 1000 {
			add("automations/completed", fmt.Sprintf(`{"customer_id":%d,"automation_id":"automation-%04d","completed_at":"2026-11-20T00:00:00Z"}`, big, i))
		}
		add("customer.tags_added", fmt.Sprintf(`{"customer_id":%d,"tags":["the-end"]}`, big))
		send(true)
		t.Logf("produced %d records of the extreme contact in %s", n, time.Since(start).Round(time.Millisecond))
		// Another contact, after all of it.
		h.envelope(fmt.Sprintf("%s/%d", ws, other), "customers/update", ws, "other-1", fmt.Sprintf(`{"id":%d,"tags":"vip"}`, other))

		want := []string{
			`+vip 2 v1 event {"topic":"customers/update","delivery_id":"other-1"}`,
			`+big 1`, `+early 1`, `+engaged 1`, `+end 1`,
		}
		h.waitFor(2*time.Minute, want...)
		t.Logf("all transitions after %s", time.Since(start).Round(time.Millisecond))

		// The record stays within the bound, and its exact attributes are exact. The
		// store is written just after the transaction commits: retry a little.
		check := func(wantEarly bool) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				enc, c := h.storedContact(bigKey)
				if len(enc) > state.DefaultMaxContactBytes {
					t.Fatalf("extreme contact's record takes %d bytes, over the bound %d", len(enc), state.DefaultMaxContactBytes)
				}
				a := c.Attrs(ws, nil, "")
				wantCount, wantTotal := int64(nOrders), "6000000.00"
				if !wantEarly {
					wantCount, wantTotal = nOrders-1, "5999700.00"
				}
				var errs []string
				if a.OrdersCount != wantCount || a.TotalSpent.String() != wantTotal {
					errs = append(errs, fmt.Sprintf("orders_count %d, total_spent %s; want %d, %s", a.OrdersCount, a.TotalSpent, wantCount, wantTotal))
				}
				if want := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC); !a.FirstOrderAt.Equal(want) {
					errs = append(errs, fmt.Sprintf("first_order_at %v, want %v", a.FirstOrderAt, want))
				}
				if _, found := slices.BinarySearch(a.PurchasedBrands, "early-brand"); found != wantEarly {
					errs = append(errs, fmt.Sprintf("early-brand purchased: %v, want %v", found, wantEarly))
				}
				if a.MessagesReceived != 25000 || a.MessagesRead != 25000 || len(a.Tags) != 251 || len(a.Lists) != 1000 ||
					a.AutomationCompletions != 1000 || len(a.CompletionsByAutomation) != 1000 {
					errs = append(errs, fmt.Sprintf("messages %d/%d, tags %d, lists %d, completions %d over %d automations", a.MessagesReceived, a.MessagesRead,
						len(a.Tags), len(a.Lists), a.AutomationCompletions, len(a.CompletionsByAutomation)))
				}
				if len(errs) == 0 {
					t.Logf("extreme contact: %d bytes", len(enc))
					return
				}
				if time.Now().After(deadline) {
					t.Fatal(strings.Join(errs, "\n"))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		check(true)

		// Cancelling the early (folded) order removes its brand: the contact leaves
		// "early" and "big".
		h.envelope(bigKey, "orders/cancelled", ws, "cancel-1", extremeOrderJSON(big, early, early, true))
		h.waitFor(time.Minute, `-early 1`, `-big 1`)
		check(false)
	})
}

// waitFor waits until, for each of want, a membership record whose short form starts
// with it has arrived.
func (h *harness) waitFor(timeout time.Duration, want ...string) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h.out.Lock()
		got := shorts(h.out.membership)
		h.out.Unlock()
		missing := 0
		for _, w := range want {
			if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, w) }) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("waited %s for transitions %q; got %q", timeout, want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedContact reads a contact's committed record from the store.
func (h *harness) storedContact(key string) ([]byte, *state.Contact) {
	h.t.Helper()
	for p := range h.cfg.Partitions {
		var enc []byte
		err := h.cfg.Store.ScanContactEncodings(p, key, "", func(k, v []byte) (bool, error) {
			if string(k) == key {
				enc = append([]byte(nil), v...)
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			h.t.Fatal(err)
		}
		if enc != nil {
			var c state.Contact
			if err := c.UnmarshalBinary(enc); err != nil {
				h.t.Fatal(err)
			}
			return enc, &c
		}
	}
	h.t.Fatalf("contact %s not in the store", key)
	return nil, nil
}

// TestRefusedRecordQuarantinesContact: when the brokers refuse a record segmentd
// produces (here the changelog topic accepts only 3,000-byte messages), the contact is
// named in the log and counted, its input records go to the dead-letter topic, and
// every other contact keeps being processed.
func TestRefusedRecordQuarantinesContact(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		maxMsg, compact := "3000", "compact"
		changelog := b.Topic(t, "small-changelog-"+strings.ToLower(t.Name()[len("TestRefusedRecordQuarantinesContact/"):]), 3,
			map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &maxMsg})
		h := newHarness(t, b, func(c *Config) { c.Topics.Changelog = changelog })
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		// 8,000 bytes that do not compress below 3,000.
		rnd := make([]byte, 6000)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range rnd {
			rnd[i] = byte(rng.Uint32())
		}
		big := base64.RawStdEncoding.EncodeToString(rnd)
		h.envelope(ws+"/1", "customers/update", ws, "big-1", fmt.Sprintf(`{"id":1,"first_name":%q,"tags":"vip"}`, big))
		h.envelope(ws+"/2", "customers/update", ws, "other-1", `{"id":2,"tags":"vip"}`)
		h.waitFor(30*time.Second, `+vip 2 v1 event {"topic":"customers/update","delivery_id":"other-1"}`)
		dl := h.waitDLQ(0, 1)
		if dl[0].Key != ws+"/1" || dl[0].Headers[HeaderError] != string(ReasonContactRefused) || !strings.Contains(string(dl[0].Value), big) {
			t.Errorf("dead letter: key %q, reason %q, detail %q", dl[0].Key, dl[0].Headers[HeaderError], dl[0].Headers[HeaderDetail])
		}
		// Later records of the quarantined contact are dead-lettered too; others flow.
		h.envelope(ws+"/1", "customer.tags_removed", ws, "big-2", `{"customer_id":1,"tags":["vip"]}`)
		h.envelope(ws+"/3", "customers/update", ws, "other-2", `{"id":3,"tags":"vip"}`)
		h.waitFor(30*time.Second, `+vip 3`)
		h.waitDLQ(1, 1)
		if got := testutil.ToFloat64(h.proc.m.recordsRefused.WithLabelValues("broker_refused")); got < 1 {
			t.Errorf("segmentd_records_refused_total{reason=broker_refused} = %v", got)
		}
		h.out.Lock()
		defer h.out.Unlock()
		for _, r := range h.out.membership {
			if r.T.CustomerID == 1 {
				t.Errorf("transition for the quarantined contact: %s", r.short())
			}
		}
	})
}

// TestContactTooLargeDeadLettered: an event that would grow what a contact keeps
// exactly past its share of --max-contact-bytes is dead-lettered (contact_too_large)
// and the contact stays as it was.
func TestContactTooLargeDeadLettered(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.MaxContactBytes = state.MinMaxContactBytes })
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		huge := strings.Repeat("t", 5000) // over a quarter of 16 KiB
		h.envelope(ws+"/1", "customer.tags_added", ws, "huge", fmt.Sprintf(`{"customer_id":1,"tags":["vip",%q]}`, huge))
		h.envelope(ws+"/1", "customer.tags_added", ws, "small", `{"customer_id":1,"tags":["vip"]}`)
		h.waitFor(30*time.Second, `+vip 1 v1 event {"topic":"customer.tags_added","delivery_id":"small"}`)
		dl := h.waitDLQ(0, 1)
		if dl[0].Key != ws+"/1" || dl[0].Headers[HeaderError] != string(ReasonContactTooLarge) {
			t.Errorf("dead letter: key %q, reason %q, detail %q", dl[0].Key, dl[0].Headers[HeaderError], dl[0].Headers[HeaderDetail])
		}
		// The store is written after the transaction ends, so after the transition is
		// seen: poll until the contact is there.
		testenv.Eventually(t, "contact 1 stored with the tag vip alone", func() (bool, string) {
			_, c := h.storedContact(ws + "/1")
			if c == nil {
				return false, "not stored"
			}
			tags := c.Tags()
			return len(tags) == 1 && tags[0] == "vip", fmt.Sprintf("tags %q", tags)
		})
	})
}

// TestOversizedDeadLetter: an input record too large for a dead letter with its value
// (over what the producer accepts) is dead-lettered without its value, once, and the
// pipeline keeps flowing; before, its dead letter was refused on every run of the
// window.
func TestOversizedDeadLetter(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.MaxRecordBytes = 1_000_000 })
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs...), kgo.ProducerBatchMaxBytes(2<<20))
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close()
		value := fmt.Sprintf(`{"topic":"customer.tags_added","shop":%q,"id":"huge","payload":{"customer_id":1,"tags":[%q]}}`, ws, strings.Repeat("x", 1_010_000))
		r := &kgo.Record{Topic: h.cfg.Topics.Events[0], Key: []byte(ws + "/1"), Value: []byte(value)}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		h.envelope(ws+"/2", "customers/update", ws, "other-1", `{"id":2,"tags":"vip"}`)
		h.waitFor(30*time.Second, `+vip 2`)
		dl := h.waitDLQ(0, 1)
		if dl[0].Key != ws+"/1" || dl[0].Headers[HeaderError] != "record_too_large" || len(dl[0].Value) != 0 ||
			!strings.Contains(dl[0].Headers[HeaderDetail], "value is omitted") {
			t.Errorf("dead letter: key %q, reason %q, %d bytes of value, detail %q", dl[0].Key, dl[0].Headers[HeaderError], len(dl[0].Value), dl[0].Headers[HeaderDetail])
		}
		time.Sleep(200 * time.Millisecond)
		h.out.Lock()
		defer h.out.Unlock()
		if len(h.out.dlq) != 1 {
			t.Errorf("%d dead letters, want 1", len(h.out.dlq))
		}
	})
}

// TestConfigMaxContactBytes: the bound defaults to state.DefaultMaxContactBytes and
// must lie in [state.MinMaxContactBytes, 900 KiB].
func TestConfigMaxContactBytes(t *testing.T) {
	store := emptyStore(t)
	for _, tc := range []struct {
		v  int
		ok bool
	}{{0, true}, {state.MinMaxContactBytes, true}, {900 << 10, true}, {state.MinMaxContactBytes - 1, false}, {900<<10 + 1, false}, {-1, false}} {
		c := Config{Brokers: []string{"x:9092"}, Store: store, MaxContactBytes: tc.v}
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("MaxContactBytes %d: Validate() = %v", tc.v, err)
		}
	}
	var c Config
	c.ensureDefaults()
	if c.MaxContactBytes != 256<<10 {
		t.Errorf("default MaxContactBytes %d", c.MaxContactBytes)
	}
}

// TestWindowShrinksAfterRunningOutOfTime: a window that ran out of time halves the
// input of the next ones, down to one record; committed windows double it back.
func TestWindowShrinksAfterRunningOutOfTime(t *testing.T) {
	p := &Processor{cfg: Config{MaxWindowRecords: 10000, Logger: testLogger(t)}}
	for _, step := range []struct {
		shrink int // records of a window that ran out of time; -1: a window committed
		want   int
	}{{10000, 5000}, {5000, 2500}, {100, 50}, {-1, 100}, {-1, 200}, {1, 1}, {1, 1}, {-1, 2}, {0, 2}} {
		if step.shrink >= 0 {
			p.shrinkWindow(&window{records: step.shrink})
		} else {
			p.growWindow()
		}
		if got := p.windowLimit(); got != step.want {
			t.Fatalf("after %+v: limit %d, want %d", step, got, step.want)
		}
	}
	for range 20 {
		p.growWindow()
	}
	if p.windowLimit() != 10000 || p.windowCap != 0 {
		t.Fatalf("grown back to %d (cap %d)", p.windowLimit(), p.windowCap)
	}
}
