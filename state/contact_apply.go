package state

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// effect is what one event's effect did to a live record.
type effect uint8

const (
	noop    effect = iota // valid, nothing changed
	changed               // the contact's state changed
	stale                 // older than what is stored: nothing changed
)

// Apply applies ev (already decoded and validated, for this contact) at processing
// time now, de-duplicating by ev.DeliveryID. See Contact for the rules; in short:
//
//   - Duplicate: ev.DeliveryID was recorded within DedupWindow.
//   - Missing: customers/delete, customers/redact or orders/delete of an absent
//     contact; customers/delete or orders/delete of a deleted one.
//   - Stale: ev occurred before the remembered deletion, or is older than the stored
//     state it would change. Never for customers/redact.
//   - Deleted: customers/delete of a live contact; customers/redact of a live or
//     deleted contact (it purges whatever the record still holds, whenever it
//     occurred; memberships of a tombstone are all non-members already).
//   - Applied: the record changed: the contact's state (SyncedAt = now), or only its
//     dedup memory (SyncedAt unchanged), or it was created.
//   - Unchanged: a valid event without a delivery id that changes nothing, or an
//     event that is not valid (unknown kind, missing payload), which is ignored.
func (c *Contact) Apply(ev *events.Event, now time.Time) Outcome {
	return c.ApplyBounded(ev, now, DefaultMaxContactBytes)
}

// ApplyBounded is Apply keeping the record within maxBytes of encoding (0: no bound),
// as described under "Bounded size" in Contact. It returns TooLarge, leaving the
// record as it was, for an event that would grow what is kept exactly past its share
// of the bound.
func (c *Contact) ApplyBounded(ev *events.Event, now time.Time, maxBytes int) Outcome {
	now = normTime(now)
	c.Expire(now)
	if !validEvent(ev) {
		return Unchanged
	}
	hasID := ev.DeliveryID != ""
	var h uint64
	if hasID {
		h = hashID(ev.DeliveryID)
		if c.seenWithin(h, now) {
			return Duplicate
		}
	}
	at := normTime(ev.OccurredAt)

	switch ev.Kind {
	case events.CustomerDelete, events.CustomerRedact, events.OrderDelete:
		if c.state == stateAbsent || (c.state == stateTombstone && ev.Kind != events.CustomerRedact) {
			return Missing
		}
	}
	if ev.Kind == events.CustomerRedact {
		// GDPR: a redact purges whenever it comes, even a deleted contact or one
		// re-created after a later deletion; the fence keeps the latest time.
		c.deleteAt(later(at, c.fenceAt), now, true)
		c.remember(h, hasID, now)
		c.SyncedAt = now
		return Deleted
	}
	if !c.fenceAt.IsZero() && at.Before(c.fenceAt) {
		return Stale
	}
	if ev.Kind == events.CustomerDelete {
		c.deleteAt(at, now, false)
		c.remember(h, hasID, now)
		c.SyncedAt = now
		return Deleted
	}

	lim := newLimits(maxBytes, 1)
	var snap Contact
	exactBefore := -1
	if lim.max > 0 && growsExact(ev.Kind) {
		// The sets these events change are copied on write: a shallow copy is a
		// snapshot to return to.
		snap, exactBefore = *c, c.exactBytes()
	}
	created := false
	if c.state != stateLive {
		c.recreate()
		created = true
	}
	eff := c.applyEffect(ev, at, now)
	if exactBefore >= 0 && eff == changed {
		if n := c.exactBytes(); n > lim.exact && n > exactBefore {
			*c = snap
			return TooLarge
		}
	}
	switch {
	case eff == stale:
		// Impossible on a created record: it holds nothing to be stale against.
		return Stale
	case eff == changed || created:
		c.SyncedAt = now
	case !hasID:
		return Unchanged
	}
	c.remember(h, hasID, now)
	c.compact(now)
	c.bound(lim)
	return Applied
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// validEvent reports whether ev has the payload its kind needs.
func validEvent(ev *events.Event) bool {
	if ev == nil {
		return false
	}
	switch ev.Kind {
	case events.CustomerUpsert:
		return ev.Customer != nil
	case events.CustomerDelete:
		return true
	case events.CustomerRedact:
		return true // Redact may be nil: no orders_to_redact
	case events.SMSConsentUpdate, events.WhatsAppConsentUpdate, events.EmailConsentUpdate:
		return ev.Consent != nil
	case events.TagsAdded, events.TagsRemoved:
		return true
	case events.PurchasingSummary:
		return ev.Summary != nil
	case events.OrderUpsert:
		return ev.Order != nil && ev.Order.ID != ""
	case events.OrderDelete:
		return ev.OrderID != ""
	case events.MessageStatus:
		return ev.Message != nil && ev.Message.MessageID != "" &&
			ev.Message.Status >= events.StatusSent && ev.Message.Status <= events.StatusFailed
	case events.MessageInbound:
		return ev.Message != nil
	case events.AutomationCompleted:
		return ev.Automation != nil && ev.Automation.AutomationID != ""
	case events.ListMemberAdded, events.ListMemberRemoved:
		return ev.ListID != ""
	case events.BackInStockSubscribed, events.BackInStockUnsubscribed:
		return ev.BackInStock != nil && (ev.BackInStock.VariantID != "" || ev.BackInStock.ProductID != "")
	case events.ConversationUpdated:
		return ev.Conversation != nil && ev.Conversation.ConversationID != ""
	case events.LifecycleStageSet:
		if ev.Stage == nil {
			return false
		}
		_, ok := parseStage(ev.Stage.Stage)
		return ok
	}
	return false
}

func (c *Contact) applyEffect(ev *events.Event, at, now time.Time) effect {
	switch ev.Kind {
	case events.CustomerUpsert:
		return c.applyCustomer(ev.Customer, at)
	case events.SMSConsentUpdate:
		return c.setConsent(consentSMS, ev.Consent.State, ev.Consent.UpdatedAt, at)
	case events.WhatsAppConsentUpdate:
		return c.setConsent(consentWhatsApp, ev.Consent.State, ev.Consent.UpdatedAt, at)
	case events.EmailConsentUpdate:
		return c.setConsent(consentEmail, ev.Consent.State, ev.Consent.UpdatedAt, at)
	case events.TagsAdded:
		return c.addTags(ev.Tags)
	case events.TagsRemoved:
		return c.removeTags(ev.Tags)
	case events.PurchasingSummary:
		return c.applySummary(ev.Summary, at)
	case events.OrderUpsert:
		return c.upsertOrder(ev.Order, at)
	case events.OrderDelete:
		return c.deleteOrder(ev.OrderID, at, now)
	case events.MessageStatus:
		return c.applyMessageStatus(ev.Message, at)
	case events.MessageInbound:
		return c.applyInbound(ev.Message, at)
	case events.AutomationCompleted:
		return c.completeAutomation(ev.Automation.AutomationID, ev.Automation.CompletedAt, at)
	case events.ListMemberAdded:
		return c.addList(ev.ListID)
	case events.ListMemberRemoved:
		return c.removeList(ev.ListID)
	case events.BackInStockSubscribed:
		return c.subscribeBackInStock(ev.BackInStock, at)
	case events.BackInStockUnsubscribed:
		return c.unsubscribeBackInStock(ev.BackInStock)
	case events.ConversationUpdated:
		return c.updateConversation(ev.Conversation, at)
	case events.LifecycleStageSet:
		s, _ := parseStage(ev.Stage.Stage)
		if s == c.stage {
			return noop
		}
		c.stage = s
		return changed
	}
	return noop
}

// --- lifecycle ---------------------------------------------------------------

// recreate resets the record to a fresh live contact, keeping only the deletion fence
// and the dedup memory.
func (c *Contact) recreate() {
	*c = Contact{
		state:      stateLive,
		fenceAt:    c.fenceAt,
		fenceUntil: c.fenceUntil,
		seen:       c.seen,
	}
}

// deleteAt turns the record into a tombstone for a deletion that occurred at at. It
// keeps the processor's fields and, unless redact, the dedup memory.
func (c *Contact) deleteAt(at, now time.Time, redact bool) {
	seen := c.seen
	*c = Contact{
		DenseID:     c.DenseID,
		Memberships: c.Memberships,
		NextDue:     c.NextDue,
		SyncedAt:    c.SyncedAt,
		state:       stateTombstone,
		fenceAt:     at,
		fenceUntil:  normTime(now.Add(TombstoneTTL)),
	}
	if !redact {
		c.seen = seen
		c.pruneSeen(now)
	}
}

// --- de-duplication and compaction ---------------------------------------------

func dedupExpired(at int64, now time.Time) bool {
	return now.Unix()-at > int64(DedupWindow/time.Second)
}

func (c *Contact) seenWithin(h uint64, now time.Time) bool {
	for i := len(c.seen) - 1; i >= 0; i-- {
		if c.seen[i].hash == h {
			return !dedupExpired(c.seen[i].at, now)
		}
	}
	return false
}

func (c *Contact) remember(h uint64, ok bool, now time.Time) {
	c.pruneSeen(now)
	if ok {
		c.seen = append(c.seen, seenID{hash: h, at: now.Unix()})
	}
}

func (c *Contact) pruneSeen(now time.Time) {
	keep := c.seen[:0]
	for _, s := range c.seen {
		if !dedupExpired(s.at, now) {
			keep = append(keep, s)
		}
	}
	clear(c.seen[len(keep):])
	if len(keep) == 0 {
		keep = nil
	}
	c.seen = keep
}

// compact drops expired order deletions and folds old messages (see Contact).
func (c *Contact) compact(now time.Time) {
	if len(c.orderDeletion) > 0 {
		keep := c.orderDeletion[:0]
		for _, d := range c.orderDeletion {
			if now.Unix()-d.seen <= int64(OrderDeletionTTL/time.Second) {
				keep = append(keep, d)
			}
		}
		if len(keep) == 0 {
			keep = nil
		}
		c.orderDeletion = keep
	}
	c.foldMessages()
	c.dropOldCompletions()
}

// dropOldCompletions drops from the window part the completions more than
// CompletionRetention before the latest one: they are in no window (of at most 90
// days) once that one is in the past. Judged against the contact's own latest
// completion, like messages, so that the record depends only on its events.
func (c *Contact) dropOldCompletions() {
	if len(c.completions) == 0 {
		return
	}
	cutoff := c.completions[len(c.completions)-1].At.Add(-CompletionRetention)
	i := 0
	for i < len(c.completions) && c.completions[i].At.Before(cutoff) {
		i++
	}
	c.keepCompletions(i)
}

// keepCompletions drops the first n completions of the window part.
func (c *Contact) keepCompletions(n int) {
	if n <= 0 {
		return
	}
	c.completions = slices.Clone(c.completions[n:])
	if len(c.completions) == 0 {
		c.completions = nil
	}
}

// cmpCompletion orders the window part's completions: by time, then automation.
func cmpCompletion(x, y operators.Completion) int {
	if r := x.At.Compare(y.At); r != 0 {
		return r
	}
	return cmp.Compare(x.Automation, y.Automation)
}

// foldMessages folds into c.msgFolded the messages received more than
// MessageRetention before the latest received message and, when more than
// MaxMessages remain, the earliest received ones down to 7/8 of MaxMessages (so that
// folding is not done every write). Judging age against the contact's own latest
// message rather than now keeps a chronological backfill of old statuses exact.
func (c *Contact) foldMessages() {
	if len(c.msgs) == 0 {
		return
	}
	cutoff := c.messageAggregates().last.Add(-MessageRetention)
	old := 0
	for i := range c.msgs {
		if c.msgs[i].recv.Before(cutoff) {
			old++
		}
	}
	var limit time.Time // also fold messages received at or before limit
	if rest := len(c.msgs) - old; rest > MaxMessages {
		times := make([]time.Time, 0, rest)
		for i := range c.msgs {
			if !c.msgs[i].recv.Before(cutoff) {
				times = append(times, c.msgs[i].recv)
			}
		}
		slices.SortFunc(times, time.Time.Compare)
		limit = times[rest-MaxMessages*7/8-1]
	} else if old == 0 {
		return
	}
	c.foldMessagesWhere(func(m *msgState) bool {
		return m.recv.Before(cutoff) || (!limit.IsZero() && !m.recv.After(limit))
	})
}

// foldMessagesWhere folds the messages fold selects into c.msgFolded: their counts
// and latest received time; the others are kept, in order.
func (c *Contact) foldMessagesWhere(fold func(m *msgState) bool) {
	keep := c.msgs[:0]
	for _, m := range c.msgs {
		if fold(&m) {
			c.msgFolded.received++
			if m.read {
				c.msgFolded.read++
			}
			if m.recv.After(c.msgFolded.lastRecv) {
				c.msgFolded.lastRecv = m.recv
			}
			continue
		}
		keep = append(keep, m)
	}
	clear(c.msgs[len(keep):])
	if len(keep) == 0 {
		keep = nil
	}
	c.msgs = keep
	c.msgAgg = nil
}

// --- customers -------------------------------------------------------------------

func (c *Contact) applyCustomer(cu *events.Customer, at time.Time) effect {
	upd := normTime(cu.UpdatedAt)
	if !upd.IsZero() && upd.Before(c.profile.UpdatedAt) {
		return stale
	}
	p := &c.profile
	eff := noop
	setString(&p.Email, cu.Email, &eff)
	setString(&p.FirstName, cu.FirstName, &eff)
	setString(&p.LastName, cu.LastName, &eff)
	if cu.Country.Present {
		setString(&p.Country, events.OptString{Present: true, Value: strings.ToUpper(strings.TrimSpace(cu.Country.Value))}, &eff)
	}
	setString(&p.City, cu.City, &eff)
	if cu.Province.Present {
		setString(&p.Province, events.OptString{Present: true, Value: strings.ToUpper(strings.TrimSpace(cu.Province.Value))}, &eff)
	}
	setString(&p.Locale, cu.Locale, &eff)
	if cu.Phone.Present && cu.Phone.Value != p.Phone {
		c.setPhone(cu.Phone.Value)
		eff = changed
	}
	if t := normTime(cu.CreatedAt.Value); cu.CreatedAt.Present && !t.Equal(p.CreatedAt) {
		p.CreatedAt = t
		eff = changed
	}
	if !upd.IsZero() && !upd.Equal(p.UpdatedAt) {
		p.UpdatedAt = upd
		eff = changed
	}
	if cu.Tags.Present {
		if tags := parseTagList(cu.Tags.Value); !slices.Equal(tags, c.tags) {
			c.setTags(tags)
			eff = changed
		}
	}
	// A consent object is judged by its own time, alone: an older one is skipped.
	if f := cu.SMSConsent; f != nil && c.setConsent(consentSMS, f.State, f.UpdatedAt, at) == changed {
		eff = changed
	}
	if f := cu.EmailConsent; f != nil && c.setConsent(consentEmail, f.State, f.UpdatedAt, at) == changed {
		eff = changed
	}
	return eff
}

func setString(dst *string, v events.OptString, eff *effect) {
	if !v.Present {
		return
	}
	s := strings.TrimSpace(v.Value)
	if s != *dst {
		*dst = s
		*eff = changed
	}
}

// setPhone stores raw and its normalization (SPEC §5).
func (c *Contact) setPhone(raw string) {
	c.profile.Phone = raw
	c.profile.PhoneE164 = ""
	c.phoneErr = phoneOK
	if strings.TrimSpace(raw) == "" {
		c.profile.Phone = ""
		return
	}
	e164, err := operators.NormalizePhone(raw)
	switch {
	case err == nil:
		c.profile.PhoneE164 = e164
	case err == operators.ErrMissingCallingCode:
		c.phoneErr = phoneMissingCallingCode
	default:
		c.phoneErr = phoneInvalid
	}
}

// setConsent sets channel ch to state as of t (else the event's time at). An update
// older than the stored consent is stale; equal or missing times are applied.
func (c *Contact) setConsent(ch int, state string, t, at time.Time) effect {
	t = normTime(t)
	if t.IsZero() {
		t = at
	}
	cs := &c.consents[ch]
	if cs.Received && !t.IsZero() && t.Before(cs.UpdatedAt) {
		return stale
	}
	if t.IsZero() {
		t = cs.UpdatedAt
	}
	next := ConsentState{Received: true, State: strings.ToUpper(strings.TrimSpace(state)), UpdatedAt: t}
	if *cs == next {
		return noop
	}
	*cs = next
	return changed
}

// --- tags and lists ----------------------------------------------------------------

// parseTagList splits a comma-separated tag string into trimmed tags, unique
// case-insensitively (the first spelling wins), sorted by their lower-case form.
func parseTagList(s string) []string {
	var tags []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return normTags(tags)
}

// normTags sorts tags (already trimmed, non-empty) by lower-case form, stably, and
// drops later case-insensitive duplicates. It reuses tags' array.
func normTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	slices.SortStableFunc(tags, func(a, b string) int { return cmp.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return slices.CompactFunc(tags, func(a, b string) bool { return strings.ToLower(a) == strings.ToLower(b) })
}

func (c *Contact) setTags(tags []string) {
	c.tags = tags
	c.tagKeys, c.tagKeysOK = nil, false
}

func (c *Contact) addTags(add []string) effect {
	keys := c.lowerTags()
	var next []string
	for _, t := range add {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if _, found := slices.BinarySearch(keys, strings.ToLower(t)); found {
			continue
		}
		if next == nil {
			next = slices.Clone(c.tags)
		}
		next = append(next, t)
	}
	if next == nil {
		return noop
	}
	c.setTags(normTags(next)) // existing tags sort first: they keep their spelling
	return changed
}

func (c *Contact) removeTags(remove []string) effect {
	if len(c.tags) == 0 {
		return noop
	}
	drop := make(map[string]bool, len(remove))
	for _, t := range remove {
		drop[lowerTrim(t)] = true
	}
	next := make([]string, 0, len(c.tags))
	for _, t := range c.tags {
		if !drop[strings.ToLower(t)] {
			next = append(next, t)
		}
	}
	if len(next) == len(c.tags) {
		return noop
	}
	if len(next) == 0 {
		next = nil
	}
	c.setTags(next)
	return changed
}

func (c *Contact) addList(id string) effect {
	i, found := slices.BinarySearch(c.lists, id)
	if found {
		return noop
	}
	// Copy on write: c.lists is shared with Attrs already handed out.
	c.lists = slices.Insert(slices.Clip(c.lists), i, id)
	return changed
}

func (c *Contact) removeList(id string) effect {
	i, found := slices.BinarySearch(c.lists, id)
	if !found {
		return noop
	}
	next := slices.Delete(slices.Clone(c.lists), i, i+1)
	if len(next) == 0 {
		next = nil
	}
	c.lists = next
	return changed
}

// --- summary, orders -----------------------------------------------------------------

func (c *Contact) applySummary(s *events.Summary, at time.Time) effect {
	if c.hasSummary && at.Before(c.summaryAt) {
		return stale
	}
	if c.hasSummary && c.summary == *s && c.summaryAt.Equal(at) {
		return noop
	}
	c.summary, c.summaryAt, c.hasSummary = *s, at, true
	return changed
}

func (c *Contact) findOrder(id string) (int, bool) {
	return slices.BinarySearchFunc(c.orders, id, func(o events.Order, id string) int { return cmp.Compare(o.ID, id) })
}

func (c *Contact) findOrderDeletion(id string) int {
	for i := range c.orderDeletion {
		if c.orderDeletion[i].id == id {
			return i
		}
	}
	return -1
}

func (c *Contact) upsertOrder(in *events.Order, at time.Time) effect {
	o := normOrder(in)
	i, found := c.findOrder(o.ID)
	if found && !o.UpdatedAt.IsZero() && o.UpdatedAt.Before(c.orders[i].UpdatedAt) {
		return stale
	}
	fi, folded := c.findFolded(o.ID)
	if folded && !o.UpdatedAt.IsZero() && o.UpdatedAt.Before(c.fold.entries[fi].updatedAt) {
		return stale
	}
	eff := noop
	if j := c.findOrderDeletion(o.ID); j >= 0 {
		t := o.UpdatedAt
		if t.IsZero() {
			t = at
		}
		if t.Before(c.orderDeletion[j].at) {
			return stale
		}
		c.orderDeletion = slices.Delete(c.orderDeletion, j, j+1)
		if len(c.orderDeletion) == 0 {
			c.orderDeletion = nil
		}
		eff = changed
	}
	if folded {
		// The order comes back in full: its folded contribution leaves the fold, its
		// line items taken to be the update's (see Contact, "Bounded size").
		if o.UpdatedAt.IsZero() {
			o.UpdatedAt = c.fold.entries[fi].updatedAt
		}
		c.unfold(fi, o.LineItems)
	}
	if found {
		if o.UpdatedAt.IsZero() {
			o.UpdatedAt = c.orders[i].UpdatedAt // keep the watermark
		}
		if orderEqual(&c.orders[i], &o) {
			return eff
		}
		c.orderBytes += orderBytes(&o) - orderBytes(&c.orders[i])
		c.orders[i] = o
	} else {
		c.orderBytes += orderBytes(&o)
		c.orders = slices.Insert(c.orders, i, o)
		if c.agg != nil && !folded {
			c.agg = c.agg.withOrder(&c.orders[i])
			return changed
		}
	}
	c.agg = nil
	return changed
}

// normOrder copies in with normalized times and its own line items.
func normOrder(in *events.Order) events.Order {
	o := *in
	o.CreatedAt = normTime(o.CreatedAt)
	o.UpdatedAt = normTime(o.UpdatedAt)
	o.CancelledAt = normTime(o.CancelledAt)
	o.LineItems = slices.Clone(o.LineItems)
	if len(o.LineItems) == 0 {
		o.LineItems = nil
	}
	return o
}

func orderEqual(a, b *events.Order) bool {
	return a.ID == b.ID && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.CancelledAt.Equal(b.CancelledAt) && a.Test == b.Test && a.Total == b.Total &&
		a.CustomerLocale == b.CustomerLocale && slices.Equal(a.LineItems, b.LineItems)
}

func (c *Contact) deleteOrder(id string, at, now time.Time) effect {
	eff := noop
	if i, found := c.findFolded(id); found {
		c.unfold(i, nil) // its line items are not known: they stay in the multisets
		eff = changed
	}
	if i, found := c.findOrder(id); found {
		c.orderBytes -= orderBytes(&c.orders[i])
		c.orders = slices.Delete(c.orders, i, i+1)
		if len(c.orders) == 0 {
			c.orders = nil
		}
		c.agg = nil
		eff = changed
	}
	if j := c.findOrderDeletion(id); j >= 0 {
		if at.After(c.orderDeletion[j].at) {
			c.orderDeletion[j].at = at
			eff = changed
		}
		return eff
	}
	c.orderDeletion = append(c.orderDeletion, orderDeletion{id: id, at: at, seen: now.Unix()})
	return changed
}

// --- messages, automations --------------------------------------------------------------

func (c *Contact) findMessage(h uint64) (int, bool) {
	return slices.BinarySearchFunc(c.msgs, h, func(m msgState, h uint64) int { return cmp.Compare(m.hash, h) })
}

func (c *Contact) applyMessageStatus(m *events.Message, at time.Time) effect {
	var read bool
	switch m.Status {
	case events.StatusDelivered:
	case events.StatusRead, events.StatusPlayed:
		read = true
	default: // sent, failed: nothing countable
		return noop
	}
	ts := normTime(m.Timestamp)
	if ts.IsZero() {
		ts = at
	}
	h := hashID(m.MessageID)
	i, found := c.findMessage(h)
	if !found {
		c.msgs = slices.Insert(c.msgs, i, msgState{hash: h, recv: ts, read: read})
		c.msgAgg = nil
		return changed
	}
	ms := &c.msgs[i]
	eff := noop
	if ts.Before(ms.recv) {
		ms.recv = ts
		eff = changed
	}
	if read && !ms.read {
		ms.read = true
		eff = changed
	}
	if eff == changed {
		c.msgAgg = nil
	}
	return eff
}

func (c *Contact) applyInbound(m *events.Message, at time.Time) effect {
	ts := normTime(m.Timestamp)
	if ts.IsZero() {
		ts = at
	}
	if !ts.After(c.lastEngagedAt) {
		return noop
	}
	c.lastEngagedAt = ts
	return changed
}

func (c *Contact) completeAutomation(id string, completedAt, at time.Time) effect {
	ts := normTime(completedAt)
	if ts.IsZero() {
		ts = at
	}
	x := operators.Completion{At: ts, Automation: id}
	j, _ := slices.BinarySearchFunc(c.completions, x, cmpCompletion)
	c.completions = slices.Insert(slices.Clip(c.completions), j, x) // a copy (see ApplyBounded; shared with Attrs)
	i, found := slices.BinarySearchFunc(c.automations, id, func(a AutomationCount, id string) int { return cmp.Compare(a.AutomationID, id) })
	// Copy on write (see ApplyBounded).
	if found {
		c.automations = slices.Clone(c.automations)
		c.automations[i].Count++
	} else {
		c.automations = slices.Insert(slices.Clip(c.automations), i, AutomationCount{AutomationID: id, Count: 1})
	}
	c.byAuto, c.byAutoOK = nil, false
	return changed
}

// --- back in stock, conversations, stage ----------------------------------------------------

func (c *Contact) subscribeBackInStock(b *events.BackInStock, at time.Time) effect {
	i, found := slices.BinarySearchFunc(c.backInStock, *b, cmpBackInStock)
	if found {
		return noop // the first subscription time stays
	}
	c.backInStock = slices.Insert(slices.Clip(c.backInStock), i, BackInStockSub{VariantID: b.VariantID, ProductID: b.ProductID, SubscribedAt: at})
	return changed
}

func cmpBackInStock(s BackInStockSub, b events.BackInStock) int {
	if r := cmp.Compare(s.VariantID, b.VariantID); r != 0 {
		return r
	}
	return cmp.Compare(s.ProductID, b.ProductID)
}

// unsubscribeBackInStock removes the subscriptions matching b: by variant and product,
// or by the only one of the two that b carries.
func (c *Contact) unsubscribeBackInStock(b *events.BackInStock) effect {
	next := make([]BackInStockSub, 0, len(c.backInStock))
	for _, s := range c.backInStock {
		if (b.VariantID == "" || s.VariantID == b.VariantID) && (b.ProductID == "" || s.ProductID == b.ProductID) {
			continue
		}
		next = append(next, s)
	}
	if len(next) == len(c.backInStock) {
		return noop
	}
	if len(next) == 0 {
		next = nil
	}
	c.backInStock = next
	return changed
}

func (c *Contact) updateConversation(cv *events.Conversation, at time.Time) effect {
	next := ConversationState{ID: cv.ConversationID, Status: strings.ToUpper(cv.Status), AssignedAgent: cv.AssignedAgent, UpdatedAt: at}
	i, found := slices.BinarySearchFunc(c.convs, next.ID, func(s ConversationState, id string) int { return cmp.Compare(s.ID, id) })
	if !found {
		c.convs = slices.Insert(slices.Clip(c.convs), i, next)
		return changed
	}
	cur := c.convs[i]
	if at.Before(cur.UpdatedAt) {
		return stale
	}
	if cur == next {
		return noop
	}
	c.convs = slices.Clone(c.convs) // copy on write (see ApplyBounded)
	c.convs[i] = next
	return changed
}

// parseStage maps a lifecycle_stage_set stage ("" clears) to a Stage.
func parseStage(s string) (operators.Stage, bool) {
	if s == "" {
		return operators.StageNone, true
	}
	return operators.ParseStage(strings.ToLower(strings.TrimSpace(s)))
}
