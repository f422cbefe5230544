package operators

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/testseed"
)

// check is the data-driven "check" command: CheckReferences of one definition
// against the defined segments (the definitions in force).
func (r *ddRunner) check(t *testing.T, c *ddCase) string {
	js := []byte(strings.Join(c.input, "\n"))
	if id, ok := c.args["id"]; ok {
		var err error
		if js, err = ruleJSON(id, c.input); err != nil {
			t.Fatalf("%s: %v", c.pos, err)
		}
	}
	d, err := ParseDefinition(js)
	if err != nil {
		return "error: " + validationMessage(t, c, err)
	}
	var inForce []*Definition
	for _, s := range r.segs {
		inForce = append(inForce, s.Def)
	}
	if err := CheckReferences(d, inForce); err != nil {
		return "error: " + validationMessage(t, c, err)
	}
	s, err := Compile(d)
	if err != nil {
		t.Fatalf("%s: compile: %v", c.pos, err)
	}
	r.add(s)
	return "ok"
}

// order is the data-driven "order" command.
func (r *ddRunner) order() string {
	segs := DependencyOrder(r.segs)
	rs := NewRuleSet(segs)
	var b strings.Builder
	for i, s := range segs {
		var by []string
		for _, j := range rs.Referencing(s.ID()) {
			by = append(by, segs[j].ID())
		}
		fmt.Fprintf(&b, "%d %s: references [%s] referenced by [%s]\n", i, s.ID(), strings.Join(s.References(), " "), strings.Join(by, " "))
	}
	return b.String()
}

// members is the data-driven "members" command.
func (r *ddRunner) members(t *testing.T, c *ddCase, now time.Time) string {
	segs := DependencyOrder(r.segs)
	labels, attrs := contactLines(t, c, now)
	var b strings.Builder
	for i, a := range attrs {
		got := evalInOrder(segs, a, now)
		var defs []*Definition
		for _, s := range r.segs {
			defs = append(defs, s.Def)
		}
		if want := refFixpoint(defs, a, now); !slices.Equal(got, want) {
			t.Errorf("%s: %s: members in dependency order %v, reference fixpoint %v", c.pos, labels[i], got, want)
		}
		out := "none"
		if len(got) > 0 {
			out = strings.Join(got, " ")
		}
		fmt.Fprintf(&b, "%s: %s\n", labels[i], out)
	}
	return b.String()
}

// evalInOrder evaluates segs (in dependency order) for a, each with the memberships
// of the ones before, and returns the ids matched, ascending.
func evalInOrder(segs []*Segment, a *Attrs, now time.Time) []string {
	b := *a
	b.Segments = nil
	for _, s := range segs {
		if s.Match(&b, now) {
			b.Segments = append(b.Segments, s.ID())
			slices.Sort(b.Segments)
		}
	}
	return b.Segments
}

// refFixpoint is the reference model of memberships with references: start from no
// memberships and re-evaluate every definition with the memberships of the previous
// round until nothing changes (an acyclic set settles within its depth + 1 rounds).
func refFixpoint(defs []*Definition, a *Attrs, now time.Time) []string {
	b := *a
	b.Segments = nil
	for range len(defs) + 2 {
		var next []string
		for _, d := range defs {
			if refMatch(d, &b, now) {
				next = append(next, d.ID)
			}
		}
		slices.Sort(next)
		if slices.Equal(next, b.Segments) {
			break
		}
		b.Segments = next
	}
	return b.Segments
}

// TestPropertyReferences checks, for random DAGs of segments referencing one another
// (given in a random order), that evaluating DependencyOrder once agrees with the
// reference model's fixpoint, and that incremental evaluation — Affected between two
// states, then the segments Referencing each segment whose membership changed,
// in ascending index order — ends with the same memberships and transitions.
func TestPropertyReferences(t *testing.T) {
	sets, pairs := 300, 30
	if testing.Short() || raceEnabled {
		sets = 50
	}
	transitions := 0
	for _, seed := range testseed.Range(t, sets) {
		r := rand.New(rand.NewPCG(seed, 3))
		n := 1 + r.IntN(10)
		var defs []*Definition
		var segs []*Segment
		for i := range n {
			id := fmt.Sprintf("s%d", i)
			d, err := ParseDefinition(genDefinitionJSONRefs(r, id, i))
			if err != nil {
				t.Fatalf("seed %d: random definition does not parse: %v", seed, err)
			}
			s, _ := Compile(d)
			if err := CheckReferences(d, defs); err != nil && !strings.Contains(err.Error(), "deeper") {
				t.Fatalf("seed %d: a DAG is rejected: %v", seed, err)
			}
			defs, segs = append(defs, d), append(segs, s)
		}
		r.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
		ordered := DependencyOrder(segs)
		rs := NewRuleSet(ordered)
		for i, s := range ordered {
			for _, j := range rs.Referencing(s.ID()) {
				if j <= i {
					t.Fatalf("seed %d: %s (index %d) is referenced by index %d, not after it", seed, s.ID(), i, j)
				}
			}
		}
		for range pairs {
			now := genNow(r)
			old := genAttrs(r, now)
			new := mutateAttrs(r, old, now)
			if r.IntN(4) == 0 {
				new = genAttrs(r, now)
			}
			old.Segments, new.Segments = nil, nil
			before := evalInOrder(ordered, old, now)
			if want := refFixpoint(defs, old, now); !slices.Equal(before, want) {
				t.Fatalf("seed %d: members %v, reference fixpoint %v\nrules %v", seed, before, want, ruleKeys(defs))
			}
			want := refFixpoint(defs, new, now)
			// Incremental: the candidates of the attribute change, plus the segments
			// referencing one whose membership changed, ascending.
			cur := *new
			cur.Segments = slices.Clone(before)
			oldView := *old
			oldView.Segments = before
			cand := rs.Affected(&oldView, &cur, now, nil)
			changed := 0
			for k := 0; k < len(cand); k++ {
				s := ordered[cand[k]]
				m := s.Match(&cur, now)
				if m == MemberOf(cur.Segments, s.ID()) {
					continue
				}
				changed++
				if m {
					cur.Segments = append(cur.Segments, s.ID())
					slices.Sort(cur.Segments)
				} else {
					cur.Segments = slices.DeleteFunc(cur.Segments, func(x string) bool { return x == s.ID() })
				}
				for _, j := range rs.Referencing(s.ID()) {
					if !slices.Contains(cand, j) {
						at, _ := slices.BinarySearch(cand[k+1:], j)
						cand = slices.Insert(cand, k+1+at, j)
					}
				}
			}
			if !slices.Equal(cur.Segments, want) && !(len(cur.Segments) == 0 && len(want) == 0) {
				t.Fatalf("seed %d: incremental members %v, reference %v\nrules %v\nold %+v\nnew %+v", seed, cur.Segments, want, ruleKeys(defs), *old, *new)
			}
			transitions += changed
		}
	}
	t.Logf("transitions: %d", transitions)
}

// genDefinitionJSONRefs is genDefinitionJSON whose conditions reference, now and
// then, an earlier segment s0…s(i-1) or a missing one: a random DAG.
func genDefinitionJSONRefs(r *rand.Rand, id string, i int) []byte {
	d, err := ParseDefinition(genDefinitionJSON(r, id))
	if err != nil {
		panic(err)
	}
	for gi := range d.Groups {
		for ci := range d.Groups[gi].Conditions {
			c := &d.Groups[gi].Conditions[ci]
			if r.IntN(2) == 0 {
				continue
			}
			target := "missing"
			if i > 0 && r.IntN(5) != 0 {
				target = fmt.Sprintf("s%d", r.IntN(i))
			}
			*c = Condition{Field: "segment", Op: pick(r, []string{"in_segment", "not_in_segment"}), Value: []byte(`"` + target + `"`)}
		}
	}
	js, _ := json.Marshal(d)
	return js
}

// TestPropertyCheckReferences checks CheckReferences against brute force on random
// graphs: a definition is rejected iff, with it replacing its id's definition, the
// references have a cycle or a chain of more than MaxReferenceDepth references.
func TestPropertyCheckReferences(t *testing.T) {
	for _, seed := range testseed.Range(t, 300) {
		r := rand.New(rand.NewPCG(seed, 4))
		n := 2 + r.IntN(12)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("s%d", i)
		}
		// A valid set in force: a random DAG on ids (references to lower ids).
		var inForce []*Definition
		for i := range n {
			var refs []string
			for range r.IntN(3) {
				if i > 0 {
					refs = append(refs, ids[r.IntN(i)])
				}
			}
			d := refsDefinition(ids[i], refs)
			if CheckReferences(d, inForce) != nil {
				continue // too deep: not in force
			}
			inForce = append(inForce, d)
		}
		// A new definition of a random id with random references.
		id := ids[r.IntN(n)]
		if r.IntN(4) == 0 {
			id = "new"
		}
		var refs []string
		for range 1 + r.IntN(3) {
			if x := ids[r.IntN(n)]; x != id {
				refs = append(refs, x)
			}
		}
		d := refsDefinition(id, refs)
		err := CheckReferences(d, inForce)
		graph := map[string][]string{}
		for _, x := range inForce {
			if x.ID != id {
				graph[x.ID] = x.References()
			}
		}
		graph[id] = d.References()
		cyclic, depth := bruteGraph(graph)
		wantErr := cyclic || depth > MaxReferenceDepth
		if (err != nil) != wantErr {
			t.Fatalf("seed %d: CheckReferences = %v; brute force: cycle %v, depth %d\ngraph %v", seed, err, cyclic, depth, graph)
		}
		if err != nil {
			msg := err.Error()
			if cyclic && !strings.Contains(msg, "cycle") || !cyclic && !strings.Contains(msg, "deeper") || !strings.HasPrefix(msg, "groups[0].conditions[") {
				t.Fatalf("seed %d: error %q does not name the condition and the cycle or chain", seed, msg)
			}
		}
	}
}

// refsDefinition returns a valid definition of id whose only conditions are
// in_segment references to refs (or one on orders_count without refs).
func refsDefinition(id string, refs []string) *Definition {
	d := &Definition{Workspace: "acme.myshopify.com", ID: id, Groups: []Group{{}}}
	for _, x := range refs {
		d.Groups[0].Conditions = append(d.Groups[0].Conditions, Condition{Field: "segment", Op: "in_segment", Value: []byte(`"` + x + `"`)})
	}
	if len(refs) == 0 {
		d.Groups[0].Conditions = []Condition{{Field: "orders_count", Op: "gt", Value: []byte("1")}}
	}
	return d
}

// bruteGraph reports whether graph has a cycle and, if not, the largest number of
// references on one chain.
func bruteGraph(graph map[string][]string) (cyclic bool, depth int) {
	var longest func(id string, path []string) int
	longest = func(id string, path []string) int {
		if slices.Contains(path, id) {
			cyclic = true
			return 0
		}
		best := 0
		for _, x := range graph[id] {
			best = max(best, 1+longest(x, append(path, id)))
		}
		return best
	}
	for id := range graph {
		depth = max(depth, longest(id, nil))
	}
	return cyclic, depth
}
