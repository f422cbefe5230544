package gen

// Shopify order objects (SPEC §4.1).

// orderLine is one line item of a planned order.
type orderLine struct {
	prod    int // index in workspace.products
	variant int
	qty     int64
	price   int64 // unit price, cents
	disc    int64 // discount allocated to the line, cents
	tax     int64 // tax included in the line, cents
	prop    int   // index in lineProperties; -1: no properties
}

// orderPlan is everything about an order that its seed determines: line items and
// money. Rendering the same seed again (orders/paid, orders/updated, orders/cancelled
// of one order) gives the same items, ids and tokens.
type orderPlan struct {
	lines    [4]orderLine
	n        int
	lineSum  int64 // Σ price×qty, cents
	discount int64
	shipping int64
	tax      int64
	total    int64
	grams    int64
	code     int // index in discountCodes; -1: none
	gateway  int
	pending  bool // unpaid at creation (cash voucher, bank transfer)
	test     bool
	source   int
	landing  int
	r        rng // continues the seed's stream, for render-only draws
}

var lineCounts = cumulative(60, 27, 9, 4)

// planOrder plans the order of seed shipped to a customer in cc.
func (w *workspace) planOrder(seed uint64, cc *country, p *orderPlan) {
	p.r = newRNG(seed)
	r := &p.r
	p.n = r.pick(lineCounts) + 1
	p.code = -1
	if r.chance(0.22) {
		p.code = r.intn(len(discountCodes))
	}
	pct := int64(0)
	if p.code >= 0 {
		pct = discountCodes[p.code].pct
	}
	p.lineSum, p.discount, p.tax, p.grams = 0, 0, 0, 0
	for i := 0; i < p.n; i++ {
		l := &p.lines[i]
		l.prod = r.intn(len(w.products))
		pr := &w.products[l.prod]
		_, bp := pr.info()
		l.variant = r.intn(len(pr.variantIDs))
		l.qty = 1
		if x := r.intn(100); x >= 97 {
			l.qty = 3
		} else if x >= 85 {
			l.qty = 2
		}
		l.price = bp.cents
		l.disc = l.price * l.qty * pct / 100
		l.tax = (l.price*l.qty - l.disc) * cc.taxPct / (100 + cc.taxPct)
		l.prop = -1
		if r.chance(0.12) {
			l.prop = r.intn(len(lineProperties))
		}
		p.lineSum += l.price * l.qty
		p.discount += l.disc
		p.tax += l.tax
		p.grams += int64(bp.grams) * l.qty
	}
	switch {
	case p.code >= 0 && discountCodes[p.code].pct == 0, p.lineSum-p.discount >= 7500:
		p.shipping = 0
	case r.chance(0.7):
		p.shipping = 590
	default:
		p.shipping = 990
	}
	p.total = p.lineSum - p.discount + p.shipping
	p.gateway = r.intn(len(gateways))
	p.pending = gateways[p.gateway] == "oxxo" || (gateways[p.gateway] == "mercado_pago" && r.chance(0.3))
	p.test = r.chance(0.01)
	p.source = r.intn(len(sourceNames))
	p.landing = r.intn(len(landingSites))
}

var sourceNames = []string{"web", "web", "web", "web", "shopify_draft_order", "pos", "580111"}

var landingSites = []string{
	"/", "/collections/all", "/products/bikini-tulum?variant=1",
	"/?utm_source=whatsapp&utm_medium=galantis&utm_campaign=winback_60d",
	"/collections/verano?utm_source=instagram&utm_medium=paid",
	"/cart/c1?utm_source=galantis&utm_medium=sms",
}

var referrers = []string{"null", `"https://l.instagram.com/"`, `"https://www.google.com/"`, `"https://wa.me/"`, `"https://www.facebook.com/"`}

var carriers = []string{"Estafeta", "DHL Express", "FedEx", "Servientrega", "Correios", "Andreani", "Chilexpress"}

// financial states of an order.
const (
	finPending = iota
	finPaid
	finRefunded
	finVoided
)

var financialNames = []string{"pending", "paid", "refunded", "voided"}

// orderState is the changing part of an order: what orders/paid, orders/updated and
// orders/cancelled report.
type orderState struct {
	seed        uint64
	rank        int64 // chronological rank in the shop: id and number
	createdAt   int64
	updatedAt   int64
	cancelledAt int64 // 0: not cancelled
	financial   uint8
	fulfilled   bool
	delivered   bool
	full        bool // the embedded customer is in API version 2024-10
}

// order appends the order object: c is the customer (nil for a guest checkout, whose
// buyer is g), p its profile.
func (w *writer) order(ws *workspace, c *contact, g *contact, p *profile, st *orderState, pl *orderPlan) {
	buyer := c
	if buyer == nil {
		buyer = g
	}
	cc := &countries[buyer.country]
	r := pl.r // a copy: rendering twice gives the same tokens
	id := ws.orderID(st.rank)
	num := orderNumber(st.rank)
	cancelled := st.cancelledAt != 0
	b := w.buf
	b = append(b, `{"id":`...)
	b = appendInt(b, id)
	b = append(b, `,"admin_graphql_api_id":"gid:\/\/shopify\/Order\/`...)
	b = appendInt(b, id)
	b = append(b, `","app_id":580111,"browser_ip":"`...)
	ip := r.u64()
	b = appendInt(b, int64(ip&0xff%200+20))
	for i := 1; i < 4; i++ {
		b = append(b, '.')
		b = appendInt(b, int64(ip>>(8*i)&0xff))
	}
	b = append(b, `","buyer_accepts_marketing":`...)
	b = appendBool(b, buyer.email == consentSubscribed)
	b = append(b, `,"cancel_reason":`...)
	if cancelled {
		b = append(b, '"')
		b = append(b, cancelReasons[r.intn(len(cancelReasons))]...)
		b = append(b, '"')
	} else {
		r.u64()
		b = append(b, "null"...)
	}
	b = append(b, `,"cancelled_at":`...)
	if cancelled {
		b = appendTimeStr(b, st.cancelledAt, ws.offset, 0, false)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"cart_token":"`...)
	b = appendToken(b, &r, 26, 62)
	b = append(b, `","checkout_id":`...)
	b = appendInt(b, 36_000_000_000_000+int64(r.u64()%1_000_000_000_000))
	b = append(b, `,"checkout_token":"`...)
	b = appendHex(b, r.u64(), 16)
	b = appendHex(b, r.u64(), 16)
	b = append(b, `","client_details":{"accept_language":"`...)
	b = append(b, p.locale...)
	b = append(b, `","browser_ip":null,"user_agent":null},"closed_at":`...)
	if st.delivered {
		b = appendTimeStr(b, st.updatedAt, ws.offset, 0, false)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"confirmation_number":"`...)
	b = appendToken(b, &r, 9, 36)
	b = append(b, `","confirmed":true,"contact_email":"`...)
	b = append(b, p.email...)
	b = append(b, `","created_at":`...)
	b = appendTimeStr(b, st.createdAt, ws.offset, 0, false)
	b = append(b, `,"currency":"USD"`...)

	sub := pl.lineSum - pl.discount
	curSub, curTotal, curTax, curDisc := sub, pl.total, pl.tax, pl.discount
	if cancelled {
		curSub, curTotal, curTax, curDisc = 0, 0, 0, 0
	}
	b = append(b, `,"current_subtotal_price":`...)
	b = appendMoneyStr(b, curSub)
	b = append(b, `,"current_total_discounts":`...)
	b = appendMoneyStr(b, curDisc)
	b = appendMoneyField(b, "current_total_price", curTotal, cc)
	b = append(b, `,"current_total_tax":`...)
	b = appendMoneyStr(b, curTax)
	b = append(b, `,"customer_locale":"`...)
	b = append(b, p.locale...)
	b = append(b, `","discount_codes":[`...)
	if pl.code >= 0 {
		dc := &discountCodes[pl.code]
		b = append(b, `{"code":"`...)
		b = append(b, dc.code...)
		b = append(b, `","amount":`...)
		if dc.pct == 0 {
			b = appendMoneyStr(b, 590)
			b = append(b, `,"type":"shipping"}`...)
		} else {
			b = appendMoneyStr(b, pl.discount)
			b = append(b, `,"type":"percentage"}`...)
		}
	}
	b = append(b, `],"email":"`...)
	b = append(b, p.email...)
	b = append(b, `","estimated_taxes":false,"financial_status":"`...)
	b = append(b, financialNames[st.financial]...)
	b = append(b, `","fulfillment_status":`...)
	if st.fulfilled {
		b = append(b, `"fulfilled"`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"landing_site":`...)
	b = appendStr(b, landingSites[pl.landing])
	b = append(b, `,"name":"#`...)
	b = appendInt(b, num)
	b = append(b, `","note":null,"note_attributes":[`...)
	if pl.source == 0 && r.chance(0.5) {
		b = append(b, `{"name":"how_did_you_hear","value":"WhatsApp"}`...)
	}
	b = append(b, `],"number":`...)
	b = appendInt(b, num-1000)
	b = append(b, `,"order_number":`...)
	b = appendInt(b, num)
	b = append(b, `,"payment_gateway_names":["`...)
	if pl.test {
		b = append(b, "bogus"...)
	} else {
		b = append(b, gateways[pl.gateway]...)
	}
	b = append(b, `"],"phone":null,"presentment_currency":"`...)
	b = append(b, cc.currency...)
	b = append(b, `","processed_at":`...)
	b = appendTimeStr(b, st.createdAt, ws.offset, 0, false)
	b = append(b, `,"referring_site":`...)
	b = append(b, referrers[pl.landing%len(referrers)]...)
	b = append(b, `,"source_name":"`...)
	b = append(b, sourceNames[pl.source]...)
	b = append(b, '"')
	b = appendMoneyField(b, "subtotal_price", sub, cc)
	b = append(b, `,"tags":""`...)
	b = append(b, `,"tax_exempt":false,"tax_lines":`...)
	b = appendTaxLines(b, pl.tax, cc, cc)
	b = append(b, `,"taxes_included":true,"test":`...)
	b = appendBool(b, pl.test)
	b = append(b, `,"token":"`...)
	b = appendHex(b, r.u64(), 16)
	b = appendHex(b, r.u64(), 16)
	b = append(b, '"')
	b = append(b, `,"total_discounts":`...)
	b = appendMoneyStr(b, pl.discount)
	b = append(b, `,"total_line_items_price":`...)
	b = appendMoneyStr(b, pl.lineSum)
	b = append(b, `,"total_outstanding":`...)
	if st.financial == finPending {
		b = appendMoneyStr(b, pl.total)
	} else {
		b = append(b, `"0.00"`...)
	}
	b = appendMoneyField(b, "total_price", pl.total, cc)
	b = append(b, `,"total_shipping_price_set":`...)
	b = appendMoneySet(b, pl.shipping, "USD", cc)
	b = appendMoneyField(b, "total_tax", pl.tax, cc)
	b = append(b, `,"total_tip_received":"0.00","total_weight":`...)
	b = appendInt(b, pl.grams)
	b = append(b, `,"updated_at":`...)
	b = appendTimeStr(b, st.updatedAt, ws.offset, 0, false)
	b = append(b, `,"user_id":null,"billing_address":`...)
	w.buf = b
	w.address(ws, buyer, p, false)
	b = append(w.buf, `,"customer":`...)
	if c == nil {
		b = append(b, "null"...)
		w.buf = b
	} else {
		w.buf = b
		w.customer(ws, c, p, st.full, true, max(c.updatedAt, st.createdAt))
	}
	b = append(w.buf, `,"discount_applications":[`...)
	if pl.code >= 0 {
		dc := &discountCodes[pl.code]
		if dc.pct == 0 {
			b = append(b, `{"target_type":"shipping_line","type":"discount_code","value":"100.0","value_type":"percentage","allocation_method":"each","target_selection":"all","code":"`...)
		} else {
			b = append(b, `{"target_type":"line_item","type":"discount_code","value":"`...)
			b = appendInt(b, dc.pct)
			b = append(b, `.0","value_type":"percentage","allocation_method":"across","target_selection":"all","code":"`...)
		}
		b = append(b, dc.code...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"fulfillments":[`...)
	fid := 4_800_000_000_000 + int64(r.u64()%1_000_000_000_000) // drawn always: later draws stay aligned
	carrier := carriers[int(r.u64()%uint64(len(carriers)))]
	track := newRNG(r.u64())
	if st.fulfilled {
		b = append(b, `{"id":`...)
		b = appendInt(b, fid)
		b = append(b, `,"admin_graphql_api_id":"gid:\/\/shopify\/Fulfillment\/`...)
		b = appendInt(b, fid)
		b = append(b, `","created_at":`...)
		b = appendTimeStr(b, st.createdAt+26*hour, ws.offset, 0, false)
		b = append(b, `,"location_id":`...)
		b = appendInt(b, 61_000_000_000+int64(ws.idx))
		b = append(b, `,"name":"#`...)
		b = appendInt(b, num)
		b = append(b, `.1","order_id":`...)
		b = appendInt(b, id)
		b = append(b, `,"service":"manual","shipment_status":`...)
		if st.delivered {
			b = append(b, `"delivered"`...)
		} else {
			b = append(b, `"in_transit"`...)
		}
		b = append(b, `,"status":"success","tracking_company":"`...)
		b = append(b, carrier...)
		b = append(b, `","tracking_number":"`...)
		tn := len(b)
		b = appendToken(b, &track, 12, 36)
		b = append(b, `","tracking_numbers":["`...)
		b = append(b, b[tn:tn+12]...)
		b = append(b, `"],"updated_at":`...)
		b = appendTimeStr(b, st.updatedAt, ws.offset, 0, false)
		b = append(b, '}')
	}
	b = append(b, `],"line_items":[`...)
	for i := 0; i < pl.n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLineItem(b, ws, &pl.lines[i], cc, st, &r)
	}
	b = append(b, `],"payment_terms":null,"refunds":[],"shipping_address":`...)
	w.buf = b
	w.address(ws, buyer, p, false)
	b = append(w.buf, `,"shipping_lines":[{"id":`...)
	b = appendInt(b, 4_300_000_000_000+int64(r.u64()%1_000_000_000_000))
	b = append(b, `,"code":"Estándar","discounted_price":`...)
	b = appendMoneyStr(b, pl.shipping)
	b = append(b, `,"price":`...)
	b = appendMoneyStr(b, pl.shipping)
	b = append(b, `,"price_set":`...)
	b = appendMoneySet(b, pl.shipping, "USD", cc)
	b = append(b, `,"source":"shopify","title":"Envío estándar (3-5 días hábiles)","tax_lines":[]}]}`...)
	w.buf = b
}

// appendLineItem appends one line item.
func appendLineItem(b []byte, ws *workspace, l *orderLine, cc *country, st *orderState, r *rng) []byte {
	pr := &ws.products[l.prod]
	br, bp := pr.info()
	lid := 14_000_000_000_000 + int64(r.u64()%1_000_000_000_000)
	b = append(b, `{"id":`...)
	b = appendInt(b, lid)
	b = append(b, `,"current_quantity":`...)
	if st.cancelledAt != 0 {
		b = append(b, '0')
	} else {
		b = appendInt(b, l.qty)
	}
	b = append(b, `,"fulfillable_quantity":`...)
	if st.fulfilled || st.cancelledAt != 0 {
		b = append(b, '0')
	} else {
		b = appendInt(b, l.qty)
	}
	b = append(b, `,"fulfillment_service":"manual","fulfillment_status":`...)
	if st.fulfilled {
		b = append(b, `"fulfilled"`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"gift_card":false,"grams":`...)
	b = appendInt(b, int64(bp.grams))
	b = append(b, `,"name":`...)
	b = appendStr(b, bp.title)
	b = b[:len(b)-1]
	b = append(b, " - "...)
	b = append(b, br.variants[l.variant]...)
	b = append(b, `","price":`...)
	b = appendMoneyStr(b, l.price)
	b = append(b, `,"price_set":`...)
	b = appendMoneySet(b, l.price, "USD", cc)
	b = append(b, `,"product_exists":true,"product_id":`...)
	b = appendInt(b, pr.id)
	b = append(b, `,"properties":[`...)
	if l.prop >= 0 {
		lp := &lineProperties[l.prop]
		b = append(b, `{"name":`...)
		b = appendStr(b, lp.name)
		b = append(b, `,"value":`...)
		b = appendStr(b, lp.value)
		b = append(b, '}')
	}
	b = append(b, `],"quantity":`...)
	b = appendInt(b, l.qty)
	b = append(b, `,"requires_shipping":true,"sku":"`...)
	b = append(b, br.sku...)
	b = append(b, '-')
	b = append2(b, l.prod%100)
	b = append(b, '-')
	b = appendInt(b, int64(l.variant+1))
	b = append(b, `","taxable":true,"title":`...)
	b = appendStr(b, bp.title)
	b = append(b, `,"total_discount":"0.00","variant_id":`...)
	b = appendInt(b, pr.variantIDs[l.variant])
	b = append(b, `,"variant_title":`...)
	b = appendStr(b, br.variants[l.variant])
	b = append(b, `,"vendor":`...)
	b = appendStr(b, br.vendor)
	b = append(b, `,"tax_lines":`...)
	b = appendTaxLines(b, l.tax, nil, cc)
	b = append(b, `,"duties":[],"discount_allocations":[`...)
	if l.disc > 0 {
		b = append(b, `{"amount":`...)
		b = appendMoneyStr(b, l.disc)
		b = append(b, `,"amount_set":`...)
		b = appendMoneySet(b, l.disc, "USD", cc)
		b = append(b, `,"discount_application_index":0}`...)
	}
	return append(b, "]}"...)
}

// appendMoneyField appends ,"name":"1.00","name_set":{...}.
func appendMoneyField(b []byte, name string, cents int64, cc *country) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	b = appendMoneyStr(b, cents)
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `_set":`...)
	return appendMoneySet(b, cents, "USD", cc)
}

// appendTaxLines appends the tax lines of an amount of tax included in prices, with
// money sets in set's presentment currency unless set is nil.
func appendTaxLines(b []byte, tax int64, set, cc *country) []byte {
	if cc.taxPct == 0 {
		return append(b, "[]"...)
	}
	b = append(b, `[{"channel_liable":false,"price":`...)
	b = appendMoneyStr(b, tax)
	if set != nil {
		b = append(b, `,"price_set":`...)
		b = appendMoneySet(b, tax, "USD", set)
	}
	b = append(b, `,"rate":0.`...)
	b = append2(b, int(cc.taxPct))
	b = append(b, `,"title":"`...)
	b = append(b, cc.taxTitle...)
	return append(b, `"}]`...)
}
