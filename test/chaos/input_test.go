package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/operators"
)

// topics are the unique topic names of one run.
type topics struct {
	events, segments, catalog, membership, changelog, dlq string
}

func newTopics(run string) topics {
	return topics{events: run + ".events", segments: run + ".segments", catalog: run + ".catalog",
		membership: run + ".membership", changelog: run + ".changelog", dlq: run + ".dlq"}
}

func (t topics) all() []string {
	return []string{t.events, t.segments, t.catalog, t.membership, t.changelog, t.dlq}
}

func (t topics) args() []string {
	return []string{"--events-topic", t.events, "--segments-topic", t.segments, "--catalog-topic", t.catalog,
		"--membership-topic", t.membership, "--changelog-topic", t.changelog, "--dlq-topic", t.dlq}
}

const partitions = 6

// createInputTopics creates the events, segments and catalog topics before any
// process starts, so that the initial definitions and catalog are on their topics
// before the first process reads them (segmentd reads both topics to their end before
// it joins the group: the stable segments are then known before the first event).
// The compacted topics get a long min.compaction.lag.ms, as the README recommends.
func createInputTopics(ctx context.Context, adm *kadm.Client, tp topics) error {
	compact, lag := "compact", strconv.Itoa(7*24*3600*1000)
	compacted := map[string]*string{"cleanup.policy": &compact, "min.compaction.lag.ms": &lag}
	for _, c := range []struct {
		name    string
		parts   int32
		configs map[string]*string
	}{{tp.events, partitions, nil}, {tp.segments, 1, compacted}, {tp.catalog, 1, compacted}} {
		resp, err := adm.CreateTopic(ctx, c.parts, 1, c.configs, c.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", c.name, err)
		}
	}
	// Wait until every partition has a leader.
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := adm.ListTopics(ctx, tp.events, tp.segments, tp.catalog)
		ok := err == nil
		if ok {
			for _, d := range md {
				if d.Err != nil {
					ok = false
				}
				for _, p := range d.Partitions {
					if p.Leader < 0 || p.Err != nil {
						ok = false
					}
				}
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("input topics not ready after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------
// Vocabulary of the definitions (values the generator produces).

var (
	vCountries   = []string{"MX", "CO", "US", "ES", "BR", "AR", "CL", "PE"}
	vLanguages   = []string{"es", "pt", "en"}
	vTags        = []string{"vip", "newsletter", "wholesale", "instagram", "tiktok-lead", "loyalty-gold", "loyalty-silver", "returning", "cod"}
	vLists       = []string{"vip-early-access", "newsletter-es", "black-friday-2025", "wholesale-leads", "whatsapp-club", "reviews-panel"}
	vAutomations = []string{"welcome_series", "abandoned_cart_1h", "post_purchase_review", "winback_60d", "back_in_stock", "birthday_coupon"}
	vBrands      = []string{"Luna Cosmetics", "Andes Outdoor", "Café Montaña", "Tierra Verde", "Sol de Oaxaca", "Río Activewear", "Pampa Leather", "Brisa Swim", "Nómada Travel", "Casa Alebrije"}
	vCollections = []string{"skincare", "beauty", "outdoor", "apparel", "coffee", "kitchen", "home", "garden", "accessories", "artisan", "sport", "leather", "swim", "summer", "travel", "bestsellers", "sale"}
	vStages      = []string{"lead", "first_time_buyer", "repeat_buyer", "at_risk", "lapsed"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func pickN[T any](r *rand.Rand, xs []T, n int) []T {
	p := r.Perm(len(xs))
	out := make([]T, 0, n)
	for _, i := range p[:min(n, len(xs))] {
		out = append(out, xs[i])
	}
	return out
}

type cond = map[string]any

func c(field, op string, value any) cond { return cond{"field": field, "op": op, "value": value} }

// stableDefs are the segments defined before the first event and never changed: the
// reference evaluates them after every event, and their exact transition sequences
// must match. None depends on time or on the catalog.
func stableDefs(day0 time.Time) []struct {
	id     string
	groups [][]cond
} {
	cut := day0.AddDate(0, 0, -45).Format("2006-01-02")
	return []struct {
		id     string
		groups [][]cond
	}{
		{"st-big-spender", [][]cond{{c("total_spent", "gte", 300)}}},
		{"st-repeat-latam", [][]cond{{c("orders_count", "gte", 2), c("country", "in", []string{"MX", "CO", "AR"})}}},
		{"st-vip-or-gold", [][]cond{{c("tag", "has", "vip")}, {c("tag", "has", "loyalty-gold"), c("consent_status", "is", "yes")}}},
		{"st-engaged", [][]cond{{c("messages_received", "gte", 3), c("messages_read", "gte", 1)}}},
		{"st-welcomed-or-club", [][]cond{
			{map[string]any{"field": "automation_completions", "op": "gte", "value": 1, "automation_id": "welcome_series"}},
			{c("list", "in_list", "whatsapp-club")}}},
		{"st-brand-price", [][]cond{{c("purchased_brand", "in", []string{"Luna Cosmetics", "Café Montaña"}), c("purchased_price_range", "between", []int{10, 40})}}},
		{"st-no-consent-pt", [][]cond{{c("consent_status", "is", "no"), c("language", "in", []string{"pt", "en"})}, {c("average_order_value", "gte", 150)}}},
		{"st-recent-msg", [][]cond{{c("last_message_received_at", "after", cut), c("orders_count", "eq", 0)}}},
		{"st-not-in-list", [][]cond{{c("list", "not_in_list", "newsletter-es"), c("tag", "has_not", "newsletter"), c("automation_completions", "gte", 2)}}},
	}
}

// catalogDefs depend on the catalog: only their final memberships are compared.
var catalogDefs = []struct {
	id     string
	groups [][]cond
}{
	{"cat-summer-sale", [][]cond{{c("purchased_collection", "in", []string{"summer", "sale"})}}},
	{"cat-no-coffee", [][]cond{{c("purchased_collection", "not_in", []string{"coffee", "bestsellers"}), c("orders_count", "gte", 1)}}},
}

// randomCond returns one random condition (no time-relative field).
func randomCond(r *rand.Rand, day0 time.Time) cond {
	switch r.IntN(16) {
	case 0:
		return c("total_spent", pick(r, []string{"gt", "gte", "lt", "lte"}), 50*(1+r.IntN(20)))
	case 1:
		return c("orders_count", "between", []int{r.IntN(2), 1 + r.IntN(4)})
	case 2:
		return c("orders_count", pick(r, []string{"eq", "gte", "lt"}), r.IntN(4))
	case 3:
		return c("average_order_value", pick(r, []string{"gte", "lt"}), 40*(1+r.IntN(5)))
	case 4:
		return c("messages_received", pick(r, []string{"gte", "lt", "eq"}), r.IntN(7))
	case 5:
		return c("messages_read", pick(r, []string{"gte", "eq"}), r.IntN(3))
	case 6:
		m := c("automation_completions", "gte", 1+r.IntN(2))
		if r.IntN(2) == 0 {
			m["automation_id"] = pick(r, vAutomations)
		}
		return m
	case 7:
		if r.IntN(2) == 0 {
			return c("country", pick(r, []string{"is", "is_not"}), pick(r, vCountries))
		}
		return c("country", pick(r, []string{"in", "not_in"}), pickN(r, vCountries, 1+r.IntN(3)))
	case 8:
		return c("language", pick(r, []string{"is", "is_not"}), pick(r, vLanguages))
	case 9:
		return c("consent_status", pick(r, []string{"is", "is_not"}), pick(r, []string{"yes", "no", "unknown"}))
	case 10:
		return c("tag", pick(r, []string{"has", "has_not"}), pick(r, vTags))
	case 11:
		return c("list", pick(r, []string{"in_list", "not_in_list"}), pick(r, vLists))
	case 12:
		return c("purchased_brand", pick(r, []string{"in", "not_in"}), pickN(r, vBrands, 1+r.IntN(2)))
	case 13:
		return c("purchased_collection", pick(r, []string{"in", "not_in"}), pickN(r, vCollections, 1+r.IntN(2)))
	case 14:
		lo := 5 * r.IntN(20)
		return c("purchased_price_range", pick(r, []string{"between", "not_between"}), []int{lo, lo + 10 + 10*r.IntN(10)})
	default:
		d := day0.AddDate(0, 0, -r.IntN(200)).Format("2006-01-02")
		return c(pick(r, []string{"last_message_received_at", "last_engaged_at"}), pick(r, []string{"after", "before"}), d)
	}
}

func randomGroups(r *rand.Rand, day0 time.Time) [][]cond {
	var gs [][]cond
	for g := 0; g < 1+r.IntN(2); g++ {
		var cs []cond
		for k := 0; k < 1+r.IntN(3); k++ {
			cs = append(cs, randomCond(r, day0))
		}
		gs = append(gs, cs)
	}
	return gs
}

// definitionJSON renders a definition; it panics on a marshalling error (a test bug).
func definitionJSON(ws, id, name string, groups [][]cond) []byte {
	var gs []map[string]any
	for _, g := range groups {
		gs = append(gs, map[string]any{"conditions": g})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"workspace": ws, "id": id, "name": name, "groups": gs}); err != nil {
		panic(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// ---------------------------------------------------------------------------------
// Producer.

// producer wraps an idempotent kgo producer and counts what it produced.
type producer struct {
	cl       *kgo.Client
	tp       topics
	inflight sync.WaitGroup
	failed   atomic.Int64
	firstErr atomic.Value // string
	mu       sync.Mutex
	byFamily map[string]int // events produced, by event topic (or "bad/<reason>")
	events   int
	defs     int // segments-topic records
	cats     int // catalog-topic records
}

func newProducer(brokers []string, tp topics) (*producer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(10*time.Millisecond),
		kgo.MaxBufferedRecords(50000), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl, tp: tp, byFamily: map[string]int{}}, nil
}

func (p *producer) produce(ctx context.Context, r *kgo.Record, family string) {
	p.mu.Lock()
	switch r.Topic {
	case p.tp.events:
		p.events++
		p.byFamily[family]++
	case p.tp.segments:
		p.defs++
	case p.tp.catalog:
		p.cats++
	}
	p.mu.Unlock()
	p.inflight.Add(1)
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		defer p.inflight.Done()
		if err != nil {
			p.failed.Add(1)
			p.firstErr.CompareAndSwap(nil, fmt.Sprintf("produce to %s key %q: %v", r.Topic, r.Key, err))
		}
	})
}

// flush waits for every record produced so far to be acknowledged.
func (p *producer) flush(ctx context.Context) error {
	return p.cl.Flush(ctx)
}

// ---------------------------------------------------------------------------------
// Definitions and catalog changes.

// defChanger makes the mid-run changes of the segments and catalog topics.
type defChanger struct {
	r         *rand.Rand
	day0      time.Time
	wss       []string
	live      map[string][][]cond // "<ws>/<id>" → groups of the live dynamic definitions
	gone      map[string]bool     // deleted dynamic definitions (re-creatable)
	counts    map[string]int      // definition changes by kind
	catCounts map[string]int      // catalog changes by kind
	products  []*catProduct
}

type catProduct struct {
	ws, id      string
	collections []string
	deleted     bool
}

const dynPerWorkspace = 5

func newDefChanger(r *rand.Rand, day0 time.Time, wss []string, catalog []gen.Record) (*defChanger, error) {
	d := &defChanger{r: r, day0: day0, wss: wss, live: map[string][][]cond{}, gone: map[string]bool{}, counts: map[string]int{}, catCounts: map[string]int{}}
	for _, rec := range catalog {
		var v struct {
			Workspace   string   `json:"workspace"`
			ProductID   string   `json:"product_id"`
			Collections []string `json:"collections"`
		}
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return nil, fmt.Errorf("gen catalog record %s: %v", rec.Key, err)
		}
		d.products = append(d.products, &catProduct{ws: v.Workspace, id: v.ProductID, collections: v.Collections})
	}
	return d, nil
}

// initial returns the definitions to produce before the first event: the stable and
// catalog ones, and a few dynamic ones.
func (d *defChanger) initial() []*kgo.Record {
	var out []*kgo.Record
	for _, ws := range d.wss {
		for _, s := range stableDefs(d.day0) {
			out = append(out, defRecord(ws, s.id, definitionJSON(ws, s.id, "chaos stable "+s.id, s.groups)))
		}
		for _, s := range catalogDefs {
			out = append(out, defRecord(ws, s.id, definitionJSON(ws, s.id, "chaos catalog "+s.id, s.groups)))
		}
		for i := 0; i < 2; i++ {
			id := fmt.Sprintf("dyn-%d", i)
			g := randomGroups(d.r, d.day0)
			d.live[ws+"/"+id] = g
			out = append(out, defRecord(ws, id, definitionJSON(ws, id, "chaos dynamic "+id, g)))
		}
	}
	return out
}

func defRecord(ws, id string, value []byte) *kgo.Record {
	return &kgo.Record{Key: []byte(ws + "/" + id), Value: value}
}

// changeDefinition returns the records of one random change of a dynamic definition:
// create, re-create, change, quick double change, cosmetic change, invalid
// definition, or delete.
func (d *defChanger) changeDefinition() (kind string, recs []*kgo.Record) {
	ws := pick(d.r, d.wss)
	var live, absent []string
	for i := 0; i < dynPerWorkspace; i++ {
		id := fmt.Sprintf("dyn-%d", i)
		if d.live[ws+"/"+id] != nil {
			live = append(live, id)
		} else {
			absent = append(absent, id)
		}
	}
	put := func(id string, g [][]cond) {
		d.live[ws+"/"+id] = g
		delete(d.gone, ws+"/"+id)
		recs = append(recs, defRecord(ws, id, definitionJSON(ws, id, "chaos dynamic "+id, g)))
	}
	x := d.r.IntN(100)
	switch {
	case len(absent) > 0 && (len(live) == 0 || x < 25):
		id := pick(d.r, absent)
		kind = "def-create"
		if d.gone[ws+"/"+id] {
			kind = "def-recreate"
		}
		put(id, randomGroups(d.r, d.day0))
	case x < 55:
		kind = "def-change"
		put(pick(d.r, live), randomGroups(d.r, d.day0))
	case x < 65:
		kind = "def-double-change"
		id := pick(d.r, live)
		put(id, randomGroups(d.r, d.day0))
		put(id, randomGroups(d.r, d.day0))
	case x < 72:
		// The same rules, groups and conditions reversed and renamed: not a new version.
		kind = "def-cosmetic"
		id := pick(d.r, live)
		g := slices.Clone(d.live[ws+"/"+id])
		slices.Reverse(g)
		for i := range g {
			g[i] = slices.Clone(g[i])
			slices.Reverse(g[i])
		}
		recs = append(recs, defRecord(ws, id, definitionJSON(ws, id, "chaos dynamic "+id+" (renamed)", g)))
	case x < 80:
		// Invalid: dead-lettered, the segment keeps its previous definition.
		kind = "def-invalid"
		id := pick(d.r, live)
		recs = append(recs, defRecord(ws, id, definitionJSON(ws, id, "chaos invalid", [][]cond{{c("country", "gt", 5)}})))
	default:
		kind = "def-delete"
		id := pick(d.r, live)
		delete(d.live, ws+"/"+id)
		d.gone[ws+"/"+id] = true
		recs = append(recs, &kgo.Record{Key: []byte(ws + "/" + id), Value: nil})
	}
	d.counts[kind]++
	return kind, recs
}

// changeCatalog returns one random catalog change: a collection added or removed, a
// product deleted (tombstone) or restored.
func (d *defChanger) changeCatalog() (kind string, rec *kgo.Record) {
	p := pick(d.r, d.products)
	key := []byte(p.ws + "/product/" + p.id)
	switch x := d.r.IntN(100); {
	case p.deleted || x < 70:
		kind = "catalog-change"
		if p.deleted {
			kind = "catalog-restore"
		}
		p.deleted = false
		coll := pick(d.r, []string{"sale", "summer", "bestsellers", "coffee"})
		if i := slices.Index(p.collections, coll); i >= 0 {
			p.collections = slices.Delete(slices.Clone(p.collections), i, i+1)
		} else {
			p.collections = append(slices.Clone(p.collections), coll)
		}
		v, _ := json.Marshal(map[string]any{"workspace": p.ws, "product_id": p.id, "collections": p.collections})
		rec = &kgo.Record{Key: key, Value: v}
	default:
		kind = "catalog-delete"
		p.deleted = true
		rec = &kgo.Record{Key: key, Value: nil}
	}
	d.catCounts[kind]++
	return kind, rec
}

// ---------------------------------------------------------------------------------
// Events.

// feeder makes the events: the generator's history and live stream, plus events the
// generator does not make, re-deliveries and malformed records.
type feeder struct {
	g               *gen.Generator
	r               *rand.Rand
	vnow            time.Time // the virtual clock passed to gen.Next
	step            time.Duration
	keys            []string            // contact keys seen
	seen            map[string]bool     // keys
	orders          map[string][]string // contact key → order ids seen
	own             []*kgo.Record       // own records, for re-delivery
	n               int                 // own delivery id counter
	decodeSurprises []string            // own events meant to be valid that do not decode
}

func newFeeder(g *gen.Generator, r *rand.Rand, start time.Time) *feeder {
	return &feeder{g: g, r: r, vnow: start, step: 100 * time.Millisecond, seen: map[string]bool{}, orders: map[string][]string{}}
}

// fromGen converts a generator record and remembers its contact and order.
func (f *feeder) fromGen(rec gen.Record, topic string) (*kgo.Record, string) {
	key := string(rec.Key)
	if !strings.Contains(key, "/guest/") && !f.seen[key] {
		f.seen[key] = true
		f.keys = append(f.keys, key)
	}
	if strings.HasPrefix(rec.Topic, "orders/") && !strings.Contains(key, "/guest/") {
		var o struct {
			ID json.Number `json:"id"`
		}
		if json.Unmarshal(rec.Value, &o) == nil && o.ID != "" && !slices.Contains(f.orders[key], o.ID.String()) {
			f.orders[key] = append(f.orders[key], o.ID.String())
		}
	}
	r := &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value}
	for _, h := range rec.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r, rec.Topic
}

// next returns the next live event and its family (event topic, or "bad/<reason>").
func (f *feeder) next(topic string) (*kgo.Record, string) {
	f.vnow = f.vnow.Add(f.step)
	if f.r.IntN(100) >= 10 || len(f.keys) == 0 {
		return f.fromGen(f.g.Next(f.vnow), topic)
	}
	return f.ownEvent(topic)
}

func splitKey(key string) (ws string, cid string) {
	ws, cid, _ = strings.Cut(key, "/")
	return ws, cid
}

func (f *feeder) envelope(topic, ws, key string, payload map[string]any) *kgo.Record {
	f.n++
	v, err := json.Marshal(map[string]any{"topic": topic, "shop": ws, "id": fmt.Sprintf("chaos-own-%d", f.n),
		"occurred_at": f.vnow.UTC().Format(time.RFC3339Nano), "payload": payload})
	if err != nil {
		panic(err)
	}
	return &kgo.Record{Key: []byte(key), Value: v}
}

func (f *feeder) webhook(topic, ws, key string, body map[string]any) *kgo.Record {
	f.n++
	v, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return &kgo.Record{Key: []byte(key), Value: v, Headers: []kgo.RecordHeader{
		{Key: "X-Shopify-Topic", Value: []byte(topic)},
		{Key: "X-Shopify-Shop-Domain", Value: []byte(ws)},
		{Key: "X-Shopify-Webhook-Id", Value: []byte(fmt.Sprintf("chaos-wh-%d", f.n))},
		{Key: "X-Shopify-Triggered-At", Value: []byte(f.vnow.UTC().Format(time.RFC3339Nano))},
		{Key: "X-Shopify-API-Version", Value: []byte("2025-01")},
	}}
}

// ownEvent makes one event of a kind the generator does not make.
func (f *feeder) ownEvent(topic string) (*kgo.Record, string) {
	key := pick(f.r, f.keys)
	ws, cidS := splitKey(key)
	cid, _ := strconv.ParseInt(cidS, 10, 64)
	var rec *kgo.Record
	family := ""
	valid := true
	switch x := f.r.IntN(100); {
	case x < 12 && len(f.own) > 0:
		// A re-delivery: same key, value, headers (and so the same delivery id).
		prev := pick(f.r, f.own)
		rec = &kgo.Record{Key: prev.Key, Value: prev.Value, Headers: prev.Headers}
		family = "redelivery"
		valid = false // may be a bad one again
	case x < 30 && len(f.orders[key]) > 0:
		id := pick(f.r, f.orders[key])
		if f.r.IntN(2) == 0 {
			rec = f.envelope("orders/delete", ws, key, map[string]any{"id": json.Number(id)})
		} else {
			rec = f.webhook("orders/delete", ws, key, map[string]any{"id": json.Number(id)})
		}
		family = "orders/delete"
	case x < 35:
		body := map[string]any{"shop_domain": ws, "customer": map[string]any{"id": cid, "email": fmt.Sprintf("c%d@example.com", cid)},
			"orders_to_redact": f.orders[key]}
		if f.orders[key] == nil {
			body["orders_to_redact"] = []string{}
		}
		rec = f.webhook("customers/redact", ws, key, body)
		family = "customers/redact"
	case x < 50:
		n := f.r.IntN(6)
		rec = f.envelope("customers/purchasing_summary", ws, key, map[string]any{
			"customerId": fmt.Sprintf("gid://shopify/Customer/%d", cid), "numberOfOrders": n,
			"amountSpent": map[string]any{"amount": fmt.Sprintf("%d.%02d", 50*n+f.r.IntN(50), f.r.IntN(100)), "currencyCode": "MXN"},
			"occurredAt":  f.vnow.UTC().Format(time.RFC3339)})
		family = "customers/purchasing_summary"
	case x < 62:
		t := "back_in_stock/subscribed"
		if f.r.IntN(3) == 0 {
			t = "back_in_stock/unsubscribed"
		}
		rec = f.envelope(t, ws, key, map[string]any{"customer_id": cid, "variant_id": strconv.Itoa(44000000000000 + f.r.IntN(50)),
			"product_id": strconv.Itoa(8000000000000 + f.r.IntN(50))})
		family = t
	case x < 72:
		var stage any = pick(f.r, vStages)
		if f.r.IntN(3) == 0 {
			stage = nil
		}
		rec = f.envelope("contacts/lifecycle_stage_set", ws, key, map[string]any{"customer_id": strconv.FormatInt(cid, 10), "stage": stage})
		family = "contacts/lifecycle_stage_set"
	case x < 90:
		// Churn of tags that segments and the exclusion depend on.
		t := "customer.tags_added"
		if f.r.IntN(2) == 0 {
			t = "customer.tags_removed"
		}
		tag := pick(f.r, []string{"vip", "loyalty-gold", "newsletter", "exclude_from_galantis"})
		rec = f.envelope(t, ws, key, map[string]any{"customerId": fmt.Sprintf("gid://shopify/Customer/%d", cid),
			"tags": []string{tag}, "occurredAt": f.vnow.UTC().Format(time.RFC3339)})
		family = t
	default:
		valid = false
		switch f.r.IntN(4) {
		case 0:
			rec = f.envelope("messages/status", ws, key, map[string]any{"customer_id": cid, "message_id": "m-bad", "status": "exploded"})
			family = "bad/invalid_enum"
		case 1:
			rec = f.envelope("products/create", ws, key, map[string]any{"id": 1})
			family = "bad/unknown_topic"
		case 2:
			rec = &kgo.Record{Key: []byte(key), Value: []byte(`{"topic":"customers/update","shop":"` + ws + `","payload":{"id":` + cidS + `,"email":"tr`)}
			family = "bad/invalid_json"
		default:
			rec = f.envelope("lists/member_added", ws, key, map[string]any{"customer_id": cid + 1, "list_id": "vip-early-access"})
			family = "bad/key_mismatch"
		}
	}
	rec.Topic = topic
	if family != "redelivery" {
		f.own = append(f.own, rec)
		if len(f.own) > 500 {
			f.own = f.own[len(f.own)-500:]
		}
	}
	if valid {
		if _, err := events.Decode(&events.Record{Key: rec.Key, Value: rec.Value, Headers: toEventsHeaders(rec.Headers), Timestamp: time.Now()}, nil); err != nil {
			f.decodeSurprises = append(f.decodeSurprises, fmt.Sprintf("%s: %v: %s", family, err, rec.Value))
		}
	}
	return rec, family
}

// toEventsHeaders converts a kgo record's headers for the events decoders.
func toEventsHeaders(hs []kgo.RecordHeader) []events.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]events.Header, len(hs))
	for i, h := range hs {
		out[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// validateDefinitions checks that the definitions meant to be valid parse and compile.
func validateDefinitions(recs []*kgo.Record) error {
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		d, err := operators.ParseDefinition(r.Value)
		if err == nil {
			_, err = operators.Compile(d)
		}
		if err != nil {
			return fmt.Errorf("definition %s: %v\n%s", r.Key, err, r.Value)
		}
	}
	return nil
}

// sortedCounts renders a count map as "k=v, ..." sorted by key.
func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
