package state

import (
	"strings"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// Outcome is what Contact.Apply did with an event.
//
// Only Applied and Deleted change the record: the processor writes it (Pebble batch and
// changelog) for those two and for nothing else. Unchanged, Duplicate, Stale and Missing
// leave the record exactly as it was.
type Outcome uint8

const (
	Applied   Outcome = iota // the record changed (it must be written)
	Unchanged                // valid, but nothing stored changed (e.g. tag already present)
	Duplicate                // delivery id seen within the last 7 days: ignored
	Stale                    // older than what is stored (updated_at, consent time, tombstone, order deletion): ignored
	Missing                  // delete, redact or orders/delete of a contact that does not exist: no-op
	Deleted                  // customers/delete or customers/redact: the record is now a tombstone
	TooLarge                 // refused: it would grow what is kept exactly past its share of the bound
)

var outcomeNames = [...]string{"applied", "unchanged", "duplicate", "stale", "missing", "deleted", "too_large"}

// String returns the outcome's lower-case name, e.g. for a metric label.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Membership is one entry of a contact's membership history in one segment
// incarnation. N counts the transitions produced so far: the contact is a member iff N
// is odd. N also numbers transitions, which makes output ids deterministic.
type Membership struct {
	Segment     string // segment id (the workspace is the contact's)
	Incarnation int64  // which creation of the segment (see processor); changes on re-creation
	N           uint32
}

// Member reports whether the contact is currently a member.
func (m Membership) Member() bool { return m.N%2 == 1 }

// Catalog maps a product of a workspace to its collections (lower case).
type Catalog interface {
	Collections(workspace, productID string) []string
}

// CollectionsNeeder is an optional interface of a Catalog. If NeedsCollections
// reports that no rule of the workspace reads purchased_collection, Attrs leaves
// PurchasedCollections empty instead of looking up every purchased product.
type CollectionsNeeder interface {
	NeedsCollections(workspace string) bool
}

// Retention windows of the record's memories, all measured in processing time (the
// now passed to Apply), never in event time.
const (
	// DedupWindow is how long a delivery id is remembered (SPEC §4: at least 7 days).
	DedupWindow = 7 * 24 * time.Hour
	// TombstoneTTL is how long a deletion is remembered: the tombstone, and the fence
	// that keeps events that occurred before the deletion out of a re-created contact.
	TombstoneTTL = 7 * 24 * time.Hour
	// OrderDeletionTTL is how long an orders/delete is remembered, so that a late
	// update of the deleted order (updated_at earlier than the deletion) is ignored.
	OrderDeletionTTL = 7 * 24 * time.Hour
	// MessageRetention is how long per-message state is kept: a message received
	// more than this before the contact's latest received message is folded into
	// plain counters (see Contact).
	MessageRetention = 90 * 24 * time.Hour
	// MaxMessages caps the per-message states kept; beyond it the messages received
	// earliest are folded into the counters first.
	MaxMessages = 1000
	// CompletionRetention is how long an automation completion's time is kept for
	// windows (at most 90 days, SPEC §6): completions more than this before the
	// contact's latest completion are dropped from the window part (the counts stay).
	CompletionRetention = 90 * 24 * time.Hour
)

// Contact error codes (shown by the admin API; see Contact.Errors).
const (
	// ErrCodeMissingCallingCode: the phone has no leading "+" country calling code
	// (SPEC §5). The raw phone is kept; phone conditions do not match it.
	ErrCodeMissingCallingCode = "CUSTOMER_IS_MISSING_CALLING_CODE"
	// ErrCodeInvalidPhone: the phone has a "+" but is not "+" and 8–15 digits once
	// spaces, dashes, dots and parentheses are removed. Kept raw, like the above.
	ErrCodeInvalidPhone = "CUSTOMER_HAS_INVALID_PHONE"
)

// Contact is the stored record of one contact: everything segmentd knows about one
// customer of one workspace, folded from the events of SPEC §4 by Apply, viewed as
// rule attributes (SPEC §5) by Attrs, and persisted with AppendBinary/UnmarshalBinary.
//
// # Lifecycle
//
// A record is absent (the zero Contact, IsNew), live, or a tombstone (IsTombstone).
// Any contact-scoped event creates an absent contact, except customers/delete,
// customers/redact and orders/delete, which are Missing then. customers/delete and
// customers/redact turn a live contact into a tombstone that keeps only the deletion
// time (occurred_at of the deletion), the processor-owned fields and, for a delete,
// the delivery ids; a redact also forgets the delivery ids but its own, and purges
// whenever it comes (a deleted contact, or a redact older than the deletion). For
// TombstoneTTL (by processing time) the deletion is a fence: an event that occurred
// before it is Stale, whether the contact is still deleted or was re-created since. An
// event that occurred at or after the deletion re-creates a fresh contact: everything
// is reset, DenseID and NextDue to zero and Memberships to nil, so the processor
// assigns a new dense id. Once TombstoneTTL has passed, Apply (or Expire) turns the
// tombstone into an absent record.
//
// # De-duplication
//
// A non-empty delivery id is remembered (64-bit FNV-1a hash and processing time in
// seconds) for DedupWindow; the same id again within the window is Duplicate. An id is
// remembered whenever the event is accepted: Applied, Deleted, and also a valid event
// that changes nothing else, which is then reported as Applied (the record changed:
// its dedup memory did) although no attribute changed. Without that, "add tag X" (a
// no-op, X present), "remove tag X", then a retry of the first delivery would add X
// back. Stale and Missing events do not record their id (and so need no write): a
// retry of them is Stale or Missing again, because everything staleness is judged
// against (updated_at, consent times, the deletion fence, order deletions) only moves
// forward during the 7 days a retry can come. Unchanged is thus only returned for an
// event without a delivery id that changes nothing.
//
// # Staleness
//
// customers/create|update is Stale when its updated_at is older than the stored one
// (equal or missing: applied). A consent is judged by its own time (consent_updated_at,
// else the event's time); an older consent update is Stale, an older consent object
// inside an applied customer payload is skipped alone. Orders: last writer by
// updated_at wins per order id, and an order deleted by orders/delete stays deleted
// against updates whose updated_at (else occurred_at) is earlier than the deletion.
// purchasing_summary and conversations/updated keep the latest by occurred_at.
//
// # Messages
//
// Each message that was received (delivered, read or played) is kept as its message
// id hash, its received time (the earliest timestamp among those statuses) and a read
// flag (about 13 bytes encoded), so that duplicate and out-of-order statuses count
// once. sent and failed statuses store nothing. A message received more than
// MessageRetention before the contact's latest received message, or beyond the
// MaxMessages most recent, is folded into counters (received, read, latest received
// time): the attributes are unchanged, but a status arriving later for a folded
// message counts it again (a read 90 days after delivery counts a second receipt).
//
// # Windows
//
// Windows (in_last_days, SPEC §6) count dated items: counted orders by created_at
// (from the full orders and the folded entries; forgotten orders are not in any
// window), messages by received time (the per-message states), and automation
// completions by completed_at, kept for that purpose alone: each completion's time
// and automation, for CompletionRetention before the contact's latest completion,
// at most the share of the bound (the oldest go first). Completions counted before
// this part existed have no time and are in no window.
//
// # Bounded size
//
// ApplyBounded keeps the encoded record within a bound (SPEC §4.4, --max-contact-bytes,
// DefaultMaxContactBytes): each part has a share of it (contact_fold.go), and past its
// share the oldest detail is folded while the event is applied, so that folding depends
// only on the contact's events. Orders in full beyond 1/16 of the bound are folded,
// oldest created first: each leaves an entry (id, created_at, updated_at, total,
// counted) and its line items join multisets with counts (lower-case brands, product
// ids, prices), so orders_count, total_spent, first/last order and purchased_* stay
// exact, and an update or cancellation of a folded order takes it back in full,
// removing from the multisets the line items the update lists. Entries beyond 1/8 of
// the bound are forgotten into sums (count, total, first and last created_at): an
// update of a forgotten order is no longer recognised. Multiset values beyond their
// share are dropped least bought first. Delivery ids, per-message states and order
// deletions beyond their shares are forgotten oldest first (messages fold into the
// counters). The exact part (profile, consents, tags, lists, automations,
// back-in-stock, conversations, memberships) is never folded: an event that would grow
// it past a quarter of the bound is refused (TooLarge). AppendBounded is the writer's
// guarantee: if the record is still over the bound, it shrinks the shares by halves
// until it fits, or reports that the exact part alone does not.
//
// # Fields and concurrency
//
// The exported fields are the processor's: Apply leaves them alone, except SyncedAt
// (set to now whenever the contact's state changes) and the reset of DenseID,
// Memberships and NextDue when a deleted contact is re-created. SyncedAt is SPEC §5's
// synced_at: a change of dedup memory alone does not move it.
//
// A Contact is owned by one goroutine at a time; Attrs fills internal caches. The
// slices in the Attrs it returns are shared with the record and never modified in
// place afterwards (a change replaces them), so an Attrs taken before Apply stays valid.
// All times are stored in UTC without monotonic reading, clamped to ±2^40 s around the
// Unix epoch.
type Contact struct {
	DenseID     uint32       // per-partition dense id; 0 = not yet assigned
	Memberships []Membership // sorted by Segment, then Incarnation
	NextDue     time.Time    // next instant a time-relative predicate flips; zero = none
	SyncedAt    time.Time    // last time the stored state changed

	state recordState

	// Deletion fence: events that occurred before fenceAt are Stale until fenceUntil
	// (processing time). Set by customers/delete and customers/redact.
	fenceAt, fenceUntil time.Time

	seen []seenID // delivery ids, in the order they were recorded

	profile  Profile
	phoneErr phoneError
	consents [numConsents]ConsentState
	tags     []string // display form, sorted by lower-case form, unique by it
	lists    []string // sorted, unique
	stage    operators.Stage

	summary    events.Summary
	summaryAt  time.Time // occurred_at of the stored summary
	hasSummary bool

	orders        []events.Order // sorted by ID, unique
	orderDeletion []orderDeletion
	fold          orderFold // orders folded out of orders

	msgs          []msgState // sorted by hash, unique
	msgFolded     msgFolded
	lastEngagedAt time.Time

	automations []automationCount      // sorted by ID
	completions []operators.Completion // for windows: sorted by time, then id (see "Windows"); shared with Attrs, replaced on change
	backInStock []BackInStockSub       // sorted by VariantID, then ProductID
	convs       []ConversationState

	// Derived, not encoded: rebuilt lazily (nil or invalid = stale).
	tagKeys   []string // lower-case tags, sorted: shared with Attrs
	tagKeysOK bool
	cityKey   string // strings.ToLower(cityOf)
	cityOf    string // the profile city cityKey was derived from
	agg       *orderAgg
	msgAgg    *msgAgg
	byAuto    map[string]int64 // shared with Attrs; replaced, never mutated
	byAutoOK  bool
	// orderBytes estimates the encoding of orders (see bound).
	orderBytes   int
	orderBytesOK bool
}

type recordState uint8

const (
	stateAbsent recordState = iota
	stateLive
	stateTombstone
	numStates
)

type phoneError uint8

const (
	phoneOK phoneError = iota
	phoneMissingCallingCode
	phoneInvalid
	numPhoneErrors
)

// Consent channels, indexes of Contact.consents.
const (
	consentSMS = iota
	consentWhatsApp
	consentEmail
	numConsents
)

// Profile is the customer profile as last upserted by customers/create|update.
type Profile struct {
	Email     string    `json:"email,omitempty"`
	FirstName string    `json:"first_name,omitempty"`
	LastName  string    `json:"last_name,omitempty"`
	Phone     string    `json:"phone,omitempty"`      // as received
	PhoneE164 string    `json:"phone_e164,omitempty"` // normalized; "" when absent or invalid (see Contact.Errors)
	Country   string    `json:"country,omitempty"`    // default_address.country_code, upper case
	City      string    `json:"city,omitempty"`       // default_address.city, trimmed, case as received
	Province  string    `json:"province,omitempty"`   // default_address.province_code, upper case
	Locale    string    `json:"locale,omitempty"`     // as received, e.g. "es-MX"
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"` // the payload updated_at that staleness is judged against
}

// ConsentState is one marketing consent as last received.
type ConsentState struct {
	Received  bool      `json:"received"`            // a consent update or object was received
	State     string    `json:"state,omitempty"`     // upper case, e.g. SUBSCRIBED; "" when null
	UpdatedAt time.Time `json:"updated_at,omitzero"` // consent_updated_at, else the event's time
}

// Consents are a contact's marketing consents per channel.
type Consents struct {
	SMS      ConsentState `json:"sms"`
	WhatsApp ConsentState `json:"whatsapp"`
	Email    ConsentState `json:"email"`
}

// BackInStockSub is a back-in-stock subscription.
type BackInStockSub struct {
	VariantID    string    `json:"variant_id"`
	ProductID    string    `json:"product_id"`
	SubscribedAt time.Time `json:"subscribed_at"` // occurred_at of the subscription
}

// ConversationState is the last known state of one conversation.
type ConversationState struct {
	ID            string    `json:"conversation_id"`
	Status        string    `json:"status"` // OPEN, PENDING or RESOLVED
	AssignedAgent string    `json:"assigned_agent,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"` // occurred_at of the update
}

// AutomationCount is the number of completions of one automation.
type AutomationCount struct {
	AutomationID string `json:"automation_id"`
	Count        int64  `json:"count"`
}

type automationCount = AutomationCount

type seenID struct {
	hash uint64
	at   int64 // Unix seconds (processing time)
}

type orderDeletion struct {
	id   string
	at   time.Time // occurred_at of the orders/delete
	seen int64     // Unix seconds (processing time), for OrderDeletionTTL
}

type msgState struct {
	hash uint64
	recv time.Time // earliest delivered/read/played timestamp
	read bool
}

// msgFolded holds the messages folded out of per-message state.
type msgFolded struct {
	received, read int64
	lastRecv       time.Time
}

// IsNew reports whether the record does not exist yet: never created, or an expired
// tombstone. Expiry is judged at the last Apply or Expire.
func (c *Contact) IsNew() bool { return c.state == stateAbsent }

// IsTombstone reports whether the contact is deleted (a tombstone kept for 7 days).
// Expiry is judged at the last Apply or Expire.
func (c *Contact) IsTombstone() bool { return c.state == stateTombstone }

// Expire forgets what has passed its retention at now: an expired tombstone becomes
// absent (IsNew), and an expired deletion fence of a live contact is dropped. It
// reports whether the record changed. Apply calls it first.
func (c *Contact) Expire(now time.Time) bool {
	now = normTime(now)
	if c.fenceUntil.IsZero() || now.Before(c.fenceUntil) {
		return false
	}
	if c.state == stateTombstone {
		*c = Contact{}
		return true
	}
	c.fenceAt, c.fenceUntil = time.Time{}, time.Time{}
	return true
}

// FenceUntil returns when the deletion fence expires (processing time): when a
// tombstone can be purged. Zero when there is no deletion to remember.
func (c *Contact) FenceUntil() time.Time { return c.fenceUntil }

// DeletedAt returns the time the contact was last deleted (occurred_at of the
// customers/delete or customers/redact) while that deletion is remembered, else zero.
func (c *Contact) DeletedAt() time.Time { return c.fenceAt }

// Profile returns the customer profile.
func (c *Contact) Profile() Profile { return c.profile }

// Consents returns the marketing consents.
func (c *Contact) Consents() Consents {
	return Consents{SMS: c.consents[consentSMS], WhatsApp: c.consents[consentWhatsApp], Email: c.consents[consentEmail]}
}

// Errors returns the contact's error codes (ErrCode*), sorted; nil when none.
func (c *Contact) Errors() []string {
	switch c.phoneErr {
	case phoneMissingCallingCode:
		return []string{ErrCodeMissingCallingCode}
	case phoneInvalid:
		return []string{ErrCodeInvalidPhone}
	}
	return nil
}

// Tags returns the tags in their display form (as first received), sorted
// case-insensitively. The slice must not be modified.
func (c *Contact) Tags() []string { return c.tags }

// Lists returns the static list ids, sorted. The slice must not be modified.
func (c *Contact) Lists() []string { return c.lists }

// LifecycleOverride returns the stage set by contacts/lifecycle_stage_set, or
// operators.StageNone.
func (c *Contact) LifecycleOverride() operators.Stage { return c.stage }

// Orders returns every stored order, counted or not, sorted by id. The slice and the
// orders' line items must not be modified.
func (c *Contact) Orders() []events.Order { return c.orders }

// FoldedOrders returns how many orders are folded into aggregates (see "Bounded
// size"): counted ones (neither cancelled nor test), and the others still remembered.
func (c *Contact) FoldedOrders() (counted, other int64) {
	counted = c.fold.forgot.count
	for i := range c.fold.entries {
		if c.fold.entries[i].counted {
			counted++
		} else {
			other++
		}
	}
	return counted, other
}

// PurchasingSummary returns the last customers/purchasing_summary and when it
// occurred; ok is false if none was received.
func (c *Contact) PurchasingSummary() (s events.Summary, at time.Time, ok bool) {
	return c.summary, c.summaryAt, c.hasSummary
}

// BackInStock returns the back-in-stock subscriptions, sorted by variant then product.
// The slice must not be modified.
func (c *Contact) BackInStock() []BackInStockSub { return c.backInStock }

// Conversations returns the conversations' last known states, sorted by id. The slice
// must not be modified.
func (c *Contact) Conversations() []ConversationState { return c.convs }

// AutomationCounts returns the completions per automation, sorted by automation id.
// The slice must not be modified.
func (c *Contact) AutomationCounts() []AutomationCount { return c.automations }

// hashID is the 64-bit FNV-1a hash under which delivery and message ids are kept.
func hashID(s string) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}

// maxTimeSec bounds stored times to ±2^40 s (about ±34,800 years) around the Unix
// epoch, so that their encoding never overflows; the zero time lies inside.
const maxTimeSec = 1 << 40

// normTime returns t in UTC without monotonic reading, clamped to ±maxTimeSec.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	if s := t.Unix(); s > maxTimeSec {
		return time.Unix(maxTimeSec, 0).UTC()
	} else if s < -maxTimeSec {
		return time.Unix(-maxTimeSec, 0).UTC()
	}
	return t.UTC()
}

func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
