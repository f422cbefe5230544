package gen

import (
	"sort"
	"time"
)

// The live stream: Next draws one event of the configured mix and keeps the contacts'
// state consistent with what it produced. Orders and messages are followed through
// their lifecycles (created → paid → fulfilled → delivered, or cancelled; sent →
// delivered → read, or failed), so most events continue something begun earlier.

// liveState is the state of the live stream beyond the contacts.
type liveState struct {
	r      rng
	orders []liveOrder // orders with events still to come
	msgs   []liveMsg   // messages with statuses still to come
	excl   []ref       // contacts carrying the exclusion tag (some may be deleted or no longer tagged)
	dups   [2][]Record // recent webhooks (orders, customers), for re-deliveries
	dupAt  [2]int
}

// ref names a contact.
type ref struct{ ws, c int32 }

// Lifecycle steps of a live order.
const (
	stepPaid = iota
	stepFulfill
	stepDeliver
)

type liveOrder struct {
	ref
	st        orderState
	country   uint8
	guest     bool
	counted   bool
	next      uint8
	total     int64
	guestSeed uint64
	eventSeed uint64 // X-Shopify-Event-Id of the checkout: orders/create and an immediate orders/paid share it
}

// Stages of a live message.
const (
	msgSent = iota
	msgDelivered
	msgRead
)

type liveMsg struct {
	ref
	seed  uint64
	ch    uint8
	stage uint8
}

const (
	maxLiveOrders = 2048
	maxLiveMsgs   = 8192
	dupRing       = 64
	dupShare      = 0.003 // share of webhooks delivered twice
	exclTarget    = 0.03  // share of contacts the live stream keeps excluded
)

// Sub-mixes, per mille of their category.
var (
	customerMix = cumulative(450, 220, 100, 120, 40, 60, 10) // update, tags, SMS consent, WhatsApp consent, e-mail consent, create, delete
	messageMix  = cumulative(790, 50, 60, 50, 50)            // status, inbound, automation, lists, conversation
)

func (l *liveState) init(seed uint64) {
	l.r = newRNG(derive(seed, 'l', 0))
}

// Next returns the next event of the live stream, as of now: the event occurred at now
// (a message status a little earlier). now should not go backwards and should not be
// before Config.Start; timestamps that must grow per contact (updated_at, consent
// times) are kept growing even if it does.
func (g *Generator) Next(now time.Time) Record {
	ns := unixNano(now)
	x := g.live.r.float()
	switch {
	case x < g.cfg.Mix.Orders:
		return g.nextOrder(ns)
	case x < g.cfg.Mix.Orders+g.cfg.Mix.Customers:
		return g.nextCustomer(ns)
	}
	return g.nextMessaging(ns)
}

// initExcluded collects the contacts excluded by the history.
func (g *Generator) initExcluded() {
	g.live.excl = make([]ref, 0, 64)
	for wi, ws := range g.ws {
		for ci := range ws.contacts {
			if ws.contacts[ci].tags&(1<<exclusionTagBit) != 0 {
				g.live.excl = append(g.live.excl, ref{int32(wi), int32(ci)})
			}
		}
	}
}

// pickContact returns a live contact, uniformly over all shops' contacts.
func (g *Generator) pickContact() (ref, *workspace, *contact) {
	r := &g.live.r
	total := g.cum[len(g.cum)-1]
	for try := 0; ; try++ {
		x := r.intn(total)
		wi := sort.SearchInts(g.cum, x+1)
		ws := g.ws[wi]
		ci := x
		if wi > 0 {
			ci -= g.cum[wi-1]
		}
		c := &ws.contacts[ci]
		if !c.deleted || try > 64 {
			return ref{int32(wi), int32(ci)}, ws, c
		}
	}
}

// pickReachable returns a contact with a phone, preferring (with up to tries draws) one
// who consented to marketing messages.
func (g *Generator) pickReachable(tries int) (ref, *workspace, *contact) {
	var (
		best ref
		bws  *workspace
		bc   *contact
	)
	for i := 0; i < tries; i++ {
		rf, ws, c := g.pickContact()
		ws.profile(c, &g.w.p)
		if g.w.p.phone == nil {
			continue
		}
		if consentYes(c) {
			return rf, ws, c
		}
		if bc == nil {
			best, bws, bc = rf, ws, c
		}
	}
	if bc == nil {
		return g.pickContact()
	}
	return best, bws, bc
}

func consentYes(c *contact) bool {
	return c.wa == consentSubscribed || (c.wa == consentNone && c.sms == consentSubscribed)
}

func (g *Generator) at(rf ref) (*workspace, *contact) {
	ws := g.ws[rf.ws]
	return ws, &ws.contacts[rf.c]
}

// remember keeps a webhook for a later re-delivery.
func (g *Generator) remember(cat int, rec Record) Record {
	l := &g.live
	if len(l.dups[cat]) < dupRing {
		l.dups[cat] = append(l.dups[cat], rec)
	} else {
		l.dups[cat][l.dupAt[cat]%dupRing] = rec
		l.dupAt[cat]++
	}
	return rec
}

// redeliver returns, rarely, a webhook of category cat delivered before: Shopify
// delivers at least once, and retries with the original body and webhook id.
func (g *Generator) redeliver(cat int) (Record, bool) {
	l := &g.live
	if len(l.dups[cat]) == 0 || !l.r.chance(dupShare) {
		return Record{}, false
	}
	return l.dups[cat][l.r.intn(len(l.dups[cat]))], true
}
