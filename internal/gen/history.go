package gen

import "iter"

// The history: what a shop looks like when segmentd starts. Each contact's history is
// drawn from its seed alone, so New (which keeps only the resulting state) and History
// (which renders it) play the same events.

// timesPlan is the first part of a contact's history: when it was created and when it
// ordered.
type timesPlan struct {
	created int64
	n       int // orders
	at      [8]int64
}

// Shares of buyers by number of orders (1–8), per mille.
var orderCountDist = cumulative(370, 200, 140, 95, 75, 55, 38, 27)

// Shares of buyers by age of their last order, per mille: ≤30 days, 31–60, 61–90,
// 91–180, older. These populate the demo segments: recent first-time buyers,
// high-value customers lapsed for 60+ days, and so on.
var recencyDist = cumulative(220, 130, 150, 200, 300)

var recencyBounds = [...][2]int64{{1, 30}, {31, 60}, {61, 90}, {91, 180}, {181, 100000}}

// buyerShare is the share of contacts with at least one order; the others are leads.
const buyerShare = 0.70

// planTimes draws a contact's creation and order times before start.
func planTimes(r *rng, start, hist int64) timesPlan {
	var p timesPlan
	lo := start - hist
	if !r.chance(buyerShare) {
		u := r.float()
		p.created = start - minute - int64(u*u*float64(hist+180*day))
		return p
	}
	p.n = r.pick(orderCountDist) + 1
	b := recencyBounds[r.pick(recencyDist)]
	age := r.between(b[0]*day-20*hour, b[1]*day-4*hour)
	if age >= hist {
		age = r.between(hour, hist-hour)
	}
	t := start - age
	p.at[p.n-1] = t
	for k := p.n - 2; k >= 0; k-- {
		t -= r.between(10*day, 120*day)
		if t < lo {
			t = lo + r.int64n(max(p.at[k+1]-lo, 1))
		}
		if t >= p.at[k+1] {
			t = p.at[k+1] - hour
		}
		p.at[k] = t
	}
	p.created = p.at[0] - r.between(10*minute, 120*day)
	return p
}

// histOut receives the rendered history; nil while New builds the state.
type histOut struct {
	w     *writer
	yield func(Record) bool
	stop  bool
}

func (h *histOut) emit(rec Record) {
	if !h.stop && !h.yield(rec) {
		h.stop = true
	}
}

// guestEvery: the history has one guest checkout per guestEvery contacts.
const guestEvery = 40

// Consent shares in the history, per mille.
var (
	smsDist   = cumulative(0, 420, 380, 120, 80) // by consent state; contacts with a phone
	emailDist = cumulative(0, 550, 350, 100)
)

// History returns the initial state of every shop as events, contact by contact (the
// shops interleaved): a customers/create webhook, consent and tag events where the
// webhook's API version does not carry them, the contact's orders (orders/create, and
// orders/cancelled for a few), WhatsApp consent, the exclusion tag for about 2%,
// list memberships, automation completions, and messages with their statuses and
// replies. Every event occurred before Config.Start; each contact's events are in the
// order they must be applied. The sequence is the same on every call, whatever Next
// has done since.
func (g *Generator) History() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		h := &histOut{w: &writer{}, yield: yield}
		most := 0
		for _, ws := range g.ws {
			most = max(most, ws.initial)
		}
		for i := 0; i < most; i++ {
			for _, ws := range g.ws {
				if i >= ws.initial {
					continue
				}
				src := &ws.contacts[i]
				c := contact{id: src.id, seed: src.seed, createdAt: src.createdAt, histOff: src.histOff}
				g.playHistory(ws, &c, h)
				if (i+1)%guestEvery == 0 {
					g.guestOrder(ws, i/guestEvery, h)
				}
				if h.stop {
					return
				}
			}
		}
	}
}

// playHistory plays the history of c (whose identity fields are set), leaving c in
// its state as of Start, and renders it to h unless h is nil. Every random draw is
// made whether or not h is nil.
func (g *Generator) playHistory(ws *workspace, c *contact, h *histOut) {
	start := g.start
	r := newRNG(derive(c.seed, 'p', 0))
	tp := planTimes(&r, start, g.hist)

	c.country = uint8(homeCountry(ws, c.seed))
	c.updatedAt = c.createdAt
	c.orders, c.spent, c.lastOrderAt, c.lastOrderID, c.lastOrderNo = 0, 0, 0, 0, 0
	c.tags, c.lists, c.deleted = 0, 0, false
	c.wa, c.waAt = consentNone, 0
	pp := &g.w.p
	if h != nil {
		pp = &h.w.p
	}
	ws.profile(c, pp)
	hasPhone := pp.phone != nil

	full := r.chance(0.5) // API version of the customers/create webhook
	c.sms = consentNone
	if hasPhone {
		c.sms = uint8(r.pick(smsDist))
	}
	c.smsAt = c.createdAt
	if !full {
		c.smsAt += r.between(second, 90*second)
	}
	c.email = uint8(r.pick(emailDist))
	c.emailAt = c.createdAt
	for i, wgt := range tagWeights {
		if i != exclusionTagBit && r.intn(1000) < wgt {
			c.tags |= 1 << i
		}
	}
	excluded := r.chance(0.02)
	exclAt := r.between(c.createdAt, start-minute)
	wa, waAt := uint8(consentNone), int64(0)
	if hasPhone && r.chance(0.35) {
		wa = consentSubscribed
		if r.chance(0.25) {
			wa = consentUnsubscribed
		}
		waAt = r.between(c.createdAt, start-minute)
	}

	rs := r.u64()
	if h != nil {
		rr := newRNG(rs)
		h.emit(h.w.customerRecord(ws, c, "customers/create", full, c.createdAt, &rr))
		if !full {
			if c.sms != consentNone && c.sms != consentNotSubscribed {
				h.emit(h.w.smsConsentRecord(ws, c, &h.w.p, c.smsAt, rr.chance(0.5), &rr))
			}
			if c.tags != 0 {
				h.emit(h.w.tagsRecord(ws, c, c.tags, true, c.createdAt+2*second, &rr))
			}
			if c.email == consentSubscribed && rr.chance(0.3) {
				h.emit(h.w.emailConsentRecord(ws, c, &h.w.p, c.createdAt+3*second, &rr))
			}
		}
	}

	var pl orderPlan
	for k := 0; k < tp.n; k++ {
		at := tp.at[k]
		seed := r.u64()
		cancelled := r.chance(0.04)
		cancelAt := min(at+r.between(30*minute, 3*day), start-minute)
		fullOrder := r.chance(0.5)
		rs := r.u64()
		ws.planOrder(seed, &countries[c.country], &pl)
		rank := int64(ws.orderRank[c.histOff+int32(k)])
		counted := !cancelled && !pl.test
		if counted {
			c.orders++
			c.spent += pl.total
			c.lastOrderAt = at
			c.lastOrderID = ws.orderID(rank)
			c.lastOrderNo = int32(orderNumber(rank))
		}
		c.updatedAt = max(c.updatedAt, at)
		if h != nil {
			rr := newRNG(rs)
			st := orderState{seed: seed, rank: rank, createdAt: at, updatedAt: at, financial: finPaid, full: fullOrder}
			h.emit(h.w.orderRecord(ws, c, nil, "orders/create", &st, &pl, at, 0, &rr))
			if cancelled {
				st.cancelledAt, st.updatedAt, st.financial = cancelAt, cancelAt, finRefunded
				h.emit(h.w.orderRecord(ws, c, nil, "orders/cancelled", &st, &pl, cancelAt, 0, &rr))
			}
		}
	}

	// WhatsApp consent, the exclusion tag, lists, automations.
	rs = r.u64()
	var rr rng
	if h != nil {
		rr = newRNG(rs)
	}
	if wa != consentNone {
		c.wa, c.waAt = wa, waAt
		if h != nil {
			h.emit(h.w.waConsentRecord(ws, c, &h.w.p, waAt, &rr))
		}
	}
	if excluded {
		c.tags |= 1 << exclusionTagBit
		if h != nil {
			h.emit(h.w.tagsRecord(ws, c, 1<<exclusionTagBit, true, exclAt, &rr))
		}
	}
	if r.chance(0.25) {
		for n := 1 + r.intn(2); n > 0; n-- {
			l := r.intn(len(lists))
			at := r.between(c.createdAt, start-minute)
			c.lists |= 1 << l
			if h != nil {
				h.emit(h.w.listRecord(ws, c, l, true, at, &rr))
			}
		}
	}
	if r.chance(0.2) {
		for n := 1 + r.intn(3); n > 0; n-- {
			a := r.intn(len(automations))
			at := r.between(c.createdAt, start-minute)
			if h != nil {
				h.emit(h.w.automationRecord(ws, c, a, at, at+rr.between(0, 5*second), &rr))
			}
		}
	}

	// Messages: campaigns and automations over the last 120 days, their statuses,
	// and the customer's replies.
	yes := c.wa == consentSubscribed || (c.wa == consentNone && c.sms == consentSubscribed)
	share := 0.35
	if yes {
		share = 0.8
	}
	if !hasPhone || !r.chance(share) {
		return
	}
	neverReads := !reads(c)
	from := max(c.createdAt, start-120*day)
	if from >= start-hour {
		from = start - hour
	}
	for n := 1 + r.intn(7); n > 0; n-- {
		sent := r.between(from, start-10*minute)
		seed := r.u64()
		ch := uint8(chanSMS)
		if c.wa == consentSubscribed || r.chance(0.5) {
			ch = chanWhatsApp
		}
		outcome := r.intn(100)
		reads := !neverReads && r.chance(0.55)
		plays := r.chance(0.03)
		d1 := r.between(second, 90*second)
		d2 := r.between(minute, 2*day)
		if h == nil {
			continue
		}
		emit := func(status string, at int64) {
			at = min(at, start-second)
			h.emit(h.w.statusRecord(ws, c, seed, ch, status, at, at+rr.between(0, 3*second), &rr))
		}
		emit("sent", sent)
		switch {
		case ch == chanWhatsApp && outcome >= 92 && outcome < 97 && !neverReads:
			emit("read", sent+d2) // read at once: no delivered
			reads = false
		case outcome >= 96:
			emit("failed", sent+d1)
			continue
		default:
			emit("delivered", sent+d1)
		}
		if reads {
			emit("read", sent+d2)
			if plays {
				emit("played", sent+d2+minute)
			}
		}
	}
	if r.chance(0.55) && replies(c) {
		lo := max(c.createdAt, start-150*day)
		for n := 1 + r.intn(2); n > 0; n-- {
			at := r.between(min(lo, start-20*minute), start-10*minute)
			if h != nil {
				h.emit(h.w.inboundRecord(ws, c, at, at+rr.between(0, 2*second), &rr))
				if rr.chance(0.5) {
					h.emit(h.w.conversationRecord(ws, c, at+rr.between(minute, hour), &rr))
				}
			}
		}
	}
}

// guestOrder renders the j-th guest checkout of ws: an order without a customer.
func (g *Generator) guestOrder(ws *workspace, j int, h *histOut) {
	r := newRNG(derive(ws.seed, 'g', uint64(j)))
	buyer := contact{seed: r.u64()}
	buyer.country = uint8(homeCountry(ws, buyer.seed))
	at := g.start - r.between(hour, g.hist-hour)
	var pl orderPlan
	seed := r.u64()
	ws.planOrder(seed, &countries[buyer.country], &pl)
	st := orderState{seed: seed, rank: int64(len(ws.orderRank) + j), createdAt: at, updatedAt: at, financial: finPaid}
	h.emit(h.w.orderRecord(ws, nil, &buyer, "orders/create", &st, &pl, at, 0, &r))
}
