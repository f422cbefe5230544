package gen

// Record framing (Form A webhooks, Form B envelopes; SPEC §4) and the payloads of the
// consent, tag and messaging topics.

// Form A header names, as Shopify sends them.
const (
	hTopic       = "X-Shopify-Topic"
	hShop        = "X-Shopify-Shop-Domain"
	hWebhookID   = "X-Shopify-Webhook-Id"
	hTriggeredAt = "X-Shopify-Triggered-At"
	hAPIVersion  = "X-Shopify-API-Version"
	hEventID     = "X-Shopify-Event-Id"
)

// setKey sets w.key to the contact key "<workspace>/<id>".
func (w *writer) setKey(ws *workspace, id int64) {
	w.key = append(w.key[:0], ws.domain...)
	w.key = append(w.key, '/')
	w.key = appendInt(w.key, id)
}

// formA finishes a webhook record whose body is w.buf and whose key is w.key. eventID
// seeds the X-Shopify-Event-Id (shared by the topics of one merchant action); 0 draws
// a fresh one from r.
func (w *writer) formA(ws *workspace, topic, api string, triggered int64, eventID uint64, r *rng) Record {
	body := len(w.buf)
	var ends [6]int
	b := append(w.buf, topic...)
	ends[0] = len(b)
	b = append(b, ws.domain...)
	ends[1] = len(b)
	b = appendUUID(b, r)
	ends[2] = len(b)
	b = appendTime(b, triggered, 0, 9, true)
	ends[3] = len(b)
	b = append(b, api...)
	ends[4] = len(b)
	if eventID == 0 {
		b = appendUUID(b, r)
	} else {
		er := newRNG(eventID)
		b = appendUUID(b, &er)
	}
	ends[5] = len(b)
	w.buf = b
	out := w.arena.copy(b)
	key := w.arena.copy(w.key)
	hs := w.arena.headers(6)
	names := [6]string{hTopic, hShop, hWebhookID, hTriggeredAt, hAPIVersion, hEventID}
	prev := body
	for i := range hs {
		hs[i] = Header{Key: names[i], Value: out[prev:ends[i]:ends[i]]}
		prev = ends[i]
	}
	return Record{Key: key, Value: out[:body:body], Headers: hs, Topic: topic}
}

// envelope starts a Form B value in w.buf: {"topic", "shop", "id", "occurred_at",
// "payload": — the payload follows, then formB closes it. name is the topic as
// written (possibly an alias).
func (w *writer) envelope(ws *workspace, name string, occurred int64, r *rng) {
	b := append(w.buf[:0], `{"topic":"`...)
	b = append(b, name...)
	b = append(b, `","shop":"`...)
	b = append(b, ws.domain...)
	b = append(b, `","id":"`...)
	b = appendUUID(b, r)
	b = append(b, `","occurred_at":`...)
	switch x := r.intn(10); {
	case x < 7:
		b = appendTimeStr(b, occurred, 0, 3, true)
	case x < 9:
		b = appendTimeStr(b, occurred, ws.offset, 0, false)
	default:
		b = appendTimeStr(b, occurred, 0, 6, false)
	}
	w.buf = append(b, `,"payload":`...)
}

// formB closes the envelope in w.buf and returns the record keyed w.key.
func (w *writer) formB(topic string) Record {
	w.buf = append(w.buf, '}')
	return Record{Key: w.arena.copy(w.key), Value: w.arena.copy(w.buf), Topic: topic}
}

// appendCustomerRef appends a customer id the ways Form B producers write it: a JSON
// number, a numeric string or a customer GraphQL id (SPEC §2).
func appendCustomerRef(b []byte, id int64, r *rng) []byte {
	switch x := r.intn(10); {
	case x < 5:
		return appendInt(b, id)
	case x < 8:
		b = append(b, '"')
		b = appendInt(b, id)
		return append(b, '"')
	default:
		b = append(b, `"gid://shopify/Customer/`...)
		b = appendInt(b, id)
		return append(b, '"')
	}
}

// Message channels.
const (
	chanWhatsApp = iota
	chanSMS
)

// appendMessageID appends the provider id of message seed on channel ch.
func appendMessageID(b []byte, seed uint64, ch uint8) []byte {
	r := newRNG(seed)
	if ch == chanSMS {
		b = append(b, "SM"...)
		b = appendHex(b, r.u64(), 16)
		return appendHex(b, r.u64(), 16)
	}
	b = append(b, "wamid.HBgM"...)
	return appendToken(b, &r, 18, 62)
}

// statusRecord renders a messages/status event.
func (w *writer) statusRecord(ws *workspace, c *contact, msgSeed uint64, ch uint8, status string, at, occurred int64, r *rng) Record {
	w.envelope(ws, "messages/status", occurred, r)
	b := append(w.buf, `{"customer_id":`...)
	b = appendCustomerRef(b, c.id, r)
	b = append(b, `,"message_id":"`...)
	b = appendMessageID(b, msgSeed, ch)
	b = append(b, `","status":"`...)
	b = append(b, status...)
	b = append(b, `","timestamp":`...)
	b = appendEventTime(b, ws, at, ch, r)
	if ch == chanSMS {
		b = append(b, `,"channel":"sms"`...)
	} else {
		b = append(b, `,"channel":"whatsapp"`...)
	}
	if status == "failed" {
		if ch == chanSMS {
			b = append(b, `,"error":{"code":30003,"title":"Unreachable destination handset"}`...)
		} else {
			b = append(b, `,"error":{"code":131026,"title":"Message undeliverable"}`...)
		}
	}
	w.buf = append(b, '}')
	w.setKey(ws, c.id)
	return w.formB("messages/status")
}

// appendEventTime appends a payload timestamp: WhatsApp's Unix seconds as a string, or
// RFC 3339 with milliseconds.
func appendEventTime(b []byte, ws *workspace, at int64, ch uint8, r *rng) []byte {
	if ch == chanWhatsApp && r.chance(0.4) {
		b = append(b, '"')
		b = appendInt(b, floorDiv(at, second))
		return append(b, '"')
	}
	if r.chance(0.5) {
		return appendTimeStr(b, at, 0, 3, true)
	}
	return appendTimeStr(b, at, ws.offset, 3, false)
}

// inboundRecord renders a messages/inbound event: a message or quick reply from the
// customer.
func (w *writer) inboundRecord(ws *workspace, c *contact, at, occurred int64, r *rng) Record {
	w.envelope(ws, "messages/inbound", occurred, r)
	b := append(w.buf, `{"customer_id":`...)
	b = appendCustomerRef(b, c.id, r)
	b = append(b, `,"message_id":"`...)
	b = appendMessageID(b, r.u64(), chanWhatsApp)
	b = append(b, `","timestamp":`...)
	b = appendEventTime(b, ws, at, chanWhatsApp, r)
	if r.chance(0.35) {
		b = append(b, `,"channel":"whatsapp","type":"button","text":`...)
		b = appendStr(b, quickReplies[r.intn(len(quickReplies))])
	} else {
		b = append(b, `,"channel":"whatsapp","type":"text","text":`...)
		b = appendStr(b, inboundTexts[r.intn(len(inboundTexts))])
	}
	w.buf = append(b, '}')
	w.setKey(ws, c.id)
	return w.formB("messages/inbound")
}

// automationRecord renders an automations/completed event.
func (w *writer) automationRecord(ws *workspace, c *contact, automation int, at, occurred int64, r *rng) Record {
	w.envelope(ws, "automations/completed", occurred, r)
	b := append(w.buf, `{"customer_id":`...)
	b = appendCustomerRef(b, c.id, r)
	b = append(b, `,"automation_id":"`...)
	b = append(b, automations[automation]...)
	b = append(b, `","completed_at":`...)
	b = appendTimeStr(b, at, 0, 3, true)
	b = append(b, `,"steps_completed":`...)
	b = appendInt(b, r.between(1, 5))
	w.buf = append(b, '}')
	w.setKey(ws, c.id)
	return w.formB("automations/completed")
}

// listRecord renders lists/member_added or lists/member_removed.
func (w *writer) listRecord(ws *workspace, c *contact, list int, added bool, occurred int64, r *rng) Record {
	topic := "lists/member_removed"
	if added {
		topic = "lists/member_added"
	}
	w.envelope(ws, topic, occurred, r)
	b := append(w.buf, `{"customer_id":`...)
	b = appendCustomerRef(b, c.id, r)
	b = append(b, `,"list_id":"`...)
	b = append(b, lists[list]...)
	b = append(b, `","source":"`...)
	b = append(b, [...]string{"form", "import", "api", "automation"}[r.intn(4)]...)
	w.buf = append(b, `"}`...)
	w.setKey(ws, c.id)
	return w.formB(topic)
}

var conversationStatuses = []string{"OPEN", "PENDING", "RESOLVED"}

// conversationRecord renders a conversations/updated event.
func (w *writer) conversationRecord(ws *workspace, c *contact, occurred int64, r *rng) Record {
	w.envelope(ws, "conversations/updated", occurred, r)
	b := append(w.buf, `{"customer_id":`...)
	b = appendCustomerRef(b, c.id, r)
	b = append(b, `,"conversation_id":"conv_`...)
	b = appendHex(b, mix(c.seed^0xc0), 12)
	b = append(b, `","status":"`...)
	b = append(b, conversationStatuses[r.intn(3)]...)
	b = append(b, `","assigned_agent":`...)
	if a := r.intn(len(agents) + 1); a == len(agents) {
		b = append(b, "null"...)
	} else {
		b = appendStr(b, agents[a])
	}
	b = append(b, `,"channel":"whatsapp","updated_at":`...)
	b = appendTimeStr(b, occurred, 0, 3, true)
	w.buf = append(b, '}')
	w.setKey(ws, c.id)
	return w.formB("conversations/updated")
}

// tagsRecord renders customer.tags_added or customer.tags_removed for the tags in mask:
// mostly GraphQL style (customerId gid, tags array, occurredAt), sometimes the
// snake-case style with a comma-separated string.
func (w *writer) tagsRecord(ws *workspace, c *contact, mask uint16, added bool, at int64, r *rng) Record {
	topic, alias := "customer.tags_removed", "customer_tags/removed"
	if added {
		topic, alias = "customer.tags_added", "customer_tags/added"
	}
	name := topic
	if r.chance(0.1) {
		name = alias
	}
	w.envelope(ws, name, at, r)
	b := w.buf
	if r.chance(0.85) {
		b = append(b, `{"customerId":"gid://shopify/Customer/`...)
		b = appendInt(b, c.id)
		b = append(b, `","tags":[`...)
		first := true
		for i := range tagNames {
			if mask&(1<<i) != 0 {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, '"')
				b = append(b, tagNames[i]...)
				b = append(b, '"')
			}
		}
		b = append(b, `],"occurredAt":`...)
		b = appendTimeStr(b, at, 0, 0, true)
	} else {
		b = append(b, `{"customer_id":"`...)
		b = appendInt(b, c.id)
		b = append(b, `","tags":`...)
		b = appendTags(b, mask)
	}
	w.buf = append(b, '}')
	w.setKey(ws, c.id)
	return w.formB(topic)
}

// waConsentRecord renders customers_whats_app_marketing_consent/update with c's
// WhatsApp consent.
func (w *writer) waConsentRecord(ws *workspace, c *contact, p *profile, occurred int64, r *rng) Record {
	const topic = "customers_whats_app_marketing_consent/update"
	w.envelope(ws, topic, occurred, r)
	b := append(w.buf, `{"customer_id":`...)
	b = appendCustomerRef(b, c.id, r)
	b = append(b, `,"phone_number":`...)
	b = appendPhone(b, p)
	b = append(b, `,"whats_app_marketing_consent":{"state":"`...)
	b = appendUpper(b, consentNames[c.wa])
	b = append(b, `","opt_in_level":"CONFIRMED_OPT_IN","updated_at":`...)
	b = appendTimeStr(b, c.waAt, 0, 3, true)
	b = append(b, `,"consent_collected_from":"OTHER"}}`...)
	w.buf = b
	w.setKey(ws, c.id)
	return w.formB(topic)
}

// smsConsentRecord renders customers_marketing_consent/update with c's SMS consent,
// as a webhook (Form A) or, when formB, in an envelope.
func (w *writer) smsConsentRecord(ws *workspace, c *contact, p *profile, occurred int64, formB bool, r *rng) Record {
	const topic = "customers_marketing_consent/update"
	if formB {
		w.envelope(ws, topic, occurred, r)
	} else {
		w.buf = w.buf[:0]
	}
	b := append(w.buf, `{"id":`...)
	if formB {
		b = appendCustomerRef(b, c.id, r)
	} else {
		b = appendInt(b, c.id)
	}
	b = append(b, `,"phone":`...)
	b = appendPhone(b, p)
	b = append(b, `,"sms_marketing_consent":`...)
	b = appendSMSConsent(b, ws, c, p)
	w.buf = append(b, '}')
	w.setKey(ws, c.id)
	if formB {
		return w.formB(topic)
	}
	return w.formA(ws, topic, apiOld, occurred, 0, r)
}

// emailConsentRecord renders customers_email_marketing_consent/update (Form A).
func (w *writer) emailConsentRecord(ws *workspace, c *contact, p *profile, occurred int64, r *rng) Record {
	const topic = "customers_email_marketing_consent/update"
	b := append(w.buf[:0], `{"customer_id":`...)
	b = appendInt(b, c.id)
	b = append(b, `,"email_address":"`...)
	b = append(b, p.email...)
	b = append(b, `","email_marketing_consent":{"state":"`...)
	b = append(b, consentNames[emailState(c)]...)
	b = append(b, `","opt_in_level":"single_opt_in","consent_updated_at":`...)
	b = appendTimeStr(b, c.emailAt, ws.offset, 0, false)
	w.buf = append(b, `}}`...)
	w.setKey(ws, c.id)
	return w.formA(ws, topic, apiNew, occurred, 0, r)
}

func appendUpper(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// customerRecord renders customers/create or customers/update of c (Form A) as of
// updated, in API version 2024-10 when full, else 2025-01.
func (w *writer) customerRecord(ws *workspace, c *contact, topic string, full bool, updated int64, r *rng) Record {
	ws.profile(c, &w.p)
	w.buf = w.buf[:0]
	w.customer(ws, c, &w.p, full, false, updated)
	w.setKey(ws, c.id)
	api := apiNew
	if full {
		api = apiOld
	}
	return w.formA(ws, topic, api, updated, 0, r)
}

// deleteRecord renders customers/delete (Form A).
func (w *writer) deleteRecord(ws *workspace, c *contact, at int64, r *rng) Record {
	b := append(w.buf[:0], `{"id":`...)
	b = appendInt(b, c.id)
	b = append(b, `,"phone":null,"addresses":[],"tax_exemptions":[],"email_marketing_consent":null,"sms_marketing_consent":null,"admin_graphql_api_id":"gid:\/\/shopify\/Customer\/`...)
	b = appendInt(b, c.id)
	w.buf = append(b, `"}`...)
	w.setKey(ws, c.id)
	return w.formA(ws, "customers/delete", apiNew, at, 0, r)
}

// orderRecord renders an orders/* webhook of the order st of c (nil: a guest checkout
// by g, keyed "<workspace>/guest/<order_id>").
func (w *writer) orderRecord(ws *workspace, c, g *contact, topic string, st *orderState, pl *orderPlan, at int64, eventID uint64, r *rng) Record {
	buyer := c
	if buyer == nil {
		buyer = g
	}
	ws.profile(buyer, &w.p)
	w.buf = w.buf[:0]
	w.order(ws, c, g, &w.p, st, pl)
	if c != nil {
		w.setKey(ws, c.id)
	} else {
		w.key = append(w.key[:0], ws.domain...)
		w.key = append(w.key, "/guest/"...)
		w.key = appendInt(w.key, ws.orderID(st.rank))
	}
	api := apiNew
	if st.full {
		api = apiOld
	}
	return w.formA(ws, topic, api, at, eventID, r)
}
