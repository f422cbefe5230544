package operators

import (
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
	"github.com/govalues/decimal"
)

// Index is an in-memory attribute index over the contacts of one partition, keyed by
// their dense ids: a bit-sliced index (BSI) per ordered attribute — counts, money as
// exact scaled integers, instants as whole Unix seconds — a bitmap per value of each
// categorical attribute and per element of each set (purchased collections excepted:
// see Query.Collections). Over it a compiled segment is
// evaluated as bitmap algebra (Query) instead of a scan of every contact.
//
// The index is exact: a value it cannot represent exactly (money with more than
// MoneyScale decimals, a negative count or amount, an instant before 1970) marks the
// contact inexact, and a query decides inexact contacts by evaluating their Attrs.
// An instant is held as its second (floor): half the bit slices of nanoseconds, so
// half the work of each change. A comparison with a threshold decides every contact
// whose second differs from the threshold's; the few in the threshold's own second
// are left to their Attrs as well (instantRange).
// Attributes the index does not hold at all (fields added after it) are decided the
// same way, over the contacts that the indexed conditions leave.
//
// The owner keeps it in step with the store by calling Update with each contact's
// attributes before and after a change. Not safe for concurrent use.
type Index struct {
	live     *roaring.Bitmap
	excluded *roaring.Bitmap
	inexact  *roaring.Bitmap

	strs     [numStrs]valueBitmaps // phone, country, language, city, province, email domain
	strsAny  [numStrs]*roaring.Bitmap
	consent  [2][ConsentNo + 1]*roaring.Bitmap // consent_status, email_consent_status
	override [StageLapsed + 1]*roaring.Bitmap
	sets     [3]valueBitmaps // lists, tags, brands
	prices   map[string]*priceBitmap

	ordersCount, messagesReceived, messagesRead, completions *bsi.BSI
	byAutomation                                             map[string]*bsi.BSI
	totalSpent, aov                                          *bsi.BSI
	lastOrder, firstOrder, lastMessage, lastEngaged, created *bsi.BSI
}

// numStrs is the number of string attributes held by value.
const numStrs = 6

// strValues returns a's string attributes in the order of Index.strs.
func strValues(a *Attrs) [numStrs]string {
	return [numStrs]string{a.Phone, a.Country, a.Language, a.City, a.Province, a.EmailDomain}
}

// MoneyScale is the number of decimals the index keeps of money amounts exactly.
const MoneyScale = 6

// valueBitmaps maps a value to the contacts holding it.
type valueBitmaps map[string]*roaring.Bitmap

// priceBitmap is the contacts that bought an item at one distinct price.
type priceBitmap struct {
	price decimal.Decimal
	ids   *roaring.Bitmap
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	x := &Index{
		live:         roaring.New(),
		excluded:     roaring.New(),
		inexact:      roaring.New(),
		prices:       map[string]*priceBitmap{},
		byAutomation: map[string]*bsi.BSI{},
	}
	for i := range x.strs {
		x.strs[i] = valueBitmaps{}
		x.strsAny[i] = roaring.New()
	}
	for i := range x.consent {
		for j := range x.consent[i] {
			x.consent[i][j] = roaring.New()
		}
	}
	for i := range x.override {
		x.override[i] = roaring.New()
	}
	for i := range x.sets {
		x.sets[i] = valueBitmaps{}
	}
	for _, b := range x.bsis() {
		*b = bsi.NewDefaultBSI()
	}
	return x
}

// bsis returns the index's fixed bit-sliced indexes.
func (x *Index) bsis() []**bsi.BSI {
	return []**bsi.BSI{&x.ordersCount, &x.messagesReceived, &x.messagesRead, &x.completions,
		&x.totalSpent, &x.aov, &x.lastOrder, &x.firstOrder, &x.lastMessage, &x.lastEngaged, &x.created}
}

// Len returns the number of contacts indexed.
func (x *Index) Len() int { return int(x.live.GetCardinality()) }

// Live returns the contacts indexed. The caller must not modify it.
func (x *Index) Live() *roaring.Bitmap { return x.live }

// Inexact returns how many contacts hold a value the index cannot represent exactly.
func (x *Index) Inexact() int { return int(x.inexact.GetCardinality()) }

// Update moves contact id from attributes old to new: old nil adds it, new nil removes
// it. old must be what was last indexed for id.
func (x *Index) Update(id uint32, old, new *Attrs) {
	if old != nil && new != nil {
		x.change(id, old, new) // only what differs
		return
	}
	if old != nil {
		x.remove(id, old)
	}
	if new != nil {
		x.add(id, new)
	}
}

func (x *Index) add(id uint32, a *Attrs) {
	x.live.Add(id)
	if a.Excluded {
		x.excluded.Add(id)
	}
	exact := true
	for i, v := range strValues(a) {
		if v != "" {
			x.strs[i].add(v, id)
			x.strsAny[i].Add(id)
		}
	}
	for i, c := range [2]Consent{a.Consent, a.EmailConsent} {
		if c <= ConsentNo {
			x.consent[i][c].Add(id)
		} else {
			exact = false
		}
	}
	if a.LifecycleOverride <= StageLapsed {
		x.override[a.LifecycleOverride].Add(id)
	} else {
		exact = false
	}
	for i, set := range x.setValues(a) {
		for _, v := range set {
			x.sets[i].add(v, id)
		}
	}
	for _, p := range a.PurchasedPrices {
		k := canonicalDecimal(p)
		pb := x.prices[k]
		if pb == nil {
			pb = &priceBitmap{price: p, ids: roaring.New()}
			x.prices[k] = pb
		}
		pb.ids.Add(id)
	}
	exact = setCount(x.ordersCount, id, a.OrdersCount) && exact
	exact = setCount(x.messagesReceived, id, a.MessagesReceived) && exact
	exact = setCount(x.messagesRead, id, a.MessagesRead) && exact
	exact = setCount(x.completions, id, a.AutomationCompletions) && exact
	for auto, n := range a.CompletionsByAutomation {
		b := x.byAutomation[auto]
		if b == nil {
			b = bsi.NewDefaultBSI()
			x.byAutomation[strings.Clone(auto)] = b // see valueBitmaps.add
		}
		exact = setCount(b, id, n) && exact
	}
	exact = setMoney(x.totalSpent, id, a.TotalSpent) && exact
	if a.HasAOV {
		exact = setMoney(x.aov, id, a.AOV) && exact
	}
	for _, t := range []struct {
		b *bsi.BSI
		v time.Time
	}{{x.lastOrder, a.LastOrderAt}, {x.firstOrder, a.FirstOrderAt}, {x.lastMessage, a.LastMessageReceivedAt},
		{x.lastEngaged, a.LastEngagedAt}, {x.created, a.CustomerCreatedAt}} {
		if !t.v.IsZero() {
			exact = setInstant(t.b, id, t.v) && exact
		}
	}
	if !exact {
		x.inexact.Add(id)
	}
}

func (x *Index) remove(id uint32, a *Attrs) {
	x.live.Remove(id)
	x.excluded.Remove(id)
	x.inexact.Remove(id)
	for i, v := range strValues(a) {
		x.strs[i].remove(v, id)
		x.strsAny[i].Remove(id)
	}
	for i := range x.consent {
		for _, b := range x.consent[i] {
			b.Remove(id)
		}
	}
	for _, b := range x.override {
		b.Remove(id)
	}
	for i, set := range x.setValues(a) {
		for _, v := range set {
			x.sets[i].remove(v, id)
		}
	}
	for _, p := range a.PurchasedPrices {
		k := canonicalDecimal(p)
		if pb := x.prices[k]; pb != nil {
			pb.ids.Remove(id)
			if pb.ids.IsEmpty() {
				delete(x.prices, k)
			}
		}
	}
	for _, b := range x.bsis() {
		clearValue(*b, id)
	}
	for auto := range a.CompletionsByAutomation {
		if b := x.byAutomation[auto]; b != nil {
			clearValue(b, id)
			if b.GetExistenceBitmap().IsEmpty() {
				delete(x.byAutomation, auto)
			}
		}
	}
}

// setValues returns a's sets in the order of x.sets. Collections are not held: they
// depend on the catalog, and a query narrows them through the products bought
// (Query.Collections).
func (x *Index) setValues(a *Attrs) [3][]string {
	return [3][]string{a.Lists, a.Tags, a.PurchasedBrands}
}

func (m valueBitmaps) add(v string, id uint32) {
	b := m[v]
	if b == nil {
		b = roaring.New()
		// A copy: v may share its memory with the rest of a decoded contact record
		// (state's decoder keeps a record's strings in one buffer), which a key of
		// this long-lived map would keep alive. At 1M contacts, with a phone number,
		// city and e-mail domain of their own each, that was ~350 MB of the heap.
		m[strings.Clone(v)] = b
	}
	b.Add(id)
}

func (m valueBitmaps) remove(v string, id uint32) {
	if b := m[v]; b != nil {
		b.Remove(id)
		if b.IsEmpty() {
			delete(m, v)
		}
	}
}

// union returns the contacts holding one of values.
func (m valueBitmaps) union(values []string) *roaring.Bitmap {
	var bs []*roaring.Bitmap
	for _, v := range values {
		if b := m[v]; b != nil {
			bs = append(bs, b)
		}
	}
	return roaring.FastOr(bs...)
}

// clearValue removes id's value from b: zero its bit slices, then its existence.
func clearValue(b *bsi.BSI, id uint32) {
	if b.ValueExists(uint64(id)) {
		b.SetValue(uint64(id), 0)
		b.GetExistenceBitmap().Remove(id)
	}
}

// setCount indexes a count; a negative one is not represented (false).
func setCount(b *bsi.BSI, id uint32, n int64) bool {
	if n < 0 {
		return false
	}
	b.SetValue(uint64(id), n)
	return true
}

// setMoney indexes an amount as an integer of 10^-MoneyScale units; an amount that is
// negative, finer than that or too large is not represented (false).
func setMoney(b *bsi.BSI, id uint32, d decimal.Decimal) bool {
	v, ok := scaledMoney(d)
	if ok {
		b.SetValue(uint64(id), v)
	}
	return ok
}

// scaledMoney returns d × 10^MoneyScale when that is a non-negative int64.
func scaledMoney(d decimal.Decimal) (int64, bool) {
	if d.IsNeg() {
		return 0, false
	}
	d = d.Trim(0)
	if d.Scale() > MoneyScale {
		return 0, false
	}
	c := d.Coef()
	for range MoneyScale - d.Scale() {
		if c > math.MaxInt64/10 {
			return 0, false
		}
		c *= 10
	}
	if c > math.MaxInt64 {
		return 0, false
	}
	return int64(c), true
}

// setInstant indexes an instant as its whole Unix second (floor); one before 1970 or
// after what UnixNano can express (2262) is not represented (false): days-since
// arithmetic saturates beyond it.
func setInstant(b *bsi.BSI, id uint32, t time.Time) bool {
	if !instantIndexable(t) {
		return false
	}
	b.SetValue(uint64(id), t.Unix())
	return true
}

// intRange is a closed range of non-negative stored values; empty when lo > hi.
type intRange struct{ lo, hi int64 }

// rangeOf clamps the closed range [lo, hi] of big integers (nil = unbounded) to the
// values a BSI of the index can hold, [0, MaxInt64].
func rangeOf(lo, hi *big.Int) intRange {
	r := intRange{0, math.MaxInt64}
	if lo != nil {
		switch {
		case !lo.IsInt64():
			if lo.Sign() > 0 {
				return intRange{1, 0}
			}
		case lo.Int64() > 0:
			r.lo = lo.Int64()
		}
	}
	if hi != nil {
		switch {
		case !hi.IsInt64():
			if hi.Sign() < 0 {
				return intRange{1, 0}
			}
		case hi.Int64() < 0:
			return intRange{1, 0}
		default:
			r.hi = hi.Int64()
		}
	}
	return r
}

// compare returns the contacts of b whose value lies in r.
func (r intRange) compare(b *bsi.BSI) *roaring.Bitmap {
	switch {
	case r.lo > r.hi:
		return roaring.New()
	case r.lo == 0 && r.hi == math.MaxInt64:
		return b.GetExistenceBitmap().Clone()
	case r.hi == math.MaxInt64:
		return b.CompareValue(1, bsi.GE, r.lo, 0, nil)
	case r.lo == 0:
		return b.CompareValue(1, bsi.LE, r.hi, 0, nil)
	}
	return b.CompareValue(1, bsi.RANGE, r.lo, r.hi, nil)
}

// contains reports whether v lies in r.
func (r intRange) contains(v int64) bool { return r.lo <= v && v <= r.hi }

// scaledBound returns the least integer n with n/10^scale ≥ b (ceil) or the greatest
// with n/10^scale ≤ b (floor), and with strict the least n > b / greatest n < b.
func scaledBound(b decimal.Decimal, scale int, up, strict bool) *big.Int {
	num := new(big.Int).SetUint64(b.Coef())
	if b.IsNeg() {
		num.Neg(num)
	}
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(b.Scale())), nil)
	num.Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	q, m := new(big.Int).DivMod(num, den, new(big.Int)) // Euclidean: q = floor, m ≥ 0
	exact := m.Sign() == 0
	one := big.NewInt(1)
	switch {
	case up && exact && strict:
		q.Add(q, one)
	case up && !exact:
		q.Add(q, one) // ceil of a non-integer; strictness changes nothing
	case !up && exact && strict:
		q.Sub(q, one)
	}
	return q
}

// decRange converts a decimal span to the range of stored scaled amounts.
func decRange(s *span[decimal.Decimal]) intRange {
	var lo, hi *big.Int
	if s.lo.set {
		lo = scaledBound(s.lo.v, MoneyScale, true, !s.lo.incl)
	}
	if s.hi.set {
		hi = scaledBound(s.hi.v, MoneyScale, false, !s.hi.incl)
	}
	return rangeOf(lo, hi)
}

// instantRange is what a closed range of instants (in nanoseconds) is over stored
// seconds: sure holds the seconds wholly inside it, maybe those that overlap it. The
// seconds of maybe outside sure (at most the two holding its ends) are undecided.
type instantRange struct{ sure, maybe intRange }

var nanosPerSecond = big.NewInt(int64(time.Second))

// secondsOf converts the closed range [lo, hi] of Unix nanoseconds (nil = unbounded).
func secondsOf(lo, hi *big.Int) instantRange {
	var sureLo, sureHi, maybeLo, maybeHi *big.Int
	if lo != nil { // second s holds [s·1e9, s·1e9 + 1e9 − 1]
		maybeLo = new(big.Int).Div(lo, nanosPerSecond) // Euclidean: floor
		sureLo = new(big.Int).Add(lo, big.NewInt(int64(time.Second)-1))
		sureLo.Div(sureLo, nanosPerSecond) // ceil
	}
	if hi != nil {
		maybeHi = new(big.Int).Div(hi, nanosPerSecond)
		sureHi = new(big.Int).Add(hi, big.NewInt(1))
		sureHi.Div(sureHi, nanosPerSecond)
		sureHi.Sub(sureHi, big.NewInt(1))
	}
	return instantRange{sure: rangeOf(sureLo, sureHi), maybe: rangeOf(maybeLo, maybeHi)}
}

// compare returns the contacts of b whose instant certainly lies in r and those
// whose stored second leaves it undecided. Those seconds are one or two values, found
// by BatchEqual's walk down the bit slices (bitmap operations, not a pass over every
// contact as a range compare is).
func (r instantRange) compare(b *bsi.BSI) (sure, undecided *roaring.Bitmap) {
	var edge []int64
	if r.sure.lo > r.sure.hi {
		sure = roaring.New()
		if r.maybe.lo <= r.maybe.hi && r.maybe.hi-r.maybe.lo > 1 { // not the case: guard
			return sure, r.maybe.compare(b)
		}
		for v := r.maybe.lo; v <= r.maybe.hi; v++ {
			edge = append(edge, v)
		}
	} else {
		sure = r.sure.compare(b)
		if r.maybe.lo < r.sure.lo { // floor and ceil of one bound: one second
			edge = append(edge, r.maybe.lo)
		}
		if r.sure.hi < r.maybe.hi {
			edge = append(edge, r.maybe.hi)
		}
	}
	if len(edge) == 0 {
		return sure, roaring.New()
	}
	return sure, b.BatchEqual(1, edge)
}

// timeRange converts an instant span to stored seconds.
func timeRange(s *span[time.Time]) instantRange {
	var lo, hi *big.Int
	if s.lo.set {
		lo = unixNano(s.lo.v)
		if !s.lo.incl {
			lo.Add(lo, big.NewInt(1))
		}
	}
	if s.hi.set {
		hi = unixNano(s.hi.v)
		if !s.hi.incl {
			hi.Sub(hi, big.NewInt(1))
		}
	}
	return secondsOf(lo, hi)
}

// unixNano returns t's nanoseconds since the Unix epoch, without overflow.
func unixNano(t time.Time) *big.Int {
	n := big.NewInt(t.Unix())
	n.Mul(n, big.NewInt(int64(time.Second)))
	return n.Add(n, big.NewInt(int64(t.Nanosecond())))
}

// daysRange converts a span of days-since counts at now to stored seconds, for the
// instants t with DaysSince(t, now) in it: lo·24h ≤ now − t < (hi+1)·24h.
func daysRange(s intSpan, now time.Time) instantRange {
	if s.empty() {
		return instantRange{intRange{1, 0}, intRange{1, 0}}
	}
	n := unixNano(now)
	day := big.NewInt(int64(Day))
	var lo, hi *big.Int
	if s.hi != math.MaxInt64 { // t > now − (hi+1)·day
		lo = new(big.Int).Mul(new(big.Int).Add(big.NewInt(s.hi), big.NewInt(1)), day)
		lo.Sub(n, lo)
		lo.Add(lo, big.NewInt(1))
	}
	if s.lo != math.MinInt64 { // t ≤ now − lo·day
		hi = new(big.Int).Mul(big.NewInt(s.lo), day)
		hi.Sub(n, hi)
	}
	return secondsOf(lo, hi)
}

// Merge adds the contacts of o, none of which x holds, to x: how indexes built in
// parallel over disjoint parts of a partition become one. o must not be used after.
func (x *Index) Merge(o *Index) {
	for _, p := range [...]struct{ dst, src *roaring.Bitmap }{{x.live, o.live}, {x.excluded, o.excluded}, {x.inexact, o.inexact}} {
		p.dst.Or(p.src)
	}
	for i := range x.strs {
		x.strs[i].merge(o.strs[i])
		x.strsAny[i].Or(o.strsAny[i])
	}
	for i := range x.consent {
		for j := range x.consent[i] {
			x.consent[i][j].Or(o.consent[i][j])
		}
	}
	for i := range x.override {
		x.override[i].Or(o.override[i])
	}
	for i := range x.sets {
		x.sets[i].merge(o.sets[i])
	}
	for k, pb := range o.prices {
		if d := x.prices[k]; d != nil {
			d.ids.Or(pb.ids)
		} else {
			x.prices[k] = pb
		}
	}
	xs, os := x.bsis(), o.bsis()
	for i := range xs {
		(*xs[i]).ParOr(1, *os[i]) // one source at a time: columns are disjoint
	}
	for auto, b := range o.byAutomation {
		if d := x.byAutomation[auto]; d != nil {
			d.ParOr(1, b)
		} else {
			x.byAutomation[auto] = b
		}
	}
}

func (m valueBitmaps) merge(o valueBitmaps) {
	for v, b := range o {
		if d := m[v]; d != nil {
			d.Or(b)
		} else {
			m[v] = b
		}
	}
}
