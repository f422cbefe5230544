package state

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
)

// DefaultMaxContactBytes is the default bound of a contact's encoded record (SPEC §4.4,
// --max-contact-bytes): 256 KiB.
const DefaultMaxContactBytes = 256 << 10

// MinMaxContactBytes is the smallest bound accepted: below it the shares of the bound
// (see Contact, "Bounded size") are too small to be useful.
const MinMaxContactBytes = 16 << 10

// Shares of the bound, in bytes of encoding (estimated while applying, exact when
// AppendBounded checks the whole record). Each is a divisor of the bound.
const (
	shareOrders      = 16 // orders kept in full (their line items are what Attrs scans on every event)
	shareFoldedIDs   = 8  // folded orders remembered by id
	shareSeen        = 8  // delivery ids
	shareMultiset    = 32 // each of the purchased brands, products and prices of folded orders
	shareDeletions   = 64 // order deletions
	shareMessages    = 16 // per-message states (also capped by MaxMessages)
	shareExact       = 4  // tags, lists, automations, back-in-stock, conversations, profile, memberships
	shareCompletions = 32 // completion times for windows
	estCompletion    = 7  // estimated bytes of a completion time (time and automation index)
	estOrderOverhead = 24 // estimated bytes of an order's fields besides its id, items and locale
	estItemBytes     = 12 // estimated bytes of a line item besides its product id
	estFoldedEntry   = 20 // estimated bytes of a folded order's entry besides its id
	estSeenBytes     = 10 // estimated bytes of a delivery id
	estMessageBytes  = 14 // estimated bytes of a message state
)

// orderFold is what is kept of the orders folded out of c.orders (see Contact,
// "Bounded size"): an entry per remembered folded order, aggregates of the forgotten
// ones, and multisets of the line items of every counted folded order.
type orderFold struct {
	entries  []foldedOrder // sorted by id, unique; none of them is in c.orders
	forgot   orderSum      // counted orders whose entries were forgotten
	lang     string        // primary subtag of the latest folded order's locale ("" = none)
	langAt   time.Time     // its created_at
	brands   []countedStr  // lower-case vendors, sorted, counts > 0
	products []countedStr  // product ids, sorted, counts > 0
	prices   []countedDec  // unit prices, sorted by CmpTotal, counts > 0
}

// foldedOrder is a folded order remembered by id: enough to keep orders_count,
// total_spent, first_order_at and last_order_at exact when it is updated, cancelled or
// deleted later.
type foldedOrder struct {
	id        string
	createdAt time.Time
	updatedAt time.Time
	total     decimal.Decimal
	counted   bool // neither cancelled nor test when folded
}

// orderSum aggregates counted orders.
type orderSum struct {
	count       int64
	total       decimal.Decimal
	first, last time.Time
}

type countedStr struct {
	s string
	n int64
}

type countedDec struct {
	d decimal.Decimal
	n int64
}

func (f *orderFold) empty() bool {
	return len(f.entries) == 0 && f.forgot == (orderSum{}) && f.lang == "" && f.langAt.IsZero() &&
		len(f.brands) == 0 && len(f.products) == 0 && len(f.prices) == 0
}

func (s *orderSum) add(created time.Time, total decimal.Decimal) {
	s.count++
	if sum, err := s.total.Add(total); err == nil {
		s.total = sum
	}
	if s.first.IsZero() || created.Before(s.first) {
		s.first = created
	}
	if created.After(s.last) {
		s.last = created
	}
}

// limits are the per-section caps derived from a bound, each share divided by divide
// (1, or more when AppendBounded must shrink them).
type limits struct {
	max         int // the bound; 0 = unbounded
	orders      int // estimated bytes of full orders
	foldedIDs   int // folded order entries
	seen        int // delivery ids
	messages    int // per-message states
	deletions   int // order deletions
	multiset    int // entries of each multiset
	exact       int // estimated bytes of the exact sets
	completions int // completion times kept for windows
}

func newLimits(maxBytes, divide int) limits {
	if maxBytes <= 0 {
		return limits{}
	}
	l := limits{max: maxBytes}
	l.orders = maxBytes / shareOrders / divide
	l.foldedIDs = maxBytes / shareFoldedIDs / estFoldedEntry / divide
	l.seen = maxBytes / shareSeen / estSeenBytes / divide
	l.messages = min(MaxMessages, maxBytes/shareMessages/estMessageBytes/divide)
	l.deletions = maxBytes / shareDeletions / 16 / divide
	l.multiset = maxBytes / shareMultiset / 10 / divide
	l.exact = maxBytes / shareExact
	l.completions = maxBytes / shareCompletions / estCompletion / divide
	return l
}

// orderBytes estimates the encoded size of an order.
func orderBytes(o *events.Order) int {
	n := estOrderOverhead + len(o.ID) + len(o.CustomerLocale)
	for i := range o.LineItems {
		n += estItemBytes + len(o.LineItems[i].ProductID)
	}
	return n
}

// fullOrderBytes estimates the encoded size of the full orders (cached).
func (c *Contact) fullOrderBytes() int {
	if c.orderBytesOK {
		return c.orderBytes
	}
	n := 0
	for i := range c.orders {
		n += orderBytes(&c.orders[i])
	}
	c.orderBytes, c.orderBytesOK = n, true
	return n
}

// bound folds what exceeds the shares of l: orders in full beyond their share (the
// oldest by created_at first, down to half the share), folded order entries, delivery
// ids, messages and order deletions beyond theirs (the oldest first), and multiset
// entries beyond theirs (the least bought first).
func (c *Contact) bound(l limits) {
	if l.max <= 0 {
		return
	}
	if c.fullOrderBytes() > l.orders {
		c.foldOrders(l.orders / 2)
	}
	if len(c.fold.entries) > l.foldedIDs {
		c.forgetFolded(l.foldedIDs - l.foldedIDs/8)
	}
	c.trimMultisets(l.multiset)
	if len(c.seen) > l.seen {
		keep := l.seen - l.seen/8
		c.seen = slices.Clone(c.seen[len(c.seen)-keep:])
		if len(c.seen) == 0 {
			c.seen = nil
		}
	}
	if len(c.orderDeletion) > l.deletions {
		// The oldest by processing time, then by occurred_at: the ones a late update
		// is least likely to address.
		slices.SortStableFunc(c.orderDeletion, func(a, b orderDeletion) int {
			if r := cmp.Compare(a.seen, b.seen); r != 0 {
				return r
			}
			return a.at.Compare(b.at)
		})
		keep := l.deletions - l.deletions/8
		c.orderDeletion = slices.Clone(c.orderDeletion[len(c.orderDeletion)-keep:])
		if len(c.orderDeletion) == 0 {
			c.orderDeletion = nil
		}
	}
	c.foldMessagesTo(l.messages)
	if len(c.completions) > l.completions {
		c.keepCompletions(len(c.completions) - (l.completions - l.completions/8))
	}
}

// foldOrders folds the oldest orders (by created_at, then id) until the full orders'
// estimated size is at most target.
func (c *Contact) foldOrders(target int) {
	size := c.fullOrderBytes()
	if size <= target || len(c.orders) == 0 {
		return
	}
	idx := make([]int, len(c.orders))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if r := c.orders[a].CreatedAt.Compare(c.orders[b].CreatedAt); r != 0 {
			return r
		}
		return cmp.Compare(c.orders[a].ID, c.orders[b].ID)
	})
	fold := make([]bool, len(c.orders))
	for _, i := range idx {
		if size <= target {
			break
		}
		fold[i] = true
		size -= orderBytes(&c.orders[i])
	}
	keep := make([]events.Order, 0, len(c.orders))
	var added []foldedOrder
	for i := range c.orders {
		if !fold[i] {
			keep = append(keep, c.orders[i])
			continue
		}
		added = append(added, c.foldOrder(&c.orders[i]))
	}
	if len(keep) == 0 {
		keep = nil
	}
	c.orders = keep
	c.orderBytes, c.orderBytesOK = size, true
	// Both are sorted by id and disjoint: merge.
	merged := make([]foldedOrder, 0, len(c.fold.entries)+len(added))
	a, b := c.fold.entries, added
	for len(a) > 0 && len(b) > 0 {
		if a[0].id < b[0].id {
			merged, a = append(merged, a[0]), a[1:]
		} else {
			merged, b = append(merged, b[0]), b[1:]
		}
	}
	merged = append(append(merged, a...), b...)
	c.fold.entries = merged
	c.agg = nil
}

// foldOrder adds o's line items (if counted) and language to the fold and returns its
// entry.
func (c *Contact) foldOrder(o *events.Order) foldedOrder {
	f := &c.fold
	e := foldedOrder{id: o.ID, createdAt: o.CreatedAt, updatedAt: o.UpdatedAt, total: o.Total, counted: o.CancelledAt.IsZero() && !o.Test}
	if l := primarySubtag(o.CustomerLocale); l != "" && (f.lang == "" || !o.CreatedAt.Before(f.langAt)) {
		f.lang, f.langAt = l, o.CreatedAt
	}
	if e.counted {
		for i := range o.LineItems {
			li := &o.LineItems[i]
			if v := lowerTrim(li.Vendor); v != "" {
				f.brands = addCountedStr(f.brands, v, 1)
			}
			if li.ProductID != "" {
				f.products = addCountedStr(f.products, li.ProductID, 1)
			}
			f.prices = addCountedDec(f.prices, li.Price, 1)
		}
	}
	return e
}

// unfold removes the folded entry i (an update or deletion of a folded order
// arrived): its total leaves the sums, and, when items is not nil, those line items
// (the update's, taken as the folded order's) leave the multisets.
func (c *Contact) unfold(i int, items []events.LineItem) {
	f := &c.fold
	e := f.entries[i]
	f.entries = slices.Delete(slices.Clip(f.entries), i, i+1)
	if len(f.entries) == 0 {
		f.entries = nil
	}
	if e.counted {
		for j := range items {
			li := &items[j]
			if v := lowerTrim(li.Vendor); v != "" {
				f.brands = addCountedStr(f.brands, v, -1)
			}
			if li.ProductID != "" {
				f.products = addCountedStr(f.products, li.ProductID, -1)
			}
			f.prices = addCountedDec(f.prices, li.Price, -1)
		}
	}
	c.agg = nil
}

func (c *Contact) findFolded(id string) (int, bool) {
	return slices.BinarySearchFunc(c.fold.entries, id, func(e foldedOrder, id string) int { return cmp.Compare(e.id, id) })
}

// forgetFolded forgets the oldest folded entries (by created_at, then id) until keep
// remain; counted ones go to the forgotten sums.
func (c *Contact) forgetFolded(keep int) {
	f := &c.fold
	n := len(f.entries) - max(keep, 0)
	if n <= 0 {
		return
	}
	idx := make([]int, len(f.entries))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if r := f.entries[a].createdAt.Compare(f.entries[b].createdAt); r != 0 {
			return r
		}
		return cmp.Compare(f.entries[a].id, f.entries[b].id)
	})
	drop := make([]bool, len(f.entries))
	for _, i := range idx[:n] {
		drop[i] = true
		if e := &f.entries[i]; e.counted {
			f.forgot.add(e.createdAt, e.total)
		}
	}
	keepEntries := make([]foldedOrder, 0, len(f.entries)-n)
	for i, e := range f.entries {
		if !drop[i] {
			keepEntries = append(keepEntries, e)
		}
	}
	if len(keepEntries) == 0 {
		keepEntries = nil
	}
	f.entries = keepEntries
	c.agg = nil
}

// trimMultisets keeps at most max entries of each multiset: past it, the least bought
// (then the greatest) are dropped.
func (c *Contact) trimMultisets(n int) {
	f := &c.fold
	if len(f.brands) > n {
		f.brands = trimCountedStr(f.brands, n-n/8)
		c.agg = nil
	}
	if len(f.products) > n {
		f.products = trimCountedStr(f.products, n-n/8)
		c.agg = nil
	}
	if len(f.prices) > n {
		keep := n - n/8
		byCount := slices.Clone(f.prices)
		slices.SortStableFunc(byCount, func(a, b countedDec) int { return cmp.Compare(b.n, a.n) })
		byCount = byCount[:keep]
		slices.SortFunc(byCount, func(a, b countedDec) int { return a.d.CmpTotal(b.d) })
		f.prices = byCount
		if len(f.prices) == 0 {
			f.prices = nil
		}
		c.agg = nil
	}
}

func trimCountedStr(s []countedStr, keep int) []countedStr {
	byCount := slices.Clone(s)
	slices.SortStableFunc(byCount, func(a, b countedStr) int { return cmp.Compare(b.n, a.n) })
	byCount = byCount[:max(keep, 0)]
	slices.SortFunc(byCount, func(a, b countedStr) int { return strings.Compare(a.s, b.s) })
	if len(byCount) == 0 {
		return nil
	}
	return byCount
}

// addCountedStr adds d to the count of s (copy on write), dropping it at 0; a
// decrement of an absent key is ignored.
func addCountedStr(m []countedStr, s string, d int64) []countedStr {
	i, found := slices.BinarySearchFunc(m, s, func(e countedStr, s string) int { return strings.Compare(e.s, s) })
	switch {
	case found && m[i].n+d > 0:
		m[i].n += d
	case found:
		m = slices.Delete(slices.Clip(m), i, i+1)
	case d > 0:
		m = slices.Insert(m, i, countedStr{s, d})
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func addCountedDec(m []countedDec, v decimal.Decimal, d int64) []countedDec {
	i, found := slices.BinarySearchFunc(m, v, func(e countedDec, v decimal.Decimal) int { return e.d.CmpTotal(v) })
	switch {
	case found && m[i].n+d > 0:
		m[i].n += d
	case found:
		m = slices.Delete(slices.Clip(m), i, i+1)
	case d > 0:
		m = slices.Insert(m, i, countedDec{v, d})
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// exactBytes estimates the encoded size of what is kept exactly whatever the bound:
// the profile, tags, lists, automations, back-in-stock subscriptions, conversations
// and memberships. Events that would grow it past its share are refused (TooLarge).
func (c *Contact) exactBytes() int {
	p := &c.profile
	n := 64 + len(p.Email) + len(p.FirstName) + len(p.LastName) + len(p.Phone) + len(p.PhoneE164) + len(p.Country) + len(p.Locale) +
		len(p.City) + len(p.Province)
	for i := range c.consents {
		n += len(c.consents[i].State)
	}
	for _, t := range c.tags {
		n += 1 + len(t)
	}
	for _, l := range c.lists {
		n += 1 + len(l)
	}
	for _, a := range c.automations {
		n += 3 + len(a.AutomationID)
	}
	for _, s := range c.backInStock {
		n += 8 + len(s.VariantID) + len(s.ProductID)
	}
	for _, s := range c.convs {
		n += 8 + len(s.ID) + len(s.Status) + len(s.AssignedAgent)
	}
	for _, m := range c.Memberships {
		n += 8 + len(m.Segment)
	}
	n += len(c.summary.CurrencyCode) + len(c.summary.LastOrderID)
	return n
}

// growsExact reports whether an event of kind k can grow the exact part of a record.
func growsExact(k events.Kind) bool {
	switch k {
	case events.CustomerUpsert, events.TagsAdded, events.ListMemberAdded, events.AutomationCompleted,
		events.BackInStockSubscribed, events.ConversationUpdated, events.PurchasingSummary,
		events.SMSConsentUpdate, events.WhatsAppConsentUpdate, events.EmailConsentUpdate:
		return true
	}
	return false
}

// foldMessagesTo folds the earliest received messages while more than max remain.
func (c *Contact) foldMessagesTo(n int) {
	if len(c.msgs) <= n {
		return
	}
	times := make([]time.Time, len(c.msgs))
	for i := range c.msgs {
		times[i] = c.msgs[i].recv
	}
	slices.SortFunc(times, time.Time.Compare)
	keepN := n - n/8
	limit := times[len(times)-keepN-1] // fold those received at or before limit
	if keepN == 0 {
		limit = times[len(times)-1]
	}
	c.foldMessagesWhere(func(m *msgState) bool { return !m.recv.After(limit) })
}

// AppendBounded appends the record's encoding to dst like AppendBinary, folding first
// whatever makes it larger than maxBytes (0: no bound). Applying events with
// ApplyBounded keeps each part within its share of the bound, so this only acts when
// the estimates were short: it then shrinks the shares of the approximate parts by
// halves until the record fits. over reports that it still does not (the exact part
// alone is too large, e.g. a record written before the bound existed).
func (c *Contact) AppendBounded(dst []byte, maxBytes int) (b []byte, over bool, err error) {
	start := len(dst)
	b, err = c.AppendBinary(dst)
	if err != nil || maxBytes <= 0 || len(b)-start <= maxBytes {
		return b, false, err
	}
	for divide := 1; divide <= 1<<12; divide *= 2 {
		c.bound(newLimits(maxBytes, divide))
		if b, err = c.AppendBinary(b[:start]); err != nil || len(b)-start <= maxBytes {
			return b, false, err
		}
	}
	return b, true, nil
}
