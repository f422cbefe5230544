package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/testseed"
	"github.com/segmentd/segmentd/operators"
)

// contactEqual compares the stored state of two records (not the derived caches).
func contactEqual(a, b *Contact) bool {
	return reflect.DeepEqual(stored(a), stored(b))
}

// stored returns a copy of c without its derived caches.
func stored(c *Contact) Contact {
	s := *c
	s.tagKeys, s.tagKeysOK, s.agg, s.msgAgg, s.byAuto, s.byAutoOK = nil, false, nil, nil, nil, false
	s.orderBytes, s.orderBytesOK = 0, false
	s.cityKey, s.cityOf = "", ""
	return s
}

// randContact builds a record with every part filled at random, in the canonical form
// the codec keeps (UTC times, sorted and unique collections, nil for empty).
func randContact(r *rand.Rand) *Contact {
	c := &Contact{state: recordState(r.IntN(int(numStates)))}
	maybe := func() bool { return r.IntN(3) > 0 }
	str := func() string {
		switch r.IntN(5) {
		case 0:
			return strconv.FormatUint(r.Uint64N(1e18), 10) // number form
		case 1:
			return "0" + strconv.Itoa(r.IntN(100)) // looks numeric, is not canonical
		case 2:
			return string([]byte{byte(r.IntN(256)), byte(r.IntN(256))}) // not UTF-8
		}
		const letters = "abcdefghijklmnopqrstuvwxyzABCDÉ-_ 9"
		n := 1 + r.IntN(12)
		var b strings.Builder
		for range n {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		return b.String()
	}
	tm := func() time.Time {
		switch r.IntN(6) {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(r.Int64N(2*maxTimeSec)-maxTimeSec, r.Int64N(1e9)).UTC()
		case 2:
			return time.Unix(1.7e9+r.Int64N(1e8), r.Int64N(1000)*1e6).UTC()
		}
		return time.Unix(1.7e9+r.Int64N(1e8), 0).UTC()
	}
	dm := func() decimal.Decimal {
		if r.IntN(10) == 0 {
			d, _ := decimal.Parse("-9999999999999.999999") // 19 digits above MaxInt64
			return d
		}
		v := r.Int64()
		if r.IntN(2) == 0 {
			v = r.Int64N(100000) - 100
		}
		return decimal.MustNew(v, r.IntN(decimal.MaxScale+1))
	}
	sortedStrs := func(n int) []string {
		var ss []string
		for range n {
			if s := str(); s != "" {
				ss = append(ss, s)
			}
		}
		slices.Sort(ss)
		ss = slices.Compact(ss)
		if len(ss) == 0 {
			return nil
		}
		return ss
	}
	c.DenseID = r.Uint32()
	c.NextDue, c.SyncedAt = tm(), tm()
	if maybe() {
		for _, s := range sortedStrs(r.IntN(5)) {
			for inc := range int64(1 + r.IntN(2)) {
				c.Memberships = append(c.Memberships, Membership{Segment: s, Incarnation: inc*1e12 - 5, N: r.Uint32()})
			}
		}
	}
	if maybe() {
		c.fenceAt, c.fenceUntil = tm(), tm()
	}
	for range r.IntN(5) {
		c.seen = append(c.seen, seenID{hash: r.Uint64(), at: r.Int64N(2*maxTimeSec) - maxTimeSec})
	}
	if maybe() {
		c.profile = Profile{Email: str(), FirstName: str(), Phone: str(), Country: str(), Locale: str(), CreatedAt: tm(), UpdatedAt: tm(),
			City: str(), Province: str()}
		switch r.IntN(3) {
		case 0:
			c.profile.PhoneE164 = c.profile.Phone
		case 1:
			c.profile.PhoneE164 = str()
		}
		c.phoneErr = phoneError(r.IntN(int(numPhoneErrors)))
	}
	for i := range c.consents {
		if maybe() {
			states := append(consentCodes[:], "WEIRD")
			c.consents[i] = ConsentState{Received: true, State: states[r.IntN(len(states))], UpdatedAt: tm()}
		}
	}
	c.tags = sortedStrs(r.IntN(4))
	c.lists = sortedStrs(r.IntN(4))
	c.stage = operators.Stage(r.IntN(int(operators.StageLapsed) + 1))
	if maybe() {
		c.hasSummary = true
		c.summary = events.Summary{NumberOfOrders: r.Int64() - math.MaxInt64/2, AmountSpent: dm(), CurrencyCode: str(), LastOrderID: str()}
		c.summaryAt = tm()
	}
	for _, id := range sortedStrs(r.IntN(6)) {
		o := events.Order{ID: id, CreatedAt: tm(), UpdatedAt: tm(), CancelledAt: tm(), Test: r.IntN(2) == 0, Total: dm(), CustomerLocale: str()}
		vendor := str()
		for range r.IntN(4) {
			if r.IntN(2) == 0 {
				vendor = str()
			}
			o.LineItems = append(o.LineItems, events.LineItem{ProductID: str(), Vendor: vendor, Price: dm(), Quantity: r.Int64() - math.MaxInt64/2})
		}
		c.orders = append(c.orders, o)
	}
	for range r.IntN(3) {
		c.orderDeletion = append(c.orderDeletion, orderDeletion{id: str(), at: tm(), seen: r.Int64N(2*maxTimeSec) - maxTimeSec})
	}
	for range r.IntN(20) {
		c.msgs = append(c.msgs, msgState{hash: r.Uint64(), recv: tm(), read: r.IntN(2) == 0})
	}
	slices.SortFunc(c.msgs, func(a, b msgState) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	if maybe() {
		c.msgFolded = msgFolded{received: r.Int64N(1e6), read: r.Int64N(1e6), lastRecv: tm()}
	}
	c.lastEngagedAt = tm()
	for _, id := range sortedStrs(r.IntN(4)) {
		c.automations = append(c.automations, AutomationCount{AutomationID: id, Count: r.Int64N(math.MaxInt64)})
	}
	for _, v := range sortedStrs(r.IntN(4)) {
		c.backInStock = append(c.backInStock, BackInStockSub{VariantID: v, ProductID: str(), SubscribedAt: tm()})
		if maybe() {
			c.backInStock = append(c.backInStock, BackInStockSub{VariantID: v + "\xff", ProductID: "", SubscribedAt: tm()})
		}
	}
	slices.SortFunc(c.backInStock, func(a, b BackInStockSub) int {
		return cmpBackInStock(a, events.BackInStock{VariantID: b.VariantID, ProductID: b.ProductID})
	})
	for _, id := range sortedStrs(r.IntN(4)) {
		c.convs = append(c.convs, ConversationState{ID: id, Status: str(), AssignedAgent: str(), UpdatedAt: tm()})
	}
	if maybe() {
		f := &c.fold
		if maybe() {
			f.forgot = orderSum{count: r.Int64N(1e6), total: dm(), first: tm(), last: tm()}
		}
		f.lang, f.langAt = str(), tm()
		for _, id := range sortedStrs(r.IntN(4)) {
			f.entries = append(f.entries, foldedOrder{id: id, createdAt: tm(), updatedAt: tm(), total: dm(), counted: maybe()})
		}
		for _, m := range []*[]countedStr{&f.brands, &f.products} {
			for _, s := range sortedStrs(r.IntN(4)) {
				*m = append(*m, countedStr{s, 1 + r.Int64N(1e9)})
			}
		}
		for range r.IntN(4) {
			f.prices = addCountedDec(f.prices, dm(), 1+r.Int64N(1e9))
		}
		if f.empty() {
			f.lang = "x"
		}
	}
	if len(c.automations) > 0 { // section 18: completion times of those automations
		for range r.IntN(5) {
			c.completions = append(c.completions, operators.Completion{At: tm(), Automation: c.automations[r.IntN(len(c.automations))].AutomationID})
		}
		slices.SortFunc(c.completions, cmpCompletion)
	}
	return c
}

// TestContactCodecRoundTrip round-trips the zero, random and typical records. The
// random ones come from a fixed seed and a fresh one per run (internal/testseed:
// SEGMENTD_TEST_SEED=<seed> reruns one).
func TestContactCodecRoundTrip(t *testing.T) {
	check := func(t *testing.T, c *Contact) {
		t.Helper()
		b, err := c.AppendBinary([]byte("prefix"))
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("AppendBinary did not append")
		}
		b = b[len("prefix"):]
		var d Contact
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatalf("decode: %v\n%#v", err, *c)
		}
		if !contactEqual(c, &d) {
			t.Fatalf("round trip differs:\n%#v\n%#v", stored(c), stored(&d))
		}
		again, err := d.AppendBinary(nil)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		// Every strict prefix is rejected.
		for i := range len(b) {
			var p Contact
			if err := p.UnmarshalBinary(b[:i]); err == nil {
				t.Fatalf("prefix of %d/%d bytes decoded", i, len(b))
			} else if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		}
	}
	t.Run("zero", func(t *testing.T) { check(t, &Contact{}) })
	t.Run("random", func(t *testing.T) {
		seeds := testseed.Seeds(t, []uint64{1}, 1)
		testseed.Run(t, seeds, func(t *testing.T, seed uint64) {
			r := rand.New(rand.NewPCG(seed, 2))
			for range 2000 / len(seeds) {
				check(t, randContact(r))
			}
		})
	})
	t.Run("typical", func(t *testing.T) { check(t, typicalContact()) })
}

func TestContactCodecRejects(t *testing.T) {
	valid, err := typicalContact().AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":            nil,
		"version":          append([]byte{2}, valid[1:]...),
		"trailing":         append(slices.Clone(valid), 0),
		"unknown sections": {1, 1, 0x80, 0x80, 0x10, 0, 0, 0},
		"bad state":        {1, 9, 0, 0, 0, 0},
		"count too large":  {1, 1, 1, 0, 0, 0, 0xff, 0x7f},
	} {
		var c Contact
		if err := c.UnmarshalBinary(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v", name, err)
		}
		if !contactEqual(&c, &Contact{}) {
			t.Errorf("%s: record not left zero", name)
		}
	}
}

func TestContactCodecTimeRange(t *testing.T) {
	c := Contact{SyncedAt: time.Unix(1<<42, 0)}
	if _, err := c.AppendBinary(nil); err == nil {
		t.Error("out-of-range time encoded")
	}
	// Apply clamps event times so that a record never becomes unencodable.
	var d Contact
	ev := newEvent(events.MessageInbound, time.Unix(1<<50, 0), "d1")
	ev.Message = &events.Message{MessageID: "m", Timestamp: time.Unix(-1<<50, 0)}
	d.Apply(ev, t0)
	if _, err := d.AppendBinary(nil); err != nil {
		t.Error(err)
	}
}

// TestContactCodecApplied round-trips records built by random event sequences, and
// checks that a decoded record behaves like the original under further events (a
// fixed seed and a fresh one: internal/testseed).
func TestContactCodecApplied(t *testing.T) {
	seeds := testseed.Seeds(t, []uint64{3}, 1)
	testseed.Run(t, seeds, func(t *testing.T, seed uint64) { contactCodecApplied(t, seed, 200/len(seeds)) })
}

func contactCodecApplied(t *testing.T, seed uint64, records int) {
	r := rand.New(rand.NewPCG(seed, 4))
	for range records {
		var live, restored Contact
		now := t0
		for i := range 60 {
			ev := randEvent(r, now, i)
			now = now.Add(time.Duration(r.IntN(int(2 * day))))
			o1 := live.Apply(ev, now)
			o2 := restored.Apply(ev, now)
			if o1 != o2 {
				t.Fatalf("event %d %v: outcome %v on the live record, %v on the decoded one", i, ev.Kind, o1, o2)
			}
			b, err := restored.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			restored = Contact{}
			if err := restored.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !contactEqual(&live, &restored) {
				t.Fatalf("event %d %v: decoded record differs:\n%#v\n%#v", i, ev.Kind, stored(&live), stored(&restored))
			}
			if a, b := attrs(&live), attrs(&restored); fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
				t.Fatalf("attrs differ:\n%+v\n%+v", a, b)
			}
		}
	}
}

func randEvent(r *rand.Rand, now time.Time, i int) *events.Event {
	occurred := now.Add(-time.Duration(r.IntN(int(3 * day))))
	delivery := fmt.Sprint("d", r.IntN(40))
	pick := func(ss ...string) string { return ss[r.IntN(len(ss))] }
	ts := func() time.Time { return occurred.Add(time.Duration(r.IntN(7200)-3600) * time.Second) }
	switch r.IntN(14) {
	case 0:
		return customerEv(occurred, delivery, events.Customer{
			Email: some(pick("", "a@b.c")), Phone: some(pick("", "+14155552671", "4155552671", "+1")),
			Locale: some(pick("", "es-MX")), Tags: some(pick("", "a,B", "vip")),
			City: some(pick("", "Monterrey", " Bogotá ")), Province: some(pick("", "nl", "CDMX")),
			SMSConsent: &events.ConsentField{State: pick("", "SUBSCRIBED", "UNSUBSCRIBED"), UpdatedAt: ts()},
			UpdatedAt:  ts(),
		})
	case 1:
		if r.IntN(4) == 0 {
			return redactEv(occurred, delivery)
		}
		return deleteEv(occurred, delivery)
	case 2:
		kinds := []events.Kind{events.SMSConsentUpdate, events.WhatsAppConsentUpdate, events.EmailConsentUpdate}
		return consentEv(kinds[r.IntN(3)], occurred, delivery, pick("", "SUBSCRIBED", "PENDING", "REDACTED"), ts())
	case 3:
		return tagsEv(events.TagsAdded, occurred, delivery, pick("a", "A", "b", "exclude_from_galantis"))
	case 4:
		return tagsEv(events.TagsRemoved, occurred, delivery, pick("a", "A", "b"))
	case 5, 6:
		o := order(pick("1", "2", "3"), ts(), pick("0.10", "0.20", "12.5"), item(pick("p1", "p2"), pick("Nike", "nike", "Acme"), pick("0.10", "3")))
		o.UpdatedAt = ts()
		if r.IntN(4) == 0 {
			o.CancelledAt = ts()
		}
		return orderEv(occurred, delivery, o)
	case 7:
		return orderDeleteEv(occurred, delivery, pick("1", "2", "3"))
	case 8, 9:
		return statusEv(occurred, delivery, pick("m1", "m2", "m3", fmt.Sprint("m", i)), events.MessageStatusValue(1+r.IntN(5)), ts())
	case 10:
		return inboundEv(occurred, delivery, ts())
	case 11:
		return automationEv(occurred, delivery, pick("a1", "a2"))
	case 12:
		return listEv([]events.Kind{events.ListMemberAdded, events.ListMemberRemoved}[r.IntN(2)], occurred, delivery, pick("l1", "l2"))
	}
	ev := newEvent(events.ConversationUpdated, occurred, delivery)
	ev.Conversation = &events.Conversation{ConversationID: pick("c1", "c2"), Status: pick("OPEN", "RESOLVED")}
	return ev
}

func FuzzContactUnmarshal(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		b, err := randContact(r).AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, _ := typicalContact().AppendBinary(nil)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Contact
		if err := c.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes is a usable record: it encodes, decodes to the same, and
		// can be applied to and viewed.
		again, err := c.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var d Contact
		if err := d.UnmarshalBinary(again); err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if !contactEqual(&c, &d) {
			t.Fatalf("re-decoded record differs")
		}
		c.Attrs("acme.myshopify.com", mapCatalog{}, "x")
		c.Apply(statusEv(t0, "fuzz", "m", events.StatusRead, t0), t0)
		c.Apply(tagsEv(events.TagsAdded, t0, "fuzz2", "x"), t0)
	})
}

// typicalContact is a contact of the size the benchmarks report: full profile,
// consents, a few tags, lists and memberships, 5 orders of 3 line items, 50 messages
// (half of them read), about 90 events over 110 days, so that the delivery ids of the
// last 7 days' events are remembered.
func typicalContact() *Contact {
	var c Contact
	now := t0.Add(-110 * day)
	apply := func(ev *events.Event) { // about 90 events over 110 days
		now = now.Add(29*time.Hour + 17*time.Minute)
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now.Add(-3 * time.Second)
		}
		c.Apply(ev, now)
	}
	id := 0
	delivery := func() string {
		id++
		return fmt.Sprintf("b54557e4-%04x-4f1e-9d2b-5c8a%08x", id, id*7919)
	}
	apply(customerEv(time.Time{}, delivery(), events.Customer{
		Email: some("ana.perez@example.com"), FirstName: some("Ana"), LastName: some("Pérez"),
		Phone: some("+52 55 1234 5678"), Country: some("MX"), Locale: some("es-MX"),
		Tags:         some("vip, newsletter, summer-2026"),
		SMSConsent:   &events.ConsentField{State: "SUBSCRIBED", UpdatedAt: now.Add(-100 * day)},
		EmailConsent: &events.ConsentField{State: "SUBSCRIBED", UpdatedAt: now.Add(-100 * day)},
		CreatedAt:    events.OptTime{Present: true, Value: now.Add(-400 * day)}, UpdatedAt: now.Add(-time.Minute),
	}))
	apply(consentEv(events.WhatsAppConsentUpdate, time.Time{}, delivery(), "SUBSCRIBED", now))
	apply(listEv(events.ListMemberAdded, time.Time{}, delivery(), "8812734"))
	apply(listEv(events.ListMemberAdded, time.Time{}, delivery(), "vip-mx"))
	vendors := []string{"Nike", "Adidas", "Acme Apparel"}
	for o := range 5 {
		for step := range 2 { // create, then paid
			created := t0.Add(-time.Duration(150-30*o) * day)
			ord := events.Order{
				ID: strconv.Itoa(5123456789012 + o*1111), CreatedAt: created, UpdatedAt: created.Add(time.Duration(step) * time.Hour),
				Total: dec(fmt.Sprintf("%d.%02d", 40+o*13, o*7)), CustomerLocale: "es-MX",
			}
			for li := range 3 {
				ord.LineItems = append(ord.LineItems, events.LineItem{
					ProductID: strconv.Itoa(8123456789 + o*10 + li), Vendor: vendors[(o+li)%2],
					Price: dec(fmt.Sprintf("%d.99", 10+li*5)), Quantity: int64(1 + li%2),
				})
			}
			apply(orderEv(time.Time{}, delivery(), ord))
		}
	}
	for m := range 50 {
		msg := fmt.Sprintf("wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjA%04d", m)
		ts := t0.Add(-time.Duration(50-m) * 36 * time.Hour).Add(time.Duration(m*137) * time.Millisecond)
		apply(statusEv(time.Time{}, delivery(), msg, events.StatusDelivered, ts))
		if m%2 == 0 {
			apply(statusEv(time.Time{}, delivery(), msg, events.StatusRead, ts.Add(5*time.Minute)))
		}
	}
	apply(automationEv(time.Time{}, delivery(), "welcome-series"))
	apply(inboundEv(time.Time{}, delivery(), now))
	c.DenseID = 123456
	c.Memberships = []Membership{{Segment: "high-ltv-lapsed-mx", Incarnation: 1, N: 1}, {Segment: "repeat-buyers", Incarnation: 2, N: 3}, {Segment: "vip", Incarnation: 1, N: 2}}
	c.NextDue = t0.Add(61 * day)
	return &c
}

func TestContactTypicalSize(t *testing.T) {
	c := typicalContact()
	b, err := c.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := attrs(c)
	if a.OrdersCount != 5 || a.MessagesReceived != 50 || a.MessagesRead != 25 {
		t.Fatalf("typical contact: %+v", a)
	}
	t.Logf("typical contact: %d bytes (%d orders, %d messages, %d delivery ids)", len(b), len(c.orders), len(c.msgs), len(c.seen))
	if len(b) > 2048 {
		t.Errorf("typical contact takes %d bytes", len(b))
	}
}

// Benchmarks of the record codec and of Attrs on a typical contact. Compare runs with
// benchstat: go test -run '^$' -bench Contact -count 10 ./state/ > new.txt.
func BenchmarkContactEncode(b *testing.B) {
	c := typicalContact()
	buf, _ := c.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes/record")
}

func BenchmarkContactDecode(b *testing.B) {
	buf, _ := typicalContact().AppendBinary(nil)
	b.ReportAllocs()
	var c Contact
	for b.Loop() {
		if err := c.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/record")
}

// BenchmarkContactEvent is the record's share of the processor's hot path per event:
// decode, Attrs before, Apply, Attrs after, encode.
func BenchmarkContactEvent(b *testing.B) {
	buf, _ := typicalContact().AppendBinary(nil)
	cat := mapCatalog{}
	ev := tagsEv(events.TagsAdded, t0, "", "bench")
	b.ReportAllocs()
	var c Contact
	out := make([]byte, 0, 4096)
	for b.Loop() {
		if err := c.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
		c.Attrs("acme.myshopify.com", cat, "exclude_from_galantis")
		c.Apply(ev, t0)
		c.Attrs("acme.myshopify.com", cat, "exclude_from_galantis")
		out, _ = c.AppendBinary(out[:0])
	}
}
