package operators

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
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
	// InLastDays makes a condition on a counter or a sum compare its value over the
	// last N days (SPEC §6 "Windows"); kept as written, judged by Validate.
	InLastDays json.RawMessage `json:"in_last_days,omitempty"`
}

// Key returns the definition's key on the segments topic, "<workspace>/<id>"
// (SPEC §3). Whether a record's key matches it is the caller's check.
func (d *Definition) Key() string { return d.Workspace + "/" + d.ID }

// MaxConditions is the largest number of conditions a definition may hold, over all
// of its groups (SPEC §6).
const MaxConditions = 100

// ValidationError is an invalid definition: Path like "groups[1].conditions[0].op",
// empty when the error concerns the document as a whole (e.g. unparseable JSON).
type ValidationError struct {
	Path string
	Msg  string

	cause error // the underlying decoding error, if any
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap returns the decoding error behind e, if any.
func (e *ValidationError) Unwrap() error { return e.cause }

// ParseDefinition decodes and validates a definition. A validation failure is a
// *ValidationError whose message names the JSON path (SPEC §6). Unknown and duplicate
// keys are rejected; the workspace is lower-cased; condition values are kept as
// written (compacted).
func ParseDefinition(data []byte) (*Definition, error) {
	d, err := decodeDefinition(data)
	if err != nil {
		return nil, err
	}
	d.Workspace = strings.ToLower(d.Workspace)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// RulesKey is a canonical encoding of the definition's rules: equal iff the rules are
// equal (the name does not count). A change of RulesKey is a new segment_version.
//
// The key is JSON: the groups, each a list of canonical conditions (values
// normalized: numbers without insignificant zeros, strings in the case they are
// compared in, string arrays sorted and deduplicated, timestamps in UTC, phones in
// E.164). Conditions within a group and the groups themselves are sorted and
// deduplicated, since AND and OR do not depend on order. Neither key order nor
// whitespace of the source JSON counts. A condition that does not validate is keyed by
// its raw value, so RulesKey never fails.
func (d *Definition) RulesKey() string {
	groups := make([]string, 0, len(d.Groups))
	for gi := range d.Groups {
		conds := make([]string, 0, len(d.Groups[gi].Conditions))
		for ci := range d.Groups[gi].Conditions {
			conds = append(conds, canonicalCondition(&d.Groups[gi].Conditions[ci]))
		}
		slices.Sort(conds)
		conds = slices.Compact(conds)
		groups = append(groups, "["+strings.Join(conds, ",")+"]")
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	return "[" + strings.Join(groups, ",") + "]"
}

// canonicalCondition encodes c canonically (see RulesKey).
func canonicalCondition(c *Condition) string {
	value := []byte(nil)
	if cc, err := compileCondition("", c); err == nil {
		value = cc.canon
	} else {
		var buf bytes.Buffer
		if json.Compact(&buf, c.Value) == nil {
			value = buf.Bytes()
		} else {
			value, _ = json.Marshal(string(c.Value))
		}
	}
	var b strings.Builder
	b.WriteString(`{"field":`)
	b.Write(jsonString(c.Field))
	b.WriteString(`,"op":`)
	b.Write(jsonString(c.Op))
	if len(value) > 0 {
		b.WriteString(`,"value":`)
		b.Write(value)
	}
	if c.AutomationID != "" {
		b.WriteString(`,"automation_id":`)
		b.Write(jsonString(c.AutomationID))
	}
	if len(c.InLastDays) > 0 {
		// Canonical when valid ("7.0" → 7); else as written, compacted.
		b.WriteString(`,"in_last_days":`)
		if n, err := windowDays("", parseField(c.Field), c.InLastDays); err == nil {
			b.WriteString(strconv.FormatInt(n, 10))
		} else {
			var buf bytes.Buffer
			if json.Compact(&buf, c.InLastDays) == nil {
				b.Write(buf.Bytes())
			} else {
				b.Write(jsonString(string(c.InLastDays)))
			}
		}
	}
	b.WriteString("}")
	return b.String()
}

// jsonString returns s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
