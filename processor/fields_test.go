package processor

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestProfileFieldsEndToEnd: segments on city, province, email_domain,
// email_consent_status, customer_created_at and first_order_at get their transitions
// from customer, consent and order events in both record forms, and an event that
// changes one of these attributes evaluates only the segments that read it.
func TestProfileFieldsEndToEnd(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		segs := map[string]string{
			"mty-gmail": `{"field":"city","op":"is","value":"monterrey"},{"field":"email_domain","op":"in","value":["gmail.com","mail.mx"]}`,
			"nl-jal":    `{"field":"province","op":"in","value":["nl","JAL"]}`,
			"not-nl":    `{"field":"province","op":"is_not","value":"NL"}`,
			"email-yes": `{"field":"email_consent_status","op":"is","value":"yes"}`,
			"email-no":  `{"field":"email_consent_status","op":"is","value":"no"}`,
			"old":       `{"field":"customer_created_at","op":"before","value":"2025-01-01"}`,
			"buyer-26":  `{"field":"first_order_at","op":"after","value":"2026-01-01"}`,
			"spent":     `{"field":"total_spent","op":"gt","value":100}`,
			"vip":       `{"field":"tag","op":"has","value":"vip"}`,
		}
		for id, c := range segs {
			h.putSegment(ws, id, seg(id, c))
		}
		time.Sleep(300 * time.Millisecond)
		key := ws + "/2001"
		evt := func(topic, delivery string) string {
			return fmt.Sprintf(`{"topic":%q,"delivery_id":%q}`, topic, delivery)
		}
		n := 0

		// Form A, a pre-2025-01 customers/create with its email consent.
		h.webhook(key, "customers/create", ws, "w-1", `{"id":2001,"email":"Ana.Lopez@Gmail.COM","first_name":"Ana",
			"created_at":"2024-05-01T09:00:00-06:00","updated_at":"2026-11-20T10:00:00-06:00","tags":"",
			"default_address":{"city":" Monterrey ","province_code":"nl","country_code":"MX","zip":"64000"},
			"email_marketing_consent":{"state":"subscribed","opt_in_level":"single_opt_in","consent_updated_at":"2026-11-20T10:00:00-06:00"}}`)
		n = h.expect(n,
			"+mty-gmail 2001 v1 event "+evt("customers/create", "w-1"),
			"+nl-jal 2001 v1 event "+evt("customers/create", "w-1"),
			"+email-yes 2001 v1 event "+evt("customers/create", "w-1"),
			"+old 2001 v1 event "+evt("customers/create", "w-1"))

		// Form B, a 2025-01 customers/update moving to Guadalajara, Jalisco: only the
		// city and province segments are evaluated (mty-gmail, nl-jal, not-nl).
		evals := testutil.ToFloat64(h.proc.m.evaluations)
		h.envelope(key, "customers/update", ws, "e-2", `{"id":2001,"updated_at":"2026-11-21T09:00:00Z",
			"default_address":{"city":"Guadalajara","province_code":"JAL"}}`)
		n = h.expect(n,
			"-mty-gmail 2001 v1 event "+evt("customers/update", "e-2"),
			"+not-nl 2001 v1 event "+evt("customers/update", "e-2"))
		if d := testutil.ToFloat64(h.proc.m.evaluations) - evals; d != 3 {
			t.Errorf("a city and province change evaluated %v segments, want 3 (those reading city or province)", d)
		}

		// The email consent: invalid is "no".
		h.envelope(key, "customers_email_marketing_consent/update", ws, "e-3",
			`{"customer_id":2001,"email_address":"ana.lopez@gmail.com","email_marketing_consent":{"state":"invalid","consent_updated_at":"2026-11-21T09:30:00Z"}}`)
		n = h.expect(n,
			"-email-yes 2001 v1 event "+evt("customers_email_marketing_consent/update", "e-3"),
			"+email-no 2001 v1 event "+evt("customers_email_marketing_consent/update", "e-3"))

		// Back to Monterrey, with another email domain of the segment; a null address
		// clears city and province.
		h.envelope(key, "customers/update", ws, "e-4", `{"id":2001,"email":"ana@MAIL.mx","updated_at":"2026-11-21T09:40:00Z",
			"default_address":{"city":"MONTERREY","province_code":"NL"}}`)
		n = h.expect(n,
			"+mty-gmail 2001 v1 event "+evt("customers/update", "e-4"),
			"-not-nl 2001 v1 event "+evt("customers/update", "e-4"))
		h.envelope(key, "customers/update", ws, "e-5", `{"id":2001,"updated_at":"2026-11-21T09:50:00Z","default_address":null}`)
		n = h.expect(n,
			"-mty-gmail 2001 v1 event "+evt("customers/update", "e-5"),
			"-nl-jal 2001 v1 event "+evt("customers/update", "e-5"))

		// A first order this year.
		h.webhook(key, "orders/create", ws, "w-6", order(2001, 7001, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "50.00"))
		n = h.expect(n, "+buyer-26 2001 v1 event "+evt("orders/create", "w-6"))
		_ = n
	})
}

// TestTimersDateFields: in_last_days and more_than_days_ago on first_order_at,
// last_order_at and customer_created_at flip by themselves at their instant, with
// reason "time", on a test clock; absolute before/after on them never flip.
func TestTimersDateFields(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		t0 := h.now()
		h.putSegment(ws, "new-buyer", seg("new-buyer", `{"field":"first_order_at","op":"in_last_days","value":30}`))
		h.putSegment(ws, "lapsed", seg("lapsed", `{"field":"last_order_at","op":"more_than_days_ago","value":60}`))
		h.putSegment(ws, "new-customer", seg("new-customer", `{"field":"customer_created_at","op":"in_last_days","value":1}`))
		h.putSegment(ws, "veteran", seg("veteran", `{"field":"customer_created_at","op":"more_than_days_ago","value":365}`))
		h.putSegment(ws, "joined-nov", seg("joined-nov", `{"field":"customer_created_at","op":"after","value":"2026-11-20"}`))
		time.Sleep(300 * time.Millisecond)
		evt := func(topic, delivery string) string {
			return fmt.Sprintf(`{"topic":%q,"delivery_id":%q}`, topic, delivery)
		}
		customer := func(cid int64, created time.Time) string {
			return fmt.Sprintf(`{"id":%d,"email":"c%d@example.com","created_at":%q,"updated_at":%q}`,
				cid, cid, created.Format(time.RFC3339Nano), t0.Format(time.RFC3339))
		}
		n := 0

		// Contact 1: first (and last) order 29 days and 12 hours ago.
		ordered := t0.Add(-29*24*time.Hour - 12*time.Hour)
		h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, ordered, "10.00"))
		n = h.expect(n, "+new-buyer 1 v1 event "+evt("orders/create", "o1"))
		// Contact 2: created 2 hours ago.
		created2 := t0.Add(-2 * time.Hour)
		h.envelope(ws+"/2", "customers/create", ws, "c2", customer(2, created2))
		n = h.expect(n, "+new-customer 2 v1 event "+evt("customers/create", "c2"),
			"+joined-nov 2 v1 event "+evt("customers/create", "c2"))
		// Contact 3: created 365 days and 23 hours ago: 365 whole days, not > 365.
		created3 := t0.Add(-365*24*time.Hour - 23*time.Hour)
		h.envelope(ws+"/3", "customers/create", ws, "c3", customer(3, created3))
		time.Sleep(200 * time.Millisecond)
		n = h.expect(n)

		// One millisecond before contact 3's instant (t0+1h): nothing.
		h.advance(time.Hour - time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		n = h.expect(n)
		h.advance(time.Millisecond)
		n = h.expect(n, "+veteran 3 v1 time "+dueCause(created3.Add(366*24*time.Hour)))

		// Contact 1 leaves new-buyer when its first order is 30 days old (t0+12h),
		// contact 2 leaves new-customer a day after its creation (t0+22h); joined-nov
		// stays.
		h.advance(ordered.Add(30 * 24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "-new-buyer 1 v1 time "+dueCause(ordered.Add(30*24*time.Hour)))
		h.advance(created2.Add(24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "-new-customer 2 v1 time "+dueCause(created2.Add(24*time.Hour)))

		// Contact 1 becomes lapsed 61 days after its order; a new order ends it.
		h.advance(ordered.Add(61 * 24 * time.Hour).Sub(h.now()))
		n = h.expect(n, "+lapsed 1 v1 time "+dueCause(ordered.Add(61*24*time.Hour)))
		h.envelope(ws+"/1", "orders/create", ws, "o1b", order(1, 12, h.now(), "10.00"))
		n = h.expect(n, "-lapsed 1 v1 event "+evt("orders/create", "o1b"))
		// Its first order is still the old one: new-buyer does not come back.
		h.advance(24 * time.Hour)
		time.Sleep(300 * time.Millisecond)
		n = h.expect(n)
		_ = n
	})
}
