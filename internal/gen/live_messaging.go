package gen

// Live messaging: message statuses, replies, automations, lists, conversations.

// nextMessaging: message statuses, replies, automations, lists, conversations.
func (g *Generator) nextMessaging(ns int64) Record {
	l := &g.live
	r := &l.r
	switch r.pick(messageMix) {
	case 0:
		return g.nextStatus(ns)
	case 1: // a reply, mostly from someone just messaged, by a contact who replies at all
		ws, c := g.recentRecipient()
		for try := 0; try < 8 && !replies(c); try++ {
			ws, c = g.recentRecipient()
		}
		return g.w.inboundRecord(ws, c, ns-r.between(0, second), ns, r)
	case 2:
		_, ws, c := g.pickContact()
		return g.w.automationRecord(ws, c, r.intn(len(automations)), ns-r.between(0, second), ns, r)
	case 3, 4: // list membership; a removal needs a member, found in a few draws
		_, ws, c := g.pickContact()
		for try := 0; try < 8 && c.lists == 0; try++ {
			_, ws, c = g.pickContact()
		}
		li := r.intn(len(lists))
		if c.lists != 0 && r.chance(0.3) {
			for c.lists&(1<<li) == 0 {
				li = r.intn(len(lists))
			}
		}
		added := c.lists&(1<<li) == 0
		if added {
			c.lists |= 1 << li
		} else {
			c.lists &^= 1 << li
		}
		return g.w.listRecord(ws, c, li, added, ns, r)
	}
	ws, c := g.recentRecipient()
	return g.w.conversationRecord(ws, c, ns, r)
}

// recentRecipient returns, mostly, the recipient of a message in flight.
func (g *Generator) recentRecipient() (*workspace, *contact) {
	l := &g.live
	if len(l.msgs) > 0 && l.r.chance(0.6) {
		m := l.msgs[l.r.intn(len(l.msgs))]
		if ws, c := g.at(m.ref); !c.deleted {
			return ws, c
		}
	}
	_, ws, c := g.pickReachable(3)
	return ws, c
}

// nextStatus sends a new message (about 40%) or reports the next status of one in
// flight: sent → delivered (WhatsApp: sometimes read at once) → read (55%) → played
// (rarely); about 4% fail.
func (g *Generator) nextStatus(ns int64) Record {
	l := &g.live
	r := &l.r
	at := ns - r.between(0, 2*second)
	for len(l.msgs) > 0 && !r.chance(0.4) {
		i := r.intn(len(l.msgs))
		m := &l.msgs[i]
		ws, c := g.at(m.ref)
		if c.deleted {
			l.dropMsg(i)
			continue
		}
		var status string
		done := false
		switch m.stage {
		case msgSent:
			switch x := r.intn(100); {
			case x < 86 || (m.ch == chanSMS && x < 96) || (x < 94 && !reads(c)):
				status, m.stage = "delivered", msgDelivered
				done = !reads(c) || !r.chance(0.55)
			case x < 94:
				status, m.stage = "read", msgRead
				done = !r.chance(0.03)
			default:
				status, done = "failed", true
			}
		case msgDelivered:
			status, m.stage = "read", msgRead
			done = !r.chance(0.03)
		default:
			status, done = "played", true
		}
		rec := g.w.statusRecord(ws, c, m.seed, m.ch, status, at, ns, r)
		if done {
			l.dropMsg(i)
		}
		return rec
	}
	rf, ws, c := g.pickReachable(4)
	m := liveMsg{ref: rf, seed: r.u64(), ch: chanSMS}
	if c.wa == consentSubscribed || r.chance(0.6) {
		m.ch = chanWhatsApp
	}
	if len(l.msgs) >= maxLiveMsgs {
		l.dropMsg(r.intn(len(l.msgs)))
	}
	l.msgs = append(l.msgs, m)
	return g.w.statusRecord(ws, c, m.seed, m.ch, "sent", at, ns, r)
}

func (l *liveState) dropMsg(i int) {
	last := len(l.msgs) - 1
	l.msgs[i] = l.msgs[last]
	l.msgs = l.msgs[:last]
}

// replies reports whether c ever answers messages: 60% of contacts do, the others
// only receive (they are what the re-engagement-suppression segment finds).
func replies(c *contact) bool { return mix(c.seed^0x7e91)%100 < 60 }

// reads reports whether c ever reads messages: 80% of contacts do.
func reads(c *contact) bool { return mix(c.seed^0x4ead)%100 < 80 }
