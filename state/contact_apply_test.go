package state

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// t0 is the reference instant of the tests: event times and processing times are
// offsets from it.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func at(d time.Duration) time.Time { return t0.Add(d) }

func some(v string) events.OptString { return events.OptString{Present: true, Value: v} }

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

// step is one event applied at processing time now, with the outcome expected.
type step struct {
	ev   *events.Event
	now  time.Time // zero: the event's time plus a second
	want Outcome
}

func newEvent(kind events.Kind, occurred time.Time, delivery string) *events.Event {
	return &events.Event{Kind: kind, Topic: fmt.Sprint(kind), Workspace: "acme.myshopify.com", CustomerID: 7012345, DeliveryID: delivery, OccurredAt: occurred}
}

func customerEv(occurred time.Time, delivery string, cu events.Customer) *events.Event {
	ev := newEvent(events.CustomerUpsert, occurred, delivery)
	ev.Customer = &cu
	return ev
}

func deleteEv(occurred time.Time, delivery string) *events.Event {
	return newEvent(events.CustomerDelete, occurred, delivery)
}

func redactEv(occurred time.Time, delivery string, orders ...string) *events.Event {
	ev := newEvent(events.CustomerRedact, occurred, delivery)
	ev.Redact = &events.Redact{OrdersToRedact: orders}
	return ev
}

func consentEv(kind events.Kind, occurred time.Time, delivery, state string, updated time.Time) *events.Event {
	ev := newEvent(kind, occurred, delivery)
	ev.Consent = &events.Consent{State: state, UpdatedAt: updated}
	return ev
}

func tagsEv(kind events.Kind, occurred time.Time, delivery string, tags ...string) *events.Event {
	ev := newEvent(kind, occurred, delivery)
	ev.Tags = tags
	return ev
}

func orderEv(occurred time.Time, delivery string, o events.Order) *events.Event {
	ev := newEvent(events.OrderUpsert, occurred, delivery)
	ev.Order = &o
	return ev
}

func orderDeleteEv(occurred time.Time, delivery, id string) *events.Event {
	ev := newEvent(events.OrderDelete, occurred, delivery)
	ev.OrderID = id
	return ev
}

func statusEv(occurred time.Time, delivery, msg string, st events.MessageStatusValue, ts time.Time) *events.Event {
	ev := newEvent(events.MessageStatus, occurred, delivery)
	ev.Message = &events.Message{MessageID: msg, Status: st, Timestamp: ts}
	return ev
}

func inboundEv(occurred time.Time, delivery string, ts time.Time) *events.Event {
	ev := newEvent(events.MessageInbound, occurred, delivery)
	ev.Message = &events.Message{MessageID: "in-" + delivery, Timestamp: ts}
	return ev
}

func automationEv(occurred time.Time, delivery, id string) *events.Event {
	ev := newEvent(events.AutomationCompleted, occurred, delivery)
	ev.Automation = &events.Automation{AutomationID: id, CompletedAt: occurred}
	return ev
}

func listEv(kind events.Kind, occurred time.Time, delivery, id string) *events.Event {
	ev := newEvent(kind, occurred, delivery)
	ev.ListID = id
	return ev
}

func order(id string, created time.Time, total string, items ...events.LineItem) events.Order {
	return events.Order{ID: id, CreatedAt: created, UpdatedAt: created, Total: dec(total), LineItems: items}
}

func item(product, vendor, price string) events.LineItem {
	return events.LineItem{ProductID: product, Vendor: vendor, Price: dec(price), Quantity: 1}
}

// mapCatalog is a catalog fake: "<workspace>/<product>" → collections.
type mapCatalog map[string][]string

func (m mapCatalog) Collections(ws, product string) []string { return m[ws+"/"+product] }

// needer is a catalog that implements CollectionsNeeder.
type needer struct {
	mapCatalog
	need bool
}

func (n needer) NeedsCollections(string) bool { return n.need }

// run applies steps to c, checking each outcome.
func run(t *testing.T, c *Contact, steps []step) {
	t.Helper()
	for i, s := range steps {
		now := s.now
		if now.IsZero() {
			now = s.ev.OccurredAt.Add(time.Second)
		}
		if got := c.Apply(s.ev, now); got != s.want {
			t.Fatalf("step %d (%v %q): outcome %v, want %v", i, s.ev.Kind, s.ev.DeliveryID, got, s.want)
		}
		roundTrip(t, c)
	}
}

// roundTrip checks that c survives its encoding, and replaces it with the decoded copy
// so that every later step also runs on a decoded record.
func roundTrip(t *testing.T, c *Contact) {
	t.Helper()
	b, err := c.AppendBinary(nil)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var d Contact
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := c.Attrs("acme.myshopify.com", nil, "exclude_from_galantis")
	got := d.Attrs("acme.myshopify.com", nil, "exclude_from_galantis")
	if diff := attrsDiff(want, got); diff != "" {
		t.Fatalf("attrs differ after round trip: %s", diff)
	}
	*c = d
}

func attrsDiff(a, b operators.Attrs) string {
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		return fmt.Sprintf("\n%+v\n%+v", a, b)
	}
	return ""
}

func attrs(c *Contact) operators.Attrs {
	return c.Attrs("acme.myshopify.com", nil, "exclude_from_galantis")
}

func TestContactCustomerUpsert(t *testing.T) {
	full := events.Customer{
		Email: some("ana@example.com"), FirstName: some("Ana"), LastName: some("Pérez"),
		Phone: some("+52 55 1234 5678"), Country: some("mx"), Locale: some("es-MX"),
		Tags:       some(" VIP , newsletter,vip,,"),
		SMSConsent: &events.ConsentField{State: "SUBSCRIBED", UpdatedAt: at(-day)},
		CreatedAt:  events.OptTime{Present: true, Value: at(-10 * day)}, UpdatedAt: at(0),
	}
	tests := []struct {
		name  string
		steps []step
		check func(t *testing.T, c *Contact, a operators.Attrs)
	}{{
		name:  "create",
		steps: []step{{ev: customerEv(at(0), "d1", full), want: Applied}},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			p := c.Profile()
			if p.Email != "ana@example.com" || p.FirstName != "Ana" || p.LastName != "Pérez" || !p.CreatedAt.Equal(at(-10*day)) {
				t.Errorf("profile %+v", p)
			}
			if a.Phone != "+525512345678" || a.Country != "MX" || a.Language != "es" || a.Consent != operators.ConsentYes {
				t.Errorf("attrs %+v", a)
			}
			if !slices.Equal(c.Tags(), []string{"newsletter", "VIP"}) || !slices.Equal(a.Tags, []string{"newsletter", "vip"}) {
				t.Errorf("tags %q %q", c.Tags(), a.Tags)
			}
			if !c.SyncedAt.Equal(at(time.Second)) {
				t.Errorf("synced_at %v", c.SyncedAt)
			}
		},
	}, {
		name: "absent fields keep (2025-01 payload without tags and consent)",
		steps: []step{
			{ev: customerEv(at(0), "d1", full), want: Applied},
			{ev: customerEv(at(time.Hour), "d2", events.Customer{FirstName: some("Ana María"), UpdatedAt: at(time.Hour)}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if p := c.Profile(); p.FirstName != "Ana María" || p.Email != "ana@example.com" || p.LastName != "Pérez" {
				t.Errorf("profile %+v", p)
			}
			if len(a.Tags) != 2 || a.Consent != operators.ConsentYes || a.Phone == "" || a.Language != "es" {
				t.Errorf("attrs %+v", a)
			}
		},
	}, {
		name: "present null or empty clears",
		steps: []step{
			{ev: customerEv(at(0), "d1", full), want: Applied},
			{ev: customerEv(at(time.Hour), "d2", events.Customer{
				Email: some(""), Phone: some(""), Country: some(""), Locale: some(""), Tags: some(""),
				SMSConsent: &events.ConsentField{State: "", UpdatedAt: at(time.Hour)}, UpdatedAt: at(time.Hour),
			}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if p := c.Profile(); p.Email != "" || p.Phone != "" || p.Country != "" || p.Locale != "" || p.FirstName != "Ana" {
				t.Errorf("profile %+v", p)
			}
			if a.Phone != "" || a.Country != "" || a.Language != "" || a.Tags != nil || a.Consent != operators.ConsentUnknown {
				t.Errorf("attrs %+v", a)
			}
			if cs := c.Consents().SMS; !cs.Received || cs.State != "" {
				t.Errorf("sms consent %+v", cs)
			}
		},
	}, {
		name: "address, email domain, email consent and creation date",
		steps: []step{
			{ev: customerEv(at(0), "d1", events.Customer{
				Email: some("Ana.Lopez@Sub@Gmail.COM "), City: some("  Ciudad de México "), Province: some(" cdmx"),
				EmailConsent: &events.ConsentField{State: "INVALID", UpdatedAt: at(-day)},
				CreatedAt:    events.OptTime{Present: true, Value: at(-400 * day)}, UpdatedAt: at(0),
			}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if p := c.Profile(); p.City != "Ciudad de México" || p.Province != "CDMX" {
				t.Errorf("profile %+v", p)
			}
			if a.City != "ciudad de méxico" || a.Province != "CDMX" || a.EmailDomain != "gmail.com" ||
				a.EmailConsent != operators.ConsentNo || !a.CustomerCreatedAt.Equal(at(-400*day)) {
				t.Errorf("attrs %+v", a)
			}
		},
	}, {
		name: "address members absent keep, null clears; an email without a domain has none",
		steps: []step{
			{ev: customerEv(at(0), "d1", events.Customer{Email: some("a@example.com"), Country: some("MX"), City: some("Monterrey"), Province: some("NL"), UpdatedAt: at(0)}), want: Applied},
			{ev: customerEv(at(time.Hour), "d2", events.Customer{Email: some("bob@"), City: some(""), UpdatedAt: at(time.Hour)}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if p := c.Profile(); p.City != "" || p.Province != "NL" || p.Country != "MX" {
				t.Errorf("profile %+v", p)
			}
			if a.City != "" || a.Province != "NL" || a.EmailDomain != "" {
				t.Errorf("attrs %+v", a)
			}
		},
	}, {
		name: "email consent update: pending is unknown, subscribed is yes",
		steps: []step{
			{ev: consentEv(events.EmailConsentUpdate, at(0), "d1", "PENDING", at(0)), want: Applied},
			{ev: consentEv(events.EmailConsentUpdate, at(time.Hour), "d2", "SUBSCRIBED", at(time.Hour)), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if a.EmailConsent != operators.ConsentYes || a.Consent != operators.ConsentUnknown {
				t.Errorf("attrs %+v", a)
			}
		},
	}, {
		name: "older updated_at is stale",
		steps: []step{
			{ev: customerEv(at(0), "d1", full), want: Applied},
			{ev: customerEv(at(time.Hour), "d2", events.Customer{Email: some("old@example.com"), UpdatedAt: at(-time.Hour)}), want: Stale},
			// The stale delivery is not remembered: its retry is stale again.
			{ev: customerEv(at(time.Hour), "d2", events.Customer{Email: some("old@example.com"), UpdatedAt: at(-time.Hour)}), want: Stale},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if c.Profile().Email != "ana@example.com" || !c.Profile().UpdatedAt.Equal(at(0)) {
				t.Errorf("profile %+v", c.Profile())
			}
		},
	}, {
		name: "equal updated_at is applied, missing updated_at is applied",
		steps: []step{
			{ev: customerEv(at(0), "d1", full), want: Applied},
			{ev: customerEv(at(time.Hour), "d2", events.Customer{Email: some("eq@example.com"), UpdatedAt: at(0)}), want: Applied},
			{ev: customerEv(at(2*time.Hour), "d3", events.Customer{LastName: some("Gómez")}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if p := c.Profile(); p.Email != "eq@example.com" || p.LastName != "Gómez" || !p.UpdatedAt.Equal(at(0)) {
				t.Errorf("profile %+v", p)
			}
		},
	}, {
		name: "older consent object inside an applied payload is skipped alone",
		steps: []step{
			{ev: customerEv(at(0), "d1", full), want: Applied},
			{ev: customerEv(at(time.Hour), "d2", events.Customer{
				FirstName:  some("Anita"),
				SMSConsent: &events.ConsentField{State: "UNSUBSCRIBED", UpdatedAt: at(-2 * day)},
				UpdatedAt:  at(time.Hour),
			}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if c.Profile().FirstName != "Anita" || a.Consent != operators.ConsentYes {
				t.Errorf("first name %q consent %v", c.Profile().FirstName, a.Consent)
			}
		},
	}, {
		name: "consent object without its time is judged by the event time",
		steps: []step{
			{ev: consentEv(events.SMSConsentUpdate, at(2*time.Hour), "d0", "SUBSCRIBED", at(2*time.Hour)), want: Applied},
			{ev: customerEv(at(time.Hour), "d1", events.Customer{SMSConsent: &events.ConsentField{State: "UNSUBSCRIBED"}}), want: Applied},
			{ev: customerEv(at(3*time.Hour), "d2", events.Customer{SMSConsent: &events.ConsentField{State: "UNSUBSCRIBED"}}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if a.Consent != operators.ConsentNo {
				t.Errorf("consent %v", a.Consent)
			}
		},
	}, {
		name: "email consent object is stored",
		steps: []step{
			{ev: customerEv(at(0), "d1", events.Customer{EmailConsent: &events.ConsentField{State: "subscribed", UpdatedAt: at(-day)}}), want: Applied},
		},
		check: func(t *testing.T, c *Contact, a operators.Attrs) {
			if cs := c.Consents().Email; cs.State != "SUBSCRIBED" || !cs.UpdatedAt.Equal(at(-day)) {
				t.Errorf("email consent %+v", cs)
			}
			if a.Consent != operators.ConsentUnknown {
				t.Errorf("consent %v", a.Consent)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Contact
			run(t, &c, tt.steps)
			tt.check(t, &c, attrs(&c))
		})
	}
}

// TestContactCustomerPayloadNullClears decodes customers/update payloads and applies
// them: every profile member present as null, or as "", clears its stored value (SPEC
// §4.1), created_at included; updated_at is the time staleness is judged by, so a null
// one keeps the stored time.
func TestContactCustomerPayloadNullClears(t *testing.T) {
	const full = `{"id":7012345,"email":"ana@example.com","first_name":"Ana","last_name":"Pérez",
		"phone":"+52 55 1234 5678","locale":"es-MX","created_at":"2024-05-01T09:00:00Z","updated_at":"2026-11-01T12:00:00Z",
		"default_address":{"country_code":"MX","city":"Monterrey","province_code":"NL"},"tags":"vip",
		"sms_marketing_consent":{"state":"subscribed","consent_updated_at":"2026-11-01T12:00:00Z"},
		"email_marketing_consent":{"state":"subscribed","consent_updated_at":"2026-11-01T12:00:00Z"}}`
	decode := func(t *testing.T, delivery, payload string) *events.Event {
		t.Helper()
		value := fmt.Sprintf(`{"topic":"customers/update","shop":"acme.myshopify.com","id":%q,"occurred_at":"2026-11-02T12:00:00Z","payload":%s}`, delivery, payload)
		ev, err := events.Decode(&events.Record{Key: []byte("acme.myshopify.com/7012345"), Value: []byte(value)}, nil)
		if err != nil {
			t.Fatalf("decode %s: %v", payload, err)
		}
		return ev
	}
	for _, tc := range []struct{ name, clear string }{
		{"null", `{"id":7012345,"email":null,"first_name":null,"last_name":null,"phone":null,"locale":null,
			"created_at":null,"updated_at":null,"default_address":null,"tags":null,
			"sms_marketing_consent":null,"email_marketing_consent":null}`},
		{"empty", `{"id":7012345,"email":"","first_name":"","last_name":"","phone":"","locale":"",
			"created_at":"","updated_at":"","default_address":{"country_code":"","city":"","province_code":""},"tags":"",
			"sms_marketing_consent":{"state":""},"email_marketing_consent":{"state":""}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Contact
			now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
			if got := c.Apply(decode(t, "d1", full), now); got != Applied {
				t.Fatalf("create: %v", got)
			}
			if a := attrs(&c); a.CustomerCreatedAt.IsZero() || a.City == "" || a.Phone == "" || len(a.Tags) == 0 {
				t.Fatalf("after create: attrs %+v", a)
			}
			if got := c.Apply(decode(t, "d2", tc.clear), now.Add(time.Second)); got != Applied {
				t.Fatalf("clear: %v", got)
			}
			want := Profile{UpdatedAt: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
			if p := c.Profile(); p != want {
				t.Errorf("profile %+v, want %+v", p, want)
			}
			a := attrs(&c)
			if !a.CustomerCreatedAt.IsZero() || a.Phone != "" || a.Country != "" || a.City != "" || a.Province != "" ||
				a.EmailDomain != "" || a.Language != "" || a.Tags != nil {
				t.Errorf("attrs %+v", a)
			}
			if cs := c.Consents(); cs.SMS.State != "" || cs.Email.State != "" {
				t.Errorf("consents %+v", cs)
			}
		})
	}
}

func TestContactPhone(t *testing.T) {
	tests := []struct {
		raw, e164, err string
	}{
		{"+1 (415) 555-2671", "+14155552671", ""},
		{"+44 (0)20 7946 0018", "+442079460018", ""},
		{"415 555 2671", "", ErrCodeMissingCallingCode},
		{"0044 20 7946 0018", "", ErrCodeMissingCallingCode},
		{"+12", "", ErrCodeInvalidPhone},
		{"+1 415 CALL NOW", "", ErrCodeInvalidPhone},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			var c Contact
			run(t, &c, []step{{ev: customerEv(at(0), "d1", events.Customer{Phone: some(tt.raw)}), want: Applied}})
			if got := attrs(&c).Phone; got != tt.e164 {
				t.Errorf("Attrs.Phone = %q, want %q", got, tt.e164)
			}
			if c.Profile().Phone != tt.raw {
				t.Errorf("raw phone %q not kept", c.Profile().Phone)
			}
			var wantErrs []string
			if tt.err != "" {
				wantErrs = []string{tt.err}
			}
			if !slices.Equal(c.Errors(), wantErrs) {
				t.Errorf("Errors() = %q, want %q", c.Errors(), wantErrs)
			}
			// A valid phone later clears the error; clearing the phone too.
			run(t, &c, []step{{ev: customerEv(at(time.Hour), "d2", events.Customer{Phone: some("+14155552671")}), want: Applied}})
			if c.Errors() != nil || attrs(&c).Phone != "+14155552671" {
				t.Errorf("after a valid phone: errors %q phone %q", c.Errors(), attrs(&c).Phone)
			}
			run(t, &c, []step{{ev: customerEv(at(2*time.Hour), "d3", events.Customer{Phone: some("")}), want: Applied}})
			if c.Errors() != nil || attrs(&c).Phone != "" || c.Profile().Phone != "" {
				t.Errorf("after clearing: errors %q profile %+v", c.Errors(), c.Profile())
			}
		})
	}
}

func TestContactLanguage(t *testing.T) {
	tests := []struct {
		name   string
		locale events.OptString
		orders []events.Order
		want   string
	}{
		{"customer locale", some("es-MX"), nil, "es"},
		{"underscore", some("pt_BR"), nil, "pt"},
		{"upper case", some("FR"), nil, "fr"},
		{"customer locale wins over order", some("de"), []events.Order{{ID: "1", CreatedAt: at(0), CustomerLocale: "it-IT"}}, "de"},
		{"latest order's locale without a customer locale", events.OptString{}, []events.Order{
			{ID: "1", CreatedAt: at(-2 * day), CustomerLocale: "it-IT"},
			{ID: "2", CreatedAt: at(-day), CustomerLocale: "pt_BR"},
			{ID: "3", CreatedAt: at(-3 * day), CustomerLocale: "fr"},
		}, "pt"},
		{"cleared customer locale falls back to the order", some(""), []events.Order{{ID: "1", CreatedAt: at(0), CustomerLocale: "it-IT"}}, "it"},
		{"garbage locale is absent", some("12-34"), nil, ""},
		{"nothing", events.OptString{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Contact
			steps := []step{{ev: customerEv(at(0), "", events.Customer{Locale: tt.locale}), want: Applied}}
			for i, o := range tt.orders {
				steps = append(steps, step{ev: orderEv(at(time.Duration(i+1)*time.Minute), "", o), want: Applied})
			}
			run(t, &c, steps)
			if got := attrs(&c).Language; got != tt.want {
				t.Errorf("Language = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContactDelete(t *testing.T) {
	cu := events.Customer{Email: some("ana@example.com"), Tags: some("vip"), UpdatedAt: at(0)}
	t.Run("tombstone blocks older events, a later event creates a fresh contact", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: customerEv(at(0), "d1", cu), want: Applied},
			{ev: orderEv(at(time.Minute), "d2", order("o1", at(0), "10.00")), want: Applied},
		})
		c.DenseID = 42
		c.Memberships = []Membership{{Segment: "vip", Incarnation: 1, N: 1}}
		run(t, &c, []step{{ev: deleteEv(at(time.Hour), "d3"), want: Deleted}})
		if !c.IsTombstone() || c.IsNew() || c.DenseID != 42 || len(c.Memberships) != 1 {
			t.Fatalf("after delete: tombstone %v new %v dense %d memberships %v", c.IsTombstone(), c.IsNew(), c.DenseID, c.Memberships)
		}
		if !c.DeletedAt().Equal(at(time.Hour)) {
			t.Errorf("DeletedAt %v", c.DeletedAt())
		}
		if a := attrs(&c); a.OrdersCount != 0 || a.Tags != nil {
			t.Errorf("tombstone attrs %+v", a)
		}
		if c.Profile() != (Profile{}) || c.Orders() != nil {
			t.Errorf("tombstone keeps profile %+v orders %v", c.Profile(), c.Orders())
		}
		run(t, &c, []step{
			// A retried old delivery cannot resurrect the contact.
			{ev: tagsEv(events.TagsAdded, at(30*time.Minute), "d4", "late"), now: at(2 * time.Hour), want: Stale},
			{ev: customerEv(at(30*time.Minute), "d5", cu), now: at(2 * time.Hour), want: Stale},
			// Delivery ids from before the delete are still remembered.
			{ev: customerEv(at(0), "d1", cu), now: at(2 * time.Hour), want: Duplicate},
			// A second delete and an orders/delete of a deleted contact are no-ops.
			{ev: deleteEv(at(90*time.Minute), "d6"), now: at(2 * time.Hour), want: Missing},
			{ev: orderDeleteEv(at(90*time.Minute), "d7", "o1"), now: at(2 * time.Hour), want: Missing},
		})
		if !c.IsTombstone() {
			t.Fatal("stale events resurrected the contact")
		}
		run(t, &c, []step{{ev: tagsEv(events.TagsAdded, at(3*time.Hour), "d8", "new"), want: Applied}})
		if c.IsTombstone() || c.IsNew() || c.DenseID != 0 || c.Memberships != nil {
			t.Fatalf("re-created: tombstone %v new %v dense %d memberships %v", c.IsTombstone(), c.IsNew(), c.DenseID, c.Memberships)
		}
		if a := attrs(&c); !slices.Equal(a.Tags, []string{"new"}) || a.OrdersCount != 0 {
			t.Errorf("fresh contact attrs %+v", a)
		}
		// The fence still holds on the re-created contact.
		run(t, &c, []step{{ev: tagsEv(events.TagsAdded, at(30*time.Minute), "d9", "late"), now: at(4 * time.Hour), want: Stale}})
		// And is forgotten after 7 days.
		run(t, &c, []step{{ev: tagsEv(events.TagsAdded, at(30*time.Minute), "d10", "late"), now: at(time.Hour + 7*day + time.Second), want: Applied}})
		if !slices.Equal(attrs(&c).Tags, []string{"late", "new"}) || !c.DeletedAt().IsZero() {
			t.Errorf("tags %q deleted at %v", attrs(&c).Tags, c.DeletedAt())
		}
	})
	t.Run("event at the deletion time re-creates", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: customerEv(at(0), "d1", cu), want: Applied},
			{ev: deleteEv(at(time.Hour), "d2"), want: Deleted},
			{ev: listEv(events.ListMemberAdded, at(time.Hour), "d3", "l1"), now: at(2 * time.Hour), want: Applied},
		})
		if c.IsTombstone() {
			t.Error("still a tombstone")
		}
	})
	t.Run("delete, redact and orders/delete of an absent contact are missing", func(t *testing.T) {
		for _, ev := range []*events.Event{deleteEv(at(0), "d1"), redactEv(at(0), "d1"), orderDeleteEv(at(0), "d1", "o1")} {
			var c Contact
			if got := c.Apply(ev, at(time.Second)); got != Missing || !c.IsNew() {
				t.Errorf("%v: outcome %v, new %v", ev.Kind, got, c.IsNew())
			}
		}
	})
	t.Run("tombstone expires after 7 days", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: customerEv(at(0), "d1", cu), want: Applied},
			{ev: deleteEv(at(time.Hour), "d2"), now: at(time.Hour), want: Deleted},
		})
		if c.Expire(at(time.Hour+7*day-time.Second)) || !c.IsTombstone() {
			t.Fatal("tombstone expired early")
		}
		if got := c.Apply(deleteEv(at(7*day), "d3"), at(time.Hour+7*day)); got != Missing || !c.IsNew() {
			t.Fatalf("after 7 days: outcome %v, new %v", got, c.IsNew())
		}
		// With the tombstone gone, an old event creates the contact again.
		var d Contact
		run(t, &d, []step{
			{ev: customerEv(at(0), "d1", cu), want: Applied},
			{ev: deleteEv(at(time.Hour), "d2"), now: at(time.Hour), want: Deleted},
			{ev: customerEv(at(30*time.Minute), "d5", cu), now: at(time.Hour + 7*day), want: Applied},
		})
		if d.IsTombstone() || d.Profile().Email != "ana@example.com" {
			t.Errorf("after expiry: tombstone %v profile %+v", d.IsTombstone(), d.Profile())
		}
	})
	t.Run("redact purges everything but the tombstone", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: customerEv(at(0), "d1", events.Customer{Email: some("ana@example.com"), Phone: some("+14155552671"), UpdatedAt: at(0)}), want: Applied},
			{ev: orderEv(at(time.Minute), "d2", order("o1", at(0), "10.00", item("p1", "Acme", "10.00"))), want: Applied},
			{ev: statusEv(at(2*time.Minute), "d3", "m1", events.StatusRead, at(2*time.Minute)), want: Applied},
			{ev: consentEv(events.WhatsAppConsentUpdate, at(3*time.Minute), "d4", "SUBSCRIBED", at(3*time.Minute)), want: Applied},
			{ev: orderDeleteEv(at(4*time.Minute), "d5", "o2"), want: Applied},
		})
		c.DenseID = 7
		run(t, &c, []step{{ev: redactEv(at(time.Hour), "r1", "o1"), want: Deleted}})
		want := Contact{DenseID: 7, SyncedAt: at(time.Hour + time.Second), state: stateTombstone,
			fenceAt: at(time.Hour), fenceUntil: at(time.Hour + time.Second + TombstoneTTL),
			seen: []seenID{{hash: hashID("r1"), at: at(time.Hour + time.Second).Unix()}}}
		if !contactEqual(&c, &want) {
			t.Fatalf("redacted record:\n%#v\nwant\n%#v", c, want)
		}
		run(t, &c, []step{
			{ev: redactEv(at(time.Hour), "r1", "o1"), now: at(2 * time.Hour), want: Duplicate},
			// Purged delivery ids are not duplicates any more, but the fence holds.
			{ev: customerEv(at(0), "d1", events.Customer{Email: some("ana@example.com")}), now: at(2 * time.Hour), want: Stale},
		})
	})
	t.Run("redact older than a deletion still purges a re-created contact", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: customerEv(at(0), "d1", cu), want: Applied},
			{ev: deleteEv(at(time.Hour), "d2"), want: Deleted},
			{ev: customerEv(at(2*time.Hour), "d3", events.Customer{Email: some("new@example.com")}), want: Applied},
			{ev: redactEv(at(30*time.Minute), "r1"), now: at(3 * time.Hour), want: Deleted},
		})
		if !c.IsTombstone() || c.Profile() != (Profile{}) || !c.DeletedAt().Equal(at(time.Hour)) || len(c.seen) != 1 {
			t.Errorf("tombstone %v profile %+v deleted at %v seen %d", c.IsTombstone(), c.Profile(), c.DeletedAt(), len(c.seen))
		}
	})
	t.Run("redact of a deleted contact purges its delivery ids", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: customerEv(at(0), "d1", cu), want: Applied},
			{ev: deleteEv(at(time.Hour), "d2"), want: Deleted},
		})
		if len(c.seen) != 2 {
			t.Fatalf("seen %v", c.seen)
		}
		run(t, &c, []step{{ev: redactEv(at(2*time.Hour), "r1"), want: Deleted}})
		if len(c.seen) != 1 || !c.IsTombstone() || !c.DeletedAt().Equal(at(2*time.Hour)) {
			t.Errorf("seen %v tombstone %v deleted at %v", c.seen, c.IsTombstone(), c.DeletedAt())
		}
	})
}

func TestContactConsent(t *testing.T) {
	type cs = struct {
		kind  events.Kind
		state string
		upd   time.Duration
		want  Outcome
	}
	tests := []struct {
		name    string
		updates []cs
		want    operators.Consent
	}{
		{"sms subscribed", []cs{{events.SMSConsentUpdate, "SUBSCRIBED", 0, Applied}}, operators.ConsentYes},
		{"sms pending", []cs{{events.SMSConsentUpdate, "PENDING", 0, Applied}}, operators.ConsentUnknown},
		{"sms null", []cs{{events.SMSConsentUpdate, "", 0, Applied}}, operators.ConsentUnknown},
		{"sms not subscribed", []cs{{events.SMSConsentUpdate, "NOT_SUBSCRIBED", 0, Applied}}, operators.ConsentNo},
		{"sms redacted", []cs{{events.SMSConsentUpdate, "REDACTED", 0, Applied}}, operators.ConsentNo},
		{"none", nil, operators.ConsentUnknown},
		{"older sms update is stale", []cs{
			{events.SMSConsentUpdate, "SUBSCRIBED", time.Hour, Applied},
			{events.SMSConsentUpdate, "UNSUBSCRIBED", 0, Stale},
		}, operators.ConsentYes},
		{"equal sms time is applied", []cs{
			{events.SMSConsentUpdate, "SUBSCRIBED", time.Hour, Applied},
			{events.SMSConsentUpdate, "UNSUBSCRIBED", time.Hour, Applied},
		}, operators.ConsentNo},
		{"whatsapp wins once received", []cs{
			{events.SMSConsentUpdate, "SUBSCRIBED", 0, Applied},
			{events.WhatsAppConsentUpdate, "UNSUBSCRIBED", time.Hour, Applied},
			{events.SMSConsentUpdate, "SUBSCRIBED", 2 * time.Hour, Applied},
		}, operators.ConsentNo},
		{"whatsapp null is unknown even with sms subscribed", []cs{
			{events.SMSConsentUpdate, "SUBSCRIBED", 0, Applied},
			{events.WhatsAppConsentUpdate, "", time.Hour, Applied},
		}, operators.ConsentUnknown},
		{"whatsapp staleness is per channel", []cs{
			{events.WhatsAppConsentUpdate, "SUBSCRIBED", 2 * time.Hour, Applied},
			{events.SMSConsentUpdate, "UNSUBSCRIBED", time.Hour, Applied},
			{events.WhatsAppConsentUpdate, "UNSUBSCRIBED", time.Hour, Stale},
		}, operators.ConsentYes},
		{"email does not count", []cs{{events.EmailConsentUpdate, "SUBSCRIBED", 0, Applied}}, operators.ConsentUnknown},
		{"older email update is stale", []cs{
			{events.EmailConsentUpdate, "SUBSCRIBED", time.Hour, Applied},
			{events.EmailConsentUpdate, "UNSUBSCRIBED", 0, Stale},
		}, operators.ConsentUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Contact
			run(t, &c, []step{{ev: listEv(events.ListMemberAdded, at(0), "", "l"), want: Applied}})
			for i, u := range tt.updates {
				run(t, &c, []step{{ev: consentEv(u.kind, at(3*time.Hour), fmt.Sprint("d", i), u.state, at(u.upd)), want: u.want}})
			}
			if got := attrs(&c).Consent; got != tt.want {
				t.Errorf("Consent = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContactTags(t *testing.T) {
	var c Contact
	run(t, &c, []step{
		{ev: tagsEv(events.TagsAdded, at(0), "d1", "  VIP ", "Summer Sale", "vip"), want: Applied},
		// Adding a tag already present, case aside: nothing changes but the dedup memory.
		{ev: tagsEv(events.TagsAdded, at(time.Minute), "d2", "Vip"), want: Applied},
		{ev: tagsEv(events.TagsAdded, at(time.Minute), "", "vIP"), want: Unchanged},
	})
	if !slices.Equal(c.Tags(), []string{"Summer Sale", "VIP"}) || !slices.Equal(attrs(&c).Tags, []string{"summer sale", "vip"}) {
		t.Fatalf("tags %q attrs %q", c.Tags(), attrs(&c).Tags)
	}
	if !c.SyncedAt.Equal(at(time.Second)) {
		t.Errorf("synced_at moved on a no-op: %v", c.SyncedAt)
	}
	run(t, &c, []step{
		{ev: tagsEv(events.TagsRemoved, at(2*time.Minute), "d3", "SUMMER SALE ", "absent"), want: Applied},
		{ev: tagsEv(events.TagsRemoved, at(3*time.Minute), "", "absent"), want: Unchanged},
	})
	if !slices.Equal(attrs(&c).Tags, []string{"vip"}) {
		t.Fatalf("after removal: %q", attrs(&c).Tags)
	}
	// The retry of the no-op add, after a removal, must not add the tag back.
	run(t, &c, []step{
		{ev: tagsEv(events.TagsRemoved, at(4*time.Minute), "d4", "vip"), want: Applied},
		{ev: tagsEv(events.TagsAdded, at(time.Minute), "d2", "Vip"), want: Duplicate},
	})
	if attrs(&c).Tags != nil {
		t.Errorf("tags %q", attrs(&c).Tags)
	}
}

func TestContactExclusionTag(t *testing.T) {
	var c Contact
	run(t, &c, []step{{ev: tagsEv(events.TagsAdded, at(0), "d1", "Exclude_From_Galantis"), want: Applied}})
	for _, tag := range []string{"exclude_from_galantis", "EXCLUDE_FROM_GALANTIS", " exclude_from_galantis "} {
		if !c.Attrs("acme.myshopify.com", nil, tag).Excluded {
			t.Errorf("not excluded with exclusion tag %q", tag)
		}
	}
	if c.Attrs("acme.myshopify.com", nil, "other").Excluded || c.Attrs("acme.myshopify.com", nil, "").Excluded {
		t.Error("excluded with another or no exclusion tag")
	}
	run(t, &c, []step{{ev: tagsEv(events.TagsRemoved, at(time.Hour), "d2", "EXCLUDE_from_galantis"), want: Applied}})
	if attrs(&c).Excluded {
		t.Error("still excluded after removal")
	}
}

func TestContactOrders(t *testing.T) {
	cat := mapCatalog{"acme.myshopify.com/p1": {"shoes", "summer"}, "acme.myshopify.com/p2": {"summer"}, "other.myshopify.com/p3": {"x"}}
	t.Run("exact sums, counting, first and last", func(t *testing.T) {
		var c Contact
		cancelled := order("o3", at(-day), "100.00", item("p3", "Other", "100.00"))
		cancelled.CancelledAt = at(-day)
		test := order("o4", at(-2*day), "50.00", item("p4", "Test", "50.00"))
		test.Test = true
		run(t, &c, []step{
			{ev: orderEv(at(0), "d1", order("o1", at(-10*day), "0.10", item("p1", " Nike ", "0.10"))), want: Applied},
			{ev: orderEv(at(time.Minute), "d2", order("o2", at(-3*day), "0.20", item("p2", "nike", "0.10"), item("p1", "ADIDAS", "0.100"), item("", "Custom", "0.05"))), want: Applied},
			{ev: orderEv(at(2*time.Minute), "d3", cancelled), want: Applied},
			{ev: orderEv(at(3*time.Minute), "d4", test), want: Applied},
		})
		a := c.Attrs("acme.myshopify.com", cat, "")
		if a.OrdersCount != 2 || a.TotalSpent.String() != "0.30" || !a.HasAOV || a.AOV.String() != "0.15" {
			t.Errorf("count %d total %s aov %s (%v)", a.OrdersCount, a.TotalSpent, a.AOV, a.HasAOV)
		}
		if !a.FirstOrderAt.Equal(at(-10*day)) || !a.LastOrderAt.Equal(at(-3*day)) {
			t.Errorf("first %v last %v", a.FirstOrderAt, a.LastOrderAt)
		}
		if !slices.Equal(a.PurchasedBrands, []string{"adidas", "custom", "nike"}) {
			t.Errorf("brands %q", a.PurchasedBrands)
		}
		if fmt.Sprint(a.PurchasedPrices) != "[0.05 0.100]" {
			t.Errorf("prices %v", a.PurchasedPrices)
		}
		if !slices.Equal(a.PurchasedCollections, []string{"shoes", "summer"}) {
			t.Errorf("collections %q", a.PurchasedCollections)
		}
		if !slices.Equal(c.PurchasedProducts(), []string{"p1", "p2"}) {
			t.Errorf("products %q", c.PurchasedProducts())
		}
		// A catalog that says no rule of the workspace reads collections is not
		// asked; one that says some rule does is.
		if got := c.Attrs("acme.myshopify.com", needer{cat, false}, "").PurchasedCollections; got != nil {
			t.Errorf("collections %q derived although not needed", got)
		}
		if got := c.Attrs("acme.myshopify.com", needer{cat, true}, "").PurchasedCollections; !slices.Equal(got, []string{"shoes", "summer"}) {
			t.Errorf("collections %q when needed", got)
		}
		if len(c.Orders()) != 4 {
			t.Errorf("stored orders %d", len(c.Orders()))
		}
	})
	t.Run("no orders: no AOV, empty sets", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{{ev: listEv(events.ListMemberAdded, at(0), "d1", "l1"), want: Applied}})
		a := c.Attrs("acme.myshopify.com", cat, "")
		if a.HasAOV || a.OrdersCount != 0 || !a.TotalSpent.IsZero() || a.PurchasedBrands != nil || a.PurchasedCollections != nil || !a.LastOrderAt.IsZero() {
			t.Errorf("attrs %+v", a)
		}
	})
	t.Run("AOV rounding", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: orderEv(at(0), "d1", order("o1", at(0), "50.00")), want: Applied},
			{ev: orderEv(at(0), "d2", order("o2", at(0), "25.00")), want: Applied},
			{ev: orderEv(at(0), "d3", order("o3", at(0), "25.00")), want: Applied},
		})
		if a := attrs(&c); a.AOV.String() != "33.33333333333333333" || a.TotalSpent.String() != "100.00" {
			t.Errorf("aov %s total %s", a.AOV, a.TotalSpent)
		}
	})
	t.Run("last writer by updated_at wins", func(t *testing.T) {
		var c Contact
		o := order("o1", at(-day), "10.00")
		o.UpdatedAt = at(0)
		older, equal, newer := o, o, o
		older.UpdatedAt, older.Total = at(-time.Hour), dec("99.00")
		equal.Total = dec("20.00")
		newer.UpdatedAt, newer.CancelledAt = at(time.Hour), at(time.Hour)
		run(t, &c, []step{
			{ev: orderEv(at(0), "d1", o), want: Applied},
			{ev: orderEv(at(time.Minute), "d2", older), want: Stale},
			{ev: orderEv(at(2*time.Minute), "d3", equal), want: Applied},
		})
		if a := attrs(&c); a.TotalSpent.String() != "20.00" {
			t.Errorf("total %s", a.TotalSpent)
		}
		run(t, &c, []step{{ev: orderEv(at(time.Hour), "d4", newer), want: Applied}})
		if a := attrs(&c); a.OrdersCount != 0 || a.HasAOV {
			t.Errorf("cancelled order counted: %+v", a)
		}
		// Same content again without a delivery id: nothing changes.
		run(t, &c, []step{{ev: orderEv(at(2*time.Hour), "", newer), want: Unchanged}})
	})
	t.Run("delete then an older update", func(t *testing.T) {
		var c Contact
		o := order("o1", at(-day), "10.00")
		o.UpdatedAt = at(0)
		late, after := o, o
		late.UpdatedAt = at(30 * time.Minute)
		after.UpdatedAt = at(2 * time.Hour)
		run(t, &c, []step{
			{ev: orderEv(at(0), "d1", o), want: Applied},
			{ev: orderDeleteEv(at(time.Hour), "d2", "o1"), want: Applied},
		})
		if attrs(&c).OrdersCount != 0 || len(c.Orders()) != 0 {
			t.Fatalf("order not removed")
		}
		run(t, &c, []step{
			{ev: orderEv(at(90*time.Minute), "d3", late), want: Stale},
			// Deleting an unknown order is remembered as well.
			{ev: orderDeleteEv(at(time.Hour), "d4", "o2"), want: Applied},
			{ev: orderEv(at(90*time.Minute), "d5", order("o2", at(-day), "5.00")), want: Stale},
		})
		if attrs(&c).OrdersCount != 0 {
			t.Fatalf("stale update re-created the order")
		}
		run(t, &c, []step{{ev: orderEv(at(2*time.Hour), "d6", after), want: Applied}})
		if attrs(&c).OrdersCount != 1 {
			t.Fatalf("newer update did not re-create the order")
		}
		// The deletion memory expires after 7 days of processing time.
		run(t, &c, []step{
			{ev: orderDeleteEv(at(3*time.Hour), "d7", "o1"), want: Applied},
			{ev: orderEv(at(3*time.Hour), "d8", order("o3", at(0), "1.00")), now: at(3*time.Hour + 8*day), want: Applied},
			{ev: orderEv(at(3*time.Hour), "d9", late), now: at(3*time.Hour + 8*day), want: Applied},
		})
		if attrs(&c).OrdersCount != 2 {
			t.Errorf("orders %d", attrs(&c).OrdersCount)
		}
	})
	t.Run("collections follow the catalog of the workspace", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{{ev: orderEv(at(0), "d1", order("o1", at(0), "1.00", item("p3", "X", "1.00"))), want: Applied}})
		if got := c.Attrs("acme.myshopify.com", cat, "").PurchasedCollections; got != nil {
			t.Errorf("collections of another workspace: %q", got)
		}
		if got := c.Attrs("other.myshopify.com", cat, "").PurchasedCollections; !slices.Equal(got, []string{"x"}) {
			t.Errorf("collections %q", got)
		}
	})
}

func TestContactMessages(t *testing.T) {
	type st = struct {
		msg    string
		status events.MessageStatusValue
		ts     time.Duration
	}
	tests := []struct {
		name           string
		statuses       []st
		received, read int64
		last           time.Duration // -1: none
	}{
		{"delivered then read", []st{{"m1", events.StatusDelivered, 0}, {"m1", events.StatusRead, time.Minute}}, 1, 1, 0},
		{"read before delivered", []st{{"m1", events.StatusRead, time.Minute}, {"m1", events.StatusDelivered, 0}}, 1, 1, 0},
		{"whatsapp read without delivered", []st{{"m1", events.StatusRead, time.Minute}}, 1, 1, time.Minute},
		{"played", []st{{"m1", events.StatusPlayed, time.Minute}}, 1, 1, time.Minute},
		{"duplicate statuses", []st{{"m1", events.StatusDelivered, 0}, {"m1", events.StatusDelivered, 0}, {"m1", events.StatusRead, time.Minute}, {"m1", events.StatusPlayed, 2 * time.Minute}}, 1, 1, 0},
		{"sent and failed count nothing", []st{{"m1", events.StatusSent, 0}, {"m2", events.StatusFailed, 0}}, 0, 0, -1},
		{"two messages", []st{{"m1", events.StatusDelivered, 0}, {"m2", events.StatusDelivered, time.Hour}, {"m2", events.StatusRead, 2 * time.Hour}}, 2, 1, time.Hour},
		{"earlier status lowers the received time", []st{{"m1", events.StatusRead, 2 * time.Hour}, {"m2", events.StatusDelivered, time.Hour}, {"m1", events.StatusDelivered, 30 * time.Minute}}, 2, 1, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Contact
			run(t, &c, []step{{ev: listEv(events.ListMemberAdded, at(-time.Hour), "", "l"), want: Applied}})
			for i, s := range tt.statuses {
				run(t, &c, []step{{ev: statusEv(at(3*time.Hour), fmt.Sprint("d", i), s.msg, s.status, at(s.ts)), want: Applied}})
			}
			a := attrs(&c)
			if a.MessagesReceived != tt.received || a.MessagesRead != tt.read {
				t.Errorf("received %d read %d, want %d %d", a.MessagesReceived, a.MessagesRead, tt.received, tt.read)
			}
			wantLast := time.Time{}
			if tt.last >= 0 {
				wantLast = at(tt.last)
			}
			if !a.LastMessageReceivedAt.Equal(wantLast) {
				t.Errorf("last received %v, want %v", a.LastMessageReceivedAt, wantLast)
			}
			if tt.received == 0 && len(c.msgs) != 0 {
				t.Errorf("sent/failed stored %d messages", len(c.msgs))
			}
		})
	}
	t.Run("no-op status without a delivery id is unchanged", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: statusEv(at(0), "", "m1", events.StatusRead, at(0)), want: Applied},
			{ev: statusEv(at(time.Minute), "", "m1", events.StatusDelivered, at(time.Minute)), want: Unchanged},
			{ev: statusEv(at(time.Minute), "", "m1", events.StatusSent, at(time.Minute)), want: Unchanged},
		})
	})
	t.Run("status without timestamp falls back to the event time", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{{ev: statusEv(at(time.Hour), "d1", "m1", events.StatusDelivered, time.Time{}), want: Applied}})
		if got := attrs(&c).LastMessageReceivedAt; !got.Equal(at(time.Hour)) {
			t.Errorf("last received %v", got)
		}
	})
	t.Run("old messages are folded into counters", func(t *testing.T) {
		var c Contact
		run(t, &c, []step{
			{ev: statusEv(at(0), "d1", "m1", events.StatusRead, at(0)), want: Applied},
			{ev: statusEv(at(0), "d2", "m2", events.StatusDelivered, at(time.Hour)), want: Applied},
			{ev: statusEv(at(100*day), "d3", "m3", events.StatusDelivered, at(100*day)), want: Applied},
		})
		a := attrs(&c)
		if len(c.msgs) != 1 || a.MessagesReceived != 3 || a.MessagesRead != 1 || !a.LastMessageReceivedAt.Equal(at(100*day)) {
			t.Errorf("kept %d, attrs received %d read %d last %v", len(c.msgs), a.MessagesReceived, a.MessagesRead, a.LastMessageReceivedAt)
		}
	})
	t.Run("backfill of year-old statuses counts each message once", func(t *testing.T) {
		var c Contact
		now := at(0)
		for m := range 200 {
			ts := at(-365*day + time.Duration(m)*day)
			for i, st := range []events.MessageStatusValue{events.StatusDelivered, events.StatusRead, events.StatusDelivered} {
				now = now.Add(time.Second)
				c.Apply(statusEv(ts, fmt.Sprint("d", m, i), fmt.Sprint("m", m), st, ts.Add(time.Duration(i)*time.Minute)), now)
			}
		}
		a := attrs(&c)
		if a.MessagesReceived != 200 || a.MessagesRead != 200 || !a.LastMessageReceivedAt.Equal(at(-365*day+199*day)) {
			t.Errorf("received %d read %d last %v", a.MessagesReceived, a.MessagesRead, a.LastMessageReceivedAt)
		}
		if len(c.msgs) > 91 {
			t.Errorf("kept %d messages", len(c.msgs))
		}
	})
	t.Run("message cap", func(t *testing.T) {
		var c Contact
		for i := range MaxMessages + 1 {
			ts := at(time.Duration(i) * time.Minute)
			c.Apply(statusEv(ts, fmt.Sprint("d", i), fmt.Sprint("m", i), events.StatusRead, ts), ts)
		}
		a := attrs(&c)
		if len(c.msgs) != MaxMessages*7/8 || a.MessagesReceived != MaxMessages+1 || a.MessagesRead != MaxMessages+1 ||
			!a.LastMessageReceivedAt.Equal(at(MaxMessages*time.Minute)) {
			t.Errorf("kept %d, received %d read %d last %v", len(c.msgs), a.MessagesReceived, a.MessagesRead, a.LastMessageReceivedAt)
		}
		roundTrip(t, &c)
	})
}

func TestContactEngagementAndAutomations(t *testing.T) {
	var c Contact
	run(t, &c, []step{
		{ev: inboundEv(at(0), "i1", at(time.Hour)), want: Applied},
		{ev: inboundEv(at(0), "i2", at(time.Minute)), want: Applied}, // earlier: remembered, no change
		{ev: automationEv(at(0), "a1", "welcome"), want: Applied},
		{ev: automationEv(at(0), "a2", "welcome"), want: Applied},
		{ev: automationEv(at(0), "a2", "welcome"), want: Duplicate},
		{ev: automationEv(at(0), "a3", "winback"), want: Applied},
	})
	a := attrs(&c)
	if !a.LastEngagedAt.Equal(at(time.Hour)) {
		t.Errorf("last engaged %v", a.LastEngagedAt)
	}
	if a.AutomationCompletions != 3 || a.CompletionsByAutomation["welcome"] != 2 || a.CompletionsByAutomation["winback"] != 1 || len(a.CompletionsByAutomation) != 2 {
		t.Errorf("completions %d %v", a.AutomationCompletions, a.CompletionsByAutomation)
	}
}

func TestContactListsBackInStockConversationsStage(t *testing.T) {
	var c Contact
	conv := func(occurred time.Duration, delivery, status, agent string) *events.Event {
		ev := newEvent(events.ConversationUpdated, at(occurred), delivery)
		ev.Conversation = &events.Conversation{ConversationID: "c1", Status: status, AssignedAgent: agent}
		return ev
	}
	bis := func(kind events.Kind, delivery, variant, product string) *events.Event {
		ev := newEvent(kind, at(0), delivery)
		ev.BackInStock = &events.BackInStock{VariantID: variant, ProductID: product}
		return ev
	}
	stage := func(delivery, s string) *events.Event {
		ev := newEvent(events.LifecycleStageSet, at(0), delivery)
		ev.Stage = &events.StageSet{Stage: s}
		return ev
	}
	run(t, &c, []step{
		{ev: listEv(events.ListMemberAdded, at(0), "l1", "b"), want: Applied},
		{ev: listEv(events.ListMemberAdded, at(0), "l2", "a"), want: Applied},
		{ev: listEv(events.ListMemberAdded, at(0), "", "a"), want: Unchanged},
	})
	run(t, &c, []step{
		{ev: listEv(events.ListMemberRemoved, at(0), "l3", "b"), want: Applied},
		{ev: listEv(events.ListMemberAdded, at(0), "l4", "c"), want: Applied},
	})
	if !slices.Equal(attrs(&c).Lists, []string{"a", "c"}) {
		t.Errorf("lists %q", attrs(&c).Lists)
	}
	run(t, &c, []step{
		{ev: bis(events.BackInStockSubscribed, "b1", "v1", "p1"), want: Applied},
		{ev: bis(events.BackInStockSubscribed, "b2", "v2", "p1"), want: Applied},
		{ev: bis(events.BackInStockUnsubscribed, "b3", "v1", ""), want: Applied},
		{ev: bis(events.BackInStockUnsubscribed, "", "v9", ""), want: Unchanged},
	})
	if got := c.BackInStock(); len(got) != 1 || got[0].VariantID != "v2" {
		t.Errorf("back in stock %+v", got)
	}
	run(t, &c, []step{
		{ev: conv(time.Hour, "c1", "OPEN", "agent-1"), want: Applied},
		{ev: conv(30*time.Minute, "c2", "RESOLVED", ""), want: Stale},
		{ev: conv(2*time.Hour, "c3", "PENDING", "agent-2"), want: Applied},
	})
	if got := c.Conversations(); len(got) != 1 || got[0].Status != "PENDING" || got[0].AssignedAgent != "agent-2" {
		t.Errorf("conversations %+v", got)
	}
	run(t, &c, []step{{ev: stage("s1", "at_risk"), want: Applied}})
	if attrs(&c).LifecycleOverride != operators.StageAtRisk {
		t.Errorf("stage %v", attrs(&c).LifecycleOverride)
	}
	run(t, &c, []step{{ev: stage("s2", ""), want: Applied}})
	if attrs(&c).LifecycleOverride != operators.StageNone {
		t.Errorf("stage not cleared: %v", attrs(&c).LifecycleOverride)
	}
	if got := c.Apply(stage("s3", "vip"), at(time.Hour)); got != Unchanged {
		t.Errorf("invalid stage: %v", got)
	}
}

func TestContactPurchasingSummary(t *testing.T) {
	var c Contact
	sum := func(occurred time.Duration, delivery string, n int64, amount string) *events.Event {
		ev := newEvent(events.PurchasingSummary, at(occurred), delivery)
		ev.Summary = &events.Summary{NumberOfOrders: n, AmountSpent: dec(amount), CurrencyCode: "MXN", LastOrderID: "9"}
		return ev
	}
	run(t, &c, []step{
		{ev: sum(time.Hour, "s1", 3, "120.50"), want: Applied},
		{ev: sum(0, "s2", 2, "100.00"), want: Stale},
	})
	s, when, ok := c.PurchasingSummary()
	if !ok || s.NumberOfOrders != 3 || s.AmountSpent.String() != "120.50" || !when.Equal(at(time.Hour)) {
		t.Errorf("summary %+v at %v ok %v", s, when, ok)
	}
	if attrs(&c).OrdersCount != 0 {
		t.Error("the summary is not segmentd's own count")
	}
}

func TestContactDedup(t *testing.T) {
	var c Contact
	run(t, &c, []step{
		{ev: automationEv(at(0), "d1", "a"), want: Applied},
		{ev: automationEv(at(0), "d1", "a"), now: at(time.Hour), want: Duplicate},
		{ev: automationEv(at(0), "d1", "a"), now: at(7 * day), want: Duplicate},
	})
	if n := attrs(&c).AutomationCompletions; n != 1 {
		t.Fatalf("completions %d", n)
	}
	// Past 7 days the id is forgotten (pruned on the next write).
	run(t, &c, []step{{ev: automationEv(at(0), "d1", "a"), now: at(7*day + 2*time.Second), want: Applied}})
	if n := attrs(&c).AutomationCompletions; n != 2 || len(c.seen) != 1 {
		t.Fatalf("completions %d, seen %d", n, len(c.seen))
	}
	// Ids of events that are not duplicates are pruned as time passes.
	for i := range 10 {
		c.Apply(automationEv(at(0), fmt.Sprint("x", i), "a"), at(8*day+time.Duration(i)*day))
	}
	if len(c.seen) != 8 {
		t.Errorf("seen %d, want 8 (those of the last 7 days)", len(c.seen))
	}
}

func TestContactInvalidEvents(t *testing.T) {
	var c Contact
	for _, ev := range []*events.Event{
		nil,
		newEvent(events.KindInvalid, at(0), "d1"),
		newEvent(events.CustomerUpsert, at(0), "d1"),
		newEvent(events.OrderUpsert, at(0), "d1"),
		statusEv(at(0), "d1", "m1", 99, at(0)),
	} {
		if got := c.Apply(ev, at(0)); got != Unchanged || !c.IsNew() {
			t.Errorf("%v: outcome %v, new %v", ev, got, c.IsNew())
		}
	}
}

// TestContactAttrsNotModifiedByApply checks that an Attrs taken before Apply (the
// processor's "before" view) is not changed by it, on the same in-memory record.
func TestContactAttrsNotModifiedByApply(t *testing.T) {
	cat := mapCatalog{"acme.myshopify.com/p1": {"shoes"}}
	var c Contact
	evs := []*events.Event{
		tagsEv(events.TagsAdded, at(0), "d1", "b", "d"),
		listEv(events.ListMemberAdded, at(0), "d2", "l2"),
		listEv(events.ListMemberAdded, at(0), "d3", "l4"),
		automationEv(at(0), "d4", "a"),
		orderEv(at(0), "d5", order("o1", at(0), "1.00", item("p1", "B", "1.00"))),
		statusEv(at(0), "d6", "m1", events.StatusDelivered, at(0)),
	}
	more := []*events.Event{
		tagsEv(events.TagsAdded, at(time.Hour), "e1", "a", "c"),
		tagsEv(events.TagsRemoved, at(time.Hour), "e2", "d"),
		listEv(events.ListMemberAdded, at(time.Hour), "e3", "l1"),
		listEv(events.ListMemberAdded, at(time.Hour), "e4", "l3"),
		listEv(events.ListMemberRemoved, at(time.Hour), "e5", "l4"),
		automationEv(at(time.Hour), "e6", "a"),
		orderEv(at(time.Hour), "e7", order("o2", at(time.Hour), "2.00", item("p0", "A", "0.50"))),
		statusEv(at(time.Hour), "e8", "m1", events.StatusRead, at(-time.Hour)),
	}
	for _, ev := range evs {
		c.Apply(ev, at(time.Second))
	}
	before := c.Attrs("acme.myshopify.com", cat, "d")
	snapshot := fmt.Sprintf("%+v", before)
	for _, ev := range more {
		c.Apply(ev, at(time.Hour))
	}
	if got := fmt.Sprintf("%+v", before); got != snapshot {
		t.Errorf("Attrs changed by Apply:\n%s\n%s", snapshot, got)
	}
	if after := fmt.Sprintf("%+v", c.Attrs("acme.myshopify.com", cat, "d")); after == snapshot {
		t.Error("Attrs did not change at all")
	}
}

func TestEmailConsentStatusAndDomain(t *testing.T) {
	for state, want := range map[string]operators.Consent{
		"SUBSCRIBED": operators.ConsentYes, "NOT_SUBSCRIBED": operators.ConsentNo, "UNSUBSCRIBED": operators.ConsentNo,
		"REDACTED": operators.ConsentNo, "INVALID": operators.ConsentNo, "PENDING": operators.ConsentUnknown,
		"": operators.ConsentUnknown, "SOMETHING_NEW": operators.ConsentUnknown,
	} {
		if got := emailConsentStatus(state); got != want {
			t.Errorf("emailConsentStatus(%q) = %v, want %v", state, got, want)
		}
	}
	for email, want := range map[string]string{
		"ana@Gmail.COM": "gmail.com", "a@b@Mail.MX": "mail.mx", "no-at-sign": "", "trailing@": "", "": "",
		"@example.com": "example.com",
	} {
		if got := emailDomain(email); got != want {
			t.Errorf("emailDomain(%q) = %q, want %q", email, got, want)
		}
	}
}
