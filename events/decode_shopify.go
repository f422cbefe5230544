package events

import (
	"strings"
	"time"
)

// Decoders of the Shopify topics (SPEC §4.1). Each reads the payload object p, sets
// ev.CustomerID and the payload of ev.Kind, and returns errors whose paths are relative
// to the payload.

// present reports whether a member is present and not null.
func present(v []byte) bool {
	k := kindOf(v)
	return k != jsonInvalid && k != jsonNull
}

func (ix *index) decodeCustomer(p []byte, ev *Event) error {
	var id, email, first, last, phone, addr, createdAt, updatedAt, tags, sms, emailConsent, locale []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "id":
			id = m.val()
		case "email":
			email = m.val()
		case "first_name":
			first = m.val()
		case "last_name":
			last = m.val()
		case "phone":
			phone = m.val()
		case "default_address":
			addr = m.val()
		case "created_at":
			createdAt = m.val()
		case "updated_at":
			updatedAt = m.val()
		case "tags":
			tags = m.val()
		case "sms_marketing_consent":
			sms = m.val()
		case "email_marketing_consent":
			emailConsent = m.val()
		case "locale":
			locale = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(id, "id"); err != nil {
		return err
	}
	c := ev.Customer // preset by newEvent
	if c == nil {
		c = &Customer{}
	}
	for _, f := range [...]struct {
		dst  *OptString
		v    []byte
		path string
	}{
		{&c.Email, email, "email"},
		{&c.FirstName, first, "first_name"},
		{&c.LastName, last, "last_name"},
		{&c.Phone, phone, "phone"},
		{&c.Locale, locale, "locale"},
	} {
		if *f.dst, err = parseOptString(f.v, f.path); err != nil {
			return err
		}
	}
	if err = ix.parseAddress(addr, c); err != nil {
		return err
	}
	if c.Tags, err = ix.parseTagString(tags, "tags"); err != nil {
		return err
	}
	if c.SMSConsent, err = ix.parseConsentField(sms, "sms_marketing_consent", consentStates); err != nil {
		return err
	}
	if c.EmailConsent, err = ix.parseConsentField(emailConsent, "email_marketing_consent", emailConsentStates); err != nil {
		return err
	}
	if c.CreatedAt, err = parseOptTime(createdAt, "created_at"); err != nil {
		return err
	}
	if c.UpdatedAt, _, err = parseTimestamp(updatedAt, "updated_at"); err != nil {
		return err
	}
	ev.Customer = c
	return nil
}

// parseAddress reads default_address's country_code, city and province_code:
// default_address absent keeps all three, null clears them; inside it, a member absent
// keeps its value, null or "" clears it. Country and province codes are upper-cased;
// the city is kept as given, trimmed.
func (ix *index) parseAddress(addr []byte, c *Customer) error {
	switch kindOf(addr) {
	case jsonInvalid:
		return nil
	case jsonNull:
		c.Country, c.City, c.Province = OptString{Present: true}, OptString{Present: true}, OptString{Present: true}
		return nil
	case jsonObject:
		var code, city, province []byte
		for m := ix.members(addr); m.next(); {
			switch string(m.key()) {
			case "country_code":
				code = m.val()
			case "city":
				city = m.val()
			case "province_code":
				province = m.val()
			}
		}
		var err error
		if c.Country, err = parseOptString(code, "default_address.country_code"); err != nil {
			return err
		}
		c.Country.Value = strings.ToUpper(c.Country.Value)
		if c.City, err = parseOptString(city, "default_address.city"); err != nil {
			return err
		}
		if c.Province, err = parseOptString(province, "default_address.province_code"); err != nil {
			return err
		}
		c.Province.Value = strings.ToUpper(c.Province.Value)
		return nil
	}
	return wrongType("default_address", "an object", addr)
}

// parseTagString reads the tags of a customer object: a comma-separated string (kept as
// given, trimmed), or an array of strings (joined with ", ").
func (ix *index) parseTagString(v []byte, path string) (OptString, error) {
	switch kindOf(v) {
	case jsonInvalid:
		return OptString{}, nil
	case jsonArray:
		tags, _, err := ix.parseTags(v, path)
		return OptString{Present: true, Value: strings.Join(tags, ", ")}, err
	}
	return parseOptString(v, path)
}

// consentObject is a marketing consent object: {"state", "consent_updated_at", ...}.
type consentObject struct {
	state     string    // stored spelling; "" for null
	updatedAt time.Time // consent_updated_at, else updated_at; zero if neither
}

// parseConsentObject reads a consent object (v must be an object).
func (ix *index) parseConsentObject(v []byte, path string, states []string) (consentObject, error) {
	var state, consentUpdatedAt, updatedAt []byte
	for m := ix.members(v); m.next(); {
		switch string(m.key()) {
		case "state":
			state = m.val()
		case "consent_updated_at":
			consentUpdatedAt = m.val()
		case "updated_at":
			updatedAt = m.val()
		}
	}
	var c consentObject
	s, ok, err := parseEnum(state, path+".state", states, true)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, missing(path + ".state")
	}
	c.state = s
	t, have, err := parseTimestamp(consentUpdatedAt, path+".consent_updated_at")
	if err != nil {
		return c, err
	}
	if !have {
		if t, _, err = parseTimestamp(updatedAt, path+".updated_at"); err != nil {
			return c, err
		}
	}
	c.updatedAt = t
	return c, nil
}

// parseConsentField reads a consent object of a customer payload: absent is nil, null
// is a cleared state.
func (ix *index) parseConsentField(v []byte, path string, states []string) (*ConsentField, error) {
	switch kindOf(v) {
	case jsonInvalid:
		return nil, nil
	case jsonNull:
		return &ConsentField{}, nil
	case jsonObject:
		c, err := ix.parseConsentObject(v, path, states)
		if err != nil {
			return nil, err
		}
		return &ConsentField{State: c.state, UpdatedAt: c.updatedAt}, nil
	}
	return nil, wrongType(path, "an object", v)
}

func (ix *index) decodeCustomerDelete(p []byte, ev *Event) error {
	var id []byte
	for m := ix.members(p); m.next(); {
		if string(m.key()) == "id" {
			id = m.val()
		}
	}
	var err error
	ev.CustomerID, err = parseCustomerID(id, "id")
	return err
}

func (ix *index) decodeRedact(p []byte, ev *Event) error {
	var customer, orders []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customer":
			customer = m.val()
		case "orders_to_redact":
			orders = m.val()
		}
	}
	var err error
	if ev.CustomerID, err = ix.parseNestedCustomerID(customer, "customer"); err != nil {
		return err
	}
	rd := &Redact{}
	switch kindOf(orders) {
	case jsonInvalid, jsonNull:
	case jsonArray:
		for e := ix.elements(orders); e.next(); {
			id, err := requireStringID(e.val(), "orders_to_redact"+indexPath(e.n), gidOrder)
			if err != nil {
				return err
			}
			rd.OrdersToRedact = append(rd.OrdersToRedact, id)
		}
	default:
		return wrongType("orders_to_redact", "an array of order ids", orders)
	}
	ev.Redact = rd
	return nil
}

// parseNestedCustomerID reads the required id of the customer object v, e.g.
// {"customer": {"id": 1}}.
func (ix *index) parseNestedCustomerID(v []byte, path string) (int64, error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return 0, missing(path)
	case jsonObject:
		var id []byte
		for m := ix.members(v); m.next(); {
			if string(m.key()) == "id" {
				id = m.val()
			}
		}
		return parseCustomerID(id, path+".id")
	}
	return 0, wrongType(path, "an object", v)
}

func (ix *index) decodeConsent(p []byte, ev *Event) error {
	var id, customerID, obj []byte
	objPath, states := "sms_marketing_consent", consentStates
	switch ev.Kind {
	case WhatsAppConsentUpdate:
		objPath = "whats_app_marketing_consent"
	case EmailConsentUpdate:
		objPath, states = "email_marketing_consent", emailConsentStates
	}
	for m := ix.members(p); m.next(); {
		switch k := string(m.key()); k {
		case "id":
			id = m.val()
		case "customer_id":
			customerID = m.val()
		case objPath:
			obj = m.val()
		case "whatsapp_marketing_consent": // a common misspelling
			if ev.Kind == WhatsAppConsentUpdate && obj == nil {
				obj = m.val()
			}
		}
	}
	// The SMS topic names the customer "id", the others "customer_id"; either is taken.
	idPath, idVal := pickID(idCandidate{"customer_id", customerID}, idCandidate{"id", id})
	if ev.Kind == SMSConsentUpdate {
		idPath, idVal = pickID(idCandidate{"id", id}, idCandidate{"customer_id", customerID})
	}
	var err error
	if ev.CustomerID, err = parseCustomerID(idVal, idPath); err != nil {
		return err
	}
	c := &Consent{UpdatedAt: ev.OccurredAt}
	switch kindOf(obj) {
	case jsonInvalid:
		return missing(objPath)
	case jsonNull:
	case jsonObject:
		co, err := ix.parseConsentObject(obj, objPath, states)
		if err != nil {
			return err
		}
		c.State = co.state
		if !co.updatedAt.IsZero() {
			c.UpdatedAt = co.updatedAt
		}
	default:
		return wrongType(objPath, "an object", obj)
	}
	ev.Consent = c
	return nil
}

func (ix *index) decodeTags(p []byte, ev *Event) error {
	var customerID, customerIDSnake, id, tags, occurredAt []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customerId":
			customerID = m.val()
		case "customer_id":
			customerIDSnake = m.val()
		case "id":
			id = m.val()
		case "tags":
			tags = m.val()
		case "occurredAt":
			occurredAt = m.val()
		}
	}
	var err error
	idPath, idVal := pickID(idCandidate{"customerId", customerID},
		idCandidate{"customer_id", customerIDSnake}, idCandidate{"id", id})
	if ev.CustomerID, err = parseCustomerID(idVal, idPath); err != nil {
		return err
	}
	t, ok, err := ix.parseTags(tags, "tags")
	if err != nil {
		return err
	}
	if !ok {
		return missing("tags")
	}
	if _, _, err := parseTimestamp(occurredAt, "occurredAt"); err != nil {
		return err
	}
	ev.Tags = t
	return nil
}

// idCandidate is a member that may carry the customer id.
type idCandidate struct {
	name string
	val  []byte
}

// pickID returns the first present (non-null) candidate, else the first one, so that a
// missing id is reported under its main name.
func pickID(cands ...idCandidate) (string, []byte) {
	for _, c := range cands {
		if present(c.val) {
			return c.name, c.val
		}
	}
	return cands[0].name, cands[0].val
}

func (ix *index) decodeSummary(p []byte, ev *Event) error {
	var customerID, customerIDSnake, orders, amount, lastOrder, occurredAt []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "customerId":
			customerID = m.val()
		case "customer_id":
			customerIDSnake = m.val()
		case "numberOfOrders":
			orders = m.val()
		case "amountSpent":
			amount = m.val()
		case "lastOrderId":
			lastOrder = m.val()
		case "occurredAt":
			occurredAt = m.val()
		}
	}
	var err error
	idPath, idVal := pickID(idCandidate{"customerId", customerID}, idCandidate{"customer_id", customerIDSnake})
	if ev.CustomerID, err = parseCustomerID(idVal, idPath); err != nil {
		return err
	}
	s := &Summary{}
	if s.NumberOfOrders, _, err = parseCount(orders, "numberOfOrders"); err != nil {
		return err
	}
	switch kindOf(amount) {
	case jsonInvalid, jsonNull:
	case jsonObject:
		var amt, currency []byte
		for m := ix.members(amount); m.next(); {
			switch string(m.key()) {
			case "amount":
				amt = m.val()
			case "currencyCode":
				currency = m.val()
			}
		}
		if s.AmountSpent, _, err = parseDecimal(amt, "amountSpent.amount"); err != nil {
			return err
		}
		if s.CurrencyCode, _, err = parseString(currency, "amountSpent.currencyCode"); err != nil {
			return err
		}
		s.CurrencyCode = strings.ToUpper(strings.TrimSpace(s.CurrencyCode))
	default:
		return wrongType("amountSpent", "an object", amount)
	}
	if s.LastOrderID, _, err = parseStringID(lastOrder, "lastOrderId", gidOrder); err != nil {
		return err
	}
	var have bool
	if s.OccurredAt, have, err = parseTimestamp(occurredAt, "occurredAt"); err != nil {
		return err
	}
	if !have {
		s.OccurredAt = ev.OccurredAt
	}
	ev.Summary = s
	return nil
}

func (ix *index) decodeOrder(p []byte, ev *Event) error {
	var id, customer, createdAt, updatedAt, cancelledAt, test, currentTotal, total, locale, items []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "id":
			id = m.val()
		case "customer":
			customer = m.val()
		case "created_at":
			createdAt = m.val()
		case "updated_at":
			updatedAt = m.val()
		case "cancelled_at":
			cancelledAt = m.val()
		case "test":
			test = m.val()
		case "current_total_price":
			currentTotal = m.val()
		case "total_price":
			total = m.val()
		case "customer_locale":
			locale = m.val()
		case "line_items":
			items = m.val()
		}
	}
	if !present(customer) {
		return ErrGuestOrder
	}
	var err error
	if ev.CustomerID, err = ix.parseNestedCustomerID(customer, "customer"); err != nil {
		return err
	}
	o := ev.Order // preset by newEvent
	if o == nil {
		o = &Order{}
	}
	if o.ID, err = requireStringID(id, "id", gidOrder); err != nil {
		return err
	}
	var have bool
	if o.CreatedAt, have, err = parseTimestamp(createdAt, "created_at"); err != nil {
		return err
	}
	if !have {
		o.CreatedAt = ev.OccurredAt
	}
	if o.UpdatedAt, _, err = parseTimestamp(updatedAt, "updated_at"); err != nil {
		return err
	}
	if o.CancelledAt, _, err = parseTimestamp(cancelledAt, "cancelled_at"); err != nil {
		return err
	}
	if o.Test, err = parseBool(test, "test"); err != nil {
		return err
	}
	if o.Total, have, err = parseDecimal(currentTotal, "current_total_price"); err != nil {
		return err
	}
	if !have {
		if o.Total, have, err = parseDecimal(total, "total_price"); err != nil {
			return err
		}
		if !have {
			return missing("total_price")
		}
	}
	if o.CustomerLocale, _, err = parseString(locale, "customer_locale"); err != nil {
		return err
	}
	if o.LineItems, err = ix.parseLineItems(items); err != nil {
		return err
	}
	ev.Order = o
	return nil
}

func (ix *index) parseLineItems(v []byte) ([]LineItem, error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return nil, nil
	case jsonArray:
	default:
		return nil, wrongType("line_items", "an array", v)
	}
	items := make([]LineItem, 0, 4)
	for e := ix.elements(v); e.next(); {
		if kindOf(e.val()) != jsonObject {
			return nil, wrongType("line_items"+indexPath(e.n), "an object", e.val())
		}
		li, err := ix.parseLineItem(e.val())
		if err != nil {
			return nil, within(within(err, indexPath(e.n)), "line_items")
		}
		items = append(items, li)
	}
	return items, nil
}

// parseLineItem reads one line item; error paths are relative to it (the caller adds
// "line_items[i]").
func (ix *index) parseLineItem(v []byte) (LineItem, error) {
	var li LineItem
	var product, vendor, price, quantity []byte
	for m := ix.members(v); m.next(); {
		switch string(m.key()) {
		case "product_id":
			product = m.val()
		case "vendor":
			vendor = m.val()
		case "price":
			price = m.val()
		case "quantity":
			quantity = m.val()
		}
	}
	var err error
	if li.ProductID, _, err = parseStringID(product, "product_id", gidProduct); err != nil {
		return li, err
	}
	if li.Vendor, _, err = parseString(vendor, "vendor"); err != nil {
		return li, err
	}
	var have bool
	if li.Price, have, err = parseDecimal(price, "price"); err != nil {
		return li, err
	}
	if !have {
		return li, missing("price")
	}
	if li.Quantity, have, err = parseCount(quantity, "quantity"); err != nil {
		return li, err
	}
	if !have {
		return li, missing("quantity")
	}
	return li, nil
}

func (ix *index) decodeOrderDelete(p []byte, ev *Event) error {
	var id, customer []byte
	for m := ix.members(p); m.next(); {
		switch string(m.key()) {
		case "id":
			id = m.val()
		case "customer":
			customer = m.val()
		}
	}
	var err error
	if ev.OrderID, err = requireStringID(id, "id", gidOrder); err != nil {
		return err
	}
	// Shopify's payload is {"id"} alone and the contact comes from the record key;
	// a producer that adds the customer gets the usual key check.
	if present(customer) {
		if ev.CustomerID, err = ix.parseNestedCustomerID(customer, "customer"); err != nil {
			return err
		}
	}
	return nil
}
