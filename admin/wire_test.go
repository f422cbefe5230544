package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// The admin API's wire format, pinned: every kind of answer of a backend whose
// values fill every field, against a document written out by hand. openapi.yaml
// describes these documents; a change here is a change of the API.

var wireNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

const wireDef = `{"workspace":"acme.myshopify.com","id":"vip","name":"VIP","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`

// wireBackend answers every query with fixed values: segment vip with members
// members, contact 42 (if hasContact), and partitions parts.
type wireBackend struct {
	parts      []int32
	members    int64
	hasContact bool
}

var _ Backend = (*wireBackend)(nil)

func (b *wireBackend) Ready() bool                                           { return true }
func (b *wireBackend) SyncSegments(context.Context) error                    { return nil }
func (b *wireBackend) WaitSegmentRecord(context.Context, int32, int64) error { return nil }

func wireSegment() *operators.Segment {
	def, err := operators.ParseDefinition([]byte(wireDef))
	if err != nil {
		panic(err)
	}
	seg, err := operators.Compile(def)
	if err != nil {
		panic(err)
	}
	return seg
}

// wireAttrs are contact 42's attributes: every one present.
func wireAttrs() operators.Attrs {
	return operators.Attrs{
		Phone: "+525512345678", Country: "MX", Language: "es", Consent: operators.ConsentYes,
		EmailConsent: operators.ConsentNo, CustomerCreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		City: "monterrey", Province: "NL", EmailDomain: "example.com",
		OrdersCount: 3, TotalSpent: decimal.MustNew(123450, 2), AOV: decimal.MustNew(41150, 2), HasAOV: true,
		FirstOrderAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), LastOrderAt: time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC),
		PurchasedBrands: []string{"acme"}, PurchasedPrices: []decimal.Decimal{decimal.MustNew(999, 2), decimal.MustNew(10000, 2)},
		MessagesReceived: 4, MessagesRead: 2, LastMessageReceivedAt: time.Date(2026, 11, 18, 8, 30, 0, 0, time.UTC),
		AutomationCompletions: 2, CompletionsByAutomation: map[string]int64{"welcome": 2},
		Lists: []string{"news"}, Tags: []string{"vip"},
	}
}

func (b *wireBackend) local() processor.Local { return processor.Local{Partitions: b.parts} }

func (b *wireBackend) info() processor.SegmentInfo {
	seg := wireSegment()
	return processor.SegmentInfo{Workspace: ws, ID: "vip", Name: "VIP", Version: 3, Definition: seg.Def, Members: b.members, Backfilling: false}
}

func (b *wireBackend) Segments(context.Context, string) ([]processor.SegmentInfo, processor.Local, error) {
	return []processor.SegmentInfo{b.info()}, b.local(), nil
}

func (b *wireBackend) Segment(_ context.Context, _, id string) (processor.SegmentInfo, processor.Local, error) {
	if id != "vip" {
		return processor.SegmentInfo{}, processor.Local{}, processor.ErrNotFound
	}
	return b.info(), b.local(), nil
}

func (b *wireBackend) Members(context.Context, string, string, processor.MemberCursor, int) ([]int64, processor.MemberCursor, bool, error) {
	return []int64{42, 7}, processor.MemberCursor{Partition: 1, Dense: 7}, false, nil
}

func (b *wireBackend) Contact(_ context.Context, _ string, id int64) (*processor.Contact, error) {
	if !b.hasContact || id != 42 {
		return nil, processor.ErrNotFound
	}
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	return &processor.Contact{
		Workspace: ws, CustomerID: 42, Partition: 1, SyncedAt: at("2026-11-20T09:00:00Z"), NextDue: at("2026-12-01T00:00:00Z"),
		Profile: state.Profile{Email: "ana@example.com", FirstName: "Ana", LastName: "Díaz", Phone: "+52 55 1234 5678",
			PhoneE164: "+525512345678", Country: "MX", City: "Monterrey", Province: "NL", Locale: "es-MX",
			CreatedAt: at("2025-01-02T03:04:05Z"), UpdatedAt: at("2026-11-01T00:00:00Z")},
		Consents: state.Consents{SMS: state.ConsentState{Received: true, State: "SUBSCRIBED", UpdatedAt: at("2026-10-01T00:00:00Z")},
			Email: state.ConsentState{Received: true, State: "UNSUBSCRIBED"}},
		Errors: []string{"phone: not a number"},
		Tags:   []string{"vip"}, Lists: []string{"news"},
		Orders: processor.OrdersSummary{Total: 6, Counted: 3, Cancelled: 1, Test: 1, Folded: 1},
		PurchasingSummary: &processor.PurchasingSummary{Summary: events.Summary{NumberOfOrders: 7, AmountSpent: decimal.MustNew(123450, 2),
			CurrencyCode: "MXN", LastOrderID: "1001", OccurredAt: at("2026-11-19T07:00:00Z")}, At: at("2026-11-19T08:00:00Z")},
		BackInStock:   []state.BackInStockSub{{VariantID: "v1", ProductID: "p1", SubscribedAt: at("2026-11-15T00:00:00Z")}},
		Conversations: []state.ConversationState{{ID: "conv1", Status: "OPEN", AssignedAgent: "agent7", UpdatedAt: at("2026-11-18T08:30:00Z")}},
		Automations:   []state.AutomationCount{{AutomationID: "welcome", Count: 2}},
		Memberships:   []processor.Membership{{SegmentID: "vip", Version: 3}},
		Attrs:         wireAttrs(), Now: wireNow,
	}, nil
}

func (b *wireBackend) Explain(_ context.Context, _ string, id int64, segment string) (*operators.Explanation, error) {
	if !b.hasContact || id != 42 || segment != "vip" {
		return nil, processor.ErrNotFound
	}
	a := wireAttrs()
	e := operators.Explain(wireSegment(), &a, wireNow)
	return &e, nil
}

func (b *wireBackend) Preview(context.Context, *operators.Definition, int) (int64, []int64, processor.Local, error) {
	return 2, []int64{42, 7}, b.local(), nil
}

func (b *wireBackend) PreviewChange(_ context.Context, _, id string, _ *operators.Definition, _ int) (processor.ChangePreview, processor.Local, error) {
	if id != "vip" {
		return processor.ChangePreview{SampleEntering: []int64{}, SampleLeaving: []int64{}}, b.local(), nil
	}
	return processor.ChangePreview{Members: b.members, Matching: 4, WouldEnter: 2, WouldLeave: 3,
		SampleEntering: []int64{42, 7}, SampleLeaving: []int64{9, 8, 43}}, b.local(), nil
}

func (b *wireBackend) Search(context.Context, string, string, int) ([]processor.ContactSummary, processor.Local, error) {
	return []processor.ContactSummary{{CustomerID: 42, Email: "ana@example.com", FirstName: "Ana", LastName: "Díaz", Phone: "+52 55 1234 5678"},
		{CustomerID: 43}}, b.local(), nil
}

func (b *wireBackend) Estimate(_ context.Context, _ string, include, exclude []processor.AudienceRef) (int64, processor.Local, error) {
	if len(include) != 2 || include[0].Segment != "vip" || include[1].List != "news" || len(exclude) != 1 || exclude[0].List != "optout" {
		return 0, processor.Local{}, processor.ErrInvalid
	}
	return 5, b.local(), nil
}

// wireContact is contact 42 as the API shows it.
const wireContact = `{
  "workspace": "acme.myshopify.com", "customer_id": 42, "partition": 1,
  "synced_at": "2026-11-20T09:00:00Z", "next_timer_at": "2026-12-01T00:00:00Z",
  "profile": {"email": "ana@example.com", "first_name": "Ana", "last_name": "Díaz", "phone": "+52 55 1234 5678",
    "phone_e164": "+525512345678", "country": "MX", "city": "Monterrey", "province": "NL", "locale": "es-MX",
    "created_at": "2025-01-02T03:04:05Z", "updated_at": "2026-11-01T00:00:00Z"},
  "consents": {
    "sms": {"received": true, "state": "SUBSCRIBED", "updated_at": "2026-10-01T00:00:00Z"},
    "whatsapp": {"received": false},
    "email": {"received": true, "state": "UNSUBSCRIBED"}},
  "errors": ["phone: not a number"],
  "attributes": {
    "consent_status": "yes", "email_consent_status": "no", "customer_created_at": "2025-01-02T03:04:05Z",
    "city": "monterrey", "province": "NL", "email_domain": "example.com", "orders_count": 3, "total_spent": "1234.50", "average_order_value": "411.50",
    "first_order_at": "2025-06-01T12:00:00Z", "last_order_at": "2026-11-10T12:00:00Z",
    "days_since_first_order": 537, "days_since_last_order": 10, "lifecycle_stage": "repeat_buyer",
    "phone": "+525512345678", "country": "MX", "language": "es",
    "purchased_brands": ["acme"], "purchased_collections": [], "purchased_prices": ["9.99", "100.00"],
    "messages_received": 4, "messages_read": 2, "last_message_received_at": "2026-11-18T08:30:00Z",
    "automation_completions": 2, "automation_completions_by_id": {"welcome": 2}, "excluded": false},
  "tags": ["vip"], "lists": ["news"],
  "orders": {"total": 6, "counted": 3, "cancelled": 1, "test": 1, "folded": 1},
  "purchasing_summary": {"number_of_orders": 7, "amount_spent": "1234.50", "currency_code": "MXN",
    "last_order_id": "1001", "occurred_at": "2026-11-19T08:00:00Z"},
  "back_in_stock": [{"variant_id": "v1", "product_id": "p1", "subscribed_at": "2026-11-15T00:00:00Z"}],
  "conversations": [{"conversation_id": "conv1", "status": "OPEN", "assigned_agent": "agent7", "updated_at": "2026-11-18T08:30:00Z"}],
  "automation_completions": [{"automation_id": "welcome", "count": 2}],
  "memberships": [{"segment_id": "vip", "segment_version": 3}]
}`

// wireDefinition is the definition of vip as the API shows it.
const wireDefinition = `{"workspace": "acme.myshopify.com", "id": "vip", "name": "VIP",
  "groups": [{"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}]}`

type wireCase struct {
	name, method, path, body string
	status                   int
	want                     string
}

func wireCases(members int64, parts string) []wireCase {
	const w = "/v1/workspaces/" + ws
	seg := `"workspace": "acme.myshopify.com", "id": "vip", "name": "VIP", "segment_version": 3,
		"definition": ` + wireDefinition + `, "members": ` + jsonInt(members) + `, "backfilling": false`
	return []wireCase{
		{"list segments", "GET", w + "/segments", "", 200,
			`{"workspace": "acme.myshopify.com", "segments": [{` + seg + `}], "partitions": ` + parts + `}`},
		{"get segment", "GET", w + "/segments/vip", "", 200, `{` + seg + `, "partitions": ` + parts + `}`},
		{"members", "GET", w + "/segments/vip/members?limit=2", "", 200,
			`{"workspace": "acme.myshopify.com", "segment_id": "vip", "members": [42, 7], "next_cursor": "eyJzIjowLCJhIjp7InAiOjEsImQiOjd9fQ"}`},
		{"contact", "GET", w + "/contacts/42", "", 200, wireContact},
		{"explain", "GET", w + "/contacts/42/explain?segment=vip", "", 200,
			`{"segment": "vip", "now": "2026-11-21T10:00:00Z", "match": true, "groups": [{"match": true, "conditions": [
				{"field": "tag", "op": "has", "value": "vip", "actual": ["vip"], "match": true}]}]}`},
		{"search", "GET", w + "/contacts?q=ana", "", 200,
			`{"contacts": [{"customer_id": 42, "email": "ana@example.com", "first_name": "Ana", "last_name": "Díaz", "phone": "+52 55 1234 5678"},
				{"customer_id": 43}], "partitions": ` + parts + `}`},
		{"preview", "POST", w + "/segments:preview", wireDef, 200, `{"count": COUNT, "sample": [7, 42], "partitions": ` + parts + `}`},
		{"preview change", "POST", w + "/segments/vip:preview", wireDef, 200,
			`{"members": ` + jsonInt(members) + `, "matching": COUNT, "would_enter": ENTER, "would_leave": LEAVE,
				"sample_entering": [7, 42], "sample_leaving": [8, 9, 43], "partitions": ` + parts + `}`},
		{"validate", "POST", w + "/segments:validate", wireDef, 200, `{"valid": true, "definition": ` + wireDefinition + `}`},
		{"estimate", "POST", w + "/audiences:estimate", `{"include":[{"segment":"vip"},{"list":"news"}],"exclude":[{"list":"optout"}]}`, 200,
			`{"count": COUNT, "partitions": ` + parts + `}`},
		{"put unchanged", "PUT", w + "/segments/vip", wireDef, 200,
			`{"workspace": "acme.myshopify.com", "id": "vip", "name": "VIP", "groups": [{"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}],
				"result": "unchanged", "segment_version": 3}`},
		{"delete", "DELETE", w + "/segments/vip", "", 202, `{"workspace": "acme.myshopify.com", "id": "vip", "deleted": true}`},
		{"not found", "GET", w + "/contacts/41", "", 404, `{"error": "contact 41 of workspace acme.myshopify.com not found"}`},
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// checkWire compares an answer with the expected document, as JSON values.
func checkWire(t *testing.T, c wireCase, got reply) {
	t.Helper()
	if got.status != c.status {
		t.Errorf("%s: status %d, want %d: %s", c.name, got.status, c.status, got.body)
		return
	}
	var g, w any
	dec := json.NewDecoder(bytes.NewReader(got.body))
	dec.UseNumber()
	if err := dec.Decode(&g); err != nil {
		t.Errorf("%s: %v: %s", c.name, err, got.body)
		return
	}
	dec = json.NewDecoder(bytes.NewReader([]byte(c.want)))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: the expected document: %v", c.name, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", c.name, got.body, c.want)
	}
}

func replaceCount(s string, n int64) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("COUNT"), []byte(jsonInt(n))))
}

// replaceChange fills in the counts of the change preview that n processes answer.
func replaceChange(s string, n int64) string {
	return strings.NewReplacer("ENTER", jsonInt(2*n), "LEAVE", jsonInt(3*n)).Replace(s)
}

// TestWireFormat pins every kind of answer of one process.
func TestWireFormat(t *testing.T) {
	h, err := New(Config{Backend: &wireBackend{parts: []int32{0, 2}, members: 5, hasContact: true}, Producer: nopProducer{},
		ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, c := range wireCases(5, "[0, 2]") {
		want := map[string]int64{"preview": 2, "estimate": 5, "preview change": 4}[c.name]
		c.want = replaceChange(replaceCount(c.want, want), 1)
		checkWire(t, c, doURL(t, srv.URL, c.method, c.path, c.body, ""))
	}
}

// TestWireFormatFanOut pins the merged answers of two processes: the contact and the
// explanation come from the peer, decoded and encoded again on the way.
func TestWireFormatFanOut(t *testing.T) {
	peer, err := New(Config{Backend: &wireBackend{parts: []int32{1, 2}, members: 5, hasContact: true}, Producer: nopProducer{},
		ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	peerSrv := httptest.NewServer(peer)
	defer peerSrv.Close()
	h, err := New(Config{Backend: &wireBackend{parts: []int32{0}, members: 2}, Producer: nopProducer{},
		ListenAddr: "127.0.0.1:0", Peers: []string{peerSrv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, c := range wireCases(7, "[0, 1, 2]") {
		switch c.method {
		case "PUT", "DELETE": // writes do not fan out
			continue
		}
		want := map[string]int64{"preview": 4, "estimate": 10, "preview change": 8}[c.name]
		c.want = replaceChange(replaceCount(c.want, want), 2)
		checkWire(t, c, doURL(t, srv.URL, c.method, c.path, c.body, ""))
	}
}
