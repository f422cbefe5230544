package gen

// Live orders: created, then paid, fulfilled and delivered, or cancelled.

// nextOrder: a new order (about 30%), or the next step of one in flight.
func (g *Generator) nextOrder(ns int64) Record {
	if rec, ok := g.redeliver(0); ok {
		return rec
	}
	l := &g.live
	r := &l.r
	if len(l.orders) == 0 || r.chance(0.3) {
		return g.remember(0, g.newOrder(ns))
	}
	i := r.intn(len(l.orders))
	o := &l.orders[i]
	ws := g.ws[o.ws]
	var c *contact
	var guest contact
	if o.guest {
		guest = contact{seed: o.guestSeed, country: o.country}
	} else {
		c = &ws.contacts[o.c]
		if c.deleted {
			l.dropOrder(i)
			return g.remember(0, g.newOrder(ns))
		}
	}
	o.st.updatedAt = max(ns, o.st.updatedAt+second)
	var pl orderPlan
	ws.planOrder(o.st.seed, &countries[o.country], &pl)
	topic, eventID, done := "orders/updated", uint64(0), false
	switch o.next {
	case stepPaid:
		if o.st.financial == finPending && r.chance(0.25) {
			topic, done = "orders/cancelled", true // the voucher expired unpaid
			o.st.cancelledAt, o.st.financial = o.st.updatedAt, finVoided
		} else {
			topic = "orders/paid"
			if o.st.financial == finPaid {
				eventID = o.eventSeed // paid at checkout: the same merchant action
			}
			o.st.financial = finPaid
			o.next = stepFulfill
		}
	case stepFulfill:
		if r.chance(0.04) {
			topic, done = "orders/cancelled", true
			o.st.cancelledAt, o.st.financial = o.st.updatedAt, finRefunded
		} else {
			o.st.fulfilled = true
			o.next = stepDeliver
		}
	default:
		o.st.delivered, done = true, true
	}
	if o.st.cancelledAt != 0 && o.counted {
		c.orders--
		c.spent -= o.total
	}
	rec := g.w.orderRecord(ws, c, &guest, topic, &o.st, &pl, ns, eventID, r)
	if done {
		l.dropOrder(i)
	}
	return g.remember(0, rec)
}

func (l *liveState) dropOrder(i int) {
	last := len(l.orders) - 1
	l.orders[i] = l.orders[last]
	l.orders = l.orders[:last]
}

// newOrder places an order: a guest checkout for 3%, else by a random contact.
func (g *Generator) newOrder(ns int64) Record {
	l := &g.live
	r := &l.r
	rf, ws, c := g.pickBuyer(ns)
	o := liveOrder{ref: rf, country: c.country}
	var guest contact
	if r.chance(0.03) {
		o.guest = true
		o.guestSeed = r.u64()
		guest = contact{seed: o.guestSeed}
		guest.country = uint8(homeCountry(ws, guest.seed))
		o.country = guest.country
		c = nil
	}
	var pl orderPlan
	o.st.seed = r.u64()
	ws.planOrder(o.st.seed, &countries[o.country], &pl)
	o.st.rank = ws.nextRank
	ws.nextRank++
	o.st.createdAt, o.st.updatedAt = ns, ns
	o.st.financial = finPaid
	if pl.pending {
		o.st.financial = finPending
	}
	o.st.full = r.chance(0.5)
	o.total = pl.total
	o.counted = c != nil && !pl.test
	o.eventSeed = r.u64()
	if o.counted {
		c.orders++
		c.spent += pl.total
		c.lastOrderAt = ns
		c.lastOrderID = ws.orderID(o.st.rank)
		c.lastOrderNo = int32(orderNumber(o.st.rank))
		c.updatedAt = max(c.updatedAt, ns)
	}
	rec := g.w.orderRecord(ws, c, &guest, "orders/create", &o.st, &pl, ns, o.eventSeed, r)
	if len(l.orders) >= maxLiveOrders {
		l.dropOrder(r.intn(len(l.orders)))
	}
	l.orders = append(l.orders, o)
	return rec
}

// pickBuyer returns the customer of a new order. Recent customers buy again more
// readily than leads convert or lapsed customers come back: a contact is accepted with
// probability 1 if it ordered in the last 60 days, 0.35 if it never ordered, 0.25
// otherwise, in up to four draws.
func (g *Generator) pickBuyer(ns int64) (ref, *workspace, *contact) {
	for try := 0; ; try++ {
		rf, ws, c := g.pickContact()
		p := 0.25
		switch {
		case c.orders == 0:
			p = 0.35
		case ns-c.lastOrderAt <= 60*day:
			p = 1
		}
		if try == 3 || g.live.r.chance(p) {
			return rf, ws, c
		}
	}
}
