package processor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The generator of the metamorphic suite (metamorphic_test.go): a seeded program of
// phases, each a clock advance, records of the segments and catalog topics, and
// records of the events topic. Nothing here models the expected output: the suite
// compares the outputs of configurations with each other.

// mmTopic says which input topic a generated record goes to.
type mmTopic int

const (
	mmEvents mmTopic = iota
	mmSegments
	mmCatalog
)

// mmRecord is one generated input record. A nil Value is a tombstone (segments,
// catalog) or a null value (events: a bad record).
type mmRecord struct {
	Topic   mmTopic
	Key     string
	Value   []byte
	Headers []kgo.RecordHeader
}

// mmPhase: the clock moves by Advance, then Globals are produced and applied by
// every partition, then Events are produced and consumed.
type mmPhase struct {
	Advance time.Duration
	Globals []mmRecord
	Events  []mmRecord
}

type mmProgram struct {
	Options mmGenOptions
	Seed    uint64
	Start   time.Time
	Phases  []mmPhase
}

// mmGenOptions shape a program.
type mmGenOptions struct {
	Phases         int
	EventsPerPhase int
	Contacts       int // per workspace
	// SameSegmentTwice lets one phase carry several versions of one segment
	// (changes, deletion, re-creation) back to back: SPEC §6 "Order of definitions"
	// requires each to take effect whatever the batching. On in mmGenFor.
	SameSegmentTwice bool
	// BatchCatalog lets the catalog records of a phase reach the processor
	// together (one poll) in the configurations that do not pace global records,
	// against those that apply them one at a time: every record is a step applied in
	// topic order against the catalog as of it (SPEC §4.3), so the outputs must agree.
	// On by default; before that fix, a contact's catalog transition could name the
	// wrong product and a change undone by the next one in the same poll emitted
	// nothing.
	BatchCatalog bool

	long bool // the long mode's sizes (SEGMENTD_METAMORPHIC_DURATION)
}

// mmGenFlags are the generator options that SEGMENTD_METAMORPHIC_GEN turns on
// (comma-separated names).
var mmGenFlags = map[string]func(*mmGenOptions) *bool{
	"same-segment-twice": func(o *mmGenOptions) *bool { return &o.SameSegmentTwice },
	"batch-catalog":      func(o *mmGenOptions) *bool { return &o.BatchCatalog },
}

// setFlags turns on the named options.
func (o *mmGenOptions) setFlags(names string) error {
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		f := mmGenFlags[n]
		if f == nil {
			return fmt.Errorf("unknown generator option %q", n)
		}
		*f(o) = true
	}
	return nil
}

// envString is the SEGMENTD_METAMORPHIC_GEN setting of o's flags ("" if none), for
// reproduction commands.
func (o mmGenOptions) envString() string {
	var on []string
	for n, f := range mmGenFlags {
		if *f(&o) {
			on = append(on, n)
		}
	}
	if len(on) == 0 {
		return ""
	}
	slices.Sort(on)
	return "SEGMENTD_METAMORPHIC_GEN=" + strings.Join(on, ",") + " "
}

var (
	mmWorkspaces  = []string{"acme.myshopify.com", "bolt.myshopify.com"}
	mmSegmentIDs  = []string{"s0", "s1", "s2", "s3", "s4", "s5"}
	mmProducts    = []string{"9001", "9002", "9003", "9004", "9005"}
	mmCollections = []string{"summer", "shoes", "sale"}
	mmTags        = []string{"vip", "wholesale", "b2b", "vip", "wholesale", "b2b", "vip", "wholesale", "b2b", "Exclude_From_Galantis"}
	mmLists       = []string{"l1", "l2", "news"}
	mmVendors     = []string{"Acme", "Bolt", "Cora"}
	mmAutomations = []string{"welcome", "winback"}
	mmCountries   = []string{"MX", "US", "co"}
	mmDomains     = []string{"example.com", "mail.mx"}
	mmCities      = []string{"Monterrey", "Ciudad de México", "Austin"}
	mmProvinces   = []string{"NL", "CDMX", "TX"}
)

// generate builds the program of a seed.
func generate(seed uint64, o mmGenOptions) *mmProgram {
	g := &mmGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), o: o,
		live: map[string]bool{}, defs: map[string]string{}, seq: map[string]int{}}
	prog := &mmProgram{Options: o, Seed: seed, Start: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	g.now = prog.Start
	for i := 0; i < o.Phases; i++ {
		var ph mmPhase
		if i > 0 {
			// Days (so that day-based rules flip with reason "time"), sometimes
			// hours only.
			ph.Advance = time.Duration(g.rng.IntN(12))*time.Hour + time.Duration(g.rng.IntN(5))*time.Minute
			if g.rng.IntN(3) > 0 {
				ph.Advance += time.Duration(1+g.rng.IntN(45)) * 24 * time.Hour
			}
			g.now = g.now.Add(ph.Advance)
		}
		g.phase = i
		ph.Globals = g.globals(i == 0)
		ph.Events = g.events()
		prog.Phases = append(prog.Phases, ph)
	}
	return prog
}

type mmGen struct {
	rng   *rand.Rand
	o     mmGenOptions
	now   time.Time
	phase int
	live  map[string]bool   // "<ws>/<segment>" defined
	defs  map[string]string // "<ws>/<segment>" → its latest definition
	seq   map[string]int    // deliveries per contact key, for delivery ids
	n     int               // records generated, for unique ids
}

func (g *mmGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *mmGen) chance(n int) bool { return g.rng.IntN(n) == 0 }

// globals: definitions created, changed, deleted and re-created; catalog entries put
// and removed; invalid records of both topics.
func (g *mmGen) globals(first bool) []mmRecord {
	var out []mmRecord
	n := 2 + g.rng.IntN(4)
	if first {
		n = 6
	}
	touched := map[string]bool{}
	for i := 0; i < n; i++ {
		w := g.pick(mmWorkspaces)
		id := g.pick(mmSegmentIDs)
		if first {
			w, id = mmWorkspaces[i%2], mmSegmentIDs[i/2]
		}
		key := w + "/" + id
		if touched[key] && !g.o.SameSegmentTwice {
			continue
		}
		touched[key] = true
		switch {
		case g.live[key] && g.chance(4):
			out = append(out, mmRecord{Topic: mmSegments, Key: key}) // delete
			g.live[key] = false
		case g.chance(9):
			out = append(out, g.badDefinition(w, id))
		default:
			g.defs[key] = g.definition(w, id)
			out = append(out, mmRecord{Topic: mmSegments, Key: key, Value: []byte(g.defs[key])})
			g.live[key] = true
		}
	}
	// Sometimes re-send a live definition with the same rules under another name:
	// no output.
	if g.chance(3) {
		w, id := g.pick(mmWorkspaces), g.pick(mmSegmentIDs)
		if key := w + "/" + id; g.live[key] && !touched[key] {
			g.n++
			v := strings.Replace(g.defs[key], `"name":"gen `, fmt.Sprintf(`"name":"renamed %d `, g.n), 1)
			out = append(out, mmRecord{Topic: mmSegments, Key: key, Value: []byte(v)})
		}
	}
	for i := 0; i < 1+g.rng.IntN(3); i++ {
		w, p := g.pick(mmWorkspaces), g.pick(mmProducts)
		key := w + "/product/" + p
		switch {
		case g.chance(5):
			out = append(out, mmRecord{Topic: mmCatalog, Key: key})
		case g.chance(10):
			out = append(out, mmRecord{Topic: mmCatalog, Key: key, Value: []byte(`{"workspace":"other.myshopify.com","product_id":"` + p + `","collections":["x"]}`)})
		case g.chance(10):
			out = append(out, mmRecord{Topic: mmCatalog, Key: key, Value: []byte(`{"workspace":`)})
		default:
			var cs []string
			for _, c := range mmCollections {
				if g.chance(2) {
					cs = append(cs, fmt.Sprintf("%q", c))
				}
			}
			out = append(out, mmRecord{Topic: mmCatalog, Key: key, Value: []byte(fmt.Sprintf(
				`{"workspace":%q,"product_id":%q,"collections":[%s]}`, w, p, strings.Join(cs, ",")))})
		}
	}
	return out
}

func (g *mmGen) badDefinition(w, id string) mmRecord {
	key := w + "/" + id
	var v string
	switch g.rng.IntN(4) {
	case 0:
		v = fmt.Sprintf(`{"workspace":%q,"id":%q,"groups":[{"conditions":[{"field":"shoe_size","op":"gt","value":3}]}]}`, w, id)
	case 1:
		v = fmt.Sprintf(`{"workspace":%q,"id":%q,"groups":[{"conditions":[{"field":"country","op":"gt","value":"MX"}]}]}`, w, id)
	case 2:
		v = fmt.Sprintf(`{"workspace":%q,"id":"other","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`, w)
	default:
		v = `{"workspace":` // not JSON
	}
	return mmRecord{Topic: mmSegments, Key: key, Value: []byte(v)}
}

// definition returns a valid definition of segment id; a reference to another
// segment only points to a lower id, so that no cycle can form.
func (g *mmGen) definition(w, id string) string {
	var groups []string
	for i := 0; i < 1+g.rng.IntN(2); i++ {
		var cs []string
		for j := 0; j < 1+g.rng.IntN(3)/2; j++ {
			cs = append(cs, g.condition(id))
		}
		groups = append(groups, `{"conditions":[`+strings.Join(cs, ",")+`]}`)
	}
	g.n++
	return fmt.Sprintf(`{"workspace":%q,"id":%q,"name":"gen %d","groups":[%s]}`, w, id, g.n, strings.Join(groups, ","))
}

func (g *mmGen) condition(id string) string {
	num := func(field string, hi int) string {
		op := g.pick([]string{"gt", "lt", "gte", "lte", "eq"})
		if g.chance(4) {
			lo := g.rng.IntN(hi)
			return fmt.Sprintf(`{"field":%q,"op":"between","value":[%d,%d]}`, field, lo, lo+g.rng.IntN(hi))
		}
		return fmt.Sprintf(`{"field":%q,"op":%q,"value":%d}`, field, op, g.rng.IntN(hi))
	}
	date := func(field string) string {
		switch g.rng.IntN(4) {
		case 0:
			return fmt.Sprintf(`{"field":%q,"op":"in_last_days","value":%d}`, field, 1+g.rng.IntN(60))
		case 1:
			return fmt.Sprintf(`{"field":%q,"op":"more_than_days_ago","value":%d}`, field, g.rng.IntN(60))
		case 2:
			return fmt.Sprintf(`{"field":%q,"op":"after","value":%q}`, field, g.now.Add(-time.Duration(g.rng.IntN(90))*24*time.Hour).Format("2006-01-02"))
		default:
			return fmt.Sprintf(`{"field":%q,"op":"before","value":%q}`, field, g.now.Add(-time.Duration(g.rng.IntN(90))*24*time.Hour).Format(time.RFC3339))
		}
	}
	str := func(field string, values []string) string {
		if g.chance(3) {
			return fmt.Sprintf(`{"field":%q,"op":%q,"value":[%q,%q]}`, field, g.pick([]string{"in", "not_in"}), g.pick(values), g.pick(values))
		}
		return fmt.Sprintf(`{"field":%q,"op":%q,"value":%q}`, field, g.pick([]string{"is", "is_not"}), g.pick(values))
	}
	// Time-relative and catalog conditions are drawn more often than the rest, so
	// that reasons "time" and "catalog" are common.
	weighted := []int{0, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7, 8, 8, 9, 10, 10, 10, 11, 11, 12, 12, 13, 14, 14, 15,
		16, 16, 16, 16, 17, 18, 19, 20, 21, 22, 23, 23}
	c := weighted[g.rng.IntN(len(weighted))]
	switch c {
	case 0:
		return num("orders_count", 4)
	case 1:
		return num("total_spent", 300)
	case 2:
		return num("days_since_last_order", 120)
	case 3:
		return num("days_since_first_order", 200)
	case 4:
		return num("average_order_value", 150)
	case 5:
		return num("messages_received", 3)
	case 6:
		return num("messages_read", 3)
	case 7:
		return fmt.Sprintf(`{"field":"automation_completions","op":"gte","value":%d,"automation_id":%q}`, 1+g.rng.IntN(2), g.pick(mmAutomations))
	case 8:
		if g.chance(3) {
			return fmt.Sprintf(`{"field":"total_spent","op":%q,"value":%d,"in_last_days":%d}`, g.pick([]string{"gt", "lt"}), 50+g.rng.IntN(200), 1+g.rng.IntN(60))
		}
		return fmt.Sprintf(`{"field":"orders_count","op":%q,"value":%d,"in_last_days":%d}`, g.pick([]string{"gte", "lt"}), 1+g.rng.IntN(2), 1+g.rng.IntN(60))
	case 9:
		switch g.rng.IntN(3) {
		case 0:
			return fmt.Sprintf(`{"field":"messages_read","op":"gte","value":1,"in_last_days":%d}`, 1+g.rng.IntN(30))
		case 1:
			return fmt.Sprintf(`{"field":"automation_completions","op":"gte","value":1,"automation_id":%q,"in_last_days":%d}`, g.pick(mmAutomations), 1+g.rng.IntN(30))
		}
		return fmt.Sprintf(`{"field":"messages_received","op":"gte","value":1,"in_last_days":%d}`, 1+g.rng.IntN(30))
	case 10:
		return date("last_engaged_at")
	case 11:
		return date("last_message_received_at")
	case 12:
		return date(g.pick([]string{"first_order_at", "last_order_at", "customer_created_at"}))
	case 13:
		switch g.rng.IntN(3) {
		case 0:
			return str("city", append(mmCities, " monterrey"))
		case 1:
			return str("province", append(mmProvinces, "nl"))
		}
		return str("country", mmCountries)
	case 14:
		return str("lifecycle_stage", []string{"lead", "first_time_buyer", "repeat_buyer", "at_risk", "lapsed"})
	case 15:
		field := "consent_status"
		if g.chance(2) {
			field = "email_consent_status"
		}
		return fmt.Sprintf(`{"field":%q,"op":"is","value":%q}`, field, g.pick([]string{"yes", "no", "unknown"}))
	case 16:
		return fmt.Sprintf(`{"field":"purchased_collection","op":%q,"value":[%q]}`, g.pick([]string{"in", "not_in"}), g.pick(mmCollections))
	case 17:
		return fmt.Sprintf(`{"field":"purchased_brand","op":%q,"value":[%q]}`, g.pick([]string{"in", "not_in"}), g.pick(mmVendors))
	case 18:
		return fmt.Sprintf(`{"field":"purchased_price_range","op":%q,"value":[10,60]}`, g.pick([]string{"between", "not_between"}))
	case 19:
		return fmt.Sprintf(`{"field":"tag","op":%q,"value":%q}`, g.pick([]string{"has", "has_not"}), g.pick(mmTags[:3]))
	case 20:
		return fmt.Sprintf(`{"field":"list","op":%q,"value":%q}`, g.pick([]string{"in_list", "not_in_list"}), g.pick(mmLists))
	case 21:
		if g.chance(2) {
			return str("language", []string{"es", "en", "fr"})
		}
		return str("email_domain", mmDomains)
	case 22:
		return `{"field":"phone","op":"eq","value":"+52 55 1234 5678"}`
	default:
		// A reference to a lower segment id (none for s0).
		i := strings.Index(strings.Join(mmSegmentIDs, ""), id) / 2
		if i == 0 {
			return num("orders_count", 3)
		}
		return fmt.Sprintf(`{"field":"segment","op":%q,"value":%q}`, g.pick([]string{"in_segment", "not_in_segment"}), mmSegmentIDs[g.rng.IntN(i)])
	}
}

// events: every topic of SPEC §4.1 and §4.2 in both record forms (Form B only for
// the messaging topics), redeliveries, and bad records.
func (g *mmGen) events() []mmRecord {
	var out []mmRecord
	for i := 0; i < g.o.EventsPerPhase; i++ {
		w := g.pick(mmWorkspaces)
		cid := int64(1 + g.rng.IntN(g.o.Contacts))
		key := fmt.Sprintf("%s/%d", w, cid)
		if g.chance(20) {
			out = append(out, g.badEvent(w, cid, key))
			continue
		}
		topic, payload := g.event(cid)
		g.seq[key]++
		delivery := fmt.Sprintf("d%d-%d", g.phase, g.seq[key])
		if g.chance(10) && g.seq[key] > 1 {
			delivery = fmt.Sprintf("d%d-%d", g.phase, g.seq[key]-1) // a redelivery
		}
		at := g.now.Add(-time.Duration(g.rng.IntN(3600)) * time.Second).Format(time.RFC3339)
		shopify := !strings.HasPrefix(topic, "messages/") && !strings.HasPrefix(topic, "lists/") &&
			!strings.HasPrefix(topic, "automations/") && !strings.HasPrefix(topic, "back_in_stock/") &&
			!strings.HasPrefix(topic, "conversations/") && !strings.HasPrefix(topic, "contacts/")
		if shopify && g.chance(2) {
			hs := []kgo.RecordHeader{
				{Key: g.pick([]string{"X-Shopify-Topic", "x-shopify-topic", "Shopify-Topic"}), Value: []byte(topic)},
				{Key: "X-Shopify-Shop-Domain", Value: []byte(w)},
				{Key: "X-Shopify-Triggered-At", Value: []byte(at)},
			}
			if !g.chance(8) {
				hs = append(hs, kgo.RecordHeader{Key: "X-Shopify-Webhook-Id", Value: []byte(delivery)})
			}
			out = append(out, mmRecord{Topic: mmEvents, Key: key, Value: []byte(payload), Headers: hs})
			continue
		}
		v := fmt.Sprintf(`{"topic":%q,"shop":%q,"id":%q,"occurred_at":%q,"payload":%s}`, topic, w, delivery, at, payload)
		if g.chance(8) {
			v = fmt.Sprintf(`{"topic":%q,"shop":%q,"occurred_at":%q,"payload":%s}`, topic, w, at, payload)
		}
		out = append(out, mmRecord{Topic: mmEvents, Key: key, Value: []byte(v)})
	}
	return out
}

func (g *mmGen) ts(maxDaysAgo int) string {
	return g.now.Add(-time.Duration(g.rng.IntN(maxDaysAgo*24)) * time.Hour).Format(time.RFC3339)
}

// event returns a valid event of contact cid.
func (g *mmGen) event(cid int64) (topic, payload string) {
	order := func() int64 { return 1000*cid + int64(g.rng.IntN(5)) }
	switch g.rng.IntN(24) {
	case 0, 1:
		tags := ""
		if g.chance(2) {
			tags = fmt.Sprintf(`,"tags":"%s, %s"`, g.pick(mmTags), g.pick(mmTags))
		}
		consent := ""
		if g.chance(3) {
			consent = fmt.Sprintf(`,"sms_marketing_consent":{"state":%q,"consent_updated_at":%q}`, g.pick([]string{"subscribed", "unsubscribed"}), g.ts(30))
		}
		return g.pick([]string{"customers/create", "customers/update"}), fmt.Sprintf(
			`{"id":%d,"email":"c%d@%s","first_name":"F%d","phone":"+52 55 1234 56%02d","created_at":%q,"updated_at":%q,"default_address":{"country_code":%q,"city":%q,"province_code":%q},"locale":%q%s%s}`,
			cid, cid, g.pick(mmDomains), cid, g.rng.IntN(100), g.ts(300), g.ts(20), g.pick(mmCountries), g.pick(mmCities), g.pick(mmProvinces), g.pick([]string{"es-MX", "en"}), tags, consent)
	case 2:
		if g.chance(3) {
			return "customers/redact", fmt.Sprintf(`{"customer":{"id":%d},"orders_to_redact":[%d]}`, cid, order())
		}
		return "customers/delete", fmt.Sprintf(`{"id":%d}`, cid)
	case 3:
		return g.pick([]string{"customers_marketing_consent/update", "customers/marketing_consent_updated"}), fmt.Sprintf(
			`{"id":%d,"phone":"+525512345678","sms_marketing_consent":{"state":%q,"consent_updated_at":%q}}`, cid, g.pick([]string{"subscribed", "unsubscribed", "pending"}), g.ts(30))
	case 4:
		return "customers_whats_app_marketing_consent/update", fmt.Sprintf(
			`{"customer_id":%d,"phone_number":"+525512345678","whats_app_marketing_consent":{"state":%q,"updated_at":%q}}`, cid, g.pick([]string{"subscribed", "unsubscribed"}), g.ts(30))
	case 5:
		return "customers_email_marketing_consent/update", fmt.Sprintf(`{"customer_id":%d,"email_marketing_consent":{"state":%q}}`, cid, g.pick([]string{"subscribed", "unsubscribed", "invalid", "pending"}))
	case 6, 7:
		t := g.pick([]string{"customer.tags_added", "customer.tags_removed", "customer_tags/added", "customer_tags/removed"})
		if g.chance(3) {
			return t, fmt.Sprintf(`{"customer_id":%d,"tags":"%s,%s"}`, cid, g.pick(mmTags), g.pick(mmTags))
		}
		return t, fmt.Sprintf(`{"customerId":"gid://shopify/Customer/%d","tags":[%q],"occurredAt":%q}`, cid, g.pick(mmTags), g.ts(2))
	case 8:
		return "customers/purchasing_summary", fmt.Sprintf(`{"customerId":"gid://shopify/Customer/%d","numberOfOrders":%d,"amountSpent":{"amount":"%d.00","currencyCode":"MXN"},"lastOrderId":"%d","occurredAt":%q}`,
			cid, g.rng.IntN(5), g.rng.IntN(500), order(), g.ts(2))
	case 9, 10, 11, 12, 22, 23:
		cancelled := "null"
		if g.chance(6) {
			cancelled = fmt.Sprintf("%q", g.ts(5))
		}
		var items []string
		for i := 0; i < g.rng.IntN(3); i++ {
			items = append(items, fmt.Sprintf(`{"product_id":%s,"vendor":%q,"price":"%d.00","quantity":%d}`, g.pick(mmProducts), g.pick(mmVendors), 5+g.rng.IntN(80), 1+g.rng.IntN(2)))
		}
		return g.pick([]string{"orders/create", "orders/updated", "orders/cancelled", "orders/paid"}), fmt.Sprintf(
			`{"id":%d,"customer":{"id":%d},"created_at":%q,"updated_at":%q,"cancelled_at":%s,"test":%v,"current_total_price":"%d.50","customer_locale":"es-MX","line_items":[%s]}`,
			order(), cid, g.ts(150), g.ts(3), cancelled, g.chance(10), 10+g.rng.IntN(200), strings.Join(items, ","))
	case 13:
		return "orders/delete", fmt.Sprintf(`{"id":%d}`, order())
	case 14, 15:
		return "messages/status", fmt.Sprintf(`{"customer_id":%d,"message_id":"m%d","status":%q,"timestamp":%q}`,
			cid, g.rng.IntN(4), g.pick([]string{"sent", "delivered", "read", "played", "failed"}), g.ts(40))
	case 16:
		return "messages/inbound", fmt.Sprintf(`{"customer_id":"%d","message_id":"i%d","timestamp":%q}`, cid, g.rng.IntN(100), g.ts(20))
	case 17:
		return "automations/completed", fmt.Sprintf(`{"customer_id":%d,"automation_id":%q,"completed_at":%q}`, cid, g.pick(mmAutomations), g.ts(40))
	case 18:
		return g.pick([]string{"lists/member_added", "lists/member_added", "lists/member_removed"}), fmt.Sprintf(`{"customer_id":%d,"list_id":%q}`, cid, g.pick(mmLists))
	case 19:
		return g.pick([]string{"back_in_stock/subscribed", "back_in_stock/unsubscribed"}), fmt.Sprintf(`{"customer_id":%d,"variant_id":"v1","product_id":%q}`, cid, g.pick(mmProducts))
	default:
		return "conversations/updated", fmt.Sprintf(`{"customer_id":%d,"conversation_id":"c1","status":%q,"assigned_agent":"lu"}`, cid, g.pick([]string{"OPEN", "PENDING", "RESOLVED"}))
	case 21:
		return "contacts/lifecycle_stage_set", fmt.Sprintf(`{"customer_id":%d,"stage":%s}`, cid, g.pick([]string{`"lapsed"`, `"at_risk"`, `"repeat_buyer"`, "null"}))
	}
}

// badEvent returns a record that must be dead-lettered.
func (g *mmGen) badEvent(w string, cid int64, key string) mmRecord {
	env := func(topic, payload string) []byte {
		return []byte(fmt.Sprintf(`{"topic":%q,"shop":%q,"id":"bad%d","payload":%s}`, topic, w, g.rng.IntN(1000), payload))
	}
	r := mmRecord{Topic: mmEvents, Key: key}
	switch g.rng.IntN(9) {
	case 0:
		r.Value = []byte(`{"topic":"customers/update","shop":`)
	case 1:
		r.Value = nil // null value
	case 2:
		r.Value = env("customers/birthday", fmt.Sprintf(`{"id":%d}`, cid))
	case 3:
		r.Value = env("customers/update", fmt.Sprintf(`{"id":%d,"email":"x@example.com"}`, cid+1000)) // key mismatch
	case 4:
		r.Value = env("messages/status", fmt.Sprintf(`{"customer_id":%d,"message_id":"m1","status":"opened","timestamp":%q}`, cid, g.ts(2)))
	case 5:
		r.Value = []byte(fmt.Sprintf(`{"topic":"lists/member_added","shop":%q,"occurred_at":"yesterday","payload":{"customer_id":%d,"list_id":"l1"}}`, w, cid))
	case 6:
		r.Key = w + "/orders/17"
		r.Value = env("orders/delete", `{"id":17}`)
	case 7:
		r.Value = []byte("{\"topic\":\"customers/update\",\"shop\":\"" + w + "\",\"payload\":{\"id\":1,\"first_name\":\"\xff\xfe\"}}")
	default:
		r.Value = []byte(fmt.Sprintf(`{"id":%d}`, cid)) // Form A without its headers
		r.Headers = []kgo.RecordHeader{{Key: "X-Shopify-Topic", Value: []byte("customers/update")}}
	}
	return r
}
