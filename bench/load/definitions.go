package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/segmentd/segmentd/operators"
)

// Pair is one (field, operator) combination the rule language allows.
type Pair struct{ Field, Op string }

var (
	numberOps = []string{"gt", "lt", "gte", "lte", "eq", "between"}
	dateOps   = []string{"before", "after", "between", "in_last_days", "more_than_days_ago"}
	enumOps   = []string{"is", "is_not", "in", "not_in"}
)

// fieldOps is the table of SPEC §6: every field and the operators it allows.
// TestPairsMatchOperators checks it against operators.ParseDefinition.
var fieldOps = []struct {
	field string
	ops   []string
}{
	{"phone", []string{"eq"}},
	{"list", []string{"in_list", "not_in_list"}},
	{"last_message_received_at", dateOps},
	{"last_engaged_at", dateOps},
	{"orders_count", numberOps},
	{"total_spent", numberOps},
	{"days_since_last_order", numberOps},
	{"days_since_first_order", numberOps},
	{"average_order_value", numberOps},
	{"messages_received", numberOps},
	{"messages_read", numberOps},
	{"automation_completions", numberOps},
	{"country", enumOps},
	{"language", enumOps},
	{"lifecycle_stage", enumOps},
	{"consent_status", []string{"is", "is_not"}},
	{"purchased_collection", []string{"in", "not_in"}},
	{"purchased_brand", []string{"in", "not_in"}},
	{"purchased_price_range", []string{"between", "not_between"}},
	{"tag", []string{"has", "has_not"}},
}

// Pairs returns every (field, operator) pair of SPEC §6, in table order.
func Pairs() []Pair {
	var out []Pair
	for _, f := range fieldOps {
		for _, o := range f.ops {
			out = append(out, Pair{f.field, o})
		}
	}
	return out
}

// Segment is one generated segment definition.
type Segment struct {
	Workspace string
	ID        string
	// Key is the segments-topic key "<workspace>/<id>"; Value the definition JSON.
	Key, Value []byte
	// Def is the parsed, validated definition.
	Def *operators.Definition
}

// DefinitionConfig configures Definitions.
type DefinitionConfig struct {
	// Workspaces are the shop domains to draw segments for.
	Workspaces []string
	// PerWorkspace is the number of segments of each workspace.
	PerWorkspace int
	// Seed makes the draw deterministic.
	Seed uint64
	// Now anchors absolute dates (before / after / between), which are drawn within
	// the 400 days before it. Zero means time.Now().
	Now time.Time
	// IDPrefix prefixes the segment ids; default "bench".
	IDPrefix string
}

// Definitions draws cfg.PerWorkspace random valid segment definitions for each of
// cfg.Workspaces. Conditions are dealt from one shuffled deck of all Pairs shared by
// every workspace, reshuffled when exhausted: with at least len(Pairs()) conditions in
// all, every pair occurs. A segment has 1–3 ORed groups of 1–3 ANDed conditions.
func Definitions(cfg DefinitionConfig) ([]Segment, error) {
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "bench"
	}
	d := &drawer{r: rand.New(rand.NewPCG(cfg.Seed, 0x5e9)), now: cfg.Now.UTC()}
	var out []Segment
	for _, ws := range cfg.Workspaces {
		for i := range cfg.PerWorkspace {
			id := fmt.Sprintf("%s-%03d", cfg.IDPrefix, i)
			s, err := d.segment(ws, id)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// condition is one condition as JSON.
type condition struct {
	Field        string `json:"field"`
	Op           string `json:"op"`
	Value        any    `json:"value"`
	AutomationID string `json:"automation_id,omitempty"`
}

type group struct {
	Conditions []condition `json:"conditions"`
}

type definition struct {
	Workspace string  `json:"workspace"`
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Groups    []group `json:"groups"`
}

type drawer struct {
	r    *rand.Rand
	now  time.Time
	deck []Pair
}

func (d *drawer) next() Pair {
	if len(d.deck) == 0 {
		d.deck = Pairs()
		d.r.Shuffle(len(d.deck), func(i, j int) { d.deck[i], d.deck[j] = d.deck[j], d.deck[i] })
	}
	p := d.deck[len(d.deck)-1]
	d.deck = d.deck[:len(d.deck)-1]
	return p
}

func (d *drawer) segment(ws, id string) (Segment, error) {
	def := definition{Workspace: ws, ID: id}
	ngroups := 1 + d.weighted(6, 3, 1)
	var name []byte
	for range ngroups {
		var g group
		for range 1 + d.weighted(4, 4, 2) {
			p := d.next()
			c := condition{Field: p.Field, Op: p.Op, Value: d.value(p)}
			if p.Field == "automation_completions" && d.r.IntN(2) == 0 {
				c.AutomationID = pick(d.r, automations)
			}
			g.Conditions = append(g.Conditions, c)
			if len(name) > 0 {
				name = append(name, ", "...)
			}
			name = append(name, p.Field+" "+p.Op...)
		}
		def.Groups = append(def.Groups, g)
	}
	def.Name = string(name)
	js, err := json.Marshal(def)
	if err != nil {
		return Segment{}, fmt.Errorf("encode definition %s/%s: %w", ws, id, err)
	}
	parsed, err := operators.ParseDefinition(js)
	if err != nil {
		return Segment{}, fmt.Errorf("generated definition %s/%s is invalid: %w\n%s", ws, id, err, js)
	}
	key := parsed.Key()
	return Segment{Workspace: parsed.Workspace, ID: id, Key: []byte(key), Value: js, Def: parsed}, nil
}

// weighted returns i with probability proportional to w[i].
func (d *drawer) weighted(w ...int) int {
	sum := 0
	for _, x := range w {
		sum += x
	}
	n := d.r.IntN(sum)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// some returns 1–3 distinct elements of xs.
func some(r *rand.Rand, xs []string) []string {
	n := 1 + r.IntN(3)
	perm := r.Perm(len(xs))
	out := make([]string, 0, n)
	for _, i := range perm[:min(n, len(xs))] {
		out = append(out, xs[i])
	}
	return out
}

// value draws a value for pair p from ranges that match the generator's data.
func (d *drawer) value(p Pair) any {
	r := d.r
	switch p.Field {
	case "phone":
		return fmt.Sprintf("+52 55 %04d %04d", r.IntN(10000), r.IntN(10000))
	case "list":
		return pick(r, lists)
	case "tag":
		return pick(r, tags)
	case "consent_status":
		return pick(r, consents)
	case "country":
		return enumValue(r, p.Op, countries)
	case "language":
		return enumValue(r, p.Op, languages)
	case "lifecycle_stage":
		return enumValue(r, p.Op, stages)
	case "purchased_collection":
		return some(r, collections)
	case "purchased_brand":
		return some(r, brands)
	case "purchased_price_range":
		lo := pick(r, []int{0, 10, 20, 30, 50, 80, 120})
		return []int{lo, lo + pick(r, []int{10, 20, 40, 80})}
	case "last_message_received_at", "last_engaged_at":
		return d.dateValue(p.Op)
	}
	var points []int
	switch p.Field {
	case "orders_count":
		points = []int{0, 1, 2, 3, 4, 5, 8}
	case "total_spent":
		points = []int{10, 25, 50, 100, 200, 300, 500, 1000}
	case "average_order_value":
		points = []int{10, 25, 40, 60, 100, 150}
	case "days_since_last_order", "days_since_first_order":
		points = []int{7, 14, 30, 60, 90, 180, 365}
	case "messages_received":
		points = []int{0, 1, 2, 3, 5, 8, 12, 20}
	case "messages_read":
		points = []int{0, 1, 2, 3, 5, 10}
	case "automation_completions":
		points = []int{0, 1, 2, 3, 5}
	}
	x := pick(r, points)
	if p.Op == "between" {
		return []int{x, x + pick(r, points)}
	}
	return x
}

func enumValue(r *rand.Rand, op string, xs []string) any {
	if op == "is" || op == "is_not" {
		return pick(r, xs)
	}
	return some(r, xs)
}

// dateValue draws the value of a date condition: a day count, or dates within the
// last 400 days, as "YYYY-MM-DD" or RFC 3339 at random.
func (d *drawer) dateValue(op string) any {
	r := d.r
	switch op {
	case "in_last_days":
		return pick(r, []int{1, 3, 7, 14, 30, 60, 90})
	case "more_than_days_ago":
		return pick(r, []int{7, 14, 30, 60, 90, 180})
	}
	format := func(daysAgo int) string {
		t := d.now.Add(-time.Duration(daysAgo*24+r.IntN(24)) * time.Hour)
		if r.IntN(2) == 0 {
			return t.Format(time.DateOnly)
		}
		return t.Format(time.RFC3339)
	}
	if op == "between" {
		// At least two days apart, so that a date and a timestamp never invert.
		older := 3 + r.IntN(397)
		return []string{format(older), format(r.IntN(older - 2))}
	}
	return format(r.IntN(400))
}
