package operators

import (
	"time"

	"github.com/govalues/decimal"
)

// Consent is a derived consent status of SPEC §5: consent_status (SMS or WhatsApp)
// and email_consent_status.
type Consent uint8

const (
	ConsentUnknown Consent = iota // PENDING, null or absent
	ConsentYes                    // SUBSCRIBED
	ConsentNo                     // UNSUBSCRIBED, NOT_SUBSCRIBED, REDACTED (email: also INVALID)
)

// String returns the rule-language spelling: "unknown", "yes" or "no".
func (c Consent) String() string {
	switch c {
	case ConsentYes:
		return "yes"
	case ConsentNo:
		return "no"
	}
	return "unknown"
}

// Stage is a lifecycle stage of SPEC §5. StageNone means "no override".
type Stage uint8

const (
	StageNone Stage = iota
	StageLead
	StageFirstTimeBuyer
	StageRepeatBuyer
	StageAtRisk
	StageLapsed
)

var stageNames = [...]string{"", "lead", "first_time_buyer", "repeat_buyer", "at_risk", "lapsed"}

// String returns the rule-language spelling of s ("" for StageNone).
func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return ""
}

// ParseStage returns the stage named n, or false if n is not one of the five stages.
func ParseStage(n string) (Stage, bool) {
	for i := 1; i < len(stageNames); i++ {
		if stageNames[i] == n {
			return Stage(i), true
		}
	}
	return StageNone, false
}

// Attrs is the evaluation view of one contact: every attribute a rule can reference
// (SPEC §5). The state package derives it from a contact record; operators only read it.
//
// Conventions: a zero time.Time, an empty string and HasAOV=false mean "absent", and a
// condition on an absent value is false whatever its operator. Slices are sorted
// ascending and hold no duplicates, so membership is a binary search; strings compared
// case-insensitively (tags, brands, collections) are stored lower-cased and trimmed.
// Sets are never absent: no tags is the empty set.
type Attrs struct {
	Phone    string // E.164 ("+" and digits); "" when absent or missing its calling code
	Country  string // ISO 3166-1 alpha-2, upper case
	Language string // primary language subtag, lower case
	Consent  Consent

	EmailConsent      Consent   // email_consent_status
	CustomerCreatedAt time.Time // the customer's created_at
	City              string    // default_address.city, trimmed, lower case
	Province          string    // default_address.province_code, upper case
	EmailDomain       string    // the part of email after its last "@", lower case

	OrdersCount  int64           // counted orders: neither cancelled nor test
	TotalSpent   decimal.Decimal // sum of counted orders' totals; 0 with no orders
	AOV          decimal.Decimal // TotalSpent / OrdersCount, valid only if HasAOV
	HasAOV       bool            // false with no counted orders
	FirstOrderAt time.Time       // created_at of the earliest counted order
	LastOrderAt  time.Time       // created_at of the latest counted order

	PurchasedBrands      []string          // vendors of counted orders' line items, lower case
	PurchasedCollections []string          // collections (via the catalog) of those items, lower case
	PurchasedPrices      []decimal.Decimal // unit prices of those items, ascending, unique by value

	MessagesReceived      int64
	MessagesRead          int64
	LastMessageReceivedAt time.Time
	LastEngagedAt         time.Time

	AutomationCompletions   int64            // total over all automations
	CompletionsByAutomation map[string]int64 // per automation_id; nil when none

	Lists []string // static list ids
	Tags  []string // trimmed, lower case

	// Segments are the ids of the segments of the workspace the contact is currently
	// a member of (what the membership topic says), for segment references. The
	// state package does not derive them: whoever evaluates a segment with references
	// fills them from the contact's memberships (MemberSegments).
	Segments []string

	LifecycleOverride Stage // StageNone unless contacts/lifecycle_stage_set set one
	Excluded          bool  // has the exclusion tag: member of no segment

	// The dated items that windows (in_last_days on a counter or a sum, SPEC §6)
	// count, ascending by time; what the state package keeps of them is bounded (see
	// its README section "Bounded contact state"). Message times are UnixNano (as
	// UnixNano saturates them): a contact may keep a thousand, derived on every event.
	RecentOrders      []TimedAmount // counted orders: created_at and total
	RecentReceived    []int64       // received time of each received message (UnixNano)
	RecentRead        []int64       // received time of each read message (UnixNano)
	RecentCompletions []Completion  // completed_at and automation of each completion
}

// Day is the length of one "day" in days-since arithmetic: whole 24-hour periods.
const Day = 24 * time.Hour

// DaysSince returns floor((now - t) / 24h), SPEC §5. t must not be zero.
func DaysSince(t, now time.Time) int64 {
	d := now.Sub(t)
	days := int64(d / Day)
	if d < 0 && d%Day != 0 {
		days-- // floor, not truncation, for instants in the future
	}
	return days
}

// LifecycleStage returns the contact's stage at now: the override if set, else the
// stage derived from its counted orders (SPEC §5).
func (a *Attrs) LifecycleStage(now time.Time) Stage {
	if a.LifecycleOverride != StageNone {
		return a.LifecycleOverride
	}
	if a.OrdersCount == 0 || a.LastOrderAt.IsZero() {
		return StageLead
	}
	switch days := DaysSince(a.LastOrderAt, now); {
	case days > 180:
		return StageLapsed
	case days > 90:
		return StageAtRisk
	case a.OrdersCount == 1:
		return StageFirstTimeBuyer
	default:
		return StageRepeatBuyer
	}
}
