package processor

import (
	"context"
	"errors"
	"time"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// Queries: read-only views for the admin API. They are safe to call from any
// goroutine. What the processing loop owns (bitmaps, partition metas) is read by a
// closure run on the loop between windows (at most one commit interval later);
// definitions come from an immutable snapshot the loop publishes when they change;
// contact records are read from the Store, which holds the committed state. Every
// answer covers the partitions this process owns (Local); the admin API merges the
// answers of the group's processes.

// ErrNotFound is returned for an unknown segment or contact.
var ErrNotFound = errors.New("not found")

// SegmentInfo describes a live segment.
type SegmentInfo struct {
	Workspace  string                `json:"workspace"`
	ID         string                `json:"id"`
	Name       string                `json:"name,omitempty"`
	Version    int64                 `json:"segment_version"`
	Definition *operators.Definition `json:"definition"`
	// Members in the partitions this process owns.
	Members int64 `json:"members"`
	// Backfilling: the current version is still being applied to some contacts of
	// the owned partitions.
	Backfilling bool `json:"backfilling"`
}

// Local says which partitions an answer covers.
type Local struct {
	Partitions []int32 `json:"partitions"`
}

// Segments lists the live segments of a workspace with their member counts.
func (p *Processor) Segments(ctx context.Context, ws string) ([]SegmentInfo, Local, error) {
	panic("stub")
}

// Segment returns one live segment, or ErrNotFound.
func (p *Processor) Segment(ctx context.Context, ws, id string) (SegmentInfo, Local, error) {
	panic("stub")
}

// MemberCursor pages through a segment's members: the partition and dense id after
// which the next page starts. The zero cursor starts at the beginning.
type MemberCursor struct {
	Partition int32  `json:"p"`
	Dense     uint32 `json:"d"`
}

// Members returns up to limit customer ids of a segment's members after cursor, and
// the cursor of the next page (done when there is none).
func (p *Processor) Members(ctx context.Context, ws, id string, after MemberCursor, limit int) (ids []int64, next MemberCursor, done bool, err error) {
	panic("stub")
}

// ContactView is what the admin API shows of a contact.
type ContactView struct {
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
	PurchasingSummary map[string]any            `json:"purchasing_summary,omitempty"` // Shopify's own totals, when received
	BackInStock       []state.BackInStockSub    `json:"back_in_stock,omitempty"`
	Conversations     []state.ConversationState `json:"conversations,omitempty"`
	Automations       []state.AutomationCount   `json:"automation_completions,omitempty"`
	Memberships       []MembershipView          `json:"memberships"`
}

// OrdersSummary summarizes a contact's orders.
type OrdersSummary struct {
	Total     int `json:"total"`     // stored orders, counted or not
	Counted   int `json:"counted"`   // neither cancelled nor test
	Cancelled int `json:"cancelled"` // cancelled
	Test      int `json:"test"`      // test orders
}

// MembershipView is one segment the contact is a member of.
type MembershipView struct {
	SegmentID string `json:"segment_id"`
	Version   int64  `json:"segment_version"`
}

// Contact returns a contact's view, or ErrNotFound.
func (p *Processor) Contact(ctx context.Context, ws string, customerID int64) (*ContactView, error) {
	panic("stub")
}

// Explain evaluates a segment for a contact condition by condition, or returns
// ErrNotFound for an unknown contact or segment.
func (p *Processor) Explain(ctx context.Context, ws string, customerID int64, segmentID string) (*operators.Explanation, error) {
	panic("stub")
}

// Preview evaluates an unsaved definition over the workspace's contacts of the owned
// partitions: the number matching, and up to sample of their customer ids. Nothing is
// produced.
func (p *Processor) Preview(ctx context.Context, def *operators.Definition, sample int) (count int64, ids []int64, local Local, err error) {
	panic("stub")
}

// ContactSummary is one search result.
type ContactSummary struct {
	CustomerID int64  `json:"customer_id"`
	Email      string `json:"email,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Phone      string `json:"phone,omitempty"`
}

// Search finds contacts of a workspace whose name, email or phone contains q
// (case-insensitive; digits of a phone query match the normalized phone).
func (p *Processor) Search(ctx context.Context, ws, q string, limit int) ([]ContactSummary, Local, error) {
	panic("stub")
}

// AudienceRef is a segment or a list of a workspace.
type AudienceRef struct {
	Segment string `json:"segment,omitempty"`
	List    string `json:"list,omitempty"`
}

// Estimate counts, with bitmap algebra over the owned partitions, the contacts in
// any of include and none of exclude who have consent_status "yes" and are not
// excluded: each contact once.
func (p *Processor) Estimate(ctx context.Context, ws string, include, exclude []AudienceRef) (int64, Local, error) {
	panic("stub")
}
