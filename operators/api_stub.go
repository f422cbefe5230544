package operators

// THIS FILE IS A CONTRACT STUB: the operators implementation replaces it. The
// signatures below are what the processor and state packages call; keep them.

import (
	"encoding/json"
	"time"
)

// Definition is a segment definition as written on the segments topic (SPEC §6).
type Definition struct {
	Workspace string  `json:"workspace"`
	ID        string  `json:"id"`
	Name      string  `json:"name,omitempty"`
	Groups    []Group `json:"groups"`
}

// Group is a conjunction of conditions; a definition's groups are ORed.
type Group struct {
	Conditions []Condition `json:"conditions"`
}

// Condition is one predicate on one field.
type Condition struct {
	Field        string          `json:"field"`
	Op           string          `json:"op"`
	Value        json.RawMessage `json:"value"`
	AutomationID string          `json:"automation_id,omitempty"`
}

// ParseDefinition decodes and validates a definition. A validation failure is a
// *ValidationError whose message names the JSON path (SPEC §6).
func ParseDefinition(data []byte) (*Definition, error) { panic("stub") }

// ValidationError is an invalid definition: Path like "groups[1].conditions[0].op".
type ValidationError struct {
	Path string
	Msg  string
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// RulesKey is a canonical encoding of the definition's rules: equal iff the rules are
// equal (the name does not count). A change of RulesKey is a new segment_version.
func (d *Definition) RulesKey() string { panic("stub") }

// Segment is a compiled definition.
type Segment struct {
	Def *Definition
}

// Compile compiles a validated definition.
func Compile(d *Definition) (*Segment, error) { panic("stub") }

// Match reports whether a matches the segment at now (false when a.Excluded).
func (s *Segment) Match(a *Attrs, now time.Time) bool { panic("stub") }

// RuleSet holds the compiled segments of one workspace and the predicate indexes over
// them. Immutable after NewRuleSet; safe for concurrent use.
type RuleSet struct{}

// NewRuleSet indexes segs; segment i of the set is segs[i].
func NewRuleSet(segs []*Segment) *RuleSet { panic("stub") }

func (rs *RuleSet) Len() int                    { panic("stub") }
func (rs *RuleSet) Segment(i int) *Segment      { panic("stub") }
func (rs *RuleSet) Index(id string) (int, bool) { panic("stub") }

// Affected appends to dst the indexes (ascending, unique) of the segments that contain
// a predicate whose outcome may differ between old and new at now: a superset of the
// segments whose match changed, found through the indexes (sorted thresholds for
// ordered fields), never by evaluating every segment. A change of Excluded affects all.
func (rs *RuleSet) Affected(old, new *Attrs, now time.Time, dst []int) []int { panic("stub") }

// MatchEmpty returns the segments that the zero Attrs (a brand-new contact) matches.
func (rs *RuleSet) MatchEmpty() []int { panic("stub") }

// TimeRelative returns the segments with a predicate whose outcome depends on now.
func (rs *RuleSet) TimeRelative() []int { panic("stub") }

// UsingField returns the segments with a condition on field (e.g. "purchased_collection").
func (rs *RuleSet) UsingField(field string) []int { panic("stub") }

// NextFlip returns the earliest instant after now at which a time-relative predicate
// of any segment of the set changes outcome for a, or the zero time if none will.
func (rs *RuleSet) NextFlip(a *Attrs, now time.Time) time.Time { panic("stub") }
