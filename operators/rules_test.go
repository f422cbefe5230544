package operators

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestData runs the rule-semantics files of testdata/*.txt (see datadriven_test.go
// for the file format; -rewrite regenerates expected output). Commands:
//
//	reset                      forget every defined segment
//	rule id=ID                 define a one-workspace segment from condition lines
//	                           "<field> <op> <json value> [automation_id=<id>]
//	                           [in_last_days=<json>]";
//	                           a line "or" starts the next group
//	define                     define a segment from its JSON
//	parse [quiet]              validate JSON only: its RulesKey (quiet: "ok"), or the
//	                           error
//	match [now=T]              per contact line "label: attrs": the matching segments
//	explain segment=ID [now=T] the explanation for one contact
//	affected [now=T]           lines "old: attrs" and "new: attrs": Affected, and the
//	                           segments whose match really changed
//	next-flip [now=T]          per contact line: NextFlip, as an instant and from now
//	ruleset                    MatchEmpty, TimeRelative, predicate count
//	check                      CheckReferences of a definition (JSON, or condition
//	                           lines with id=ID) against the defined segments,
//	                           which it joins when valid
//	order                      the defined segments in DependencyOrder, and for each
//	                           the segments Referencing it
//	members [now=T]            per contact line (without segments=): the segments it
//	                           is a member of, evaluated in dependency order with the
//	                           memberships found so far, checked against a fixpoint
//	                           of the reference model
//
// Every match also checks the compiled evaluation against the reference model, Explain
// against Match, and Affected(zero, contact) against the match change.
func TestData(t *testing.T) {
	for _, path := range ddFiles(t, "*.txt") {
		t.Run(strings.TrimSuffix(path[len("testdata/"):], ".txt"), func(t *testing.T) {
			r := &ddRunner{}
			runDDFile(t, path, r.run)
		})
	}
}

type ddRunner struct {
	segs []*Segment
	rs   *RuleSet // nil after a change of segs
}

func (r *ddRunner) ruleSet() *RuleSet {
	if r.rs == nil {
		r.rs = NewRuleSet(r.segs)
	}
	return r.rs
}

func (r *ddRunner) add(s *Segment) {
	r.rs = nil
	for i, old := range r.segs {
		if old.ID() == s.ID() {
			r.segs[i] = s
			return
		}
	}
	r.segs = append(r.segs, s)
}

func (r *ddRunner) run(t *testing.T, c *ddCase) string {
	now, err := parseNow(c)
	if err != nil {
		t.Fatalf("%s: %v", c.pos, err)
	}
	switch c.cmd {
	case "reset":
		r.segs, r.rs = nil, nil
		return "ok"
	case "rule":
		js, err := ruleJSON(c.args["id"], c.input)
		if err != nil {
			t.Fatalf("%s: %v", c.pos, err)
		}
		return r.define(js)
	case "define":
		return r.define([]byte(strings.Join(c.input, "\n")))
	case "parse":
		d, err := ParseDefinition([]byte(strings.Join(c.input, "\n")))
		if err != nil {
			return "error: " + validationMessage(t, c, err)
		}
		if _, quiet := c.args["quiet"]; quiet {
			return "ok"
		}
		return "rules-key: " + d.RulesKey()
	case "match":
		return r.match(t, c, now)
	case "explain":
		return r.explain(t, c, now)
	case "affected":
		return r.affected(t, c, now)
	case "next-flip":
		return r.nextFlip(t, c, now)
	case "check":
		return r.check(t, c)
	case "order":
		return r.order()
	case "members":
		return r.members(t, c, now)
	case "ruleset":
		rs := r.ruleSet()
		return fmt.Sprintf("segments: %s\nmatch-empty: %s\ntime-relative: %s\npredicates: %d",
			r.ids(rs.all), r.ids(rs.MatchEmpty()), r.ids(rs.TimeRelative()), rs.Predicates())
	}
	t.Fatalf("%s: unknown command %q", c.pos, c.cmd)
	return ""
}

// validationMessage returns err's text, failing the test unless it is a
// *ValidationError.
func validationMessage(t *testing.T, c *ddCase, err error) string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: error %v is a %T, not a *ValidationError", c.pos, err, err)
	}
	return err.Error()
}

// ruleJSON builds a definition from the condition-line shorthand of "rule".
func ruleJSON(id string, lines []string) ([]byte, error) {
	type cond struct {
		Field        string          `json:"field"`
		Op           string          `json:"op"`
		Value        json.RawMessage `json:"value"`
		AutomationID string          `json:"automation_id,omitempty"`
		InLastDays   json.RawMessage `json:"in_last_days,omitempty"`
	}
	type group struct {
		Conditions []cond `json:"conditions"`
	}
	groups := []group{{}}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "or" {
			groups = append(groups, group{})
			continue
		}
		parts := strings.SplitN(l, " ", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("bad condition line %q", l)
		}
		c := cond{Field: parts[0], Op: parts[1]}
		value := parts[2]
		if i := strings.LastIndex(value, " in_last_days="); i >= 0 {
			value, c.InLastDays = value[:i], json.RawMessage(value[i+len(" in_last_days="):])
		}
		if i := strings.LastIndex(value, " automation_id="); i >= 0 {
			value, c.AutomationID = value[:i], value[i+len(" automation_id="):]
		}
		c.Value = json.RawMessage(value)
		groups[len(groups)-1].Conditions = append(groups[len(groups)-1].Conditions, c)
	}
	return json.Marshal(map[string]any{"workspace": "acme.myshopify.com", "id": id, "groups": groups})
}

func (r *ddRunner) define(js []byte) string {
	d, err := ParseDefinition(js)
	if err != nil {
		return "error: " + err.Error()
	}
	s, err := Compile(d)
	if err != nil {
		return "error: compile after parse: " + err.Error()
	}
	r.add(s)
	return "ok"
}

// ids renders segment indexes as their ids.
func (r *ddRunner) ids(idx []int) string {
	if len(idx) == 0 {
		return "none"
	}
	var out []string
	for _, i := range idx {
		out = append(out, r.segs[i].ID())
	}
	return strings.Join(out, " ")
}

// contactLines parses "label: attrs" lines.
func contactLines(t *testing.T, c *ddCase, now time.Time) (labels []string, attrs []*Attrs) {
	for _, l := range c.input {
		label, spec, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("%s: contact line %q is not \"label: attrs\"", c.pos, l)
		}
		a, err := parseAttrs(spec, now)
		if err != nil {
			t.Fatalf("%s: %q: %v", c.pos, l, err)
		}
		labels, attrs = append(labels, strings.TrimSpace(label)), append(attrs, a)
	}
	return labels, attrs
}

func (r *ddRunner) match(t *testing.T, c *ddCase, now time.Time) string {
	rs := r.ruleSet()
	labels, attrs := contactLines(t, c, now)
	var b strings.Builder
	for i, a := range attrs {
		var matched []int
		for si, s := range r.segs {
			m := s.Match(a, now)
			if ref := refMatch(s.Def, a, now); m != ref {
				t.Errorf("%s: %s: segment %s: Match=%v, reference model says %v", c.pos, labels[i], s.ID(), m, ref)
			}
			if e := Explain(s, a, now); e.Match != m {
				t.Errorf("%s: %s: segment %s: Explain.Match=%v, Match=%v", c.pos, labels[i], s.ID(), e.Match, m)
			}
			if m {
				matched = append(matched, si)
			}
		}
		// A brand-new contact moves from "member of nothing" via MatchEmpty.
		aff := rs.Affected(&Attrs{}, a, now, nil)
		for si := range r.segs {
			_, inEmpty := slices.BinarySearch(rs.MatchEmpty(), si)
			_, isMatched := slices.BinarySearch(matched, si)
			if _, found := slices.BinarySearch(aff, si); inEmpty != isMatched && !found {
				t.Errorf("%s: %s: segment %s changed from the empty contact but Affected = %v", c.pos, labels[i], r.segs[si].ID(), aff)
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", labels[i], r.ids(matched))
	}
	return b.String()
}

func (r *ddRunner) explain(t *testing.T, c *ddCase, now time.Time) string {
	rs := r.ruleSet()
	si, ok := rs.Index(c.args["segment"])
	if !ok {
		t.Fatalf("%s: no segment %q", c.pos, c.args["segment"])
	}
	_, attrs := contactLines(t, c, now)
	var b strings.Builder
	for _, a := range attrs {
		e := Explain(rs.Segment(si), a, now)
		fmt.Fprintf(&b, "match: %v", e.Match)
		if e.Excluded {
			b.WriteString(" (excluded)")
		}
		b.WriteString("\n")
		for gi, g := range e.Groups {
			fmt.Fprintf(&b, "group %d: %v\n", gi, g.Match)
			for _, ce := range g.Conditions {
				actual := "absent"
				if !ce.Absent {
					js, err := json.Marshal(ce.Actual)
					if err != nil {
						t.Fatalf("%s: marshal actual: %v", c.pos, err)
					}
					actual = string(js)
				}
				auto := ""
				if ce.AutomationID != "" {
					auto = " automation_id=" + ce.AutomationID
				}
				if len(ce.InLastDays) > 0 {
					auto += " in_last_days=" + string(ce.InLastDays)
				}
				fmt.Fprintf(&b, "  %s %s %s%s: actual %s -> %v\n", ce.Field, ce.Op, ce.Value, auto, actual, ce.Match)
				if ce.WindowCount != nil {
					next := "none"
					if ce.NextChange != nil {
						next = ce.NextChange.Format(time.RFC3339Nano) + " (now+" + formatDays(ce.NextChange.Sub(now)) + ")"
					}
					fmt.Fprintf(&b, "    window: %d in it, next change %s\n", *ce.WindowCount, next)
				}
			}
		}
		if _, err := json.Marshal(e); err != nil {
			t.Errorf("%s: explanation does not marshal: %v", c.pos, err)
		}
	}
	return b.String()
}

func (r *ddRunner) affected(t *testing.T, c *ddCase, now time.Time) string {
	rs := r.ruleSet()
	labels, attrs := contactLines(t, c, now)
	if len(attrs) != 2 || labels[0] != "old" || labels[1] != "new" {
		t.Fatalf("%s: affected wants lines \"old: …\" and \"new: …\"", c.pos)
	}
	old, new := attrs[0], attrs[1]
	aff := rs.Affected(old, new, now, nil)
	var changed []int
	for si, s := range r.segs {
		if s.Match(old, now) != s.Match(new, now) {
			changed = append(changed, si)
			if _, ok := slices.BinarySearch(aff, si); !ok {
				t.Errorf("%s: segment %s changed but is not in Affected %v", c.pos, s.ID(), aff)
			}
		}
	}
	return fmt.Sprintf("affected: %s\nchanged: %s", r.ids(aff), r.ids(changed))
}

func (r *ddRunner) nextFlip(t *testing.T, c *ddCase, now time.Time) string {
	rs := r.ruleSet()
	labels, attrs := contactLines(t, c, now)
	var b strings.Builder
	for i, a := range attrs {
		at := rs.NextFlip(a, now)
		if at.IsZero() {
			fmt.Fprintf(&b, "%s: none\n", labels[i])
			continue
		}
		fmt.Fprintf(&b, "%s: %s (now+%s)\n", labels[i], at.UTC().Format(time.RFC3339Nano), formatDays(at.Sub(now)))
	}
	return b.String()
}

// formatDays renders d as "60d23h59m0s"-style text.
func formatDays(d time.Duration) string {
	days := d / Day
	rest := d % Day
	if days == 0 {
		return rest.String()
	}
	return fmt.Sprintf("%dd%s", days, rest)
}
