package state

// THIS FILE IS A CONTRACT STUB: the contact-record implementation replaces it. The
// signatures below are what the processor calls; keep them.

import (
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// Outcome is what Contact.Apply did with an event.
type Outcome uint8

const (
	Applied   Outcome = iota // the record changed (it must be written)
	Unchanged                // valid, but nothing stored changed (e.g. tag already present)
	Duplicate                // delivery id seen within the last 7 days: ignored
	Stale                    // older than what is stored (updated_at, consent time, tombstone, order deletion): ignored
	Missing                  // delete, redact or orders/delete of a contact that does not exist: no-op
	Deleted                  // customers/delete or customers/redact: the record is now a tombstone
)

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

// Contact is the stored record of one contact.
type Contact struct {
	DenseID     uint32       // per-partition dense id; 0 = not yet assigned
	Memberships []Membership // sorted by Segment, then Incarnation
	NextDue     time.Time    // next instant a time-relative predicate flips; zero = none
	SyncedAt    time.Time    // last time the stored state changed
}

// IsNew reports whether the record does not exist yet (fresh or expired tombstone).
func (c *Contact) IsNew() bool { panic("stub") }

// IsTombstone reports whether the contact is deleted (a tombstone kept for 7 days).
func (c *Contact) IsTombstone() bool { panic("stub") }

// Apply applies ev (already decoded and validated, for this contact) at processing
// time now, de-duplicating by ev.DeliveryID.
func (c *Contact) Apply(ev *events.Event, now time.Time) Outcome { panic("stub") }

// Attrs derives the evaluation view of SPEC §5.
func (c *Contact) Attrs(workspace string, cat Catalog, exclusionTag string) operators.Attrs {
	panic("stub")
}

// PurchasedProducts returns the product ids of counted orders' line items, sorted.
func (c *Contact) PurchasedProducts() []string { panic("stub") }

// AppendBinary appends the record's encoding to dst.
func (c *Contact) AppendBinary(dst []byte) ([]byte, error) { panic("stub") }

// UnmarshalBinary decodes a record written by AppendBinary.
func (c *Contact) UnmarshalBinary(b []byte) error { panic("stub") }
