package operators

import (
	"math"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
	"github.com/govalues/decimal"
)

// change moves an indexed contact from attributes old to new touching only what
// differs: the index ends exactly as remove(old) then add(new) would leave it, but an
// event that changes one counter sets one bit-sliced value instead of clearing and
// setting every one (each a bitmap operation per bit slice). old must be what was last
// indexed for id.
func (x *Index) change(id uint32, old, new *Attrs) {
	if old.Excluded != new.Excluded {
		if new.Excluded {
			x.excluded.Add(id)
		} else {
			x.excluded.Remove(id)
		}
	}
	ov, nv := strValues(old), strValues(new)
	for i := range ov {
		if ov[i] == nv[i] {
			continue
		}
		if ov[i] != "" {
			x.strs[i].remove(ov[i], id)
		}
		if nv[i] != "" {
			x.strs[i].add(nv[i], id)
			x.strsAny[i].Add(id)
		} else {
			x.strsAny[i].Remove(id)
		}
	}
	for i, c := range [2][2]Consent{{old.Consent, new.Consent}, {old.EmailConsent, new.EmailConsent}} {
		if c[0] == c[1] {
			continue
		}
		if c[0] <= ConsentNo {
			x.consent[i][c[0]].Remove(id)
		}
		if c[1] <= ConsentNo {
			x.consent[i][c[1]].Add(id)
		}
	}
	if o, n := old.LifecycleOverride, new.LifecycleOverride; o != n {
		if o <= StageLapsed {
			x.override[o].Remove(id)
		}
		if n <= StageLapsed {
			x.override[n].Add(id)
		}
	}
	os, ns := x.setValues(old), x.setValues(new)
	for i := range os {
		if slices.Equal(os[i], ns[i]) {
			continue
		}
		for _, v := range os[i] {
			x.sets[i].remove(v, id)
		}
		for _, v := range ns[i] {
			x.sets[i].add(v, id)
		}
	}
	if !slices.Equal(old.PurchasedPrices, new.PurchasedPrices) {
		for _, p := range old.PurchasedPrices { // as remove does
			k := canonicalDecimal(p)
			if pb := x.prices[k]; pb != nil {
				pb.ids.Remove(id)
				if pb.ids.IsEmpty() {
					delete(x.prices, k)
				}
			}
		}
		for _, p := range new.PurchasedPrices { // as add does
			k := canonicalDecimal(p)
			pb := x.prices[k]
			if pb == nil {
				pb = &priceBitmap{price: p, ids: roaring.New()}
				x.prices[k] = pb
			}
			pb.ids.Add(id)
		}
	}
	changeValue(x.ordersCount, id, countValue(old.OrdersCount), countValue(new.OrdersCount))
	changeValue(x.messagesReceived, id, countValue(old.MessagesReceived), countValue(new.MessagesReceived))
	changeValue(x.messagesRead, id, countValue(old.MessagesRead), countValue(new.MessagesRead))
	changeValue(x.completions, id, countValue(old.AutomationCompletions), countValue(new.AutomationCompletions))
	for auto := range old.CompletionsByAutomation {
		if _, ok := new.CompletionsByAutomation[auto]; ok {
			continue
		}
		if b := x.byAutomation[auto]; b != nil {
			clearValue(b, id)
			if b.GetExistenceBitmap().IsEmpty() {
				delete(x.byAutomation, auto)
			}
		}
	}
	for auto, n := range new.CompletionsByAutomation {
		var o indexed
		if v, had := old.CompletionsByAutomation[auto]; had {
			o = countValue(v)
		}
		b := x.byAutomation[auto]
		if b == nil {
			b = bsi.NewDefaultBSI() // as add leaves it, even when n is not indexed
			x.byAutomation[auto] = b
		}
		changeValue(b, id, o, countValue(n))
	}
	changeValue(x.totalSpent, id, moneyValue(old.TotalSpent, true), moneyValue(new.TotalSpent, true))
	changeValue(x.aov, id, moneyValue(old.AOV, old.HasAOV), moneyValue(new.AOV, new.HasAOV))
	changeValue(x.lastOrder, id, instantValue(old.LastOrderAt), instantValue(new.LastOrderAt))
	changeValue(x.firstOrder, id, instantValue(old.FirstOrderAt), instantValue(new.FirstOrderAt))
	changeValue(x.lastMessage, id, instantValue(old.LastMessageReceivedAt), instantValue(new.LastMessageReceivedAt))
	changeValue(x.lastEngaged, id, instantValue(old.LastEngagedAt), instantValue(new.LastEngagedAt))
	changeValue(x.created, id, instantValue(old.CustomerCreatedAt), instantValue(new.CustomerCreatedAt))
	if exactAttrs(new) {
		x.inexact.Remove(id)
	} else {
		x.inexact.Add(id)
	}
}

// indexed is what a bit-sliced index holds of one attribute of a contact: a value,
// or (ok false) nothing.
type indexed struct {
	v  int64
	ok bool
}

// changeValue moves id's value in b from o to n.
func changeValue(b *bsi.BSI, id uint32, o, n indexed) {
	switch {
	case o == n:
	case n.ok:
		b.SetValue(uint64(id), n.v) // overwrites every bit slice of an existing value
	default:
		clearValue(b, id)
	}
}

// countValue is what setCount indexes of n.
func countValue(n int64) indexed { return indexed{n, n >= 0} }

// moneyValue is what setMoney indexes of d (nothing unless has).
func moneyValue(d decimal.Decimal, has bool) indexed {
	if !has {
		return indexed{}
	}
	v, ok := scaledMoney(d)
	return indexed{v, ok}
}

// instantValue is what setInstant indexes of t (nothing when t is zero).
func instantValue(t time.Time) indexed {
	if t.IsZero() || !instantIndexable(t) {
		return indexed{}
	}
	return indexed{t.Unix(), true}
}

// instantIndexable reports whether setInstant represents t.
func instantIndexable(t time.Time) bool {
	return !t.Before(time.Unix(0, 0)) && !t.After(time.Unix(0, math.MaxInt64))
}

// exactAttrs reports whether add represents every value of a exactly (it would not
// mark the contact inexact).
func exactAttrs(a *Attrs) bool {
	if a.Consent > ConsentNo || a.EmailConsent > ConsentNo || a.LifecycleOverride > StageLapsed {
		return false
	}
	for _, n := range [...]int64{a.OrdersCount, a.MessagesReceived, a.MessagesRead, a.AutomationCompletions} {
		if n < 0 {
			return false
		}
	}
	for _, n := range a.CompletionsByAutomation {
		if n < 0 {
			return false
		}
	}
	if _, ok := scaledMoney(a.TotalSpent); !ok {
		return false
	}
	if _, ok := scaledMoney(a.AOV); a.HasAOV && !ok {
		return false
	}
	for _, t := range [...]time.Time{a.LastOrderAt, a.FirstOrderAt, a.LastMessageReceivedAt, a.LastEngagedAt, a.CustomerCreatedAt} {
		if !t.IsZero() && !instantIndexable(t) {
			return false
		}
	}
	return true
}
