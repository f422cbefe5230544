package operators

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Validate checks d against SPEC §6 and returns the first problem as a
// *ValidationError naming its path. The workspace is checked lower-cased
// (ParseDefinition lower-cases it); whether the definition's key matches
// "<workspace>/<id>" is the caller's business.
func (d *Definition) Validate() error {
	_, err := compileGroups(d)
	return err
}

// validID reports whether id is 1–64 of [a-z0-9_-].
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validWorkspace reports whether ws looks like a shop domain: 1–255 printable ASCII
// characters other than space and "/" (the separator of segment keys).
func validWorkspace(ws string) bool {
	if len(ws) == 0 || len(ws) > 255 {
		return false
	}
	for i := 0; i < len(ws); i++ {
		if c := ws[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return false
		}
	}
	return true
}

// compileGroups validates d and compiles its conditions, group by group.
func compileGroups(d *Definition) ([][]cond, error) {
	switch ws := strings.ToLower(d.Workspace); {
	case ws == "":
		return nil, &ValidationError{Path: "workspace", Msg: "is required"}
	case !validWorkspace(ws):
		return nil, &ValidationError{Path: "workspace", Msg: fmt.Sprintf("%q is not a shop domain", d.Workspace)}
	}
	switch {
	case d.ID == "":
		return nil, &ValidationError{Path: "id", Msg: "is required"}
	case !validID(d.ID):
		return nil, &ValidationError{Path: "id", Msg: fmt.Sprintf("%q must be 1 to 64 characters of a-z, 0-9, _ and -", d.ID)}
	}
	if len(d.Groups) == 0 {
		return nil, &ValidationError{Path: "groups", Msg: "at least one group is required"}
	}
	n := 0
	for gi := range d.Groups {
		g := &d.Groups[gi]
		if len(g.Conditions) == 0 {
			return nil, &ValidationError{Path: groupPath(gi) + ".conditions", Msg: "a group needs at least one condition"}
		}
		if n+len(g.Conditions) > MaxConditions {
			return nil, &ValidationError{
				Path: condPath(gi, MaxConditions-n),
				Msg:  fmt.Sprintf("more than %d conditions in the definition", MaxConditions),
			}
		}
		n += len(g.Conditions)
	}
	groups := make([][]cond, len(d.Groups))
	for gi := range d.Groups {
		groups[gi] = make([]cond, len(d.Groups[gi].Conditions))
		for ci := range d.Groups[gi].Conditions {
			c := &d.Groups[gi].Conditions[ci]
			cc, err := compileCondition(condPath(gi, ci), c)
			if err != nil {
				return nil, err
			}
			if cc.field == fieldSegment && cc.pred.set[0] == d.ID {
				return nil, &ValidationError{Path: condPath(gi, ci) + ".value",
					Msg: fmt.Sprintf("segment %q references itself: %s → %s", d.ID, d.ID, d.ID)}
			}
			groups[gi][ci] = cond{pred: cc.pred, negate: cc.negate, field: cc.field, op: cc.op, src: c}
		}
	}
	return groups, nil
}

func groupPath(gi int) string { return "groups[" + strconv.Itoa(gi) + "]" }

func condPath(gi, ci int) string {
	return groupPath(gi) + ".conditions[" + strconv.Itoa(ci) + "]"
}

// compiledCondition is a validated condition: its predicate, and its canonical value
// for RulesKey.
type compiledCondition struct {
	field  field
	op     op
	pred   *pred
	negate bool
	canon  []byte // canonical JSON of the value
}

// compileCondition validates c (at path) and compiles it.
func compileCondition(path string, c *Condition) (*compiledCondition, error) {
	at := func(sub string) string {
		if path == "" {
			return sub
		}
		return path + "." + sub
	}
	if c.Field == "" {
		return nil, &ValidationError{Path: at("field"), Msg: "is required"}
	}
	f := parseField(c.Field)
	if f == fieldInvalid {
		return nil, &ValidationError{Path: at("field"), Msg: fmt.Sprintf("unknown field %q", c.Field)}
	}
	if c.Op == "" {
		return nil, &ValidationError{Path: at("op"), Msg: "is required"}
	}
	o := parseOp(c.Op)
	if !f.allows(o) {
		return nil, &ValidationError{Path: at("op"), Msg: fmt.Sprintf("%q is not allowed for field %q", c.Op, c.Field)}
	}
	if c.AutomationID != "" && f != fieldAutomationCompletions {
		return nil, &ValidationError{Path: at("automation_id"), Msg: `is only allowed for field "automation_completions"`}
	}
	if len(bytes.TrimSpace(c.Value)) == 0 {
		return nil, &ValidationError{Path: at("value"), Msg: "is required"}
	}
	v, err := decodeValue(c.Value)
	if err != nil {
		return nil, &ValidationError{Path: at("value"), Msg: "is not valid JSON", cause: err}
	}
	vc := valueCompiler{path: at("value"), f: f, o: o}
	p := &pred{}
	cc := &compiledCondition{field: f, op: o, pred: p, negate: o.negated()}
	if err := vc.compile(v, p, c.AutomationID, &cc.canon); err != nil {
		return nil, err
	}
	if len(c.InLastDays) > 0 {
		n, err := windowDays(at("in_last_days"), f, c.InLastDays)
		if err != nil {
			return nil, err
		}
		p.dim, _ = windowDim(p.dim)
		p.window = n
	}
	p.key = p.makeKey()
	return cc, nil
}
