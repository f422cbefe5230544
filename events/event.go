package events

import (
	"time"

	"github.com/govalues/decimal"
)

// Kind is what an event does to a contact (one per SPEC §4.1/§4.2 topic family).
type Kind uint8

const (
	KindInvalid             Kind = iota
	CustomerUpsert               // customers/create, customers/update
	CustomerDelete               // customers/delete
	CustomerRedact               // customers/redact
	SMSConsentUpdate             // customers_marketing_consent/update and aliases
	WhatsAppConsentUpdate        // customers_whats_app_marketing_consent/update
	EmailConsentUpdate           // customers_email_marketing_consent/update and alias
	TagsAdded                    // customer.tags_added, customer_tags/added
	TagsRemoved                  // customer.tags_removed, customer_tags/removed
	PurchasingSummary            // customers/purchasing_summary
	OrderUpsert                  // orders/create, orders/updated, orders/cancelled, orders/paid
	OrderDelete                  // orders/delete
	MessageStatus                // messages/status
	MessageInbound               // messages/inbound
	AutomationCompleted          // automations/completed
	ListMemberAdded              // lists/member_added
	ListMemberRemoved            // lists/member_removed
	BackInStockSubscribed        // back_in_stock/subscribed
	BackInStockUnsubscribed      // back_in_stock/unsubscribed
	ConversationUpdated          // conversations/updated
	LifecycleStageSet            // contacts/lifecycle_stage_set
)

// Event is one decoded, validated contact-scoped input record. Exactly one of the
// payload pointers is set, according to Kind (none for CustomerDelete).
type Event struct {
	Kind       Kind
	Topic      string    // canonical topic name (aliases resolved), used in output causes
	Workspace  string    // shop domain, lower case
	CustomerID int64     // 1 … 2^63-1
	DeliveryID string    // envelope id, else X-Shopify-Webhook-Id; "" if none
	OccurredAt time.Time // occurred_at, else X-Shopify-Triggered-At, else record timestamp; UTC
	EventID    string    // X-Shopify-Event-Id, diagnostics only
	APIVersion string    // X-Shopify-API-Version, diagnostics only

	Customer     *Customer
	Redact       *Redact
	Consent      *Consent // SMS, WhatsApp and email consent updates
	Tags         []string // TagsAdded / TagsRemoved: trimmed, non-empty, case as given; non-nil (maybe empty)
	Summary      *Summary
	Order        *Order
	OrderID      string // OrderDelete: numeric order id (a gid is reduced to it)
	Message      *Message
	Automation   *Automation
	ListID       string // ListMemberAdded / ListMemberRemoved
	BackInStock  *BackInStock
	Conversation *Conversation
	Stage        *StageSet
}

// ContactKey returns "<workspace>/<customer_id>" (SPEC §2).
func (e *Event) ContactKey() string { return ContactKey(e.Workspace, e.CustomerID) }

// OptString is a payload field that may be absent (keep the stored value), present as
// null or "" (clear it), or present with a value. Values are trimmed, so a blank string
// clears too.
type OptString struct {
	Present bool
	Value   string // "" clears
}

// OptTime is a payload timestamp that may be absent (keep the stored value), present as
// null or "" (clear it: Value is zero), or present with a value.
type OptTime struct {
	Present bool
	Value   time.Time // zero clears
}

// Customer is the subset of a Shopify customer object segmentd uses.
type Customer struct {
	Email, FirstName, LastName, Phone OptString
	Country                           OptString // default_address.country_code, upper case
	City                              OptString // default_address.city, trimmed, case as given
	Province                          OptString // default_address.province_code, upper case
	Locale                            OptString // raw locale, e.g. "es-MX"
	Tags                              OptString // raw comma-separated tags (pre-2025-01 payloads); an array is joined with ", "
	SMSConsent                        *ConsentField
	EmailConsent                      *ConsentField
	CreatedAt                         OptTime   // tri-state like the strings: null or "" clears
	UpdatedAt                         time.Time // zero if absent or null: then always applied
}

// ConsentField is a consent object inside a customer payload. A nil *ConsentField means
// absent (keep); a non-nil one with State "" means null (clear): the object or its state
// was null.
type ConsentField struct {
	State     string    // upper case (SUBSCRIBED, ...), "" for null
	UpdatedAt time.Time // consent_updated_at, else updated_at; zero if neither
}

// Consent is a consent update event (SMS, WhatsApp or email, by Event.Kind).
type Consent struct {
	State     string    // upper case; "" when null (the state or the whole consent object)
	UpdatedAt time.Time // consent_updated_at / updated_at, else the event's time
}

// Redact is a customers/redact payload.
type Redact struct {
	OrdersToRedact []string // numeric order ids (gids are reduced to them)
}

// Summary is a customers/purchasing_summary payload.
type Summary struct {
	NumberOfOrders int64
	AmountSpent    decimal.Decimal
	CurrencyCode   string    // upper case; "" if absent
	LastOrderID    string    // numeric order id (a gid is reduced to it); "" if none
	OccurredAt     time.Time // the payload's occurredAt, else the event's time
}

// Order is the subset of a Shopify order object segmentd uses.
type Order struct {
	ID             string    // numeric order id (a gid is reduced to it)
	CreatedAt      time.Time // else the event's time
	UpdatedAt      time.Time // zero if absent
	CancelledAt    time.Time // zero if not cancelled
	Test           bool
	Total          decimal.Decimal // current_total_price, else total_price
	CustomerLocale string          // raw, e.g. "es-MX"; "" if absent or null
	LineItems      []LineItem
}

// LineItem is one line of an order.
type LineItem struct {
	ProductID string          // "" for custom items; a gid is reduced to its number
	Vendor    string          // "" if absent or null
	Price     decimal.Decimal // unit price
	Quantity  int64
}

// MessageStatusValue is a messages/status status.
type MessageStatusValue uint8

const (
	StatusSent MessageStatusValue = iota + 1
	StatusDelivered
	StatusRead
	StatusPlayed
	StatusFailed
)

// Message is a messages/status or messages/inbound payload.
type Message struct {
	MessageID string             // required for a status; may be "" for inbound
	Status    MessageStatusValue // 0 for inbound
	Timestamp time.Time          // the payload's timestamp, else the event's time
}

// Automation is an automations/completed payload.
type Automation struct {
	AutomationID string
	CompletedAt  time.Time // else the event's time
}

// BackInStock is a back_in_stock/* payload.
type BackInStock struct {
	VariantID, ProductID string // numeric (gids are reduced); ProductID "" if absent
}

// Conversation is a conversations/updated payload.
type Conversation struct {
	ConversationID string
	Status         string // OPEN, PENDING or RESOLVED (input is case-insensitive)
	AssignedAgent  string // "" if absent or null; a number is taken as its digits
}

// StageSet is a contacts/lifecycle_stage_set payload; Stage "" clears the override.
type StageSet struct {
	Stage string // lead, first_time_buyer, repeat_buyer, at_risk, lapsed (lower case) or ""
}
