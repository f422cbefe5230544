package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// Contact record encoding, version 1. Every integer is a varint (unsigned, or
// zig-zag for signed values) unless said otherwise.
//
//	record   = version(1 byte = 1) state sections syncedAt(time, base 0) denseID nextDue section*
//	sections = bit set of the sections present, in bit order:
//	  0 memberships   count {segment(str) incarnation(signed) n}
//	  1 fence         fenceAt fenceUntil
//	  2 delivery ids  count {hash(8 bytes LE) seconds(signed delta from the previous, the first from base)}
//	  3 profile       field bit set, then the fields present (see appendProfile); the
//	                  city and province bits (above the phone error's) were added after
//	                  the first release: a profile without them encodes as before
//	  4 consents      3 × consent (SMS, WhatsApp, email)
//	  5 tags          count {str}
//	  6 lists         count {str}
//	  7 stage         stage
//	  8 summary       orders(signed) amount(dec) currency(str) lastOrderID(str) at
//	  9 orders        count {id(str) createdAt updatedAt cancelledAt(time, extra bit = test) total(dec) locale(str)
//	                         count {productID(str) vendor(vendor) price(dec) quantity(signed)}}
//	 10 order dels    count {id(str) at seen(signed delta from base)}
//	 11 messages      count {hash(8 bytes LE) recv(time, extra bit = read)}
//	 12 folded msgs   received read lastRecv
//	 13 engaged       lastEngagedAt
//	 14 automations   count {id(str) count}
//	 15 back in stock count {variant(str) product(str) at}
//	 16 conversations count {id(str) status(str) agent(str) at}
//	 17 folded orders forgotCount forgotTotal(dec) forgotFirst forgotLast lang(str) langAt
//	                  count0 {id(str) createdAt(time, extra bit = counted) updatedAt total(dec)}
//	                  count0 {brand(str) n} count0 {productID(str) n} count0 {price(dec) n}
//
//	 18 completions   count {automation(index into section 14) at(time)}: the
//	                  window part (times of completions), sorted by time, then
//	                  automation id
//
//	count0 is a count that may be 0. Sections 17 and 18 were added after the first
//	release without changing the version: a record without them is encoded as
//	before, so that records of the previous releases decode and re-encode unchanged
//	(testdata/golden).
//
//	time = u, fraction: u = zigzag(seconds − base) << 3 | extra << 2 | mode, where
//	       base is syncedAt's Unix seconds, mode 0 = the zero time (u = extra << 2),
//	       1 = whole seconds, 2 = + milliseconds, 3 = + nanoseconds (then the
//	       fraction follows as a varint)
//	str  = u: u&1 = 1: the decimal string of u>>1 (canonical, ≤ 18 digits);
//	       else u>>1 bytes follow
//	vendor = u: 0 = the record's previous vendor again; else u−1 raw bytes follow
//	dec  = flags (byte: scale | 0x80 if negative), coefficient
//
// Decoding checks every length and count against the bytes left, the order of the
// sorted collections, and that nothing is left over; it never panics.
const codecVersion = 1

const (
	secMemberships = 1 << iota
	secFence
	secSeen
	secProfile
	secConsents
	secTags
	secLists
	secStage
	secSummary
	secOrders
	secOrderDeletions
	secMessages
	secFolded
	secEngaged
	secAutomations
	secBackInStock
	secConversations
	secOrderFold
	secCompletions // 18
	secAll         = secCompletions<<1 - 1
)

// Profile field bits.
const (
	pfEmail = 1 << iota
	pfFirstName
	pfLastName
	pfPhone
	pfPhoneE164     // PhoneE164 follows
	pfPhoneE164Same // PhoneE164 == Phone
	pfCountry
	pfLocale
	pfCreatedAt
	pfUpdatedAt
	pfPhoneErrShift = iota // 2 bits of phoneError
)

// Profile field bits added after the first release, above the phone error bits; their
// values follow the first release's fields.
const (
	pfCity = 1 << (pfPhoneErrShift + 2 + iota)
	pfProvince
	pfAll = pfProvince<<1 - 1
)

// maxCodecSec bounds the seconds of encoded times: normTime clamps event times to
// ±2^40 s, and deadlines computed from them (now + TTL) stay well inside.
const maxCodecSec = 1 << 41

var errTimeRange = errors.New("time out of range")

// ErrCorrupt is wrapped by UnmarshalBinary's errors: the bytes are not a record.
var ErrCorrupt = errors.New("corrupt contact record")

// AppendBinary appends the record's encoding to dst.
func (c *Contact) AppendBinary(dst []byte) ([]byte, error) {
	e := encoder{b: dst}
	var secs uint64
	set := func(bit uint64, present bool) {
		if present {
			secs |= bit
		}
	}
	set(secMemberships, len(c.Memberships) > 0)
	set(secFence, !c.fenceAt.IsZero() || !c.fenceUntil.IsZero())
	set(secSeen, len(c.seen) > 0)
	set(secProfile, c.profile != Profile{} || c.phoneErr != phoneOK)
	set(secConsents, c.consents != [numConsents]ConsentState{})
	set(secTags, len(c.tags) > 0)
	set(secLists, len(c.lists) > 0)
	set(secStage, c.stage != operators.StageNone)
	set(secSummary, c.hasSummary)
	set(secOrders, len(c.orders) > 0)
	set(secOrderDeletions, len(c.orderDeletion) > 0)
	set(secMessages, len(c.msgs) > 0)
	set(secFolded, c.msgFolded != msgFolded{})
	set(secEngaged, !c.lastEngagedAt.IsZero())
	set(secAutomations, len(c.automations) > 0)
	set(secBackInStock, len(c.backInStock) > 0)
	set(secConversations, len(c.convs) > 0)
	set(secOrderFold, !c.fold.empty())
	set(secCompletions, len(c.completions) > 0)

	e.b = append(e.b, codecVersion)
	e.uint(uint64(c.state))
	e.uint(secs)
	e.time(c.SyncedAt, 0) // absolute: the base of the other times
	if !c.SyncedAt.IsZero() {
		e.base = c.SyncedAt.Unix()
	}
	e.uint(uint64(c.DenseID))
	e.time(c.NextDue, 0)

	if secs&secMemberships != 0 {
		e.uint(uint64(len(c.Memberships)))
		for _, m := range c.Memberships {
			e.str(m.Segment)
			e.int(m.Incarnation)
			e.uint(uint64(m.N))
		}
	}
	if secs&secFence != 0 {
		e.time(c.fenceAt, 0)
		e.time(c.fenceUntil, 0)
	}
	if secs&secSeen != 0 {
		e.uint(uint64(len(c.seen)))
		prev := e.base
		for _, s := range c.seen {
			e.b = binary.LittleEndian.AppendUint64(e.b, s.hash)
			e.int(s.at - prev)
			prev = s.at
		}
	}
	if secs&secProfile != 0 {
		c.appendProfile(&e)
	}
	if secs&secConsents != 0 {
		for i := range c.consents {
			e.consent(&c.consents[i])
		}
	}
	if secs&secTags != 0 {
		e.strs(c.tags)
	}
	if secs&secLists != 0 {
		e.strs(c.lists)
	}
	if secs&secStage != 0 {
		e.uint(uint64(c.stage))
	}
	if secs&secSummary != 0 {
		e.int(c.summary.NumberOfOrders)
		e.dec(c.summary.AmountSpent)
		e.str(c.summary.CurrencyCode)
		e.str(c.summary.LastOrderID)
		e.time(c.summaryAt, 0)
	}
	if secs&secOrders != 0 {
		e.uint(uint64(len(c.orders)))
		for i := range c.orders {
			c.appendOrder(&e, &c.orders[i])
		}
	}
	if secs&secOrderDeletions != 0 {
		e.uint(uint64(len(c.orderDeletion)))
		for _, d := range c.orderDeletion {
			e.str(d.id)
			e.time(d.at, 0)
			e.int(d.seen - e.base)
		}
	}
	if secs&secMessages != 0 {
		e.uint(uint64(len(c.msgs)))
		for _, m := range c.msgs {
			e.b = binary.LittleEndian.AppendUint64(e.b, m.hash)
			var read uint64
			if m.read {
				read = 1
			}
			e.time(m.recv, read)
		}
	}
	if secs&secFolded != 0 {
		e.uint(uint64(c.msgFolded.received))
		e.uint(uint64(c.msgFolded.read))
		e.time(c.msgFolded.lastRecv, 0)
	}
	if secs&secEngaged != 0 {
		e.time(c.lastEngagedAt, 0)
	}
	if secs&secAutomations != 0 {
		e.uint(uint64(len(c.automations)))
		for _, a := range c.automations {
			e.str(a.AutomationID)
			e.uint(uint64(a.Count))
		}
	}
	if secs&secBackInStock != 0 {
		e.uint(uint64(len(c.backInStock)))
		for _, s := range c.backInStock {
			e.str(s.VariantID)
			e.str(s.ProductID)
			e.time(s.SubscribedAt, 0)
		}
	}
	if secs&secConversations != 0 {
		e.uint(uint64(len(c.convs)))
		for _, s := range c.convs {
			e.str(s.ID)
			e.str(s.Status)
			e.str(s.AssignedAgent)
			e.time(s.UpdatedAt, 0)
		}
	}
	if secs&secOrderFold != 0 {
		c.appendFold(&e)
	}
	if secs&secCompletions != 0 {
		c.appendCompletions(&e)
	}
	if e.err != nil {
		return dst, fmt.Errorf("encode contact: %w", e.err)
	}
	return e.b, nil
}

func (c *Contact) appendFold(e *encoder) {
	f := &c.fold
	e.uint(uint64(f.forgot.count))
	e.dec(f.forgot.total)
	e.time(f.forgot.first, 0)
	e.time(f.forgot.last, 0)
	e.str(f.lang)
	e.time(f.langAt, 0)
	e.uint(uint64(len(f.entries)))
	for i := range f.entries {
		o := &f.entries[i]
		var counted uint64
		if o.counted {
			counted = 1
		}
		e.str(o.id)
		e.time(o.createdAt, counted)
		e.time(o.updatedAt, 0)
		e.dec(o.total)
	}
	for _, m := range [...][]countedStr{f.brands, f.products} {
		e.uint(uint64(len(m)))
		for _, x := range m {
			e.str(x.s)
			e.uint(uint64(x.n))
		}
	}
	e.uint(uint64(len(f.prices)))
	for _, x := range f.prices {
		e.dec(x.d)
		e.uint(uint64(x.n))
	}
}

func (c *Contact) decodeFold(d *decoder) {
	f := &c.fold
	f.forgot.count = int64(d.uintMax(math.MaxInt64))
	f.forgot.total = d.dec()
	f.forgot.first = d.time(nil)
	f.forgot.last = d.time(nil)
	f.lang = d.str()
	f.langAt = d.time(nil)
	if n := d.count0(4); n > 0 {
		f.entries = make([]foldedOrder, 0, n)
		for range n {
			var o foldedOrder
			var counted uint64
			if o.id = d.str(); o.id == "" {
				d.fail("folded order without id")
			}
			o.createdAt = d.time(&counted)
			o.counted = counted != 0
			o.updatedAt = d.time(nil)
			o.total = d.dec()
			if k := len(f.entries); k > 0 && f.entries[k-1].id >= o.id {
				d.fail("folded orders out of order")
			}
			f.entries = append(f.entries, o)
		}
	}
	for _, m := range [...]*[]countedStr{&f.brands, &f.products} {
		if n := d.count0(2); n > 0 {
			*m = make([]countedStr, 0, n)
			for range n {
				x := countedStr{s: d.str(), n: int64(d.uintMax(math.MaxInt64))}
				if k := len(*m); x.s == "" || x.n == 0 || (k > 0 && (*m)[k-1].s >= x.s) {
					d.fail("bad folded multiset")
				}
				*m = append(*m, x)
			}
		}
	}
	if n := d.count0(3); n > 0 {
		f.prices = make([]countedDec, 0, n)
		for range n {
			x := countedDec{d: d.dec(), n: int64(d.uintMax(math.MaxInt64))}
			if k := len(f.prices); x.n == 0 || (k > 0 && f.prices[k-1].d.CmpTotal(x.d) >= 0) {
				d.fail("bad folded prices")
			}
			f.prices = append(f.prices, x)
		}
	}
	if d.err == nil && f.empty() {
		d.fail("empty folded orders section")
	}
}

func (c *Contact) appendProfile(e *encoder) {
	p := &c.profile
	var f uint64
	set := func(bit uint64, present bool) {
		if present {
			f |= bit
		}
	}
	set(pfEmail, p.Email != "")
	set(pfFirstName, p.FirstName != "")
	set(pfLastName, p.LastName != "")
	set(pfPhone, p.Phone != "")
	set(pfPhoneE164Same, p.PhoneE164 != "" && p.PhoneE164 == p.Phone)
	set(pfPhoneE164, p.PhoneE164 != "" && p.PhoneE164 != p.Phone)
	set(pfCountry, p.Country != "")
	set(pfLocale, p.Locale != "")
	set(pfCreatedAt, !p.CreatedAt.IsZero())
	set(pfUpdatedAt, !p.UpdatedAt.IsZero())
	set(pfCity, p.City != "")
	set(pfProvince, p.Province != "")
	f |= uint64(c.phoneErr) << pfPhoneErrShift
	e.uint(f)
	for _, s := range [...]struct {
		bit uint64
		v   string
	}{{pfEmail, p.Email}, {pfFirstName, p.FirstName}, {pfLastName, p.LastName}, {pfPhone, p.Phone}, {pfPhoneE164, p.PhoneE164}, {pfCountry, p.Country}, {pfLocale, p.Locale}} {
		if f&s.bit != 0 {
			e.str(s.v)
		}
	}
	if f&pfCreatedAt != 0 {
		e.time(p.CreatedAt, 0)
	}
	if f&pfUpdatedAt != 0 {
		e.time(p.UpdatedAt, 0)
	}
	if f&pfCity != 0 {
		e.str(p.City)
	}
	if f&pfProvince != 0 {
		e.str(p.Province)
	}
}

func (c *Contact) appendOrder(e *encoder, o *events.Order) {
	e.str(o.ID)
	e.time(o.CreatedAt, 0)
	e.time(o.UpdatedAt, 0)
	var test uint64
	if o.Test {
		test = 1
	}
	e.time(o.CancelledAt, test)
	e.dec(o.Total)
	e.str(o.CustomerLocale)
	e.uint(uint64(len(o.LineItems)))
	for i := range o.LineItems {
		li := &o.LineItems[i]
		e.str(li.ProductID)
		e.vendor(li.Vendor)
		e.dec(li.Price)
		e.int(li.Quantity)
	}
}

// Consent state codes; consentOther is followed by the state string.
var consentCodes = [...]string{"", "SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING", "REDACTED", "INVALID"}

const consentOther = len(consentCodes)

type encoder struct {
	b          []byte
	base       int64 // Unix seconds times are encoded relative to
	lastVendor string
	hasVendor  bool
	err        error
}

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) timeOK(t time.Time) bool {
	s := t.Unix()
	return t.IsZero() || (s <= maxCodecSec && s >= -maxCodecSec)
}

// time appends t relative to e.base with one extra bit (see the format).
func (e *encoder) time(t time.Time, extra uint64) {
	if t.IsZero() {
		if extra != 0 {
			e.uint(extra << 2)
		} else {
			e.b = append(e.b, 0)
		}
		return
	}
	if !e.timeOK(t) {
		e.err = errTimeRange
		return
	}
	d := t.Unix() - e.base
	zz := uint64(d<<1) ^ uint64(d>>63)
	ns := uint64(t.Nanosecond())
	mode := uint64(1)
	switch {
	case ns == 0:
	case ns%1e6 == 0:
		mode, ns = 2, ns/1e6
	default:
		mode = 3
	}
	e.uint(zz<<3 | extra<<2 | mode)
	if mode > 1 {
		e.uint(ns)
	}
}

// str appends s, as a number when it is the canonical decimal form of one.
func (e *encoder) str(s string) {
	if n, ok := canonicalNumber(s); ok {
		e.uint(n<<1 | 1)
		return
	}
	e.uint(uint64(len(s)) << 1)
	e.b = append(e.b, s...)
}

func canonicalNumber(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, true
}

func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) vendor(v string) {
	if e.hasVendor && v == e.lastVendor {
		e.b = append(e.b, 0)
		return
	}
	e.lastVendor, e.hasVendor = v, true
	e.uint(uint64(len(v)) + 1)
	e.b = append(e.b, v...)
}

func (e *encoder) dec(d decimal.Decimal) {
	f := byte(d.Scale())
	if d.IsNeg() {
		f |= 0x80
	}
	e.b = append(e.b, f)
	e.uint(d.Coef())
}

func (e *encoder) consent(cs *ConsentState) {
	if !cs.Received {
		e.b = append(e.b, 0)
		return
	}
	code := slices.Index(consentCodes[:], cs.State)
	if code < 0 {
		code = consentOther
	}
	e.uint(uint64(code)<<1 | 1)
	if code == consentOther {
		e.str(cs.State)
	}
	e.time(cs.UpdatedAt, 0)
}

// UnmarshalBinary decodes a record written by AppendBinary, replacing c. On error c
// is left zero and the error wraps ErrCorrupt.
func (c *Contact) UnmarshalBinary(b []byte) error {
	*c = Contact{}
	// One copy of the input backs every raw string of the record (substrings), so
	// that decoding does not allocate per string.
	d := decoder{b: b, s: string(b)}
	c.decode(&d)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		*c = Contact{}
		return d.err
	}
	return nil
}

func (c *Contact) decode(d *decoder) {
	h := d.header()
	c.state, c.SyncedAt, c.DenseID, c.NextDue = h.state, h.synced, h.dense, h.nextDue
	secs := h.secs

	if secs&secMemberships != 0 {
		n := d.count(3)
		c.Memberships = make([]Membership, 0, n)
		for range n {
			m := Membership{Segment: d.str(), Incarnation: d.int(), N: uint32(d.uintMax(math.MaxUint32))}
			if k := len(c.Memberships); k > 0 && cmpMembership(c.Memberships[k-1], m) >= 0 {
				d.fail("memberships out of order")
			}
			c.Memberships = append(c.Memberships, m)
		}
	}
	if secs&secFence != 0 {
		c.fenceAt = d.time(nil)
		c.fenceUntil = d.time(nil)
	}
	if secs&secSeen != 0 {
		n := d.count(9)
		c.seen = make([]seenID, 0, n)
		prev := d.base
		for range n {
			h := d.fixed64()
			prev = d.sec(prev)
			c.seen = append(c.seen, seenID{hash: h, at: prev})
		}
	}
	if secs&secProfile != 0 {
		c.decodeProfile(d)
	}
	if secs&secConsents != 0 {
		for i := range c.consents {
			c.consents[i] = d.consent()
		}
	}
	if secs&secTags != 0 {
		c.tags = d.strs(false)
	}
	if secs&secLists != 0 {
		c.lists = d.strs(true)
	}
	if secs&secStage != 0 {
		s := d.uint()
		if s == 0 || s > uint64(operators.StageLapsed) {
			d.fail("bad lifecycle stage %d", s)
		}
		c.stage = operators.Stage(s)
	}
	if secs&secSummary != 0 {
		c.hasSummary = true
		c.summary.NumberOfOrders = d.int()
		c.summary.AmountSpent = d.dec()
		c.summary.CurrencyCode = d.str()
		c.summary.LastOrderID = d.str()
		c.summaryAt = d.time(nil)
	}
	if secs&secOrders != 0 {
		n := d.count(7)
		c.orders = make([]events.Order, 0, n)
		for range n {
			o := d.order()
			if k := len(c.orders); k > 0 && c.orders[k-1].ID >= o.ID {
				d.fail("orders out of order")
			}
			c.orders = append(c.orders, o)
		}
	}
	if secs&secOrderDeletions != 0 {
		n := d.count(3)
		c.orderDeletion = make([]orderDeletion, 0, n)
		for range n {
			c.orderDeletion = append(c.orderDeletion, orderDeletion{id: d.str(), at: d.time(nil), seen: d.sec(d.base)})
		}
	}
	if secs&secMessages != 0 {
		n := d.count(9)
		c.msgs = make([]msgState, 0, n)
		for range n {
			var m msgState
			var read uint64
			m.hash = d.fixed64()
			m.recv = d.time(&read)
			m.read = read != 0
			if k := len(c.msgs); k > 0 && c.msgs[k-1].hash >= m.hash {
				d.fail("messages out of order")
			}
			c.msgs = append(c.msgs, m)
		}
	}
	if secs&secFolded != 0 {
		c.msgFolded.received = int64(d.uintMax(math.MaxInt64))
		c.msgFolded.read = int64(d.uintMax(math.MaxInt64))
		c.msgFolded.lastRecv = d.time(nil)
	}
	if secs&secEngaged != 0 {
		c.lastEngagedAt = d.time(nil)
	}
	if secs&secAutomations != 0 {
		n := d.count(2)
		c.automations = make([]AutomationCount, 0, n)
		for range n {
			a := AutomationCount{AutomationID: d.str(), Count: int64(d.uintMax(math.MaxInt64))}
			if k := len(c.automations); k > 0 && c.automations[k-1].AutomationID >= a.AutomationID {
				d.fail("automations out of order")
			}
			c.automations = append(c.automations, a)
		}
	}
	if secs&secBackInStock != 0 {
		n := d.count(3)
		c.backInStock = make([]BackInStockSub, 0, n)
		for range n {
			s := BackInStockSub{VariantID: d.str(), ProductID: d.str(), SubscribedAt: d.time(nil)}
			if k := len(c.backInStock); k > 0 && cmpBackInStock(c.backInStock[k-1], events.BackInStock{VariantID: s.VariantID, ProductID: s.ProductID}) >= 0 {
				d.fail("back-in-stock subscriptions out of order")
			}
			c.backInStock = append(c.backInStock, s)
		}
	}
	if secs&secConversations != 0 {
		n := d.count(4)
		c.convs = make([]ConversationState, 0, n)
		for range n {
			s := ConversationState{ID: d.str(), Status: d.str(), AssignedAgent: d.str(), UpdatedAt: d.time(nil)}
			if k := len(c.convs); k > 0 && c.convs[k-1].ID >= s.ID {
				d.fail("conversations out of order")
			}
			c.convs = append(c.convs, s)
		}
	}
	if secs&secOrderFold != 0 {
		c.decodeFold(d)
	}
	if secs&secCompletions != 0 {
		c.decodeCompletions(d)
	}
}

// appendCompletions encodes section 18. Every completion's automation has a count
// in section 14 (both are kept together and reset together).
func (c *Contact) appendCompletions(e *encoder) {
	e.uint(uint64(len(c.completions)))
	for _, x := range c.completions {
		i, found := slices.BinarySearchFunc(c.automations, x.Automation, func(a AutomationCount, id string) int { return strings.Compare(a.AutomationID, id) })
		if !found && e.err == nil {
			e.err = fmt.Errorf("completion of automation %q without a count", x.Automation)
		}
		e.uint(uint64(i))
		e.time(x.At, 0)
	}
}

func (c *Contact) decodeCompletions(d *decoder) {
	n := d.count(2)
	c.completions = make([]operators.Completion, 0, n)
	for range n {
		if len(c.automations) == 0 {
			d.fail("completions without automations")
			return
		}
		i := d.uintMax(uint64(len(c.automations) - 1))
		x := operators.Completion{Automation: c.automations[i].AutomationID, At: d.time(nil)}
		if k := len(c.completions); k > 0 && cmpCompletion(c.completions[k-1], x) > 0 {
			d.fail("completions out of order")
		}
		c.completions = append(c.completions, x)
	}
}

func cmpMembership(a, b Membership) int {
	if r := strings.Compare(a.Segment, b.Segment); r != 0 {
		return r
	}
	switch {
	case a.Incarnation < b.Incarnation:
		return -1
	case a.Incarnation > b.Incarnation:
		return 1
	}
	return 0
}

func (c *Contact) decodeProfile(d *decoder) {
	f := d.uint()
	if f&^pfAll != 0 || f&(pfPhoneE164|pfPhoneE164Same) == pfPhoneE164|pfPhoneE164Same {
		d.fail("bad profile fields %#x", f)
		return
	}
	p := &c.profile
	for _, s := range [...]struct {
		bit uint64
		v   *string
	}{{pfEmail, &p.Email}, {pfFirstName, &p.FirstName}, {pfLastName, &p.LastName}, {pfPhone, &p.Phone}, {pfPhoneE164, &p.PhoneE164}, {pfCountry, &p.Country}, {pfLocale, &p.Locale}} {
		if f&s.bit != 0 {
			if *s.v = d.str(); *s.v == "" {
				d.fail("empty profile field")
			}
		}
	}
	if f&pfPhoneE164Same != 0 {
		if p.Phone == "" {
			d.fail("phone_e164 same as an absent phone")
		}
		p.PhoneE164 = p.Phone
	}
	if f&pfCreatedAt != 0 {
		p.CreatedAt = d.time(nil)
	}
	if f&pfUpdatedAt != 0 {
		p.UpdatedAt = d.time(nil)
	}
	for _, s := range [...]struct {
		bit uint64
		v   *string
	}{{pfCity, &p.City}, {pfProvince, &p.Province}} {
		if f&s.bit != 0 {
			if *s.v = d.str(); *s.v == "" {
				d.fail("empty profile field")
			}
		}
	}
	pe := phoneError(f >> pfPhoneErrShift & 3)
	if pe >= numPhoneErrors {
		d.fail("bad phone error %d", pe)
	}
	c.phoneErr = pe
}

type decoder struct {
	b          []byte // what is left to decode
	s          string // a copy of the whole input: d.b is its suffix
	base       int64
	lastVendor string
	hasVendor  bool
	err        error
	// nums holds the digits of the number strings decoded so far: each is a substring
	// of it (a Builder only appends, never rewriting what its strings hold), so that a
	// record's many ids take a few allocations instead of one each.
	nums strings.Builder
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	d.b = nil // every later read fails fast and returns zero values
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uintMax(max uint64) uint64 {
	v := d.uint()
	if v > max {
		d.fail("value %d out of range", v)
		return 0
	}
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads an element count, each element taking at least minSize bytes.
func (d *decoder) count(minSize int) int {
	n := d.uint()
	if n == 0 || n > uint64(len(d.b)/minSize) {
		d.fail("bad count %d", n)
		return 0
	}
	return int(n)
}

// count0 is count allowing 0.
func (d *decoder) count0(minSize int) int {
	n := d.uint()
	if n > uint64(len(d.b)/minSize) {
		d.fail("bad count %d", n)
		return 0
	}
	return int(n)
}

func (d *decoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail("short fixed64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// sec reads seconds as a signed delta from prev.
func (d *decoder) sec(prev int64) int64 {
	v := d.int()
	s := prev + v
	if v > maxCodecSec || v < -2*maxCodecSec || s > maxCodecSec || s < -maxCodecSec {
		d.fail("seconds out of range")
		return 0
	}
	return s
}

// time reads a time and its extra bit, which must be 0 when extra is nil.
func (d *decoder) time(extra *uint64) time.Time {
	u := d.uint()
	if d.err != nil {
		return time.Time{}
	}
	mode, x, zz := u&3, u>>2&1, u>>3
	if extra != nil {
		*extra = x
	} else if x != 0 {
		d.fail("unexpected time flag")
		return time.Time{}
	}
	if mode == 0 {
		if zz != 0 {
			d.fail("bad zero time")
		}
		return time.Time{}
	}
	delta := int64(zz>>1) ^ -int64(zz&1)
	s := d.base + delta
	if zz > 4*maxCodecSec || s > maxCodecSec || s < -maxCodecSec {
		d.fail("time out of range")
		return time.Time{}
	}
	var ns uint64
	switch mode {
	case 2:
		if ns = d.uint(); ns == 0 || ns >= 1000 {
			d.fail("bad milliseconds")
		}
		ns *= 1e6
	case 3:
		if ns = d.uint(); ns == 0 || ns >= 1e9 || ns%1e6 == 0 {
			d.fail("bad nanoseconds")
		}
	}
	t := time.Unix(s, int64(ns)).UTC()
	if t.IsZero() {
		d.fail("zero time in non-zero form")
	}
	return t
}

func (d *decoder) str() string {
	u := d.uint()
	if d.err != nil {
		return ""
	}
	if u&1 == 1 {
		n := u >> 1
		if n > 999_999_999_999_999_999 {
			d.fail("number string out of range")
			return ""
		}
		if d.nums.Cap()-d.nums.Len() < 20 {
			d.nums.Grow(256)
		}
		start := d.nums.Len()
		var digits [20]byte
		d.nums.Write(strconv.AppendUint(digits[:0], n, 10))
		return d.nums.String()[start:]
	}
	return d.bytes(u >> 1)
}

func (d *decoder) bytes(n uint64) string {
	if n > uint64(len(d.b)) {
		d.fail("string longer than the record")
		return ""
	}
	s := d.take(int(n))
	if _, ok := canonicalNumber(s); ok {
		d.fail("number string not in number form")
	}
	return s
}

// take returns the next n bytes (n ≤ len(d.b)) as a substring of d.s.
func (d *decoder) take(n int) string {
	start := len(d.s) - len(d.b)
	d.b = d.b[n:]
	return d.s[start : start+n]
}

// strs reads a string list; sorted requires it strictly ascending.
func (d *decoder) strs(sorted bool) []string {
	n := d.count(1)
	ss := make([]string, 0, n)
	for range n {
		s := d.str()
		if s == "" {
			d.fail("empty string in list")
		}
		if k := len(ss); sorted && k > 0 && ss[k-1] >= s {
			d.fail("list out of order")
		}
		ss = append(ss, s)
	}
	if d.err != nil {
		return nil
	}
	return ss
}

func (d *decoder) vendor() string {
	u := d.uint()
	if d.err != nil {
		return ""
	}
	if u == 0 {
		if !d.hasVendor {
			d.fail("vendor back-reference without a previous vendor")
		}
		return d.lastVendor
	}
	n := u - 1
	if n > uint64(len(d.b)) {
		d.fail("vendor longer than the record")
		return ""
	}
	v := d.take(int(n))
	if d.hasVendor && v == d.lastVendor {
		d.fail("repeated vendor not as a back-reference")
	}
	d.lastVendor, d.hasVendor = v, true
	return v
}

func (d *decoder) dec() decimal.Decimal {
	if len(d.b) == 0 {
		d.fail("short decimal")
		return decimal.Decimal{}
	}
	f := d.b[0]
	d.b = d.b[1:]
	coef := d.uint()
	if d.err != nil {
		return decimal.Decimal{}
	}
	scale := int(f & 0x7f)
	neg := f&0x80 != 0
	if scale > decimal.MaxScale || coef > 9_999_999_999_999_999_999 || (neg && coef == 0) {
		d.fail("bad decimal")
		return decimal.Decimal{}
	}
	if coef <= math.MaxInt64 {
		v := int64(coef)
		if neg {
			v = -v
		}
		return decimal.MustNew(v, scale)
	}
	// A 19-digit coefficient above MaxInt64: rare, go through the text form.
	s := strconv.FormatUint(coef, 10)
	if scale > 0 {
		s = "0" + s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	v, err := decimal.Parse(s)
	if err != nil || v.Scale() != scale {
		d.fail("bad decimal")
		return decimal.Decimal{}
	}
	return v
}

func (d *decoder) consent() ConsentState {
	u := d.uint()
	if d.err != nil || u == 0 {
		return ConsentState{}
	}
	if u&1 == 0 || u>>1 > uint64(consentOther) {
		d.fail("bad consent %d", u)
		return ConsentState{}
	}
	cs := ConsentState{Received: true}
	if code := int(u >> 1); code == consentOther {
		cs.State = d.str()
		if slices.Contains(consentCodes[:], cs.State) {
			d.fail("known consent state spelled out")
		}
	} else {
		cs.State = consentCodes[code]
	}
	cs.UpdatedAt = d.time(nil)
	return cs
}

func (d *decoder) order() events.Order {
	var o events.Order
	o.ID = d.str()
	if o.ID == "" {
		d.fail("order without id")
	}
	o.CreatedAt = d.time(nil)
	o.UpdatedAt = d.time(nil)
	var test uint64
	o.CancelledAt = d.time(&test)
	o.Test = test != 0
	o.Total = d.dec()
	o.CustomerLocale = d.str()
	if n := d.uint(); n > 0 {
		if n > uint64(len(d.b)/4) {
			d.fail("bad line item count %d", n)
			return o
		}
		o.LineItems = make([]events.LineItem, 0, n)
		for range n {
			o.LineItems = append(o.LineItems, events.LineItem{ProductID: d.str(), Vendor: d.vendor(), Price: d.dec(), Quantity: d.int()})
		}
	}
	return o
}
