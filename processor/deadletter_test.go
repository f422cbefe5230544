package processor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestDeadLetters sends many kinds of bad records and checks that each one reaches
// the dead-letter topic once, with its original key, value and headers and the right
// reason, and that the processor keeps processing good records afterwards.
func TestDeadLetters(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.MaxRecordBytes = 4096 })
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		key := ws + "/42"
		env := func(topic, payload string) string {
			return fmt.Sprintf(`{"topic":%q,"shop":%q,"id":"x","payload":%s}`, topic, ws, payload)
		}
		cases := []struct {
			name, key, value string
			headers          []string
			reason           string
		}{
			{"not json", key, `{"topic":`, nil, "invalid_json"},
			{"non utf-8", key, "{\"topic\":\"\xff\xfe\"}", nil, "invalid_utf8"},
			{"empty value", key, "", nil, "empty_value"},
			{"too large", key, env("customer.tags_added", `{"customer_id":42,"tags":["`+strings.Repeat("a", 5000)+`"]}`), nil, "record_too_large"},
			{"unknown topic", key, env("customers/explode", `{"id":42}`), nil, "unknown_topic"},
			{"missing topic header", key, `{"id":42}`, []string{"X-Shopify-Shop-Domain", ws}, "missing_field"},
			{"missing shop header", key, `{"id":42}`, []string{"X-Shopify-Topic", "customers/update"}, "missing_field"},
			{"missing customer id", key, env("lists/member_added", `{"list_id":"l"}`), nil, "missing_field"},
			{"fractional id", key, env("lists/member_added", `{"customer_id":4.2,"list_id":"l"}`), nil, "invalid_id"},
			{"negative id", key, env("lists/member_added", `{"customer_id":-42,"list_id":"l"}`), nil, "invalid_id"},
			{"zero id", ws + "/0", env("lists/member_added", `{"customer_id":0,"list_id":"l"}`), nil, "invalid_id"},
			{"id too large", key, env("lists/member_added", `{"customer_id":9223372036854775808,"list_id":"l"}`), nil, "invalid_id"},
			{"gid of another type", key, env("customer.tags_added", `{"customerId":"gid://shopify/Order/42","tags":["a"]}`), nil, "invalid_id"},
			{"bad message status", key, env("messages/status", `{"customer_id":42,"message_id":"m","status":"opened"}`), nil, "invalid_enum"},
			{"bad consent state", key, env("customers_marketing_consent/update", `{"id":42,"sms_marketing_consent":{"state":"maybe"}}`), nil, "invalid_enum"},
			{"bad lifecycle stage", key, env("contacts/lifecycle_stage_set", `{"customer_id":42,"stage":"vip"}`), nil, "invalid_enum"},
			{"bad conversation status", key, env("conversations/updated", `{"customer_id":42,"conversation_id":"c","status":"CLOSED"}`), nil, "invalid_enum"},
			{"tags as number", key, env("customer.tags_added", `{"customer_id":42,"tags":7}`), nil, "wrong_type"},
			{"line_items as object", key, env("orders/create", `{"id":1,"customer":{"id":42},"created_at":"2026-11-01T00:00:00Z","total_price":"1.00","line_items":{}}`), nil, "wrong_type"},
			{"bad price", key, env("orders/create", `{"id":1,"customer":{"id":42},"created_at":"2026-11-01T00:00:00Z","total_price":"abc","line_items":[]}`), nil, "wrong_type"},
			{"bad occurred_at", key, `{"topic":"lists/member_added","shop":"acme.myshopify.com","occurred_at":"yesterday","payload":{"customer_id":42,"list_id":"l"}}`, nil, "invalid_timestamp"},
			{"bad payload timestamp", key, env("messages/inbound", `{"customer_id":42,"message_id":"m","timestamp":"32/13/2026"}`), nil, "invalid_timestamp"},
			{"bad triggered-at header", key, `{"id":42}`, []string{"X-Shopify-Topic", "customers/update", "X-Shopify-Shop-Domain", ws, "X-Shopify-Triggered-At", "noon"}, "invalid_timestamp"},
			{"key of another customer", ws + "/43", env("lists/member_added", `{"customer_id":42,"list_id":"l"}`), nil, "key_mismatch"},
			{"key of another shop", "other.myshopify.com/42", env("lists/member_added", `{"customer_id":42,"list_id":"l"}`), nil, "key_mismatch"},
			{"no key", "", env("lists/member_added", `{"customer_id":42,"list_id":"l"}`), nil, "key_mismatch"},
			{"orders/delete without contact key", "order-77", env("orders/delete", `{"id":77}`), nil, "unroutable"},
			{"payload not an object", key, env("lists/member_added", `[1,2]`), nil, "wrong_type"},
		}
		for i, c := range cases {
			hs := append([]string{"test-case", fmt.Sprint(i)}, c.headers...)
			var value []byte
			if c.value != "" {
				value = []byte(c.value)
			}
			h.produce(c.key, value, hs...)
		}
		// A good event after all of them is still processed.
		h.envelope(key, "customer.tags_added", ws, "good-1", `{"customer_id":42,"tags":["vip"]}`)
		h.expect(0, `+vip 42 v1 event {"topic":"customer.tags_added","delivery_id":"good-1"}`)

		dls := h.waitDLQ(0, len(cases))
		if len(dls) != len(cases) {
			t.Fatalf("got %d dead letters for %d bad records", len(dls), len(cases))
		}
		seen := map[string]bool{}
		for _, d := range dls {
			i := 0
			fmt.Sscan(d.Headers["test-case"], &i)
			c := cases[i]
			if seen[c.name] {
				t.Errorf("%s: dead-lettered twice", c.name)
			}
			seen[c.name] = true
			if got := d.Headers[HeaderError]; got != c.reason {
				t.Errorf("%s: reason %q, want %q (detail %q)", c.name, got, c.reason, d.Headers[HeaderDetail])
			}
			if d.Headers[HeaderDetail] == "" {
				t.Errorf("%s: empty %s header", c.name, HeaderDetail)
			}
			if d.Key != c.key || string(d.Value) != c.value {
				t.Errorf("%s: original record not preserved: key %q value %q", c.name, d.Key, d.Value)
			}
			for j := 0; j+1 < len(c.headers); j += 2 {
				if d.Headers[c.headers[j]] != c.headers[j+1] {
					t.Errorf("%s: header %s not preserved", c.name, c.headers[j])
				}
			}
		}

		// An invalid definition is dead-lettered with the path of the problem, and
		// the segment keeps its previous valid definition.
		bad := seg("vip", `{"field":"country","op":"gt","value":3}`)
		h.putSegment(ws, "vip", bad)
		h.putSegment(ws, "other", seg("mismatch", `{"field":"tag","op":"has","value":"x"}`))
		dls = h.waitDLQ(len(cases), 2)
		byKey := map[string]outRecord{}
		for _, d := range dls {
			byKey[d.Key] = d
		}
		if d := byKey[ws+"/vip"]; d.Headers[HeaderError] != "invalid_definition" ||
			!strings.Contains(d.Headers[HeaderDetail], `groups[0].conditions[0].op: "gt" is not allowed for field "country"`) || string(d.Value) != bad {
			t.Errorf("invalid definition dead letter: %+v", d.Headers)
		}
		if d := byKey[ws+"/other"]; d.Headers[HeaderError] != "key_mismatch" {
			t.Errorf("definition under another key: %+v", d.Headers)
		}
		h.envelope(ws+"/43", "customer.tags_added", ws, "good-2", `{"customer_id":43,"tags":["VIP"]}`)
		h.expect(1, `+vip 43 v1 event {"topic":"customer.tags_added","delivery_id":"good-2"}`)
	})
}
