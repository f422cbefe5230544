package operators

import (
	"time"
)

// Segment is a compiled definition. It is immutable and safe for concurrent use; its
// Def must not be modified after Compile.
type Segment struct {
	Def *Definition

	groups [][]cond // ORed groups of ANDed conditions, in definition order
	refs   []string // the segments it references, ascending
}

// cond is one compiled condition: true iff the value its pred reads is present and the
// pred's outcome differs from negate.
type cond struct {
	pred   *pred
	negate bool
	field  field
	op     op
	src    *Condition // the condition as written, for Explain
}

// eval returns the outcome of the condition for a at now.
func (c *cond) eval(a *Attrs, now time.Time) bool {
	outcome, present := c.pred.eval(a, now)
	return present && outcome != c.negate
}

// Compile validates d and compiles it. A validation failure is a *ValidationError.
func Compile(d *Definition) (*Segment, error) {
	groups, err := compileGroups(d)
	if err != nil {
		return nil, err
	}
	return &Segment{Def: d, groups: groups, refs: segmentRefs(groups)}, nil
}

// ID returns the segment's id.
func (s *Segment) ID() string { return s.Def.ID }

// Match reports whether a matches the segment at now (false when a.Excluded).
// It does not allocate.
func (s *Segment) Match(a *Attrs, now time.Time) bool {
	if a.Excluded {
		return false
	}
	for _, g := range s.groups {
		if matchGroup(g, a, now) {
			return true
		}
	}
	return false
}

func matchGroup(g []cond, a *Attrs, now time.Time) bool {
	for i := range g {
		if !g[i].eval(a, now) {
			return false
		}
	}
	return true
}

// TimeRelative reports whether the segment has a condition whose outcome depends on
// now (days since, in_last_days, more_than_days_ago, lifecycle_stage).
func (s *Segment) TimeRelative() bool {
	for _, g := range s.groups {
		for i := range g {
			if g[i].pred.dim.timeRelative() {
				return true
			}
		}
	}
	return false
}
