package processor

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testseed"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// TestIncrementalMatchesReference runs random event streams and random definitions
// (changed mid-stream) through the processor, and compares every contact's sequence
// of transitions per segment, and its final memberships, with a reference that
// evaluates every segment from scratch after every event. It runs fixed seeds and a
// fresh one (logged; with -short the fresh one alone); SEGMENTD_TEST_SEED=<seed> go
// test ./processor -run '^TestIncrementalMatchesReference$' reruns one.
func TestIncrementalMatchesReference(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		fixed := []uint64{1, 2}
		if testing.Short() {
			fixed = nil // the fresh seed alone: a seed takes ~6s, mostly waiting
		}
		testseed.Run(t, testseed.Seeds(t, fixed, 1), func(t *testing.T, seed uint64) {
			runReferenceComparison(t, b, seed)
		})
	})
}

// refModel is the reference: contacts applied with the same state package, and every
// segment evaluated from scratch after every change.
type refModel struct {
	now      time.Time
	contacts map[string]*state.Contact
	defs     map[string]*operators.Segment // by segment id
	member   map[string]bool               // "key|segment" → member
	seq      map[string][]string           // "key|segment" → "+"/"-" sequence
	why      map[string][]string           // "key|segment" → what caused each transition
	cause    string                        // what is being applied now
	total    int
}

func newRefModel(now time.Time) *refModel {
	return &refModel{now: now, contacts: map[string]*state.Contact{}, defs: map[string]*operators.Segment{},
		member: map[string]bool{}, seq: map[string][]string{}, why: map[string][]string{}}
}

func (m *refModel) reevaluate(key string) {
	c := m.contacts[key]
	var a operators.Attrs
	alive := c != nil && !c.IsNew() && !c.IsTombstone()
	if alive {
		a = c.Attrs(ws, emptyCatalog{}, "exclude_from_galantis")
	}
	// Segments reference only lower ids (randomDefinition): ascending ids evaluate
	// every segment after the ones it references, with their memberships as they are
	// now.
	ids := make([]string, 0, len(m.defs))
	for id := range m.defs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a.Segments = a.Segments[:0]
		for _, other := range ids {
			if m.member[key+"|"+other] {
				a.Segments = append(a.Segments, other)
			}
		}
		m.set(key, id, alive && m.defs[id].Match(&a, m.now))
	}
}

func (m *refModel) set(key, segID string, match bool) {
	k := key + "|" + segID
	if m.member[k] == match {
		return
	}
	m.member[k] = match
	sign := "-"
	if match {
		sign = "+"
	}
	m.seq[k] = append(m.seq[k], sign)
	m.why[k] = append(m.why[k], sign+m.cause)
	m.total++
}

func (m *refModel) apply(key string, ev *events.Event) {
	c := m.contacts[key]
	if c == nil {
		c = &state.Contact{}
		m.contacts[key] = c
	}
	c.Apply(ev, m.now)
	m.reevaluate(key)
}

func (m *refModel) putDef(id string, def string) {
	if def == "" {
		delete(m.defs, id)
		for k := range m.member {
			if strings.HasSuffix(k, "|"+id) && m.member[k] {
				m.set(strings.TrimSuffix(k, "|"+id), id, false)
			}
		}
		for key := range m.contacts { // the segments referencing it follow
			m.reevaluate(key)
		}
		return
	}
	d, err := operators.ParseDefinition([]byte(def))
	if err != nil {
		panic(err)
	}
	s, err := operators.Compile(d)
	if err != nil {
		panic(err)
	}
	m.defs[id] = s
	for key := range m.contacts {
		m.reevaluate(key)
	}
}

type emptyCatalog struct{}

func (emptyCatalog) Collections(string, string) []string { return nil }

func runReferenceComparison(t *testing.T, b *kafkatest.Broker, seed uint64) {
	h := newHarness(t, b)
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	ref := newRefModel(h.now())
	phases := 3
	nContacts := 12
	eventsPerPhase := 120
	if testing.Short() {
		eventsPerPhase = 60
	}
	for phase := 0; phase < phases; phase++ {
		// Definitions: create or change a few, sometimes delete one.
		for i := 0; i < 4; i++ {
			id := fmt.Sprintf("s%d", rng.IntN(6))
			def := ""
			if rng.IntN(6) > 0 || phase == 0 {
				def = randomDefinition(rng, id)
			}
			h.putSegment(ws, id, def)
			ref.cause = fmt.Sprintf("def(%s,deleted=%v)", id, def == "")
			ref.putDef(id, def)
			// No wait: every version takes effect in topic order, however quickly
			// the next one follows (SPEC §6 "Order of definitions").
		}
		// The definitions travel on another topic: give the processor time to read
		// them before the events that the reference evaluates under them.
		time.Sleep(500 * time.Millisecond)
		for i := 0; i < eventsPerPhase; i++ {
			cid := int64(1 + rng.IntN(nContacts))
			key := fmt.Sprintf("%s/%d", ws, cid)
			delivery := fmt.Sprintf("p%d-e%d", phase, i)
			topic, payload := randomEvent(rng, cid, h.now())
			if rng.IntN(10) == 0 && i > 0 { // a redelivery of the previous event id
				delivery = fmt.Sprintf("p%d-e%d", phase, i-1)
			}
			value := fmt.Sprintf(`{"topic":%q,"shop":%q,"id":%q,"occurred_at":%q,"payload":%s}`,
				topic, ws, delivery, h.now().Add(time.Duration(i)*time.Second).Format(time.RFC3339), payload)
			h.produce(key, []byte(value))
			ev, err := events.Decode(&events.Record{Key: []byte(key), Value: []byte(value), Timestamp: h.now()}, nil)
			if err != nil {
				t.Fatalf("generated event does not decode: %v\n%s", err, value)
			}
			ref.cause = topic + "/" + delivery
			ref.apply(key, ev)
		}
		h.waitOutputs(ref.total)
	}
	time.Sleep(300 * time.Millisecond)
	h.out.Lock()
	got := map[string][]string{}
	gotWhy := map[string][]string{}
	for _, r := range h.out.membership {
		k := r.Key + "|" + r.T.SegmentID
		sign := "-"
		if r.T.Type == TypeAdded {
			sign = "+"
		}
		got[k] = append(got[k], sign)
		gotWhy[k] = append(gotWhy[k], sign+r.T.Reason+string(r.T.Cause))
	}
	h.out.Unlock()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range ref.seq {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	bad := 0
	for _, k := range sorted {
		if !slices.Equal(got[k], ref.seq[k]) {
			bad++
			t.Errorf("%s: processor %v, reference %v\n  processor: %v\n  reference: %v", k, got[k], ref.seq[k], gotWhy[k], ref.why[k])
		}
	}
	t.Logf("seed %d: %d transitions over %d contact-segment pairs, %d mismatches", seed, ref.total, len(sorted), bad)
	checkPreviews(t, h, ref, rng)
	// Again after a restart on the same store: the indexes are rebuilt by the load.
	h.stop()
	h.start()
	checkPreviews(t, h, ref, rng)
}

// checkPreviews compares the previews, computed as bitmap algebra over the attribute
// indexes that the processor maintained through the stream, with the reference's
// evaluation of every contact: of each live definition (also as a change preview
// against the reference's memberships) and of a few new random ones.
func checkPreviews(t *testing.T, h *harness, ref *refModel, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	var defs []*operators.Definition
	for _, id := range slices.Sorted(maps.Keys(ref.defs)) {
		defs = append(defs, ref.defs[id].Def)
	}
	for i := range 4 {
		d, err := operators.ParseDefinition([]byte(randomDefinition(rng, fmt.Sprintf("new%d", i))))
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	now := h.now()
	for _, d := range defs {
		seg, err := operators.Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		var match, enter, leave []int64
		members := 0
		for key, c := range ref.contacts {
			cid := customerIDOf(key)
			in := false
			if c != nil && !c.IsNew() && !c.IsTombstone() {
				a := c.Attrs(ws, emptyCatalog{}, "exclude_from_galantis")
				for _, id := range slices.Sorted(maps.Keys(ref.defs)) { // for segment references
					if ref.member[key+"|"+id] {
						a.Segments = append(a.Segments, id)
					}
				}
				in = seg.Match(&a, now)
			}
			member := ref.member[key+"|"+d.ID]
			if member {
				members++
			}
			switch {
			case in && !member:
				enter = append(enter, cid)
			case member && !in:
				leave = append(leave, cid)
			}
			if in {
				match = append(match, cid)
			}
		}
		for _, xs := range [][]int64{match, enter, leave} {
			slices.Sort(xs)
		}
		count, ids, _, err := h.proc.Preview(ctx, d, 1000)
		if err != nil || count != int64(len(match)) || !slices.Equal(ids, match) && (len(ids) > 0 || len(match) > 0) {
			t.Errorf("preview of %s: %d %v (%v), reference %d %v\nrules %s", d.ID, count, ids, err, len(match), match, d.RulesKey())
		}
		if _, live := ref.defs[d.ID]; !live {
			continue
		}
		cp, _, err := h.proc.PreviewChange(ctx, ws, d.ID, d, 1000)
		if err != nil || cp.Members != int64(members) || cp.Matching != int64(len(match)) ||
			!slices.Equal(cp.SampleEntering, append([]int64{}, enter...)) && len(enter)+len(cp.SampleEntering) > 0 ||
			!slices.Equal(cp.SampleLeaving, append([]int64{}, leave...)) && len(leave)+len(cp.SampleLeaving) > 0 {
			t.Errorf("change preview of %s: %+v (%v), reference members %d matching %d entering %v leaving %v",
				d.ID, cp, err, members, len(match), enter, leave)
		}
	}
}

// waitOutputs waits (up to 20s) until the processor produced n transitions in
// total; the comparison that follows reports any difference.
func (h *harness) waitOutputs(n int) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		h.out.Lock()
		got := len(h.out.membership)
		h.out.Unlock()
		if got >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
}

var (
	propCountries = []string{"MX", "US", "CO"}
	propTags      = []string{"vip", "a", "b", "exclude_from_galantis"}
	propLists     = []string{"l1", "l2"}
	propVendors   = []string{"Acme", "Bolt", "Cora"}
	propCities    = []string{"Monterrey", " monterrey ", "Bogotá", "Austin"}
	propProvinces = []string{"NL", "cdmx", "TX"}
	propDomains   = []string{"example.com", "Gmail.com", "mail.mx"}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func randomDefinition(rng *rand.Rand, id string) string {
	conds := []func() string{
		func() string {
			return fmt.Sprintf(`{"field":"total_spent","op":%q,"value":%d}`, pick(rng, []string{"gt", "lt", "gte", "lte"}), 50*rng.IntN(6))
		},
		func() string {
			return fmt.Sprintf(`{"field":"orders_count","op":"between","value":[%d,%d]}`, rng.IntN(2), 1+rng.IntN(3))
		},
		func() string {
			return fmt.Sprintf(`{"field":"country","op":%q,"value":%q}`, pick(rng, []string{"is", "is_not"}), pick(rng, propCountries))
		},
		func() string {
			return fmt.Sprintf(`{"field":"tag","op":%q,"value":%q}`, pick(rng, []string{"has", "has_not"}), pick(rng, propTags[:3]))
		},
		func() string {
			return fmt.Sprintf(`{"field":"list","op":%q,"value":%q}`, pick(rng, []string{"in_list", "not_in_list"}), pick(rng, propLists))
		},
		func() string {
			return fmt.Sprintf(`{"field":"purchased_brand","op":%q,"value":[%q]}`, pick(rng, []string{"in", "not_in"}), pick(rng, propVendors))
		},
		func() string { return fmt.Sprintf(`{"field":"messages_received","op":"gte","value":%d}`, rng.IntN(3)) },
		func() string {
			return fmt.Sprintf(`{"field":"days_since_last_order","op":%q,"value":%d}`, pick(rng, []string{"gt", "lte"}), 30*rng.IntN(4))
		},
		func() string {
			return fmt.Sprintf(`{"field":"consent_status","op":"is","value":%q}`, pick(rng, []string{"yes", "no", "unknown"}))
		},
		func() string {
			return fmt.Sprintf(`{"field":"lifecycle_stage","op":"in","value":[%q,%q]}`, "lead", pick(rng, []string{"first_time_buyer", "repeat_buyer", "lapsed"}))
		},
		func() string {
			return fmt.Sprintf(`{"field":"average_order_value","op":"gte","value":%d}`, 40*rng.IntN(4))
		},
		func() string {
			return fmt.Sprintf(`{"field":"purchased_price_range","op":%q,"value":[10,60]}`, pick(rng, []string{"between", "not_between"}))
		},
		// The attributes of issue 17: consent, address, email domain and dates.
		func() string {
			return fmt.Sprintf(`{"field":"email_consent_status","op":%q,"value":%q}`, pick(rng, []string{"is", "is_not"}), pick(rng, []string{"yes", "no", "unknown"}))
		},
		func() string {
			if rng.IntN(2) == 0 {
				return fmt.Sprintf(`{"field":"city","op":%q,"value":%q}`, pick(rng, []string{"is", "is_not"}), pick(rng, propCities))
			}
			return fmt.Sprintf(`{"field":"city","op":%q,"value":[%q,%q]}`, pick(rng, []string{"in", "not_in"}), pick(rng, propCities), pick(rng, propCities))
		},
		func() string {
			return fmt.Sprintf(`{"field":"province","op":%q,"value":[%q]}`, pick(rng, []string{"in", "not_in"}), pick(rng, propProvinces))
		},
		func() string {
			return fmt.Sprintf(`{"field":"email_domain","op":%q,"value":%q}`, pick(rng, []string{"is", "is_not"}), pick(rng, propDomains))
		},
		func() string {
			f := pick(rng, []string{"first_order_at", "last_order_at", "customer_created_at"})
			switch rng.IntN(3) {
			case 0:
				return fmt.Sprintf(`{"field":%q,"op":"in_last_days","value":%d}`, f, 30*(1+rng.IntN(4)))
			case 1:
				return fmt.Sprintf(`{"field":%q,"op":"more_than_days_ago","value":%d}`, f, 30*rng.IntN(4))
			}
			return fmt.Sprintf(`{"field":%q,"op":%q,"value":%q}`, f, pick(rng, []string{"before", "after"}), "2026-09-01")
		},
		// Windows (SPEC §6): over orders up to 200 days old, messages up to 20,
		// completions up to 40.
		func() string {
			return fmt.Sprintf(`{"field":"orders_count","op":%q,"value":%d,"in_last_days":%d}`, pick(rng, []string{"gte", "lt"}), 1+rng.IntN(2), pick(rng, []int{7, 30, 90, 365}))
		},
		func() string {
			return fmt.Sprintf(`{"field":"total_spent","op":%q,"value":%d,"in_last_days":%d}`, pick(rng, []string{"gt", "lte"}), 50*rng.IntN(5), pick(rng, []int{30, 180}))
		},
		func() string {
			return fmt.Sprintf(`{"field":%q,"op":"gte","value":%d,"in_last_days":%d}`, pick(rng, []string{"messages_received", "messages_read"}), 1+rng.IntN(2), pick(rng, []int{3, 10, 90}))
		},
		func() string {
			auto := ""
			if rng.IntN(2) == 0 {
				auto = fmt.Sprintf(`,"automation_id":%q`, pick(rng, []string{"welcome", "winback"}))
			}
			return fmt.Sprintf(`{"field":"automation_completions","op":"gte","value":1%s,"in_last_days":%d}`, auto, pick(rng, []int{5, 30}))
		},
	}
	// A reference to a lower segment id: the references form a random DAG (SPEC §6
	// segment references), up to 5 deep. Drawn as often as two other kinds.
	ref := func() string {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "s"))
		if n == 0 {
			return `{"field":"orders_count","op":"gte","value":1}`
		}
		return fmt.Sprintf(`{"field":"segment","op":%q,"value":"s%d"}`, pick(rng, []string{"in_segment", "not_in_segment"}), rng.IntN(n))
	}
	conds = append(conds, ref, ref)
	var groups []string
	for g := 0; g < 1+rng.IntN(2); g++ {
		var cs []string
		for c := 0; c < 1+rng.IntN(3); c++ {
			cs = append(cs, pick(rng, conds)())
		}
		groups = append(groups, `{"conditions":[`+strings.Join(cs, ",")+`]}`)
	}
	return fmt.Sprintf(`{"workspace":%q,"id":%q,"groups":[%s]}`, ws, id, strings.Join(groups, ","))
}

func randomEvent(rng *rand.Rand, cid int64, now time.Time) (topic, payload string) {
	ts := func(daysAgo int) string {
		return now.Add(-time.Duration(daysAgo) * 24 * time.Hour).Format(time.RFC3339)
	}
	switch rng.IntN(10) {
	case 0:
		if rng.IntN(2) == 0 {
			return "customers/update", fmt.Sprintf(`{"id":%d,"email":"c%d@example.com","default_address":{"country_code":%q},"tags":%q}`,
				cid, cid, pick(rng, propCountries), pick(rng, propTags[:3]))
		}
		// The address members and the email of issue 17's attributes, some absent
		// (kept) or null (cleared).
		addr := fmt.Sprintf(`{"country_code":%q,"city":%q,"province_code":%q}`, pick(rng, propCountries), pick(rng, propCities), pick(rng, propProvinces))
		switch rng.IntN(4) {
		case 0:
			addr = "null"
		case 1:
			addr = fmt.Sprintf(`{"city":%q,"province_code":null}`, pick(rng, propCities))
		}
		return "customers/update", fmt.Sprintf(`{"id":%d,"email":"C%d@%s","created_at":%q,"default_address":%s}`,
			cid, cid, pick(rng, propDomains), ts(rng.IntN(400)), addr)
	case 9:
		return "customers_email_marketing_consent/update", fmt.Sprintf(`{"customer_id":%d,"email_marketing_consent":{"state":%q,"consent_updated_at":%q}}`,
			cid, pick(rng, []string{"subscribed", "unsubscribed", "pending", "invalid", "not_subscribed"}), now.Add(time.Duration(rng.IntN(1000))*time.Second).Format(time.RFC3339))
	case 1, 2:
		order := 100*cid + int64(rng.IntN(4))
		cancelled := "null"
		if rng.IntN(5) == 0 {
			cancelled = fmt.Sprintf("%q", ts(0))
		}
		return "orders/updated", fmt.Sprintf(`{"id":%d,"customer":{"id":%d},"created_at":%q,"updated_at":%q,"cancelled_at":%s,"test":%v,"total_price":"%d.50","line_items":[{"product_id":%d,"vendor":%q,"price":"%d.00","quantity":1}]}`,
			order, cid, ts(rng.IntN(200)), now.Add(time.Duration(rng.IntN(1000))*time.Second).Format(time.RFC3339), cancelled, rng.IntN(8) == 0, 10+rng.IntN(150), rng.IntN(5), pick(rng, propVendors), 5+rng.IntN(80))
	case 3:
		t := "customer.tags_added"
		if rng.IntN(2) == 0 {
			t = "customer.tags_removed"
		}
		return t, fmt.Sprintf(`{"customerId":"gid://shopify/Customer/%d","tags":[%q]}`, cid, pick(rng, propTags))
	case 4:
		t := "lists/member_added"
		if rng.IntN(3) == 0 {
			t = "lists/member_removed"
		}
		return t, fmt.Sprintf(`{"customer_id":%d,"list_id":%q}`, cid, pick(rng, propLists))
	case 5:
		return "messages/status", fmt.Sprintf(`{"customer_id":%d,"message_id":"m%d","status":%q,"timestamp":%q}`,
			cid, rng.IntN(4), pick(rng, []string{"sent", "delivered", "read", "failed"}), ts(rng.IntN(20)))
	case 6:
		return "customers_marketing_consent/update", fmt.Sprintf(`{"id":%d,"sms_marketing_consent":{"state":%q,"consent_updated_at":%q}}`,
			cid, pick(rng, []string{"subscribed", "unsubscribed", "pending"}), now.Add(time.Duration(rng.IntN(1000))*time.Second).Format(time.RFC3339))
	case 7:
		if rng.IntN(2) == 0 {
			return "automations/completed", fmt.Sprintf(`{"customer_id":%d,"automation_id":%q,"completed_at":%q}`,
				cid, pick(rng, []string{"welcome", "winback"}), ts(rng.IntN(40)))
		}
		return "orders/delete", fmt.Sprintf(`{"id":%d}`, 100*cid+int64(rng.IntN(4)))
	default:
		if rng.IntN(4) == 0 {
			return "customers/delete", fmt.Sprintf(`{"id":%d}`, cid)
		}
		return "contacts/lifecycle_stage_set", fmt.Sprintf(`{"customer_id":%d,"stage":%s}`, cid, pick(rng, []string{`"lapsed"`, "null"}))
	}
}
