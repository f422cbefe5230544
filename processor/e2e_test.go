package processor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

const ws = "acme.myshopify.com"

func seg(id, conditions string) string {
	return fmt.Sprintf(`{"workspace":%q,"id":%q,"name":"test %s","groups":[{"conditions":[%s]}]}`, ws, id, id, conditions)
}

// TestScenario drives one processor through a scripted history touching every input
// topic, both record forms, definitions and the catalog, and asserts the exact
// transitions and dead letters.
func TestScenario(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		segs := map[string]string{
			"spent":   `{"field":"total_spent","op":"gt","value":100}`,
			"vip":     `{"field":"tag","op":"has","value":"vip"}`,
			"mx":      `{"field":"country","op":"is","value":"MX"}`,
			"news":    `{"field":"list","op":"in_list","value":"newsletter"}`,
			"reader":  `{"field":"messages_read","op":"gte","value":1}`,
			"summer":  `{"field":"purchased_collection","op":"in","value":["summer"]}`,
			"engaged": `{"field":"last_engaged_at","op":"in_last_days","value":7}`,
			"auto":    `{"field":"automation_completions","op":"gte","value":2,"automation_id":"welcome"}`,
			"consent": `{"field":"consent_status","op":"is","value":"yes"}`,
			"stage":   `{"field":"lifecycle_stage","op":"is","value":"first_time_buyer"}`,
			"phone":   `{"field":"phone","op":"eq","value":"+52 55 1234 5678"}`,
		}
		for id, c := range segs {
			h.putSegment(ws, id, seg(id, c))
		}
		key := ws + "/1001"
		n := 0
		evt := func(topic, delivery string) string {
			return fmt.Sprintf(`{"topic":%q,"delivery_id":%q}`, topic, delivery)
		}

		// Form A customer: Mexico, SMS-subscribed, phone with its calling code.
		h.webhook(key, "customers/create", ws, "w-1", `{"id":1001,"email":"ana@example.com","first_name":"Ana",
			"last_name":"Ruiz","phone":"+52 55 1234 5678","created_at":"2026-11-20T10:00:00-06:00",
			"updated_at":"2026-11-20T10:00:00-06:00","tags":"","default_address":{"country_code":"mx"},
			"sms_marketing_consent":{"state":"subscribed","consent_updated_at":"2026-11-20T10:00:00-06:00"},
			"locale":"es-MX"}`)
		n = h.expect(n,
			"+mx 1001 v1 event "+evt("customers/create", "w-1"),
			"+consent 1001 v1 event "+evt("customers/create", "w-1"),
			"+phone 1001 v1 event "+evt("customers/create", "w-1"))

		// A first order of 150.00 with a product of vendor Acme.
		h.webhook(key, "orders/create", ws, "w-2", `{"id":5001,"customer":{"id":1001},
			"created_at":"2026-11-20T12:00:00Z","updated_at":"2026-11-20T12:00:00Z","cancelled_at":null,
			"test":false,"current_total_price":"150.00","total_price":"150.00","customer_locale":"es-MX",
			"line_items":[{"product_id":9001,"vendor":"Acme","price":"75.00","quantity":2}]}`)
		n = h.expect(n,
			"+spent 1001 v1 event "+evt("orders/create", "w-2"),
			"+stage 1001 v1 event "+evt("orders/create", "w-2"))

		// Tags (GraphQL style, Form B), applied once despite a redelivery.
		tags := `{"customerId":"gid://shopify/Customer/1001","tags":["VIP"],"occurredAt":"2026-11-21T09:00:00Z"}`
		h.envelope(key, "customer.tags_added", ws, "d-tag-1", tags)
		h.envelope(key, "customer.tags_added", ws, "d-tag-1", tags)
		n = h.expect(n, "+vip 1001 v1 event "+evt("customer.tags_added", "d-tag-1"))

		h.envelope(key, "lists/member_added", ws, "d-list-1", `{"customer_id":"1001","list_id":"newsletter"}`)
		n = h.expect(n, "+news 1001 v1 event "+evt("lists/member_added", "d-list-1"))

		// WhatsApp read without delivered counts as received and read.
		h.envelope(key, "messages/status", ws, "d-msg-1", `{"customer_id":1001,"message_id":"m1","status":"read","timestamp":"2026-11-21T09:30:00Z"}`)
		n = h.expect(n, "+reader 1001 v1 event "+evt("messages/status", "d-msg-1"))

		h.envelope(key, "messages/inbound", ws, "d-in-1", `{"customer_id":1001,"message_id":"m2","timestamp":"2026-11-20T09:30:00Z"}`)
		n = h.expect(n, "+engaged 1001 v1 event "+evt("messages/inbound", "d-in-1"))

		h.envelope(key, "automations/completed", ws, "d-auto-1", `{"customer_id":1001,"automation_id":"welcome","completed_at":"2026-11-21T09:40:00Z"}`)
		h.envelope(key, "automations/completed", ws, "d-auto-2", `{"customer_id":1001,"automation_id":"welcome","completed_at":"2026-11-21T09:41:00Z"}`)
		n = h.expect(n, "+auto 1001 v1 event "+evt("automations/completed", "d-auto-2"))

		// Stored-only topics change no membership.
		h.envelope(key, "back_in_stock/subscribed", ws, "d-bis", `{"customer_id":1001,"variant_id":"v1","product_id":"9001"}`)
		h.envelope(key, "conversations/updated", ws, "d-conv", `{"customer_id":1001,"conversation_id":"c1","status":"OPEN","assigned_agent":"lu"}`)
		h.envelope(key, "customers/purchasing_summary", ws, "d-sum", `{"customerId":"gid://shopify/Customer/1001","numberOfOrders":3,"amountSpent":{"amount":"300.00","currencyCode":"MXN"},"lastOrderId":"5001","occurredAt":"2026-11-21T09:00:00Z"}`)
		h.envelope(key, "customers_email_marketing_consent/update", ws, "d-email", `{"customer_id":1001,"email_marketing_consent":{"state":"subscribed"}}`)

		// The catalog puts the bought product in "Summer".
		h.putCatalog(ws, "9001", `{"workspace":"acme.myshopify.com","product_id":"9001","collections":["Summer","Shoes"]}`)
		n = h.expect(n, `+summer 1001 v1 catalog {"product_id":"9001"}`)

		// WhatsApp consent takes precedence over SMS consent.
		h.envelope(key, "customers_whats_app_marketing_consent/update", ws, "d-wa", `{"customer_id":1001,"phone_number":"+525512345678","whats_app_marketing_consent":{"state":"unsubscribed","updated_at":"2026-11-21T09:50:00Z"}}`)
		n = h.expect(n, "-consent 1001 v1 event "+evt("customers_whats_app_marketing_consent/update", "d-wa"))

		// Cancelling the only order: no counted orders, no purchases.
		h.webhook(key, "orders/cancelled", ws, "w-3", `{"id":5001,"customer":{"id":1001},
			"created_at":"2026-11-20T12:00:00Z","updated_at":"2026-11-21T08:00:00Z","cancelled_at":"2026-11-21T08:00:00Z",
			"test":false,"current_total_price":"150.00","line_items":[{"product_id":9001,"vendor":"Acme","price":"75.00","quantity":2}]}`)
		n = h.expect(n,
			"-spent 1001 v1 event "+evt("orders/cancelled", "w-3"),
			"-stage 1001 v1 event "+evt("orders/cancelled", "w-3"),
			"-summer 1001 v1 event "+evt("orders/cancelled", "w-3"))

		// The exclusion tag removes the contact from everything; removing it restores.
		h.envelope(key, "customer.tags_added", ws, "d-ex-1", `{"customerId":"gid://shopify/Customer/1001","tags":["Exclude_From_Galantis"]}`)
		all := []string{"mx", "vip", "news", "reader", "engaged", "auto", "phone"}
		var want []string
		for _, s := range all {
			want = append(want, "-"+s+" 1001 v1 event "+evt("customer.tags_added", "d-ex-1"))
		}
		n = h.expect(n, want...)
		h.envelope(key, "customer.tags_removed", ws, "d-ex-2", `{"customerId":"gid://shopify/Customer/1001","tags":"exclude_from_galantis"}`)
		want = want[:0]
		for _, s := range all {
			want = append(want, "+"+s+" 1001 v1 event "+evt("customer.tags_removed", "d-ex-2"))
		}
		n = h.expect(n, want...)

		// A second contact created by an order alone.
		h.envelope(ws+"/1002", "orders/create", ws, "d-o2", `{"id":5002,"customer":{"id":1002},"created_at":"2026-11-21T09:00:00Z",
			"updated_at":"2026-11-21T09:00:00Z","test":false,"total_price":"60.00","line_items":[]}`)
		n = h.expect(n, "+stage 1002 v1 event "+evt("orders/create", "d-o2"))

		// A definition change is a backfill with reason "definition" and version 2.
		h.putSegment(ws, "spent", seg("spent", `{"field":"total_spent","op":"gt","value":50}`))
		n = h.expect(n, `+spent 1002 v2 definition {"segment_version":2}`)
		// Re-sending the same rules (another name) changes nothing.
		h.putSegment(ws, "spent", strings.Replace(seg("spent", `{"field":"total_spent","op":"gt","value":50}`), "test spent", "renamed", 1))

		// A guest order is skipped, not dead-lettered.
		h.webhook(ws+"/0", "orders/create", ws, "w-guest", `{"id":5003,"customer":null,"created_at":"2026-11-21T09:00:00Z","total_price":"10.00","line_items":[]}`)

		// Deleting the contact removes it from every segment it is in.
		h.webhook(key, "customers/delete", ws, "w-del", `{"id":1001}`)
		want = want[:0]
		for _, s := range all {
			want = append(want, "-"+s+" 1001 v1 event "+evt("customers/delete", "w-del"))
		}
		n = h.expect(n, want...)
		// An older retried delivery cannot resurrect it (it occurred before the delete).
		h.produce(key, []byte(`{"topic":"customer.tags_added","shop":"acme.myshopify.com","id":"d-old","occurred_at":"2026-11-01T00:00:00Z",
			"payload":{"customerId":"gid://shopify/Customer/1001","tags":["vip"]}}`))

		// Deleting a segment removes its members.
		h.putSegment(ws, "stage", "")
		n = h.expect(n, `-stage 1002 v1 definition {"segment_version":1}`)

		// A later event creates a fresh contact, whose transitions get new ids.
		h.produce(key, []byte(`{"topic":"customer.tags_added","shop":"acme.myshopify.com","id":"d-new","occurred_at":"2099-01-01T00:00:00Z",
			"payload":{"customerId":"gid://shopify/Customer/1001","tags":["vip"]}}`))
		n = h.expect(n, "+vip 1001 v1 event "+evt("customer.tags_added", "d-new"))

		// Transition ids are unique; records of one contact and segment alternate.
		h.out.Lock()
		recs := append([]outRecord(nil), h.out.membership...)
		h.out.Unlock()
		ids := map[string]bool{}
		last := map[string]string{}
		for _, r := range recs {
			if ids[r.T.ID] {
				t.Errorf("duplicate transition id %s", r.T.ID)
			}
			ids[r.T.ID] = true
			k := r.Key + "|" + r.T.SegmentID
			if last[k] == r.T.Type || (last[k] == "" && r.T.Type != TypeAdded) {
				t.Errorf("transitions of %s do not alternate starting with added: %s after %q", k, r.T.Type, last[k])
			}
			last[k] = r.T.Type
			if r.Headers["type"] != r.T.Type {
				t.Errorf("header type %q, value type %q", r.Headers["type"], r.T.Type)
			}
			if r.T.Workspace != ws || r.T.OccurredAt != "2026-11-21T10:00:00.000Z" {
				t.Errorf("unexpected workspace or occurred_at: %s", r.Value)
			}
		}
		if len(h.out.dlq) != 0 {
			t.Errorf("unexpected dead letters: %d", len(h.out.dlq))
		}
		_ = time.Second
	})
}
