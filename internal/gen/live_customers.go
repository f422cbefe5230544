package gen

// Live customer events: profile updates, tags, consent, sign-ups, deletions.

// nextCustomer: a profile update, tags, consent, a sign-up or (rarely) a deletion.
func (g *Generator) nextCustomer(ns int64) Record {
	if rec, ok := g.redeliver(1); ok {
		return rec
	}
	l := &g.live
	r := &l.r
	kind := r.pick(customerMix)
	switch kind {
	case 1:
		return g.nextTags(ns)
	case 5:
		if rec, ok := g.signUp(ns); ok {
			return g.remember(1, rec)
		}
		kind = 0
	}
	_, ws, c := g.pickContact()
	ws.profile(c, &g.w.p)
	if (kind == 2 || kind == 3) && g.w.p.phone == nil {
		kind = 0 // consent by phone needs a phone
	}
	switch kind {
	case 2: // SMS consent
		if c.sms == consentSubscribed {
			c.sms = consentUnsubscribed
		} else if r.chance(0.85) {
			c.sms = consentSubscribed
		} else {
			c.sms = consentPending
		}
		c.smsAt = max(ns, c.smsAt+second)
		formB := r.chance(0.5)
		rec := g.w.smsConsentRecord(ws, c, &g.w.p, ns, formB, r)
		if formB {
			return rec
		}
		return g.remember(1, rec)
	case 3: // WhatsApp consent
		if c.wa == consentSubscribed {
			c.wa = consentUnsubscribed
		} else if c.wa == consentUnsubscribed || r.chance(0.75) {
			c.wa = consentSubscribed
		} else {
			c.wa = consentUnsubscribed
		}
		c.waAt = max(ns, c.waAt+second)
		return g.w.waConsentRecord(ws, c, &g.w.p, ns, r)
	case 4: // e-mail consent
		if c.email == consentSubscribed {
			c.email = consentUnsubscribed
		} else {
			c.email = consentSubscribed
		}
		c.emailAt = max(ns, c.emailAt+second)
		return g.remember(1, g.w.emailConsentRecord(ws, c, &g.w.p, ns, r))
	case 6:
		if len(ws.contacts) > 1 {
			c.deleted = true
			return g.remember(1, g.w.deleteRecord(ws, c, ns, r))
		}
	}
	if r.chance(0.02) { // moved to another market
		c.country = uint8(r.pick(ws.countryCum))
	}
	c.updatedAt = max(ns, c.updatedAt+second)
	return g.remember(1, g.w.customerRecord(ws, c, "customers/update", r.chance(0.5), c.updatedAt, r))
}

// nextTags adds or removes tags. A quarter of tag events toggle the exclusion tag,
// keeping about exclTarget of the contacts excluded, so that contacts leave and
// re-enter every segment now and then.
func (g *Generator) nextTags(ns int64) Record {
	l := &g.live
	r := &l.r
	if r.chance(0.25) {
		total := g.cum[len(g.cum)-1]
		if float64(len(l.excl)) < exclTarget*float64(total) {
			rf, ws, c := g.pickContact()
			if c.tags&(1<<exclusionTagBit) == 0 {
				c.tags |= 1 << exclusionTagBit
				l.excl = append(l.excl, rf)
				return g.w.tagsRecord(ws, c, 1<<exclusionTagBit, true, ns, r)
			}
		} else {
			for len(l.excl) > 0 {
				i := r.intn(len(l.excl))
				rf := l.excl[i]
				l.excl[i] = l.excl[len(l.excl)-1]
				l.excl = l.excl[:len(l.excl)-1]
				ws, c := g.at(rf)
				if c.deleted || c.tags&(1<<exclusionTagBit) == 0 {
					continue
				}
				c.tags &^= 1 << exclusionTagBit
				return g.w.tagsRecord(ws, c, 1<<exclusionTagBit, false, ns, r)
			}
		}
	}
	_, ws, c := g.pickContact()
	const others = 1<<exclusionTagBit - 1
	if c.tags&others != 0 && r.chance(0.35) {
		for {
			bit := uint16(1) << r.intn(exclusionTagBit)
			if c.tags&bit != 0 {
				c.tags &^= bit
				return g.w.tagsRecord(ws, c, bit, false, ns, r)
			}
		}
	}
	mask := uint16(1) << r.intn(exclusionTagBit)
	if r.chance(0.2) {
		mask |= 1 << r.intn(exclusionTagBit)
	}
	c.tags |= mask
	return g.w.tagsRecord(ws, c, mask, true, ns, r)
}

// signUp creates a contact (customers/create), unless its shop has doubled already.
func (g *Generator) signUp(ns int64) (Record, bool) {
	r := &g.live.r
	_, ws, _ := g.pickContact()
	if len(ws.contacts) >= ws.maxCust {
		return Record{}, false
	}
	rank := ws.nextCust
	ws.nextCust++
	c := contact{seed: derive(ws.seed, 'n', uint64(rank)), createdAt: ns, updatedAt: ns}
	c.id = ws.customerID(rank, c.seed)
	c.country = uint8(homeCountry(ws, c.seed))
	ws.profile(&c, &g.w.p)
	c.email, c.emailAt = consentNotSubscribed, ns
	if r.chance(0.5) {
		c.email = consentSubscribed
	}
	if g.w.p.phone != nil {
		c.sms, c.smsAt = consentNotSubscribed, ns
		if r.chance(0.45) {
			c.sms = consentSubscribed
		}
	}
	if r.chance(0.4) {
		c.tags |= 1 << 1 // newsletter
	}
	ws.contacts = append(ws.contacts, c)
	g.recount()
	return g.w.customerRecord(ws, &ws.contacts[len(ws.contacts)-1], "customers/create", r.chance(0.5), ns, r), true
}
