package operators

import (
	"fmt"
	"slices"
	"strings"
)

// Segment references (SPEC §6): {"field": "segment", "op": "in_segment", "value":
// "vip"} matches the current members of segment vip of the same workspace, which the
// evaluator passes in Attrs.Segments. The references of a workspace's definitions in
// force form a DAG no deeper than MaxReferenceDepth; CheckReferences rejects a
// definition that would break that, and DependencyOrder orders a workspace's segments
// so that each comes after every segment it references: evaluating them in that order
// sees every referenced membership final.

// MaxReferenceDepth is the largest number of references on a chain of segments
// referencing one another (a references b references c … is a chain of depth 2 from
// a to c).
const MaxReferenceDepth = 8

// References returns the ids of the segments d's valid segment conditions reference,
// ascending and unique.
func (d *Definition) References() []string {
	var out []string
	for gi := range d.Groups {
		for ci := range d.Groups[gi].Conditions {
			if id, ok := referenceOf(&d.Groups[gi].Conditions[ci]); ok {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// referenceOf returns the id a condition references, if it is a valid segment
// condition.
func referenceOf(c *Condition) (string, bool) {
	if parseField(c.Field) != fieldSegment {
		return "", false
	}
	cc, err := compileCondition("", c)
	if err != nil {
		return "", false
	}
	return cc.pred.set[0], true
}

// References returns the ids of the segments s references, ascending and unique.
// The slice is shared: do not modify it.
func (s *Segment) References() []string { return s.refs }

// segmentRefs returns the ids the compiled groups reference, ascending and unique.
func segmentRefs(groups [][]cond) []string {
	var out []string
	for _, g := range groups {
		for i := range g {
			if g[i].pred.dim == dimSegments {
				out = append(out, g[i].pred.set[0])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DependencyOrder returns segs ordered so that every segment comes after the
// segments of segs it references; segments that do not depend on one another keep
// their order in segs. Segments of one RuleSet are expected in this order: then
// evaluating ascending indexes is evaluating in dependency order, and Referencing
// returns indexes after the referenced segment's. References that would form a cycle
// (CheckReferences keeps them out) are ignored from the first segment of the cycle
// in segs order.
func DependencyOrder(segs []*Segment) []*Segment {
	idx := make(map[string]int, len(segs))
	for i, s := range segs {
		if _, dup := idx[s.ID()]; !dup {
			idx[s.ID()] = i
		}
	}
	out := make([]*Segment, 0, len(segs))
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]uint8, len(segs))
	var visit func(i int)
	visit = func(i int) {
		if state[i] != unvisited {
			return
		}
		state[i] = visiting
		for _, id := range segs[i].refs {
			if j, ok := idx[id]; ok {
				visit(j)
			}
		}
		state[i] = done
		out = append(out, segs[i])
	}
	for i := range segs {
		visit(i)
	}
	return out
}

// CheckReferences checks that the segment references of d keep the references of its
// workspace's definitions in force (inForce; a definition of d's id among them is the
// one d replaces, and definitions of other workspaces are ignored) acyclic and no
// deeper than MaxReferenceDepth. A problem is a *ValidationError naming the condition
// that causes it and the cycle or chain, e.g. `groups[0].conditions[1].value: segment
// "b" closes a cycle of segment references: a → b → a`. A reference to a segment that does not exist is
// valid: it has no members.
func CheckReferences(d *Definition, inForce []*Definition) error {
	refs := map[string][]string{d.ID: d.References()}
	for _, x := range inForce {
		if x == nil || x.ID == d.ID || !strings.EqualFold(x.Workspace, d.Workspace) {
			continue
		}
		refs[x.ID] = x.References()
	}
	if len(refs[d.ID]) == 0 {
		return nil
	}
	// Cycles: a path from a referenced segment back to d.
	for gi := range d.Groups {
		for ci := range d.Groups[gi].Conditions {
			id, ok := referenceOf(&d.Groups[gi].Conditions[ci])
			if !ok {
				continue
			}
			if path := findPath(refs, id, d.ID, map[string]bool{}); path != nil {
				chain := append([]string{d.ID}, path...)
				return &ValidationError{Path: condPath(gi, ci) + ".value",
					Msg: fmt.Sprintf("segment %q closes a cycle of segment references: %s", id, strings.Join(chain, " → "))}
			}
		}
	}
	// Depth: the longest chain through d is the longest chain of segments referencing
	// d, then d, then the longest chain from the segment d references.
	down := map[string][]string{}
	var longestFrom func(id string) []string // the longest chain starting at id
	longestFrom = func(id string) []string {
		if c, ok := down[id]; ok {
			return c
		}
		best := []string{id}
		for _, r := range refs[id] {
			if c := longestFrom(r); len(c)+1 > len(best) {
				best = append([]string{id}, c...)
			}
		}
		down[id] = best
		return best
	}
	referencing := map[string][]string{}
	for id, rs := range refs {
		for _, r := range rs {
			referencing[r] = append(referencing[r], id)
		}
	}
	for _, ids := range referencing {
		slices.Sort(ids)
	}
	up := map[string][]string{}
	var longestTo func(id string) []string // the longest chain ending at id
	longestTo = func(id string) []string {
		if c, ok := up[id]; ok {
			return c
		}
		best := []string{id}
		for _, r := range referencing[id] {
			if c := longestTo(r); len(c)+1 > len(best) {
				best = append(slices.Clone(c), id)
			}
		}
		up[id] = best
		return best
	}
	above := longestTo(d.ID)
	for gi := range d.Groups {
		for ci := range d.Groups[gi].Conditions {
			id, ok := referenceOf(&d.Groups[gi].Conditions[ci])
			if !ok {
				continue
			}
			chain := append(slices.Clone(above), longestFrom(id)...)
			if depth := len(chain) - 1; depth > MaxReferenceDepth {
				return &ValidationError{Path: condPath(gi, ci) + ".value",
					Msg: fmt.Sprintf("segment %q makes a chain of segment references deeper than %d: %s",
						id, MaxReferenceDepth, strings.Join(chain, " → "))}
			}
		}
	}
	return nil
}

// findPath returns a path of references from `from` to `to` (both included), nil if
// there is none. Referenced segments are tried in ascending order.
func findPath(refs map[string][]string, from, to string, seen map[string]bool) []string {
	if from == to {
		return []string{to}
	}
	if seen[from] {
		return nil
	}
	seen[from] = true
	for _, r := range refs[from] {
		if p := findPath(refs, r, to, seen); p != nil {
			return append([]string{from}, p...)
		}
	}
	return nil
}

// HasReferences reports whether a segment of the set references another segment.
func (rs *RuleSet) HasReferences() bool { return len(rs.referencing) > 0 }

// Referencing returns the segments of the set that reference segment id (which need
// not be of the set: a deleted segment is still referenced), ascending; in a set
// built in DependencyOrder they all come after id's own index. The slice is shared:
// do not modify it.
func (rs *RuleSet) Referencing(id string) []int { return rs.referencing[id] }

// indexReferences builds rs.referencing.
func (rs *RuleSet) indexReferences() {
	for si, s := range rs.segs {
		for _, id := range s.refs {
			if rs.referencing == nil {
				rs.referencing = map[string][]int{}
			}
			rs.referencing[id] = append(rs.referencing[id], si)
		}
	}
}

// MemberOf reports whether the sorted ids hold id (for Attrs.Segments).
func MemberOf(ids []string, id string) bool {
	_, found := slices.BinarySearch(ids, id)
	return found
}
