package admin

import (
	"time"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// The JSON views of the processor's answers: what the API shows (openapi.yaml) is
// decided here, from the domain values of processor/query.go. Each view decodes back
// to itself, which the fan-out relies on: a peer's answer is decoded into its view,
// merged and encoded again.

// Segment is a live segment: its definition and its member count over the
// partitions an answer covers.
type Segment struct {
	Workspace   string                `json:"workspace"`
	ID          string                `json:"id"`
	Name        string                `json:"name,omitempty"`
	Version     int64                 `json:"segment_version"`
	Definition  *operators.Definition `json:"definition"`
	Members     int64                 `json:"members"`
	Backfilling bool                  `json:"backfilling"` // some contacts still await the current version
	// References and ReferencedBy are its dependencies (SPEC §6 segment references):
	// the segments its definition references and the segments referencing it.
	References   []string `json:"references,omitempty"`
	ReferencedBy []string `json:"referenced_by,omitempty"`
}

func segmentView(s processor.SegmentInfo) Segment {
	return Segment{Workspace: s.Workspace, ID: s.ID, Name: s.Name, Version: s.Version, Definition: s.Definition,
		Members: s.Members, Backfilling: s.Backfilling, References: s.References, ReferencedBy: s.ReferencedBy}
}

func segmentViews(ss []processor.SegmentInfo) []Segment {
	out := make([]Segment, len(ss))
	for i, s := range ss {
		out[i] = segmentView(s)
	}
	return out
}

// Contact is the answer of GET …/contacts/{customer_id}.
type Contact struct {
	Workspace  string    `json:"workspace"`
	CustomerID int64     `json:"customer_id"`
	Partition  int32     `json:"partition"`
	Deleted    bool      `json:"deleted,omitempty"`
	SyncedAt   time.Time `json:"synced_at"`
	NextDue    time.Time `json:"next_timer_at,omitzero"`

	Profile           state.Profile             `json:"profile"`
	Consents          state.Consents            `json:"consents"`
	Errors            []string                  `json:"errors,omitempty"`
	Attributes        map[string]any            `json:"attributes"` // SPEC §5 names → values; absent ones omitted
	Tags              []string                  `json:"tags"`
	Lists             []string                  `json:"lists"`
	Orders            OrdersSummary             `json:"orders"`
	PurchasingSummary *PurchasingSummary        `json:"purchasing_summary,omitempty"` // Shopify's own totals, when received
	BackInStock       []state.BackInStockSub    `json:"back_in_stock,omitempty"`
	Conversations     []state.ConversationState `json:"conversations,omitempty"`
	Automations       []state.AutomationCount   `json:"automation_completions,omitempty"`
	Memberships       []Membership              `json:"memberships"`
}

// OrdersSummary counts a contact's orders.
type OrdersSummary struct {
	Total     int `json:"total"`            // stored orders, counted or not
	Counted   int `json:"counted"`          // neither cancelled nor test
	Cancelled int `json:"cancelled"`        // cancelled
	Test      int `json:"test"`             // test orders
	Folded    int `json:"folded,omitempty"` // folded into aggregates (README "Bounded contact state")
}

// PurchasingSummary is the last customers/purchasing_summary received for a contact.
type PurchasingSummary struct {
	AmountSpent    string    `json:"amount_spent"` // a decimal, as a string
	CurrencyCode   string    `json:"currency_code"`
	LastOrderID    string    `json:"last_order_id"`
	NumberOfOrders int64     `json:"number_of_orders"`
	OccurredAt     time.Time `json:"occurred_at"`
}

// Membership is one segment a contact is a member of.
type Membership struct {
	SegmentID string `json:"segment_id"`
	Version   int64  `json:"segment_version"`
}

func contactView(c *processor.Contact) *Contact {
	v := &Contact{
		Workspace: c.Workspace, CustomerID: c.CustomerID, Partition: c.Partition, Deleted: c.Deleted,
		SyncedAt: c.SyncedAt, NextDue: c.NextDue,
		Profile: c.Profile, Consents: c.Consents, Errors: c.Errors,
		Attributes: attributes(&c.Attrs, c.Now),
		Tags:       nonNil(c.Tags), Lists: nonNil(c.Lists),
		Orders: OrdersSummary{Total: c.Orders.Total, Counted: c.Orders.Counted, Cancelled: c.Orders.Cancelled,
			Test: c.Orders.Test, Folded: c.Orders.Folded},
		BackInStock: c.BackInStock, Conversations: c.Conversations, Automations: c.Automations,
		Memberships: make([]Membership, len(c.Memberships)),
	}
	if s := c.PurchasingSummary; s != nil {
		v.PurchasingSummary = &PurchasingSummary{AmountSpent: s.AmountSpent.String(), CurrencyCode: s.CurrencyCode,
			LastOrderID: s.LastOrderID, NumberOfOrders: s.NumberOfOrders, OccurredAt: s.At}
	}
	for i, m := range c.Memberships {
		v.Memberships[i] = Membership{SegmentID: m.SegmentID, Version: m.Version}
	}
	return v
}

// attributes renders the attributes of SPEC §5 by name, evaluated at now; absent
// ones are omitted. Decimals are strings, instants RFC 3339.
func attributes(a *operators.Attrs, now time.Time) map[string]any {
	m := map[string]any{
		"consent_status":         a.Consent.String(),
		"email_consent_status":   a.EmailConsent.String(),
		"orders_count":           a.OrdersCount,
		"total_spent":            a.TotalSpent.String(),
		"messages_received":      a.MessagesReceived,
		"messages_read":          a.MessagesRead,
		"automation_completions": a.AutomationCompletions,
		"purchased_brands":       nonNil(a.PurchasedBrands),
		"purchased_collections":  nonNil(a.PurchasedCollections),
		"lifecycle_stage":        a.LifecycleStage(now).String(),
		"excluded":               a.Excluded,
	}
	prices := make([]string, len(a.PurchasedPrices))
	for i, d := range a.PurchasedPrices {
		prices[i] = d.String()
	}
	m["purchased_prices"] = prices
	set := func(name, v string) {
		if v != "" {
			m[name] = v
		}
	}
	set("phone", a.Phone)
	set("country", a.Country)
	set("language", a.Language)
	set("city", a.City)
	set("province", a.Province)
	set("email_domain", a.EmailDomain)
	if a.HasAOV {
		m["average_order_value"] = a.AOV.String()
	}
	times := map[string]time.Time{
		"first_order_at": a.FirstOrderAt, "last_order_at": a.LastOrderAt,
		"last_message_received_at": a.LastMessageReceivedAt, "last_engaged_at": a.LastEngagedAt,
		"customer_created_at": a.CustomerCreatedAt,
	}
	for name, t := range times {
		if !t.IsZero() {
			m[name] = t
		}
	}
	if !a.LastOrderAt.IsZero() {
		m["days_since_last_order"] = operators.DaysSince(a.LastOrderAt, now)
	}
	if !a.FirstOrderAt.IsZero() {
		m["days_since_first_order"] = operators.DaysSince(a.FirstOrderAt, now)
	}
	if len(a.CompletionsByAutomation) > 0 {
		m["automation_completions_by_id"] = a.CompletionsByAutomation
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ContactSummary is one result of a contact search.
type ContactSummary struct {
	CustomerID int64  `json:"customer_id"`
	Email      string `json:"email,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Phone      string `json:"phone,omitempty"`
}

func contactSummaries(cs []processor.ContactSummary) []ContactSummary {
	out := make([]ContactSummary, len(cs))
	for i, c := range cs {
		out[i] = ContactSummary{CustomerID: c.CustomerID, Email: c.Email, FirstName: c.FirstName, LastName: c.LastName, Phone: c.Phone}
	}
	return out
}

// AudienceRef names a segment or a list of the workspace: exactly one of the two.
type AudienceRef struct {
	Segment string `json:"segment,omitempty"`
	List    string `json:"list,omitempty"`
}

func audienceRefs(refs []AudienceRef) []processor.AudienceRef {
	out := make([]processor.AudienceRef, len(refs))
	for i, r := range refs {
		out[i] = processor.AudienceRef{Segment: r.Segment, List: r.List}
	}
	return out
}

// memberPos is a position inside one process's members, in a members cursor.
type memberPos struct {
	Partition int32  `json:"p"`
	Dense     uint32 `json:"d"`
}
