package operators

import (
	"encoding/json"
	"time"

	"github.com/govalues/decimal"
)

// Explanation says why a contact matches a segment or not: each group's and
// condition's outcome with the values compared (the admin API's explain).
type Explanation struct {
	Segment  string             `json:"segment"`
	Now      time.Time          `json:"now"`
	Match    bool               `json:"match"`
	Excluded bool               `json:"excluded,omitempty"` // an excluded contact matches nothing
	Groups   []GroupExplanation `json:"groups"`
}

// GroupExplanation is the outcome of one group: true iff all its conditions are.
type GroupExplanation struct {
	Match      bool                   `json:"match"`
	Conditions []ConditionExplanation `json:"conditions"`
}

// ConditionExplanation is the outcome of one condition.
type ConditionExplanation struct {
	Field        string          `json:"field"`
	Op           string          `json:"op"`
	Value        json.RawMessage `json:"value"` // as written in the definition
	AutomationID string          `json:"automation_id,omitempty"`
	// Actual is the contact's value that was compared, JSON-ready: a string, an int64
	// (counts and days since), a json.Number (money), an RFC 3339 string (instants),
	// a []string or []json.Number (sets), a bool (a segment reference: whether the
	// contact is a member of the referenced segment); nil when the value is absent.
	Actual any  `json:"actual"`
	Absent bool `json:"absent,omitempty"` // the value is absent: the condition is false
	Match  bool `json:"match"`

	// Windowed conditions (in_last_days on a counter or a sum): Actual is the value
	// over the window; WindowCount is how many items (orders, messages, completions)
	// are in the window, and NextChange the instant the earliest of them leaves it,
	// i.e. when the windowed value next changes by time alone (absent when the window
	// is empty).
	InLastDays  json.RawMessage `json:"in_last_days,omitempty"` // as written in the definition
	WindowCount *int64          `json:"window_count,omitempty"`
	NextChange  *time.Time      `json:"next_change,omitempty"`
}

// Explain evaluates s for a at now, condition by condition. Its Match equals
// s.Match(a, now).
func Explain(s *Segment, a *Attrs, now time.Time) Explanation {
	e := Explanation{Segment: s.ID(), Now: now, Excluded: a.Excluded, Groups: make([]GroupExplanation, len(s.groups))}
	for gi, g := range s.groups {
		ge := GroupExplanation{Match: true, Conditions: make([]ConditionExplanation, len(g))}
		for ci := range g {
			c := &g[ci]
			outcome, present := c.pred.eval(a, now)
			ce := ConditionExplanation{
				Field:        c.src.Field,
				Op:           c.src.Op,
				Value:        c.src.Value,
				AutomationID: c.src.AutomationID,
				Absent:       !present,
				Match:        present && outcome != c.negate,
			}
			if present {
				ce.Actual = actualValue(c.pred, a, now)
			}
			if c.pred.dim.windowed() {
				ws := windowState(c.pred, a, now)
				ce.InLastDays = c.src.InLastDays
				ce.WindowCount = &ws.Count
				if !ws.NextChange.IsZero() {
					t := ws.NextChange.UTC()
					ce.NextChange = &t
				}
			}
			ge.Match = ge.Match && ce.Match
			ge.Conditions[ci] = ce
		}
		e.Groups[gi] = ge
		e.Match = e.Match || ge.Match
	}
	e.Match = e.Match && !a.Excluded
	return e
}

// actualValue returns the value p reads from a, JSON-ready (see ConditionExplanation).
func actualValue(p *pred, a *Attrs, now time.Time) any {
	switch d := p.dim; {
	case d == dimSpentWindow:
		return decimalNumber(windowSpent(p.window, a, now))
	case d.windowed():
		return windowCount(d, p.automation, p.window, a, now)
	case d <= lastStringDim:
		v, _ := stringValue(d, a, now)
		return v
	case d == dimSegments:
		return MemberOf(a.Segments, p.set[0]) // the contact's membership of the referenced segment
	case d >= firstSetDim && d <= lastSetDim:
		return append([]string{}, setValue(d, a)...)
	case d == dimPrices:
		out := make([]json.Number, len(a.PurchasedPrices))
		for i, x := range a.PurchasedPrices {
			out[i] = decimalNumber(x)
		}
		return out
	case d >= firstIntDim && d <= lastIntDim:
		v, _ := intValue(d, p.automation, a, now)
		return v
	case d >= firstDecDim && d <= lastDecDim:
		v, _ := decValue(d, a)
		return decimalNumber(v)
	default:
		return timeValue(d, a).UTC().Format(time.RFC3339Nano)
	}
}

func decimalNumber(d decimal.Decimal) json.Number { return json.Number(d.String()) }
