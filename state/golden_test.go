package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/RoaringBitmap/roaring/v2"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// Golden bytes: records as a released version wrote them, checked in under
// testdata/golden/. A rolling upgrade reads state (Pebble and the changelog) written by
// the previous release, so every file must keep decoding to the values written out
// below, whatever the encoder does today. The files are never regenerated:
// -golden.write only creates the files that do not exist yet (a new case, e.g. for a
// new section of the format); to change an existing one, delete it on purpose.
var goldenWrite = flag.Bool("golden.write", false, "create the missing testdata/golden files from the current encoder")

// goldenDir holds the golden records.
const goldenDir = "testdata/golden"

// goldenCase is one golden record: build makes the value (used only to create the
// file), check asserts the decoded value field by field, with values written out here
// and not computed by the code under test.
type goldenCase struct {
	file string
	// build returns the encoding to write when the file is missing.
	build func(t *testing.T) []byte
	// check decodes b and asserts its fields.
	check func(t *testing.T, b []byte)
	// reencodes: encoding the decoded value gives b again (true for records that the
	// current encoder writes unchanged).
	reencodes bool
}

var goldenCases = []goldenCase{
	{file: "contact-rich-v1.bin", build: encodeContact(goldenRichContact), check: checkRichContact, reencodes: true},
	{file: "contact-tombstone-v1.bin", build: encodeContact(goldenTombstone), check: checkTombstone, reencodes: true},
	{file: "contact-folded-messages-v1.bin", build: encodeContact(goldenFoldedMessages), check: checkFoldedMessages, reencodes: true},
	// Section 17 (folded orders), added with --max-contact-bytes.
	{file: "contact-folded-orders-v1s17.bin", build: encodeContact(goldenFoldedOrders), check: checkFoldedOrders, reencodes: true},
	// Section 18 (completion times for windows), added with in_last_days.
	{file: "contact-completions-v1s18.bin", build: encodeContact(goldenCompletions), check: checkCompletions, reencodes: true},
	{file: "changelog-partition-meta-v1.json", build: goldenPartitionMeta, check: checkPartitionMeta, reencodes: true},
	{file: "changelog-segment-meta-v1.json", build: goldenSegmentMeta, check: checkSegmentMeta, reencodes: true},
	// Profile bits 12 and 13 (city, province), added with those attributes.
	{file: "contact-address-v1p.bin", build: encodeContact(goldenAddress), check: checkAddress, reencodes: true},
	// pos and ahead, added when every version of a definition became a step.
	{file: "changelog-segment-meta-steps.json", build: goldenSegmentMetaSteps, check: checkSegmentMetaSteps, reencodes: true},
}

func TestGoldenRecords(t *testing.T) {
	for _, gc := range goldenCases {
		t.Run(gc.file, func(t *testing.T) {
			path := filepath.Join(goldenDir, gc.file)
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) && *goldenWrite {
				b = gc.build(t)
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("created %s (%d bytes)", path, len(b))
			} else if err != nil {
				t.Fatalf("read golden record: %v (create missing ones with -golden.write)", err)
			}
			gc.check(t, b)
		})
	}
}

// TestGoldenChangelogKeys pins the changelog keys of the partition and segment metas:
// a restore routes records by them.
func TestGoldenChangelogKeys(t *testing.T) {
	if MetaKey != "\x00meta" {
		t.Errorf("MetaKey = %q", MetaKey)
	}
	if got := SegmentMetaKey("acme.myshopify.com/vip"); got != "\x00seg\x00acme.myshopify.com/vip" {
		t.Errorf("SegmentMetaKey = %q", got)
	}
	if k, ok := ParseSegmentMetaKey("\x00seg\x00acme.myshopify.com/vip"); !ok || k != "acme.myshopify.com/vip" {
		t.Errorf("ParseSegmentMetaKey = %q, %v", k, ok)
	}
}

func encodeContact(build func() *Contact) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := build().AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// decodeGolden decodes a golden contact record and, for a record the current encoder
// writes unchanged, checks that encoding it again gives the same bytes.
func decodeGolden(t *testing.T, b []byte, reencodes bool) *Contact {
	t.Helper()
	var c Contact
	if err := c.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode golden record: %v", err)
	}
	again, err := c.AppendBinary(nil)
	if err != nil {
		t.Fatalf("encode decoded golden record: %v", err)
	}
	if reencodes && !bytes.Equal(again, b) {
		t.Errorf("re-encoding changed the bytes:\n got %x\nwant %x", again, b)
	}
	return &c
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func eqTime(t *testing.T, what string, got time.Time, want string) {
	t.Helper()
	if want == "" {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero", what, got)
		}
		return
	}
	if w := ts(want); !got.Equal(w) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v", what, got, w)
	}
}

func eqJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s =\n %s\nwant\n %s", what, b, want)
	}
}

// goldenRichContact exercises every section of the format: processor fields, delivery
// ids, a full profile, three consents, tags, lists, a stage override, a purchasing
// summary, orders (counted, cancelled, test; numeric and textual ids, repeated and
// empty vendors, fractional and negative prices, quantities), an order deletion,
// messages (delivered, read, played), an inbound message, automations, back-in-stock
// subscriptions and conversations.
func goldenRichContact() *Contact {
	var c Contact
	base := ts("2026-10-01T09:00:00Z")
	now := base
	n := 0
	apply := func(ev *events.Event) {
		n++
		now = now.Add(time.Hour)
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now.Add(-1500 * time.Millisecond)
		}
		if ev.DeliveryID == "" && n%2 == 1 {
			ev.DeliveryID = fmt.Sprintf("d-%03d", n)
		}
		if out := c.Apply(ev, now); out != Applied && out != Deleted {
			panic(fmt.Sprintf("golden event %d (%v): %v", n, ev.Kind, out))
		}
	}
	apply(customerEv(time.Time{}, "", events.Customer{
		Email: some("ana.perez@example.com"), FirstName: some("Ana"), LastName: some("Pérez"),
		Phone: some("+52 55 1234 5678"), Country: some("mx"), Locale: some("es-MX"),
		Tags:         some("VIP, newsletter, Summer-2026"),
		SMSConsent:   &events.ConsentField{State: "SUBSCRIBED", UpdatedAt: ts("2026-09-01T10:00:00Z")},
		EmailConsent: &events.ConsentField{State: "INVALID", UpdatedAt: ts("2026-09-02T10:00:00.250Z")},
		CreatedAt:    events.OptTime{Present: true, Value: ts("2025-03-04T05:06:07Z")}, UpdatedAt: ts("2026-10-01T08:59:00Z"),
	}))
	apply(consentEv(events.WhatsAppConsentUpdate, time.Time{}, "", "weird_state", ts("2026-09-03T00:00:00.000000123Z")))
	apply(tagsEv(events.TagsAdded, time.Time{}, "", "b2b", "vip"))
	apply(listEv(events.ListMemberAdded, time.Time{}, "", "8812734"))
	apply(listEv(events.ListMemberAdded, time.Time{}, "", "vip-mx"))
	ev := newEvent(events.LifecycleStageSet, time.Time{}, "")
	ev.Stage = &events.StageSet{Stage: "at_risk"}
	apply(ev)
	ev = newEvent(events.PurchasingSummary, ts("2026-10-01T10:30:00Z"), "")
	ev.Summary = &events.Summary{NumberOfOrders: 3, AmountSpent: dec("1234.50"), CurrencyCode: "MXN", LastOrderID: "5123456790123"}
	apply(ev)
	apply(orderEv(time.Time{}, "", events.Order{
		ID: "5123456789012", CreatedAt: ts("2026-06-01T12:00:00Z"), UpdatedAt: ts("2026-06-01T12:05:00Z"),
		Total: dec("150.00"), CustomerLocale: "es-MX",
		LineItems: []events.LineItem{
			{ProductID: "8123456789", Vendor: "Nike", Price: dec("50.00"), Quantity: 2},
			{ProductID: "8123456790", Vendor: "Nike", Price: dec("25.5"), Quantity: 1},
			{ProductID: "", Vendor: "", Price: dec("24.50"), Quantity: 1},
		},
	}))
	apply(orderEv(time.Time{}, "", events.Order{
		ID: "5123456790123", CreatedAt: ts("2026-08-15T18:30:00.5Z"), UpdatedAt: ts("2026-08-20T08:00:00Z"),
		CancelledAt: ts("2026-08-20T08:00:00Z"), Total: dec("80.00"),
		LineItems: []events.LineItem{{ProductID: "8123456791", Vendor: "Acme Apparel", Price: dec("80.00"), Quantity: 1}},
	}))
	apply(orderEv(time.Time{}, "", events.Order{
		ID: "gid-like-T1", CreatedAt: ts("2026-09-10T00:00:00Z"), Test: true, Total: dec("1.00"),
		LineItems: []events.LineItem{{ProductID: "0042", Vendor: "Adidas", Price: dec("-1.00"), Quantity: -1}},
	}))
	apply(orderEv(time.Time{}, "", events.Order{ID: "5123456799999", CreatedAt: ts("2026-09-20T00:00:00Z"), Total: dec("10")}))
	apply(orderDeleteEv(time.Time{}, "", "5123456799999"))
	apply(statusEv(time.Time{}, "", "wamid.A", events.StatusDelivered, ts("2026-09-25T10:00:00Z")))
	apply(statusEv(time.Time{}, "", "wamid.A", events.StatusRead, ts("2026-09-25T10:05:00Z")))
	apply(statusEv(time.Time{}, "", "wamid.B", events.StatusPlayed, ts("2026-09-26T11:00:00.123Z")))
	apply(statusEv(time.Time{}, "", "wamid.C", events.StatusDelivered, ts("2026-09-27T12:00:00Z")))
	apply(inboundEv(time.Time{}, "", ts("2026-09-28T13:00:00Z")))
	apply(automationEv(time.Time{}, "", "welcome-series"))
	apply(automationEv(time.Time{}, "", "welcome-series"))
	apply(automationEv(time.Time{}, "", "1001"))
	ev = newEvent(events.BackInStockSubscribed, time.Time{}, "")
	ev.BackInStock = &events.BackInStock{VariantID: "44001", ProductID: "8123456789"}
	apply(ev)
	ev = newEvent(events.ConversationUpdated, time.Time{}, "")
	ev.Conversation = &events.Conversation{ConversationID: "conv-9", Status: "pending", AssignedAgent: "agent@example.com"}
	apply(ev)
	c.DenseID = 4242
	c.Memberships = []Membership{{Segment: "1001", Incarnation: 1, N: 1}, {Segment: "vip", Incarnation: -2, N: 4}}
	c.NextDue = ts("2026-12-30T12:00:00Z")
	return &c
}

func checkRichContact(t *testing.T, b []byte) {
	c := decodeGolden(t, b, true)
	eq(t, "state", c.state, stateLive)
	eq(t, "DenseID", c.DenseID, uint32(4242))
	eqJSON(t, "Memberships", c.Memberships, `[{"Segment":"1001","Incarnation":1,"N":1},{"Segment":"vip","Incarnation":-2,"N":4}]`)
	eqTime(t, "NextDue", c.NextDue, "2026-12-30T12:00:00Z")
	eqTime(t, "SyncedAt", c.SyncedAt, "2026-10-02T07:00:00Z")
	eqTime(t, "fenceAt", c.fenceAt, "")
	eqJSON(t, "Profile", c.Profile(), `{"email":"ana.perez@example.com","first_name":"Ana","last_name":"Pérez","phone":"+52 55 1234 5678","phone_e164":"+525512345678","country":"MX","locale":"es-MX","created_at":"2025-03-04T05:06:07Z","updated_at":"2026-10-01T08:59:00Z"}`)
	eq(t, "Errors", len(c.Errors()), 0)
	eqJSON(t, "Consents", c.Consents(), `{"sms":{"received":true,"state":"SUBSCRIBED","updated_at":"2026-09-01T10:00:00Z"},"whatsapp":{"received":true,"state":"WEIRD_STATE","updated_at":"2026-09-03T00:00:00.000000123Z"},"email":{"received":true,"state":"INVALID","updated_at":"2026-09-02T10:00:00.25Z"}}`)
	eqJSON(t, "Tags", c.Tags(), `["b2b","newsletter","Summer-2026","VIP"]`)
	eqJSON(t, "Lists", c.Lists(), `["8812734","vip-mx"]`)
	eq(t, "LifecycleOverride", c.LifecycleOverride(), operators.StageAtRisk)
	s, sAt, ok := c.PurchasingSummary()
	eq(t, "summary ok", ok, true)
	eqJSON(t, "summary", s, `{"NumberOfOrders":3,"AmountSpent":"1234.50","CurrencyCode":"MXN","LastOrderID":"5123456790123","OccurredAt":"0001-01-01T00:00:00Z"}`)
	eqTime(t, "summary at", sAt, "2026-10-01T10:30:00Z")
	eqJSON(t, "Orders", c.Orders(), `[`+
		`{"ID":"5123456789012","CreatedAt":"2026-06-01T12:00:00Z","UpdatedAt":"2026-06-01T12:05:00Z","CancelledAt":"0001-01-01T00:00:00Z","Test":false,"Total":"150.00","CustomerLocale":"es-MX","LineItems":[`+
		`{"ProductID":"8123456789","Vendor":"Nike","Price":"50.00","Quantity":2},`+
		`{"ProductID":"8123456790","Vendor":"Nike","Price":"25.5","Quantity":1},`+
		`{"ProductID":"","Vendor":"","Price":"24.50","Quantity":1}]},`+
		`{"ID":"5123456790123","CreatedAt":"2026-08-15T18:30:00.5Z","UpdatedAt":"2026-08-20T08:00:00Z","CancelledAt":"2026-08-20T08:00:00Z","Test":false,"Total":"80.00","CustomerLocale":"","LineItems":[`+
		`{"ProductID":"8123456791","Vendor":"Acme Apparel","Price":"80.00","Quantity":1}]},`+
		`{"ID":"gid-like-T1","CreatedAt":"2026-09-10T00:00:00Z","UpdatedAt":"0001-01-01T00:00:00Z","CancelledAt":"0001-01-01T00:00:00Z","Test":true,"Total":"1.00","CustomerLocale":"","LineItems":[`+
		`{"ProductID":"0042","Vendor":"Adidas","Price":"-1.00","Quantity":-1}]}]`)
	eq(t, "order deletions", len(c.orderDeletion), 1)
	if len(c.orderDeletion) == 1 {
		d := c.orderDeletion[0]
		eq(t, "order deletion id", d.id, "5123456799999")
		eqTime(t, "order deletion at", d.at, "2026-10-01T20:59:58.5Z")
		eq(t, "order deletion seen", d.seen, ts("2026-10-01T21:00:00Z").Unix())
	}
	eq(t, "messages", len(c.msgs), 3)
	for _, m := range []struct {
		id, recv string
		read     bool
	}{{"wamid.A", "2026-09-25T10:00:00Z", true}, {"wamid.B", "2026-09-26T11:00:00.123Z", true}, {"wamid.C", "2026-09-27T12:00:00Z", false}} {
		i, found := c.findMessage(hashID(m.id))
		if !found {
			t.Errorf("message %s missing", m.id)
			continue
		}
		eqTime(t, m.id+" recv", c.msgs[i].recv, m.recv)
		eq(t, m.id+" read", c.msgs[i].read, m.read)
	}
	eq(t, "msgFolded", c.msgFolded, msgFolded{})
	eqTime(t, "lastEngagedAt", c.lastEngagedAt, "2026-09-28T13:00:00Z")
	eqJSON(t, "AutomationCounts", c.AutomationCounts(), `[{"automation_id":"1001","count":1},{"automation_id":"welcome-series","count":2}]`)
	eqJSON(t, "BackInStock", c.BackInStock(), `[{"variant_id":"44001","product_id":"8123456789","subscribed_at":"2026-10-02T05:59:58.5Z"}]`)
	eqJSON(t, "Conversations", c.Conversations(), `[{"conversation_id":"conv-9","status":"PENDING","assigned_agent":"agent@example.com","updated_at":"2026-10-02T06:59:58.5Z"}]`)
	// Delivery ids: those of the odd-numbered events of the 22 (1, 3, ..., 21), hashed,
	// at processing time base + n hours.
	var want []seenID
	for n := 1; n <= 21; n += 2 {
		want = append(want, seenID{hash: hashID(fmt.Sprintf("d-%03d", n)), at: ts("2026-10-01T09:00:00Z").Unix() + int64(n)*3600})
	}
	if !slices.Equal(c.seen, want) {
		t.Errorf("delivery ids = %v, want %v", c.seen, want)
	}
	a := c.Attrs("acme.myshopify.com", mapCatalog{"acme.myshopify.com/8123456789": {"Shoes"}}, "vip")
	eq(t, "orders_count", a.OrdersCount, int64(1))
	eq(t, "total_spent", a.TotalSpent.String(), "150.00")
	eqJSON(t, "purchased_brands", a.PurchasedBrands, `["nike"]`)
	eqJSON(t, "purchased_collections", a.PurchasedCollections, `["shoes"]`)
	eqJSON(t, "purchased_prices", a.PurchasedPrices, `["24.50","25.5","50.00"]`)
	eq(t, "messages_received", a.MessagesReceived, int64(3))
	eq(t, "messages_read", a.MessagesRead, int64(2))
	eq(t, "excluded", a.Excluded, true)
	eq(t, "consent", a.Consent, operators.ConsentUnknown)
	eq(t, "language", a.Language, "es")
	// Attributes added after the record was written derive from what it holds.
	eq(t, "email_consent_status", a.EmailConsent, operators.ConsentNo) // INVALID
	eq(t, "email_domain", a.EmailDomain, "example.com")
	eqTime(t, "customer_created_at", a.CustomerCreatedAt, "2025-03-04T05:06:07Z")
	eqTime(t, "first_order_at", a.FirstOrderAt, "2026-06-01T12:00:00Z")
	eqTime(t, "last_order_at", a.LastOrderAt, "2026-06-01T12:00:00Z")
	eq(t, "city", a.City, "")
	eq(t, "province", a.Province, "")
}

// goldenTombstone is a deleted contact: fence, processor fields, delivery ids.
func goldenTombstone() *Contact {
	var c Contact
	c.Apply(customerEv(ts("2026-10-01T00:00:00Z"), "create-1", events.Customer{Email: some("x@example.com")}), ts("2026-10-01T00:00:01Z"))
	c.DenseID = 7
	c.Memberships = []Membership{{Segment: "all", Incarnation: 3, N: 2}}
	c.Apply(deleteEv(ts("2026-10-05T00:00:00.75Z"), "delete-1"), ts("2026-10-05T00:00:02Z"))
	return &c
}

func checkTombstone(t *testing.T, b []byte) {
	c := decodeGolden(t, b, true)
	eq(t, "IsTombstone", c.IsTombstone(), true)
	eq(t, "DenseID", c.DenseID, uint32(7))
	eqJSON(t, "Memberships", c.Memberships, `[{"Segment":"all","Incarnation":3,"N":2}]`)
	eqTime(t, "SyncedAt", c.SyncedAt, "2026-10-05T00:00:02Z")
	eqTime(t, "DeletedAt", c.DeletedAt(), "2026-10-05T00:00:00.75Z")
	eqTime(t, "FenceUntil", c.FenceUntil(), "2026-10-12T00:00:02Z")
	want := []seenID{{hashID("create-1"), ts("2026-10-01T00:00:01Z").Unix()}, {hashID("delete-1"), ts("2026-10-05T00:00:02Z").Unix()}}
	if !slices.Equal(c.seen, want) {
		t.Errorf("delivery ids = %v, want %v", c.seen, want)
	}
	eq(t, "profile", c.Profile(), Profile{})
	dense, due, err := PeekHeader(b)
	if err != nil || dense != 7 || !due.IsZero() {
		t.Errorf("PeekHeader = %d, %v, %v", dense, due, err)
	}
}

// goldenFoldedMessages has messages folded into counters (one received 100 days
// before the latest) and a phone without a calling code.
func goldenFoldedMessages() *Contact {
	var c Contact
	now := ts("2026-07-01T00:00:00Z")
	c.Apply(customerEv(now, "", events.Customer{Phone: some("55 1234 5678")}), now)
	c.Apply(statusEv(now, "", "m1", events.StatusRead, ts("2026-03-01T00:00:00Z")), now)
	c.Apply(statusEv(now, "", "m2", events.StatusDelivered, ts("2026-03-02T00:00:00Z")), now)
	c.Apply(statusEv(now, "", "m3", events.StatusDelivered, ts("2026-06-30T00:00:00Z")), now)
	c.NextDue = ts("2026-07-02T00:00:00Z")
	return &c
}

func checkFoldedMessages(t *testing.T, b []byte) {
	c := decodeGolden(t, b, true)
	eq(t, "state", c.state, stateLive)
	eq(t, "DenseID", c.DenseID, uint32(0))
	eqTime(t, "NextDue", c.NextDue, "2026-07-02T00:00:00Z")
	eqJSON(t, "Errors", c.Errors(), `["CUSTOMER_IS_MISSING_CALLING_CODE"]`)
	eq(t, "phone", c.Profile().Phone, "55 1234 5678")
	eq(t, "phone_e164", c.Profile().PhoneE164, "")
	eq(t, "folded received", c.msgFolded.received, int64(2))
	eq(t, "folded read", c.msgFolded.read, int64(1))
	eqTime(t, "folded lastRecv", c.msgFolded.lastRecv, "2026-03-02T00:00:00Z")
	eq(t, "messages", len(c.msgs), 1)
	if len(c.msgs) == 1 {
		eq(t, "message", c.msgs[0].hash, hashID("m3"))
		eqTime(t, "message recv", c.msgs[0].recv, "2026-06-30T00:00:00Z")
	}
	a := c.Attrs("ws", nil, "")
	eq(t, "messages_received", a.MessagesReceived, int64(3))
	eq(t, "messages_read", a.MessagesRead, int64(1))
	eqTime(t, "last_message_received_at", a.LastMessageReceivedAt, "2026-06-30T00:00:00Z")
}

// goldenCompletions has automation completions whose times the window part keeps:
// one older than 90 days before the latest (dropped from the window part, still
// counted), two of one automation at the same instant, one with a fraction.
func goldenCompletions() *Contact {
	var c Contact
	now := ts("2026-07-01T00:00:00Z")
	c.Apply(automationEv(ts("2026-03-01T00:00:00Z"), "", "welcome"), now)
	c.Apply(automationEv(ts("2026-06-20T10:00:00Z"), "", "winback"), now)
	c.Apply(automationEv(ts("2026-06-20T10:00:00Z"), "", "welcome"), now)
	c.Apply(automationEv(ts("2026-06-30T08:00:00.250Z"), "", "8812734"), now)
	c.Apply(automationEv(ts("2026-06-20T10:00:00Z"), "", "welcome"), now)
	return &c
}

func checkCompletions(t *testing.T, b []byte) {
	c := decodeGolden(t, b, true)
	eq(t, "state", c.state, stateLive)
	eqJSON(t, "automations", c.AutomationCounts(), `[{"automation_id":"8812734","count":1},{"automation_id":"welcome","count":3},{"automation_id":"winback","count":1}]`)
	eq(t, "completions", len(c.completions), 4)
	want := []struct{ at, id string }{
		{"2026-06-20T10:00:00Z", "welcome"}, {"2026-06-20T10:00:00Z", "welcome"},
		{"2026-06-20T10:00:00Z", "winback"}, {"2026-06-30T08:00:00.25Z", "8812734"},
	}
	for i := range min(len(want), len(c.completions)) {
		eqTime(t, fmt.Sprintf("completion %d at", i), c.completions[i].At, want[i].at)
		eq(t, fmt.Sprintf("completion %d automation", i), c.completions[i].Automation, want[i].id)
	}
	a := c.Attrs("ws", nil, "")
	eq(t, "automation_completions", a.AutomationCompletions, int64(5))
	eq(t, "recent completions", len(a.RecentCompletions), 4)
}

func goldenPartitionMeta(t *testing.T) []byte {
	m := PartitionMeta{
		NextDense:       1234,
		Segments:        map[string]SegmentMeta{"ws/vip": {Incarnation: 1}}, // not part of the record
		SegmentsOffsets: map[int32]int64{0: 17},
		CatalogOffsets:  map[int32]int64{0: 3},
		CatalogScans:    map[string]string{"acme.myshopify.com/product/8123456789": "acme.myshopify.com/7012345"},
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkPartitionMeta(t *testing.T, b []byte) {
	var m PartitionMeta
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	eq(t, "NextDense", m.NextDense, uint32(1234))
	eq(t, "Segments", len(m.Segments), 0)
	eqJSON(t, "SegmentsOffsets", m.SegmentsOffsets, `{"0":17}`)
	eqJSON(t, "CatalogOffsets", m.CatalogOffsets, `{"0":3}`)
	eqJSON(t, "CatalogScans", m.CatalogScans, `{"acme.myshopify.com/product/8123456789":"acme.myshopify.com/7012345"}`)
	again, err := m.MarshalBinary()
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("re-encoding changed the bytes: %s, want %s (%v)", again, b, err)
	}
}

// goldenSegmentMeta is a SegmentMeta as the processor writes it under SegmentMetaKey.
func goldenSegmentMeta(t *testing.T) []byte {
	b, err := json.Marshal(&SegmentMeta{Incarnation: 2, Version: 5, RulesKey: "acme.myshopify.com/vip@5", Backfilling: true, Cursor: "acme.myshopify.com/7012345"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkSegmentMeta(t *testing.T, b []byte) {
	var sm SegmentMeta
	if err := json.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sm, SegmentMeta{Incarnation: 2, Version: 5, RulesKey: "acme.myshopify.com/vip@5", Backfilling: true, Cursor: "acme.myshopify.com/7012345"}) {
		t.Errorf("SegmentMeta = %+v", sm)
	}
	again, err := json.Marshal(&sm)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("re-encoding changed the bytes: %s, want %s (%v)", again, b, err)
	}
}

// goldenFoldedOrders has 120 orders applied under a 16 KiB bound: most are folded,
// the oldest of those forgotten into sums. Order i was created at 2026-01-01 + i hours,
// totals 10.00 (order 7 is cancelled, order 8 a test) and has one line item of vendor
// "Vendor i%3", product "p<i%5>" and price 1.00 + (i%2)/100.
func goldenFoldedOrders() *Contact {
	var c Contact
	base := ts("2026-01-01T00:00:00Z")
	for i := range 120 {
		created := base.Add(time.Duration(i) * time.Hour)
		o := events.Order{ID: fmt.Sprint(9000 + i), CreatedAt: created, UpdatedAt: created, Total: dec("10.00"), CustomerLocale: "pt-BR",
			LineItems: []events.LineItem{{ProductID: fmt.Sprintf("p%d", i%5), Vendor: fmt.Sprintf("Vendor %d", i%3), Price: dec(fmt.Sprintf("1.0%d", i%2)), Quantity: 1}}}
		switch i {
		case 7:
			o.CancelledAt = created.Add(time.Minute)
		case 8:
			o.Test = true
		}
		if out := c.ApplyBounded(orderEv(created, fmt.Sprint("o", i), o), created.Add(time.Second), MinMaxContactBytes); out != Applied {
			panic(fmt.Sprintf("golden order %d: %v", i, out))
		}
	}
	return &c
}

func checkFoldedOrders(t *testing.T, b []byte) {
	c := decodeGolden(t, b, true)
	f := &c.fold
	if f.forgot.count == 0 || len(f.entries) == 0 || len(c.orders) == 0 {
		t.Fatalf("forgotten %d, entries %d, full orders %d: want some of each", f.forgot.count, len(f.entries), len(c.orders))
	}
	eqTime(t, "forgotten first", f.forgot.first, "2026-01-01T00:00:00Z")
	eq(t, "lang", f.lang, "pt")
	// Every order is in exactly one of the three places.
	eq(t, "orders", int(f.forgot.count)+len(f.entries)+len(c.orders), 118) // 120 less the cancelled and test orders forgotten uncounted
	var counted int
	for _, e := range f.entries {
		if e.counted {
			counted++
		}
		eq(t, "entry total", e.total.String(), "10.00")
	}
	eq(t, "counted", int(f.forgot.count)+counted+len(c.orders), 118)
	eq(t, "forgotten total", f.forgot.total.String(), fmt.Sprintf("%d.00", 10*f.forgot.count))
	// Each vendor was bought in 40 orders, less order 7 (Vendor 1) and 8 (Vendor 2).
	perBrand := map[string]int64{}
	for _, m := range f.brands {
		perBrand[m.s] += m.n
	}
	for _, o := range c.orders {
		perBrand[lowerTrim(o.LineItems[0].Vendor)]++
	}
	eqJSON(t, "line items per brand", perBrand, `{"vendor 0":40,"vendor 1":39,"vendor 2":39}`)
	perPrice := map[string]int64{}
	for _, m := range f.prices {
		perPrice[m.d.String()] += m.n
	}
	for _, o := range c.orders {
		perPrice[o.LineItems[0].Price.String()]++
	}
	eqJSON(t, "line items per price", perPrice, `{"1.00":59,"1.01":59}`)
	a := c.Attrs("ws", nil, "")
	eq(t, "orders_count", a.OrdersCount, int64(118))
	eq(t, "total_spent", a.TotalSpent.String(), "1180.00")
	eqTime(t, "first_order_at", a.FirstOrderAt, "2026-01-01T00:00:00Z")
	eqTime(t, "last_order_at", a.LastOrderAt, "2026-01-05T23:00:00Z")
	eqJSON(t, "purchased_brands", a.PurchasedBrands, `["vendor 0","vendor 1","vendor 2"]`)
	eqJSON(t, "purchased_products", c.PurchasedProducts(), `["p0","p1","p2","p3","p4"]`)
	eqJSON(t, "purchased_prices", a.PurchasedPrices, `["1.00","1.01"]`)
	eq(t, "language", a.Language, "pt")
}

// goldenSegmentMetaSteps is a SegmentMeta of a partition backfilling one version of
// several pending ones, with contacts an event already brought further (Ahead).
func goldenSegmentMetaSteps(t *testing.T) []byte {
	b, err := json.Marshal(&SegmentMeta{Incarnation: 2, Version: 6, RulesKey: "acme.myshopify.com/vip@6", Pos: 9<<16 | 0,
		Backfilling: true, Cursor: "acme.myshopify.com/7012345",
		Ahead: map[int64]DenseSet{11 << 16: {roaring.BitmapOf(3, 17, 70000)}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkSegmentMetaSteps(t *testing.T, b []byte) {
	var sm SegmentMeta
	if err := json.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	eq(t, "Incarnation", sm.Incarnation, 2)
	eq(t, "Version", sm.Version, 6)
	eq(t, "RulesKey", sm.RulesKey, "acme.myshopify.com/vip@6")
	eq(t, "Pos", sm.Pos, 589824)
	eq(t, "Backfilling", sm.Backfilling, true)
	eq(t, "Cursor", sm.Cursor, "acme.myshopify.com/7012345")
	eq(t, "len(Ahead)", len(sm.Ahead), 1)
	if d := sm.Ahead[720896]; d.Bitmap == nil || !slices.Equal(d.ToArray(), []uint32{3, 17, 70000}) {
		t.Errorf("Ahead[720896] = %v, want [3 17 70000]", d.Bitmap)
	}
	again, err := json.Marshal(&sm)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("re-encoding changed the bytes: %s, want %s (%v)", again, b, err)
	}
}

// goldenAddress has the profile fields city and province, beside a phone error (whose
// bits lie just below theirs) and a pending email consent.
func goldenAddress() *Contact {
	var c Contact
	now := ts("2026-11-01T00:00:00Z")
	c.Apply(customerEv(now, "d-1", events.Customer{
		Email: some("Ana.Lopez@Gmail.COM"), FirstName: some("Ana"), Phone: some("81 1234 5678"),
		Country: some("mx"), City: some(" Monterrey "), Province: some("nl"),
		EmailConsent: &events.ConsentField{State: "PENDING", UpdatedAt: ts("2026-10-30T00:00:00Z")},
		CreatedAt:    events.OptTime{Present: true, Value: ts("2023-03-14T15:26:53Z")}, UpdatedAt: ts("2026-10-31T23:00:00Z"),
	}), now)
	return &c
}

func checkAddress(t *testing.T, b []byte) {
	c := decodeGolden(t, b, true)
	eq(t, "state", c.state, stateLive)
	eqJSON(t, "Profile", c.Profile(), `{"email":"Ana.Lopez@Gmail.COM","first_name":"Ana","phone":"81 1234 5678","country":"MX","city":"Monterrey","province":"NL","created_at":"2023-03-14T15:26:53Z","updated_at":"2026-10-31T23:00:00Z"}`)
	eqJSON(t, "Errors", c.Errors(), `["CUSTOMER_IS_MISSING_CALLING_CODE"]`)
	eqJSON(t, "email consent", c.Consents().Email, `{"received":true,"state":"PENDING","updated_at":"2026-10-30T00:00:00Z"}`)
	a := c.Attrs("ws", nil, "")
	eq(t, "city", a.City, "monterrey")
	eq(t, "province", a.Province, "NL")
	eq(t, "email_domain", a.EmailDomain, "gmail.com")
	eq(t, "email_consent_status", a.EmailConsent, operators.ConsentUnknown)
	eqTime(t, "customer_created_at", a.CustomerCreatedAt, "2023-03-14T15:26:53Z")
	eq(t, "phone", a.Phone, "")
}
