package gen

// Shopify customer objects (SPEC §4.1).

// API versions of the generated webhooks: before 2025-01 a customer carries tags,
// consent, orders_count and total_spent; from 2025-01 it does not.
const (
	apiOld = "2024-10"
	apiNew = "2025-01"
)

// customer appends the customer object of c as of updated. full selects API version
// 2024-10 (tags, consent, order totals); embedded renders the smaller object an order
// carries.
func (w *writer) customer(ws *workspace, c *contact, p *profile, full, embedded bool, updated int64) {
	b := w.buf
	b = append(b, `{"id":`...)
	b = appendInt(b, c.id)
	b = append(b, `,"email":"`...)
	b = append(b, p.email...)
	b = append(b, `","created_at":`...)
	b = appendTimeStr(b, c.createdAt, ws.offset, 0, false)
	b = append(b, `,"updated_at":`...)
	b = appendTimeStr(b, updated, ws.offset, 0, false)
	b = append(b, `,"first_name":`...)
	b = appendStr(b, p.first.display)
	b = append(b, `,"last_name":`...)
	b = appendStr(b, p.last.display)
	if full && !embedded {
		b = append(b, `,"orders_count":`...)
		b = appendInt(b, int64(c.orders))
	}
	b = append(b, `,"state":"`...)
	b = append(b, p.state...)
	b = append(b, '"')
	if full && !embedded {
		b = append(b, `,"total_spent":`...)
		b = appendMoneyStr(b, c.spent)
		b = append(b, `,"last_order_id":`...)
		if c.lastOrderID == 0 {
			b = append(b, "null"...)
		} else {
			b = appendInt(b, c.lastOrderID)
		}
	}
	b = append(b, `,"note":`...)
	if p.note == "" {
		b = append(b, "null"...)
	} else {
		b = appendStr(b, p.note)
	}
	b = append(b, `,"verified_email":`...)
	b = appendBool(b, p.verified)
	b = append(b, `,"multipass_identifier":null,"tax_exempt":false`...)
	if full {
		b = append(b, `,"tags":`...)
		b = appendTags(b, c.tags)
		if !embedded {
			b = append(b, `,"last_order_name":`...)
			if c.lastOrderNo == 0 {
				b = append(b, "null"...)
			} else {
				b = append(b, `"#`...)
				b = appendInt(b, int64(c.lastOrderNo))
				b = append(b, '"')
			}
		}
	}
	b = append(b, `,"currency":"USD","phone":`...)
	b = appendPhone(b, p)
	if !embedded {
		b = append(b, `,"addresses":[`...)
		w.buf = b
		w.address(ws, c, p, true)
		b = append(w.buf, ']')
	}
	b = append(b, `,"tax_exemptions":[]`...)
	if full {
		b = append(b, `,"email_marketing_consent":{"state":"`...)
		b = append(b, consentNames[emailState(c)]...)
		b = append(b, `","opt_in_level":"`...)
		b = append(b, optInLevels[c.seed%2]...)
		b = append(b, `","consent_updated_at":`...)
		if c.email == consentSubscribed || c.email == consentUnsubscribed {
			b = appendTimeStr(b, c.emailAt, ws.offset, 0, false)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `},"sms_marketing_consent":`...)
		b = appendSMSConsent(b, ws, c, p)
	}
	b = append(b, `,"admin_graphql_api_id":"gid:\/\/shopify\/Customer\/`...)
	b = appendInt(b, c.id)
	b = append(b, `","default_address":`...)
	w.buf = b
	w.address(ws, c, p, true)
	b = w.buf
	if !embedded {
		b = append(b, `,"locale":"`...)
		b = append(b, p.locale...)
		b = append(b, '"')
	}
	w.buf = append(b, '}')
}

// emailState is c's e-mail consent state; Shopify has no null state for e-mail.
func emailState(c *contact) uint8 {
	if c.email == consentNone {
		return consentNotSubscribed
	}
	return c.email
}

// appendSMSConsent appends c's SMS marketing consent object, or null without a phone.
func appendSMSConsent(b []byte, ws *workspace, c *contact, p *profile) []byte {
	if p.phone == nil || c.sms == consentNone {
		return append(b, "null"...)
	}
	b = append(b, `{"state":"`...)
	b = append(b, consentNames[c.sms]...)
	b = append(b, `","opt_in_level":"`...)
	b = append(b, optInLevels[c.seed>>8%3]...)
	b = append(b, `","consent_updated_at":`...)
	b = appendTimeStr(b, c.smsAt, ws.offset, 0, false)
	b = append(b, `,"consent_collected_from":"`...)
	if c.seed>>16%4 == 0 {
		b = append(b, "OTHER"...)
	} else {
		b = append(b, "SHOPIFY"...)
	}
	return append(b, `"}`...)
}

// address appends c's address object: a customer address (with ids and "default") or
// an order's shipping/billing address (with coordinates).
func (w *writer) address(ws *workspace, c *contact, p *profile, customer bool) {
	cc := &countries[c.country]
	ci := p.city(cc)
	b := w.buf
	b = append(b, '{')
	if customer {
		b = append(b, `"id":`...)
		b = appendInt(b, p.addrID)
		b = append(b, `,"customer_id":`...)
		b = appendInt(b, c.id)
		b = append(b, ',')
	}
	b = append(b, `"first_name":`...)
	b = appendStr(b, p.first.display)
	b = append(b, `,"last_name":`...)
	b = appendStr(b, p.last.display)
	b = append(b, `,"company":`...)
	if p.company == "" {
		b = append(b, "null"...)
	} else {
		b = appendStr(b, p.company)
	}
	b = append(b, `,"address1":`...)
	b = append(b, '"')
	b = append(b, p.street...)
	b = append(b, ' ')
	b = appendInt(b, p.number)
	b = append(b, `","address2":`...)
	if p.interior == 0 {
		b = append(b, `""`...)
	} else {
		b = append(b, `"Int. `...)
		b = appendInt(b, p.interior)
		b = append(b, '"')
	}
	b = append(b, `,"city":`...)
	b = appendStr(b, ci.name)
	b = append(b, `,"province":`...)
	b = appendStr(b, ci.province)
	b = append(b, `,"country":"`...)
	b = append(b, cc.name...)
	b = append(b, `","zip":"`...)
	b = append(b, p.zip...)
	b = append(b, `","phone":`...)
	b = appendPhone(b, p)
	b = append(b, `,"name":`...)
	b = appendStr(b, p.first.display)
	b[len(b)-1] = ' '
	n := len(b)
	b = appendStr(b, p.last.display)
	b = append(b[:n], b[n+1:]...) // drop the second opening quote
	b = append(b, `,"province_code":"`...)
	b = append(b, ci.provinceCode...)
	b = append(b, `","country_code":"`...)
	b = append(b, cc.code...)
	if customer {
		b = append(b, `","country_name":"`...)
		b = append(b, cc.name...)
		b = append(b, `","default":true}`...)
	} else {
		b = append(b, `","latitude":`...)
		b = appendCoord(b, p.addrID)
		b = append(b, `,"longitude":`...)
		b = appendCoord(b, p.addrID>>20)
		b = append(b, '}')
	}
	w.buf = b
}

// appendCoord appends a plausible-looking coordinate derived from v.
func appendCoord(b []byte, v int64) []byte {
	u := uint64(v)
	if u&1 == 1 {
		b = append(b, '-')
	}
	b = appendInt(b, int64(u>>1%80))
	b = append(b, '.')
	x := int64(mix(u) % 10_000_000)
	for d := int64(1_000_000); d > 0; d /= 10 {
		b = append(b, byte('0'+x/d%10))
	}
	return b
}

func appendPhone(b []byte, p *profile) []byte {
	if p.phone == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, p.phone...)
	return append(b, '"')
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendTags appends the tag set as Shopify's comma-separated string: "vip, newsletter".
func appendTags(b []byte, tags uint16) []byte {
	b = append(b, '"')
	first := true
	for i := range tagNames {
		if tags&(1<<i) == 0 {
			continue
		}
		if !first {
			b = append(b, ", "...)
		}
		first = false
		b = append(b, tagNames[i]...)
	}
	return append(b, '"')
}
