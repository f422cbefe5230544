package state

import "slices"

// Clone returns a copy of c that shares nothing Apply (or the processor) changes in
// place: every list of the record is copied. What is shared is immutable: strings,
// the orders' line items (an order is replaced whole, never changed in place), and
// the derived aggregates, which are copy on write because Attrs hands them out
// already (agg, msgAgg, byAuto).
//
// The processor keeps decoded contacts across windows (its contact cache) and gives
// each window a clone to apply events to, so that a window that aborts leaves the
// cached copy as the store holds it. Cloning is a fraction of decoding the record.
func (c *Contact) Clone() *Contact {
	n := *c
	n.Memberships = slices.Clone(c.Memberships)
	n.seen = slices.Clone(c.seen)
	n.tags = slices.Clone(c.tags)
	n.lists = slices.Clone(c.lists)
	n.orders = slices.Clone(c.orders)
	n.orderDeletion = slices.Clone(c.orderDeletion)
	n.fold.entries = slices.Clone(c.fold.entries)
	n.fold.brands = slices.Clone(c.fold.brands)
	n.fold.products = slices.Clone(c.fold.products)
	n.fold.prices = slices.Clone(c.fold.prices)
	n.msgs = slices.Clone(c.msgs)
	n.automations = slices.Clone(c.automations)
	n.completions = slices.Clone(c.completions)
	n.backInStock = slices.Clone(c.backInStock)
	n.convs = slices.Clone(c.convs)
	n.tagKeys = slices.Clone(c.tagKeys)
	return &n
}
