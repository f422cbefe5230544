package events

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const testShop = "acme.myshopify.com"

// webhook returns a Form A record keyed by the contact key of customer 1.
func webhook(topic, body string) *Record {
	return &Record{
		Key:   []byte(testShop + "/1"),
		Value: []byte(body),
		Headers: []Header{
			{Key: "X-Shopify-Topic", Value: []byte(topic)},
			{Key: "X-Shopify-Shop-Domain", Value: []byte(testShop)},
		},
		Timestamp: time.Date(2024, 11, 20, 10, 0, 0, 0, time.UTC),
	}
}

// enveloped returns a Form B record keyed by the contact key of customer 1.
func enveloped(topic, payload string) *Record {
	return &Record{
		Key:       []byte(testShop + "/1"),
		Value:     []byte(`{"topic":"` + topic + `","shop":"` + testShop + `","payload":` + payload + `}`),
		Timestamp: time.Date(2024, 11, 20, 10, 0, 0, 0, time.UTC),
	}
}

func withKey(r *Record, key string) *Record {
	if key == "" {
		r.Key = nil
	} else {
		r.Key = []byte(key)
	}
	return r
}

func withHeader(r *Record, name, value string) *Record {
	r.Headers = append(r.Headers, Header{Key: name, Value: []byte(value)})
	return r
}

func withoutHeaders(r *Record) *Record {
	r.Headers = nil
	return r
}

const validOrder = `{"id":450789469,"customer":{"id":1},"created_at":"2024-11-10T13:02:45-06:00","test":false,
"total_price":"10.00","line_items":[{"product_id":1,"price":"1.00","quantity":1},{"product_id":2,"price":"2.00","quantity":1},%s]}`

func order(lastItem string) string { return strings.Replace(validOrder, "%s", lastItem, 1) }

type badCase struct {
	name   string
	rec    *Record
	reason Reason
	path   string // the detail must start with path + ": "
}

func badCases() []badCase {
	okItem := `{"product_id":3,"price":"3.00","quantity":1}`
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	return []badCase{
		// Whole-value problems.
		{"non-UTF-8 bytes", webhook("customers/delete", "{\"id\":1,\"note\":\"caf\xe9\"}"), ReasonInvalidUTF8, "value"},
		{"non-UTF-8 header value", withHeader(webhook("customers/delete", `{"id":1}`), "X-Shopify-Webhook-Id", "\xff\xfe"), ReasonInvalidUTF8, "header X-Shopify-Webhook-Id"},
		{"truncated JSON", webhook("customers/delete", `{"id":1,"email":"bo`), ReasonInvalidJSON, "value"},
		{"trailing garbage", webhook("customers/delete", `{"id":1}}`), ReasonInvalidJSON, "value"},
		{"bad escape", webhook("customers/delete", `{"id":1,"note":"\q"}`), ReasonInvalidJSON, "value"},
		{"control character in a string", webhook("customers/delete", "{\"id\":1,\"note\":\"a\tb\"}"), ReasonInvalidJSON, "value"},
		{"number with a leading zero", webhook("customers/delete", `{"id":01}`), ReasonInvalidJSON, "value"},
		{"nested too deep", webhook("customers/delete", `{"id":1,"x":`+deep+`}`), ReasonInvalidJSON, "value"},
		{"JSON array instead of an object", webhook("customers/delete", `[{"id":1}]`), ReasonWrongType, "payload"},
		{"JSON string instead of an object", webhook("customers/delete", `"hello"`), ReasonWrongType, "payload"},
		{"null value", webhook("customers/delete", `null`), ReasonEmptyValue, "value"},
		{"empty value", webhook("customers/delete", ``), ReasonEmptyValue, "value"},
		{"whitespace value", webhook("customers/delete", " \n\t"), ReasonEmptyValue, "value"},
		{"nil value", &Record{Key: []byte(testShop + "/1")}, ReasonEmptyValue, "value"},
		{"nil record", nil, ReasonEmptyValue, "value"},
		{"oversized", webhook("customers/delete", `{"id":1,"note":"`+strings.Repeat("x", 1<<20)+`"}`), ReasonRecordTooLarge, "value"},

		// Form, topic and shop.
		{"unknown topic (webhook)", webhook("customers/enable", `{"id":1}`), ReasonUnknownTopic, "header X-Shopify-Topic"},
		{"unknown topic (envelope)", enveloped("messages/sent", `{"customer_id":1}`), ReasonUnknownTopic, "topic"},
		{"missing topic header", withoutHeaders(webhook("customers/delete", `{"id":1}`)), ReasonMissingField, "header X-Shopify-Topic"},
		{"empty topic header", withHeader(withoutHeaders(webhook("", `{"id":1}`)), "X-Shopify-Topic", " "), ReasonMissingField, "header X-Shopify-Topic"},
		{"missing shop header", &Record{Key: []byte(testShop + "/1"), Value: []byte(`{"id":1}`), Headers: []Header{{Key: "X-Shopify-Topic", Value: []byte("customers/delete")}}}, ReasonMissingField, "header X-Shopify-Shop-Domain"},
		{"missing shop (envelope)", &Record{Key: []byte(testShop + "/1"), Value: []byte(`{"topic":"customers/delete","payload":{"id":1}}`)}, ReasonMissingField, "shop"},
		{"empty shop (envelope)", &Record{Key: []byte(testShop + "/1"), Value: []byte(`{"topic":"customers/delete","shop":"","payload":{"id":1}}`)}, ReasonMissingField, "shop"},
		{"shop that is not a domain", withHeader(withHeader(withoutHeaders(webhook("", `{"id":1}`)), "X-Shopify-Topic", "customers/delete"), "X-Shopify-Shop-Domain", "acme shop"), ReasonInvalidID, "header X-Shopify-Shop-Domain"},
		{"shop with a slash", &Record{Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com/1","payload":{"id":1}}`)}, ReasonInvalidID, "shop"},
		{"shop of one label", &Record{Value: []byte(`{"topic":"customers/delete","shop":"localhost","payload":{"id":1}}`)}, ReasonInvalidID, "shop"},
		{"shop with a port", &Record{Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com:8080","payload":{"id":1}}`)}, ReasonInvalidID, "shop"},
		{"topic as a number (envelope)", &Record{Value: []byte(`{"topic":5,"shop":"acme.myshopify.com","payload":{}}`)}, ReasonWrongType, "topic"},
		{"envelope without payload", &Record{Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com"}`)}, ReasonMissingField, "payload"},
		{"envelope with a null payload", &Record{Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com","payload":null}`)}, ReasonMissingField, "payload"},
		{"envelope with a string payload", &Record{Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com","payload":"{}"}`)}, ReasonWrongType, "payload"},
		{"envelope with an object id", &Record{Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com","id":{},"payload":{"id":1}}`)}, ReasonWrongType, "id"},

		// Customer ids.
		{"missing customer id", webhook("customers/delete", `{"email":"a@b.c"}`), ReasonMissingField, "payload.id"},
		{"null customer id", enveloped("messages/status", `{"customer_id":null,"message_id":"m","status":"sent"}`), ReasonMissingField, "payload.customer_id"},
		{"customer id as a float", enveloped("lists/member_added", `{"customer_id":1.5,"list_id":"l"}`), ReasonInvalidID, "payload.customer_id"},
		{"customer id 1.0", enveloped("lists/member_added", `{"customer_id":1.0,"list_id":"l"}`), ReasonInvalidID, "payload.customer_id"},
		{"customer id with an exponent", enveloped("lists/member_added", `{"customer_id":1e3,"list_id":"l"}`), ReasonInvalidID, "payload.customer_id"},
		{"negative customer id", enveloped("lists/member_added", `{"customer_id":-7,"list_id":"l"}`), ReasonInvalidID, "payload.customer_id"},
		{"zero customer id", webhook("customers/delete", `{"id":0}`), ReasonInvalidID, "payload.id"},
		{"zero customer id as a string", webhook("customers/delete", `{"id":"0"}`), ReasonInvalidID, "payload.id"},
		{"customer id above 2^63-1", webhook("customers/delete", `{"id":9223372036854775808}`), ReasonInvalidID, "payload.id"},
		{"customer id far above 2^63-1", webhook("customers/delete", `{"id":"123456789012345678901234567890"}`), ReasonInvalidID, "payload.id"},
		{"gid of another type", webhook("customer.tags_added", `{"customerId":"gid://shopify/Order/1","tags":["a"]}`), ReasonInvalidID, "payload.customerId"},
		{"string id with letters", webhook("customers/delete", `{"id":"12a"}`), ReasonInvalidID, "payload.id"},
		{"string id with spaces", webhook("customers/delete", `{"id":" 1"}`), ReasonInvalidID, "payload.id"},
		{"customer id as a boolean", webhook("customers/delete", `{"id":true}`), ReasonWrongType, "payload.id"},
		{"order customer as a number", webhook("orders/create", `{"id":1,"customer":1,"total_price":"1"}`), ReasonWrongType, "payload.customer"},
		{"order customer without id", webhook("orders/create", `{"id":1,"customer":{"email":"a@b.c"},"total_price":"1"}`), ReasonMissingField, "payload.customer.id"},
		{"redact without customer", webhook("customers/redact", `{"orders_to_redact":[]}`), ReasonMissingField, "payload.customer"},

		// Other ids.
		{"order without id", webhook("orders/create", `{"customer":{"id":1},"total_price":"1"}`), ReasonMissingField, "payload.id"},
		{"order id as a float", webhook("orders/create", `{"id":1.5,"customer":{"id":1},"total_price":"1"}`), ReasonInvalidID, "payload.id"},
		{"order id as a customer gid", webhook("orders/create", `{"id":"gid://shopify/Customer/1","customer":{"id":1},"total_price":"1"}`), ReasonInvalidID, "payload.id"},
		{"empty list id", enveloped("lists/member_added", `{"customer_id":1,"list_id":""}`), ReasonInvalidID, "payload.list_id"},
		{"missing list id", enveloped("lists/member_removed", `{"customer_id":1}`), ReasonMissingField, "payload.list_id"},
		{"missing message id", enveloped("messages/status", `{"customer_id":1,"status":"sent"}`), ReasonMissingField, "payload.message_id"},
		{"missing automation id", enveloped("automations/completed", `{"customer_id":1}`), ReasonMissingField, "payload.automation_id"},
		{"missing variant id", enveloped("back_in_stock/subscribed", `{"customer_id":1,"product_id":2}`), ReasonMissingField, "payload.variant_id"},
		{"redacted order id as an object", webhook("customers/redact", `{"customer":{"id":1},"orders_to_redact":[1,{}]}`), ReasonWrongType, "payload.orders_to_redact[1]"},

		// Enumerations.
		{"bad message status", enveloped("messages/status", `{"customer_id":1,"message_id":"m","status":"seen"}`), ReasonInvalidEnum, "payload.status"},
		{"missing message status", enveloped("messages/status", `{"customer_id":1,"message_id":"m"}`), ReasonMissingField, "payload.status"},
		{"null message status", enveloped("messages/status", `{"customer_id":1,"message_id":"m","status":null}`), ReasonMissingField, "payload.status"},
		{"blank message status", enveloped("messages/status", `{"customer_id":1,"message_id":"m","status":" "}`), ReasonInvalidEnum, "payload.status"},
		{"bad consent state", webhook("customers_marketing_consent/update", `{"id":1,"sms_marketing_consent":{"state":"maybe"}}`), ReasonInvalidEnum, "payload.sms_marketing_consent.state"},
		{"bad consent state in a customer", webhook("customers/update", `{"id":1,"email_marketing_consent":{"state":"yes"}}`), ReasonInvalidEnum, "payload.email_marketing_consent.state"},
		{"INVALID is an email state only", webhook("customers_marketing_consent/update", `{"id":1,"sms_marketing_consent":{"state":"invalid"}}`), ReasonInvalidEnum, "payload.sms_marketing_consent.state"},
		{"consent object without state", webhook("customers_email_marketing_consent/update", `{"customer_id":1,"email_marketing_consent":{"opt_in_level":null}}`), ReasonMissingField, "payload.email_marketing_consent.state"},
		{"consent update without consent", webhook("customers_whats_app_marketing_consent/update", `{"customer_id":1}`), ReasonMissingField, "payload.whats_app_marketing_consent"},
		{"bad lifecycle stage", enveloped("contacts/lifecycle_stage_set", `{"customer_id":1,"stage":"vip"}`), ReasonInvalidEnum, "payload.stage"},
		{"missing lifecycle stage", enveloped("contacts/lifecycle_stage_set", `{"customer_id":1}`), ReasonMissingField, "payload.stage"},
		{"bad conversation status", enveloped("conversations/updated", `{"customer_id":1,"conversation_id":"c","status":"CLOSED"}`), ReasonInvalidEnum, "payload.status"},

		// Timestamps.
		{"unparseable triggered-at header", withHeader(webhook("customers/delete", `{"id":1}`), "X-Shopify-Triggered-At", "yesterday"), ReasonInvalidTimestamp, "header X-Shopify-Triggered-At"},
		{"unparseable envelope occurred_at", &Record{Key: []byte(testShop + "/1"), Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com","occurred_at":"2024-13-01T00:00:00Z","payload":{"id":1}}`)}, ReasonInvalidTimestamp, "occurred_at"},
		{"unparseable payload created_at", webhook("orders/create", `{"id":1,"customer":{"id":1},"total_price":"1","created_at":"10/11/2024"}`), ReasonInvalidTimestamp, "payload.created_at"},
		{"February 30th", webhook("customers/update", `{"id":1,"updated_at":"2024-02-30T00:00:00Z"}`), ReasonInvalidTimestamp, "payload.updated_at"},
		{"timestamp without a zone", enveloped("messages/status", `{"customer_id":1,"message_id":"m","status":"read","timestamp":"2024-11-12T15:04:05"}`), ReasonInvalidTimestamp, "payload.timestamp"},
		{"milliseconds mistaken for seconds", enveloped("automations/completed", `{"customer_id":1,"automation_id":"a","completed_at":1732183200123}`), ReasonInvalidTimestamp, "payload.completed_at"},
		{"negative Unix time", enveloped("messages/inbound", `{"customer_id":1,"timestamp":-5}`), ReasonInvalidTimestamp, "payload.timestamp"},
		{"unparseable consent time", webhook("customers_marketing_consent/update", `{"id":1,"sms_marketing_consent":{"state":"subscribed","consent_updated_at":"soon"}}`), ReasonInvalidTimestamp, "payload.sms_marketing_consent.consent_updated_at"},
		{"unparseable occurredAt", webhook("customer.tags_added", `{"customerId":1,"tags":[],"occurredAt":"now"}`), ReasonInvalidTimestamp, "payload.occurredAt"},
		{"timestamp as a boolean", webhook("orders/cancelled", `{"id":1,"customer":{"id":1},"total_price":"1","cancelled_at":true}`), ReasonWrongType, "payload.cancelled_at"},

		// Wrong types.
		{"tags as a number", webhook("customer.tags_added", `{"customerId":1,"tags":5}`), ReasonWrongType, "payload.tags"},
		{"a tag that is not a string", webhook("customer.tags_removed", `{"customerId":1,"tags":["a",null]}`), ReasonWrongType, "payload.tags[1]"},
		{"missing tags", webhook("customer.tags_removed", `{"customerId":1}`), ReasonMissingField, "payload.tags"},
		{"customer tags as an object", webhook("customers/create", `{"id":1,"tags":{}}`), ReasonWrongType, "payload.tags"},
		{"email as a number", webhook("customers/create", `{"id":1,"email":5}`), ReasonWrongType, "payload.email"},
		{"default_address as a string", webhook("customers/create", `{"id":1,"default_address":"MX"}`), ReasonWrongType, "payload.default_address"},
		{"country_code as a number", webhook("customers/create", `{"id":1,"default_address":{"country_code":52}}`), ReasonWrongType, "payload.default_address.country_code"},
		{"city as a number", webhook("customers/update", `{"id":1,"default_address":{"country_code":"MX","city":64000}}`), ReasonWrongType, "payload.default_address.city"},
		{"province_code as an object", webhook("customers/update", `{"id":1,"default_address":{"province_code":{"code":"NL"}}}`), ReasonWrongType, "payload.default_address.province_code"},
		{"line_items as an object", webhook("orders/create", `{"id":1,"customer":{"id":1},"total_price":"1","line_items":{"0":{}}}`), ReasonWrongType, "payload.line_items"},
		{"a line item that is not an object", webhook("orders/create", order(`[]`)), ReasonWrongType, "payload.line_items[2]"},
		{"test as a string", webhook("orders/create", `{"id":1,"customer":{"id":1},"total_price":"1","test":"false"}`), ReasonWrongType, "payload.test"},
		{"price that is not a decimal", webhook("orders/create", order(`{"product_id":3,"price":"abc","quantity":1}`)), ReasonWrongType, "payload.line_items[2].price"},
		{"price as a boolean", webhook("orders/create", order(`{"product_id":3,"price":true,"quantity":1}`)), ReasonWrongType, "payload.line_items[2].price"},
		{"missing price", webhook("orders/create", order(`{"product_id":3,"quantity":1}`)), ReasonMissingField, "payload.line_items[2].price"},
		{"negative quantity", webhook("orders/create", order(`{"product_id":3,"price":"3","quantity":-1}`)), ReasonWrongType, "payload.line_items[2].quantity"},
		{"fractional quantity", webhook("orders/create", order(`{"product_id":3,"price":"3","quantity":1.5}`)), ReasonWrongType, "payload.line_items[2].quantity"},
		{"product id as a float", webhook("orders/create", order(`{"product_id":3.5,"price":"3","quantity":1}`)), ReasonInvalidID, "payload.line_items[2].product_id"},
		{"total that is not a decimal", webhook("orders/create", `{"id":1,"customer":{"id":1},"current_total_price":"1,00"}`), ReasonWrongType, "payload.current_total_price"},
		{"order without total", webhook("orders/create", `{"id":1,"customer":{"id":1},"current_total_price":null}`), ReasonMissingField, "payload.total_price"},
		{"numberOfOrders negative", webhook("customers/purchasing_summary", `{"customerId":1,"numberOfOrders":-1}`), ReasonWrongType, "payload.numberOfOrders"},
		{"amountSpent as a string", webhook("customers/purchasing_summary", `{"customerId":1,"amountSpent":"10.00"}`), ReasonWrongType, "payload.amountSpent"},
		{"amount that is not a decimal", webhook("customers/purchasing_summary", `{"customerId":1,"amountSpent":{"amount":"ten"}}`), ReasonWrongType, "payload.amountSpent.amount"},
		{"consent as an array", webhook("customers_marketing_consent/update", `{"id":1,"sms_marketing_consent":[]}`), ReasonWrongType, "payload.sms_marketing_consent"},
		{"stage as a number", enveloped("contacts/lifecycle_stage_set", `{"customer_id":1,"stage":1}`), ReasonWrongType, "payload.stage"},

		// Keys.
		{"key of another customer", withKey(webhook("customers/delete", `{"id":2}`), testShop+"/1"), ReasonKeyMismatch, "key"},
		{"key of another shop", withKey(webhook("customers/delete", `{"id":1}`), "other.myshopify.com/1"), ReasonKeyMismatch, "key"},
		{"missing key", withKey(webhook("customers/delete", `{"id":1}`), ""), ReasonKeyMismatch, "key"},
		{"key with an upper-case shop", withKey(webhook("customers/delete", `{"id":1}`), "ACME.myshopify.com/1"), ReasonKeyMismatch, "key"},
		{"key with a gid", withKey(webhook("customers/delete", `{"id":1}`), testShop+"/gid://shopify/Customer/1"), ReasonKeyMismatch, "key"},
		{"orders/delete with an order key", withKey(webhook("orders/delete", `{"id":450789469}`), testShop+"/order/450789469"), ReasonUnroutable, "key"},
		{"orders/delete with a bare id key", withKey(webhook("orders/delete", `{"id":450789469}`), "450789469"), ReasonUnroutable, "key"},
		{"orders/delete without key", withKey(webhook("orders/delete", `{"id":450789469}`), ""), ReasonUnroutable, "key"},
		{"orders/delete keyed by another shop's contact", withKey(webhook("orders/delete", `{"id":450789469}`), "other.myshopify.com/1"), ReasonKeyMismatch, "key"},
		{"orders/delete without id", webhook("orders/delete", `{}`), ReasonMissingField, "payload.id"},
		{"orders/delete naming another customer than its key", webhook("orders/delete", `{"id":5,"customer":{"id":2}}`), ReasonKeyMismatch, "key"},
		{"valid order keyed by another customer", withKey(webhook("orders/create", order(okItem)), testShop+"/2"), ReasonKeyMismatch, "key"},
	}
}

func TestDecodeBadRecords(t *testing.T) {
	for _, c := range badCases() {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.rec, nil)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got (%v, %v), want an *Error %s", ev, err, c.reason)
			}
			if ev != nil {
				t.Errorf("got an event with the error")
			}
			if e.Reason != c.reason {
				t.Errorf("reason %q, want %q (detail %q)", e.Reason, c.reason, e.Detail)
			}
			if !strings.HasPrefix(e.Detail, c.path+": ") {
				t.Errorf("detail %q does not start with %q", e.Detail, c.path+": ")
			}
			if len(e.Detail) < len(c.path)+4 {
				t.Errorf("detail %q says too little", e.Detail)
			}
		})
	}
	if n := len(badCases()); n < 25 {
		t.Errorf("only %d kinds of bad record", n)
	}
}

func TestDecodeDetailExamples(t *testing.T) {
	for _, c := range []struct {
		rec  *Record
		want string
	}{
		{webhook("orders/create", order(`{"product_id":3,"price":"abc","quantity":1}`)),
			`wrong_type: payload.line_items[2].price: "abc" is not a decimal`},
		{withKey(webhook("customers/delete", `{"id":2}`), testShop+"/1"),
			`key_mismatch: key: "acme.myshopify.com/1" does not match the payload's contact key "acme.myshopify.com/2"`},
		{enveloped("messages/status", `{"customer_id":1,"message_id":"m","status":"seen"}`),
			`invalid_enum: payload.status: "seen" is not one of sent, delivered, read, played, failed`},
		{webhook("customer.tags_added", `{"customerId":"gid://shopify/Order/1","tags":["a"]}`),
			`invalid_id: payload.customerId: "gid://shopify/Order/1" is not a customer gid`},
		{webhook("customers/delete", `{"id":1.5}`),
			`invalid_id: payload.id: 1.5 is not a customer id (an integer from 1 to 2^63-1)`},
	} {
		_, err := Decode(c.rec, nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v\nwant %s", err, c.want)
		}
	}
}

func TestDecodeMaxRecordBytes(t *testing.T) {
	body := `{"id":1,"note":"` + strings.Repeat("x", 100) + `"}`
	for _, c := range []struct {
		max    int
		reason Reason // "" for success
	}{
		{0, ""},
		{len(body), ""},
		{len(body) - 1, ReasonRecordTooLarge},
	} {
		_, err := Decode(webhook("customers/delete", body), &Options{MaxRecordBytes: c.max})
		var e *Error
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("max %d: %v", c.max, err)
		case c.reason != "" && (!errors.As(err, &e) || e.Reason != c.reason):
			t.Errorf("max %d: got %v, want %s", c.max, err, c.reason)
		}
	}
	if err := (&Options{MaxRecordBytes: -1}).Validate(); err == nil {
		t.Error("negative MaxRecordBytes is valid")
	}
}

func TestGuestOrder(t *testing.T) {
	for _, r := range []*Record{
		withKey(webhook("orders/create", `{"id":1,"customer":null,"total_price":"1"}`), ""),
		withKey(webhook("orders/updated", `{"id":1,"total_price":"bad"}`), "other.myshopify.com/9"),
		withKey(enveloped("orders/paid", `{"id":1}`), "nonsense"),
	} {
		if _, err := Decode(r, nil); !errors.Is(err, ErrGuestOrder) {
			t.Errorf("%s: got %v, want ErrGuestOrder", r.Value, err)
		}
	}
}

// TestFormDetection pins the rule of doc.go: an object with "topic" and "payload" is an
// envelope even with Shopify headers; otherwise the topic header decides.
func TestFormDetection(t *testing.T) {
	// An envelope whose relay copied the webhook headers.
	r := withHeader(enveloped("customers/delete", `{"id":1}`), "X-Shopify-Topic", "customers/delete")
	r = withHeader(r, "X-Shopify-Webhook-Id", "from-header")
	ev, err := Decode(r, nil)
	if err != nil || ev.Kind != CustomerDelete || ev.DeliveryID != "from-header" {
		t.Errorf("envelope with headers: %+v, %v", ev, err)
	}
	// A webhook body with a "payload" member but no "topic" is a webhook.
	ev, err = Decode(webhook("customers/delete", `{"id":1,"payload":{"x":1}}`), nil)
	if err != nil || ev.Kind != CustomerDelete {
		t.Errorf("webhook with a payload member: %+v, %v", ev, err)
	}
	// The envelope's id wins over the header.
	r = withHeader(&Record{Key: []byte(testShop + "/1"), Value: []byte(`{"topic":"customers/delete","shop":"acme.myshopify.com","id":"env","payload":{"id":1}}`)},
		"X-Shopify-Webhook-Id", "hdr")
	if ev, err := Decode(r, nil); err != nil || ev.DeliveryID != "env" {
		t.Errorf("envelope id: %+v, %v", ev, err)
	}
	// Duplicate members: the last wins, as in encoding/json.
	ev, err = Decode(webhook("customers/delete", `{"id":2,"id":1}`), nil)
	if err != nil || ev.CustomerID != 1 {
		t.Errorf("duplicate members: %+v, %v", ev, err)
	}
	// Escaped member names are unescaped.
	ev, err = Decode(webhook("customers/delete", `{"\u0069d":1}`), nil)
	if err != nil || ev.CustomerID != 1 {
		t.Errorf("escaped member name: %+v, %v", ev, err)
	}
}

func TestReasonsDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] {
			t.Errorf("%s listed twice", r)
		}
		seen[r] = true
		if !strings.Contains(string(doc), "//\t"+string(r)+" ") {
			t.Errorf("reason %s is not in the table of doc.go", r)
		}
	}
	// Every reason is produced by some test case, and only listed reasons are produced.
	produced := map[Reason]bool{ReasonInvalidCatalog: true} // catalog.txt
	for _, c := range badCases() {
		produced[c.reason] = true
	}
	for r := range produced {
		if !seen[r] {
			t.Errorf("reason %s is produced but not listed by Reasons", r)
		}
	}
	for r := range seen {
		if !produced[r] {
			t.Errorf("reason %s is never produced by a test", r)
		}
	}
}
