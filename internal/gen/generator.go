package gen

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Record is one Kafka record to produce to the events topic. Its byte slices belong to
// the caller: the generator never writes to them again.
type Record struct {
	// Key is the contact key "<workspace>/<customer_id>" (SPEC §2). Guest orders are
	// keyed "<workspace>/guest/<order_id>"; segment definitions "<workspace>/<id>",
	// catalog entries "<workspace>/product/<product_id>" (SPEC §3).
	Key []byte
	// Value is the JSON value: a webhook body (Form A) or an envelope (Form B).
	Value []byte
	// Headers are the X-Shopify-* headers of a Form A record; nil for Form B.
	Headers []Header
	// Topic is the canonical event topic ("orders/create", "messages/status"), for
	// statistics; it is not the Kafka topic. Empty for segment definitions and
	// catalog entries.
	Topic string
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Generator produces the synthetic traffic of Config's shops: a History, then a live
// stream from Next. It keeps the state of every contact (orders, tags, consent) so
// that successive events of a contact are consistent. A Generator is not safe for
// concurrent use.
type Generator struct {
	cfg   Config
	start int64 // Unix nanoseconds
	hist  int64 // nanoseconds
	ws    []*workspace
	cum   []int // cumulative live contact counts of ws, for picking a contact
	live  liveState
	w     writer // buffers of Next
}

// workspace is one shop and its contacts.
type workspace struct {
	idx        int
	domain     string
	title      string
	offset     int // seconds east of UTC
	home       int // index in countries
	countryCum []uint32
	seed       uint64
	contacts   []contact
	initial    int // contacts in the history
	products   []product
	orderRank  []int32 // chronological rank of history order k of contact c: orderRank[c.histOff+k]
	nextRank   int64   // rank of the next live order
	nextCust   int64   // rank of the next live customer
	maxCust    int     // live customers/create stops here
}

// contact is the generator's view of one customer. Identity fields (id, seed,
// createdAt, histOff) never change; the rest is the state after the history and the
// live events so far. Names, e-mail, phone and address are drawn again from seed when
// rendered (see profile).
type contact struct {
	id          int64
	seed        uint64
	createdAt   int64
	updatedAt   int64
	smsAt       int64
	waAt        int64
	emailAt     int64
	lastOrderAt int64
	lastOrderID int64
	spent       int64 // cents, over counted orders
	histOff     int32
	orders      int32 // counted orders
	lastOrderNo int32
	tags        uint16
	lists       uint8
	country     uint8
	sms, wa     uint8 // consent states
	email       uint8
	deleted     bool
}

// product is one variant-bearing product of a shop's catalog.
type product struct {
	id          int64
	brand       int
	item        int // index in brands[brand].products
	variantIDs  []int64
	collections []string
}

func (p *product) info() (*brand, *brandProduct) {
	b := &brands[p.brand]
	return b, &b.products[p.item]
}

// New returns a generator for cfg. It builds every contact's history state (about a
// microsecond per contact) but renders nothing. It panics if cfg is invalid: check
// untrusted configurations with Validate first.
func New(cfg Config) *Generator {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	g := &Generator{cfg: cfg, start: cfg.Start.UnixNano(), hist: int64(cfg.History)}
	sizes := workspaceSizes(cfg.Workspaces, cfg.ContactsPerWorkspace, cfg.Skew)
	for i, n := range sizes {
		g.ws = append(g.ws, g.newWorkspace(i, n))
	}
	g.cum = make([]int, len(g.ws))
	g.recount()
	g.live.init(uint64(cfg.Seed))
	g.initExcluded()
	return g
}

// workspaceSizes spreads n×per contacts over n shops with Zipf-like weights.
func workspaceSizes(n, per int, skew float64) []int {
	sizes := make([]int, n)
	if skew == 0 {
		for i := range sizes {
			sizes[i] = per
		}
		return sizes
	}
	var sum float64
	for i := range sizes {
		sum += math.Pow(float64(i+1), -skew)
	}
	total := float64(n) * float64(per)
	for i := range sizes {
		sizes[i] = max(1, int(math.Round(total*math.Pow(float64(i+1), -skew)/sum)))
	}
	return sizes
}

// Domain returns the shop domain of workspace i: "demo-shop.myshopify.com" for 0,
// "shop-007.myshopify.com" for 7.
func Domain(i int) string {
	if i == 0 {
		return "demo-shop.myshopify.com"
	}
	return fmt.Sprintf("shop-%03d.myshopify.com", i)
}

// Workspaces returns the shop domains, in workspace order.
func (g *Generator) Workspaces() []string {
	out := make([]string, len(g.ws))
	for i, w := range g.ws {
		out[i] = w.domain
	}
	return out
}

// Contacts returns the number of contacts of each workspace: the history's, plus those
// created by Next so far (deleted ones included).
func (g *Generator) Contacts() []int {
	out := make([]int, len(g.ws))
	for i, w := range g.ws {
		out[i] = len(w.contacts)
	}
	return out
}

func (g *Generator) newWorkspace(idx, n int) *workspace {
	h := homes[idx%len(homes)]
	w := &workspace{
		idx:    idx,
		domain: Domain(idx),
		title:  h.name,
		offset: h.offset,
		home:   h.country,
		seed:   derive(uint64(g.cfg.Seed), 'w', uint64(idx)),
	}
	if idx >= len(homes) {
		w.title = fmt.Sprintf("%s %d", h.name, idx)
	}
	weights := slices.Clone(countryWeights)
	weights[w.home] += 250
	w.countryCum = cumulative(weights...)
	w.products = newCatalog(w)

	// Draw each contact's order times, then give customer ids and order ids in
	// chronological order, as Shopify does, then play the history to get the state.
	w.contacts = make([]contact, n)
	plans := make([]timesPlan, n)
	for i := range w.contacts {
		c := &w.contacts[i]
		c.seed = derive(w.seed, 'c', uint64(i))
		r := newRNG(derive(c.seed, 'p', 0))
		plans[i] = planTimes(&r, g.start, g.hist)
		c.createdAt = plans[i].created
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpInt64(plans[a].created, plans[b].created) })
	sorted := make([]contact, n)
	sortedPlans := make([]timesPlan, n)
	var histOrders int32
	for rank, i := range order {
		sorted[rank] = w.contacts[i]
		sortedPlans[rank] = plans[i]
		c := &sorted[rank]
		c.id = w.customerID(int64(rank), c.seed)
		c.histOff = histOrders
		histOrders += int32(plans[i].n)
	}
	w.contacts, plans = sorted, sortedPlans
	type orderRef struct {
		at  int64
		ref int32
	}
	refs := make([]orderRef, 0, histOrders)
	for i := range w.contacts {
		for k := 0; k < plans[i].n; k++ {
			refs = append(refs, orderRef{plans[i].at[k], w.contacts[i].histOff + int32(k)})
		}
	}
	slices.SortStableFunc(refs, func(a, b orderRef) int { return cmpInt64(a.at, b.at) })
	w.orderRank = make([]int32, len(refs))
	for rank, o := range refs {
		w.orderRank[o.ref] = int32(rank)
	}
	w.nextRank = int64(len(refs)) + int64(n/guestEvery) + 1
	w.nextCust = int64(n)
	w.initial = n
	w.maxCust = 2*n + 16
	for i := range w.contacts {
		g.playHistory(w, &w.contacts[i], nil)
	}
	return w
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// customerID returns the id of the customer of chronological rank rank: increasing
// with rank, as Shopify's, and for about 3% of customers above 2^53 (not exactly
// representable as a float64) to exercise exact id parsing.
func (w *workspace) customerID(rank int64, seed uint64) int64 {
	if mix(seed^0xb16)%100 < 3 {
		return 1<<53 + 1 + 2*(int64(w.idx)<<32+rank)
	}
	return 6_800_000_000_000 + int64(w.idx)*12_000_000_000 + rank*9973 + int64(mix(seed^0x1d)%9973)
}

// orderID returns the id of the order of chronological rank rank.
func (w *workspace) orderID(rank int64) int64 {
	return 5_100_000_000_000 + int64(w.idx)*4_000_000_000 + rank*97 + int64(mix(w.seed^uint64(rank))%97)
}

// orderNumber returns the order number ("#1001") of the order of rank rank.
func orderNumber(rank int64) int64 { return 1001 + rank }

// recount rebuilds the cumulative contact counts used to pick a live contact.
func (g *Generator) recount() {
	s := 0
	for i, w := range g.ws {
		s += len(w.contacts)
		g.cum[i] = s
	}
}

// newCatalog returns the products of w: every product of every brand, with ids and
// collections of its own.
func newCatalog(w *workspace) []product {
	r := newRNG(derive(w.seed, 'k', 0))
	var ps []product
	for bi := range brands {
		b := &brands[bi]
		for pi := range b.products {
			p := product{
				id:          8_000_000_000_000 + int64(w.idx)*1_000_000_000 + int64(len(ps))*7919 + r.int64n(7919),
				brand:       bi,
				item:        pi,
				collections: slices.Clone(b.collections),
			}
			if r.chance(0.3) {
				p.collections = append(p.collections, "bestsellers")
			}
			if r.chance(0.15) {
				p.collections = append(p.collections, "sale")
			}
			for v := range b.variants {
				p.variantIDs = append(p.variantIDs, 44_000_000_000_000+p.id%1_000_000_000*1000+int64(v)*37+r.int64n(37))
			}
			ps = append(ps, p)
		}
	}
	return ps
}

// writer holds the buffers records are rendered in and the arena they are copied to.
type writer struct {
	buf   []byte
	key   []byte
	arena arena
	p     profile
}

// arena hands out the byte and header slices of records from large chunks, so that a
// record costs no allocation of its own. Carved slices are never written again.
type arena struct {
	b []byte
	h []Header
}

const arenaChunk = 256 << 10

func (a *arena) copy(src []byte) []byte {
	if len(src) > cap(a.b)-len(a.b) {
		a.b = make([]byte, 0, max(arenaChunk, len(src)))
	}
	n := len(a.b)
	a.b = append(a.b, src...)
	return a.b[n:len(a.b):len(a.b)]
}

func (a *arena) headers(n int) []Header {
	if n > cap(a.h)-len(a.h) {
		a.h = make([]Header, 0, max(1024, n))
	}
	m := len(a.h)
	a.h = a.h[:m+n]
	return a.h[m : m+n : m+n]
}

// unixNano converts t, clamping the zero time to 1970.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
