package state

import (
	"slices"
	"strings"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// orderAgg caches what Attrs derives from the orders. It is rebuilt, never modified,
// when the orders change, so its slices may be shared with Attrs already handed out.
type orderAgg struct {
	count       int64
	total       decimal.Decimal
	aov         decimal.Decimal
	hasAOV      bool
	first, last time.Time
	brands      []string                // lower case, sorted, unique
	prices      []decimal.Decimal       // ascending, unique by value
	products    []string                // sorted, unique
	lang        string                  // of the latest order (by created_at) with a usable customer_locale
	langAt      time.Time               // that order's created_at
	recent      []operators.TimedAmount // counted orders by created_at, for windows (not the forgotten ones)
}

// msgAgg caches the message counters.
type msgAgg struct {
	received, read int64
	last           time.Time
	recv, readAt   []int64 // received times (UnixNano) of the kept messages (of the read ones), ascending
}

// Attrs derives the evaluation view of SPEC §5. A deleted or absent contact has the
// zero Attrs. The slices are shared with the record (see Contact) and must not be
// modified. Collections are looked up in cat (nil: none) on every call; everything
// else is cached in the record.
//
// Interpretations: language is the primary subtag (2–8 ASCII letters, lower-cased)
// of the profile locale, else of the customer_locale of the latest order by
// created_at, cancelled and test orders included since they still tell the
// customer's language. AOV is TotalSpent / OrdersCount rounded half to even at 19
// significant digits (govalues/decimal's precision), trailing zeros trimmed down to
// the total's scale: exact whenever the quotient has at most 19 significant digits
// (30.00 / 2 = 15.00; 100.00 / 3 = 33.33333333333333333). TotalSpent is exact as long
// as it has at most 19 significant digits.
func (c *Contact) Attrs(workspace string, cat Catalog, exclusionTag string) operators.Attrs {
	if c.state != stateLive {
		return operators.Attrs{}
	}
	agg := c.orderAggregates()
	ma := c.messageAggregates()
	p := &c.profile
	a := operators.Attrs{
		Phone:    p.PhoneE164,
		Country:  p.Country,
		Language: primarySubtag(p.Locale),
		Consent:  c.consentStatus(),

		EmailConsent:      emailConsentStatus(c.consents[consentEmail].State),
		CustomerCreatedAt: p.CreatedAt,
		City:              c.lowerCity(),
		Province:          p.Province,
		EmailDomain:       emailDomain(p.Email),

		OrdersCount:  agg.count,
		TotalSpent:   agg.total,
		AOV:          agg.aov,
		HasAOV:       agg.hasAOV,
		FirstOrderAt: agg.first,
		LastOrderAt:  agg.last,

		PurchasedBrands: agg.brands,
		PurchasedPrices: agg.prices,

		MessagesReceived:      ma.received,
		MessagesRead:          ma.read,
		LastMessageReceivedAt: ma.last,
		LastEngagedAt:         c.lastEngagedAt,

		Lists:             c.lists,
		Tags:              c.lowerTags(),
		LifecycleOverride: c.stage,
	}
	if a.Language == "" {
		a.Language = agg.lang
	}
	if cat != nil && len(agg.products) > 0 {
		if n, ok := cat.(CollectionsNeeder); !ok || n.NeedsCollections(workspace) {
			a.PurchasedCollections = collections(workspace, cat, agg.products)
		}
	}
	a.AutomationCompletions, a.CompletionsByAutomation = c.automationAggregates()
	a.RecentOrders, a.RecentReceived, a.RecentRead = agg.recent, ma.recv, ma.readAt
	a.RecentCompletions = c.completions
	if t := lowerTrim(exclusionTag); t != "" {
		_, a.Excluded = slices.BinarySearch(a.Tags, t)
	}
	return a
}

// PurchasedProducts returns the product ids of counted orders' line items, sorted and
// unique. The slice is shared with the record and must not be modified.
func (c *Contact) PurchasedProducts() []string {
	if c.state != stateLive {
		return nil
	}
	return c.orderAggregates().products
}

func collections(workspace string, cat Catalog, products []string) []string {
	var out []string
	for _, p := range products {
		for _, col := range cat.Collections(workspace, p) {
			if col = lowerTrim(col); col != "" {
				out = append(out, col)
			}
		}
	}
	slices.Sort(out)
	return slices.Clip(slices.Compact(out))
}

// consentStatus maps marketing_state (SPEC §5): the WhatsApp consent once one was
// received, else the SMS consent.
func (c *Contact) consentStatus() operators.Consent {
	cs := c.consents[consentSMS]
	if w := c.consents[consentWhatsApp]; w.Received {
		cs = w
	}
	switch cs.State {
	case "SUBSCRIBED":
		return operators.ConsentYes
	case "UNSUBSCRIBED", "NOT_SUBSCRIBED", "REDACTED":
		return operators.ConsentNo
	}
	return operators.ConsentUnknown
}

// emailConsentStatus maps the email consent state (SPEC §5): SUBSCRIBED → yes;
// NOT_SUBSCRIBED, UNSUBSCRIBED, REDACTED, INVALID → no; PENDING, null or absent →
// unknown.
func emailConsentStatus(state string) operators.Consent {
	switch state {
	case "SUBSCRIBED":
		return operators.ConsentYes
	case "UNSUBSCRIBED", "NOT_SUBSCRIBED", "REDACTED", "INVALID":
		return operators.ConsentNo
	}
	return operators.ConsentUnknown
}

// emailDomain returns the part of email after its last "@", trimmed and lower case;
// "" when there is no "@" or nothing after it.
func emailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[i+1:]))
}

// primarySubtag returns the primary language subtag of a locale ("es-MX", "pt_BR" →
// "es", "pt"), lower case, or "" if it is not 2–8 ASCII letters.
func primarySubtag(locale string) string {
	s := strings.TrimSpace(locale)
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	if len(s) < 2 || len(s) > 8 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if b := s[i] | 0x20; b < 'a' || b > 'z' {
			return ""
		}
	}
	return strings.ToLower(s)
}

// lowerCity returns the profile city lower-cased (cached while it is unchanged).
func (c *Contact) lowerCity() string {
	if city := c.profile.City; city != c.cityOf {
		c.cityKey, c.cityOf = strings.ToLower(city), city
	}
	return c.cityKey
}

// lowerTags returns the tags lower-cased, sorted and unique (cached).
func (c *Contact) lowerTags() []string {
	if c.tagKeysOK {
		return c.tagKeys
	}
	var keys []string
	if len(c.tags) > 0 {
		keys = make([]string, len(c.tags))
		for i, t := range c.tags {
			keys[i] = strings.ToLower(t)
		}
		slices.Sort(keys) // already sorted when built by Apply
		keys = slices.Clip(slices.Compact(keys))
	}
	c.tagKeys, c.tagKeysOK = keys, true
	return keys
}

func (c *Contact) orderAggregates() *orderAgg {
	if c.agg != nil {
		return c.agg
	}
	a := &orderAgg{total: decimal.Zero}
	if n := len(c.fold.entries) + len(c.orders); n > 0 {
		a.recent = make([]operators.TimedAmount, 0, n)
	}
	var langAt time.Time
	// Folded orders (see Contact, "Bounded size") first: forgotten sums, remembered
	// entries, multisets.
	f := &c.fold
	if f.lang != "" {
		a.lang, langAt = f.lang, f.langAt
	}
	addCounted := func(created time.Time, total decimal.Decimal) {
		a.recent = append(a.recent, operators.TimedAmount{At: created, Total: total})
		a.count++
		if sum, err := a.total.Add(total); err == nil {
			a.total = sum
		}
		if a.first.IsZero() || created.Before(a.first) {
			a.first = created
		}
		if created.After(a.last) {
			a.last = created
		}
	}
	if f.forgot.count > 0 {
		a.count = f.forgot.count
		a.total = f.forgot.total
		a.first, a.last = f.forgot.first, f.forgot.last
	}
	for i := range f.entries {
		if e := &f.entries[i]; e.counted {
			addCounted(e.createdAt, e.total)
		}
	}
	// The lists are sized once: growing them item by item was most of the
	// allocations of deriving a contact read from the store.
	items := 0
	for i := range c.orders {
		items += len(c.orders[i].LineItems)
	}
	if len(f.brands)+len(f.products)+len(f.prices)+items > 0 {
		a.brands = make([]string, 0, len(f.brands)+min(items, 16))
		a.products = make([]string, 0, len(f.products)+items)
		a.prices = make([]decimal.Decimal, 0, len(f.prices)+items)
	}
	for _, b := range f.brands {
		a.brands = append(a.brands, b.s)
	}
	for _, p := range f.products {
		a.products = append(a.products, p.s)
	}
	for _, p := range f.prices {
		a.prices = append(a.prices, p.d)
	}
	// Vendors repeat across line items: lower-case each spelling once.
	type lowered struct{ raw, lower string }
	var seen [8]lowered
	seenVendors := seen[:0]
	for i := range c.orders {
		o := &c.orders[i]
		if l := primarySubtag(o.CustomerLocale); l != "" && (a.lang == "" || !o.CreatedAt.Before(langAt)) {
			a.lang, langAt = l, o.CreatedAt
		}
		if !o.CancelledAt.IsZero() || o.Test {
			continue
		}
		// A total over 19 integer digits (impossible for real money) is not summed.
		addCounted(o.CreatedAt, o.Total)
		for j := range o.LineItems {
			li := &o.LineItems[j]
			k := slices.IndexFunc(seenVendors, func(v lowered) bool { return v.raw == li.Vendor })
			if k < 0 {
				k = len(seenVendors)
				seenVendors = append(seenVendors, lowered{li.Vendor, lowerTrim(li.Vendor)})
				if v := seenVendors[k].lower; v != "" {
					a.brands = append(a.brands, v)
				}
			}
			a.prices = append(a.prices, li.Price)
			if li.ProductID != "" {
				a.products = append(a.products, li.ProductID)
			}
		}
	}
	slices.Sort(a.brands)
	a.brands = slices.Clip(slices.Compact(a.brands))
	slices.Sort(a.products)
	a.products = slices.Clip(slices.Compact(a.products))
	// CmpTotal orders equal values by representation, so the kept one is deterministic.
	slices.SortFunc(a.prices, decimal.Decimal.CmpTotal)
	a.prices = slices.Clip(slices.CompactFunc(a.prices, decimal.Decimal.Equal))
	if a.count > 0 {
		if aov, err := a.total.Quo(decimal.MustNew(a.count, 0)); err == nil {
			a.aov, a.hasAOV = aov, true
		}
	}
	a.langAt = langAt
	if !slices.IsSortedFunc(a.recent, cmpTimedAmount) { // orders by id are mostly chronological
		slices.SortFunc(a.recent, cmpTimedAmount)
	}
	a.recent = slices.Clip(a.recent)
	if len(a.brands) == 0 {
		a.brands = nil // as when no item was seen
	}
	if len(a.products) == 0 {
		a.products = nil
	}
	if len(a.prices) == 0 {
		a.prices = nil
	}
	c.agg = a
	return a
}

// cmpTimedAmount orders windowed orders by time, then total (deterministically).
func cmpTimedAmount(x, y operators.TimedAmount) int {
	if r := x.At.Compare(y.At); r != 0 {
		return r
	}
	return x.Total.CmpTotal(y.Total)
}

// withOrder returns the aggregates with one more order o, that no aggregate counts
// yet: what orderAggregates would compute from scratch, without scanning every order
// again (orders/create of a contact with many orders is the hot path).
func (a *orderAgg) withOrder(o *events.Order) *orderAgg {
	n := *a
	if l := primarySubtag(o.CustomerLocale); l != "" && (n.lang == "" || !o.CreatedAt.Before(n.langAt)) {
		n.lang, n.langAt = l, o.CreatedAt
	}
	if !o.CancelledAt.IsZero() || o.Test {
		return &n
	}
	n.count++
	if sum, err := n.total.Add(o.Total); err == nil {
		n.total = sum
	}
	if n.first.IsZero() || o.CreatedAt.Before(n.first) {
		n.first = o.CreatedAt
	}
	if o.CreatedAt.After(n.last) {
		n.last = o.CreatedAt
	}
	ta := operators.TimedAmount{At: o.CreatedAt, Total: o.Total}
	j, _ := slices.BinarySearchFunc(n.recent, ta, cmpTimedAmount)
	n.recent = slices.Insert(slices.Clip(n.recent), j, ta) // a copy: shared with Attrs
	// Copy on write: the slices are shared with Attrs already handed out.
	cloned := [3]bool{}
	for i := range o.LineItems {
		li := &o.LineItems[i]
		if v := lowerTrim(li.Vendor); v != "" {
			if j, found := slices.BinarySearch(n.brands, v); !found {
				if !cloned[0] {
					n.brands, cloned[0] = slices.Clone(n.brands), true
				}
				n.brands = slices.Insert(n.brands, j, v)
			}
		}
		if p := li.ProductID; p != "" {
			if j, found := slices.BinarySearch(n.products, p); !found {
				if !cloned[1] {
					n.products, cloned[1] = slices.Clone(n.products), true
				}
				n.products = slices.Insert(n.products, j, p)
			}
		}
		// Prices are unique by value; of equal values the least by CmpTotal is kept.
		j, _ := slices.BinarySearchFunc(n.prices, li.Price, decimal.Decimal.CmpTotal)
		switch {
		case j > 0 && n.prices[j-1].Equal(li.Price):
			continue // the one kept is less by CmpTotal
		case j < len(n.prices) && n.prices[j].Equal(li.Price):
			if li.Price.CmpTotal(n.prices[j]) >= 0 {
				continue
			}
			if !cloned[2] {
				n.prices, cloned[2] = slices.Clone(n.prices), true
			}
			n.prices[j] = li.Price
		default:
			if !cloned[2] {
				n.prices, cloned[2] = slices.Clone(n.prices), true
			}
			n.prices = slices.Insert(n.prices, j, li.Price)
		}
	}
	n.brands, n.products, n.prices = slices.Clip(n.brands), slices.Clip(n.products), slices.Clip(n.prices)
	n.hasAOV = false
	n.aov = decimal.Decimal{}
	if n.count > 0 {
		if aov, err := n.total.Quo(decimal.MustNew(n.count, 0)); err == nil {
			n.aov, n.hasAOV = aov, true
		}
	}
	return &n
}

func (c *Contact) messageAggregates() *msgAgg {
	if c.msgAgg != nil {
		return c.msgAgg
	}
	m := &msgAgg{received: c.msgFolded.received + int64(len(c.msgs)), read: c.msgFolded.read, last: c.msgFolded.lastRecv}
	reads := 0
	for i := range c.msgs {
		if c.msgs[i].read {
			reads++
		}
	}
	if len(c.msgs) > 0 {
		// One allocation for both: received times, then those of the read ones.
		all := make([]int64, len(c.msgs)+reads)
		m.recv, m.readAt = all[:len(c.msgs):len(c.msgs)], all[len(c.msgs):len(c.msgs)]
	}
	for i := range c.msgs {
		ns := operators.UnixNano(c.msgs[i].recv)
		m.recv[i] = ns
		if c.msgs[i].read {
			m.read++
			m.readAt = append(m.readAt, ns)
		}
		if c.msgs[i].recv.After(m.last) {
			m.last = c.msgs[i].recv
		}
	}
	slices.Sort(m.recv)
	slices.Sort(m.readAt)
	if len(m.readAt) == 0 {
		m.readAt = nil
	}
	c.msgAgg = m
	return m
}

func (c *Contact) automationAggregates() (int64, map[string]int64) {
	if !c.byAutoOK {
		c.byAuto = nil
		if len(c.automations) > 0 {
			c.byAuto = make(map[string]int64, len(c.automations))
			for _, a := range c.automations {
				c.byAuto[a.AutomationID] = a.Count
			}
		}
		c.byAutoOK = true
	}
	var total int64
	for _, a := range c.automations {
		total += a.Count
	}
	return total, c.byAuto
}
