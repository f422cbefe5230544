package processor

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/state"
)

// checkCacheExact fails unless every contact in p's cache is of an owned partition
// and encodes exactly as the store's record of it.
func checkCacheExact(t testing.TB, p *Processor) {
	t.Helper()
	cc := p.cache
	if cc == nil {
		return
	}
	if len(cc.entries) > cc.max {
		t.Fatalf("contact cache holds %d contacts, over its %d", len(cc.entries), cc.max)
	}
	n := 0
	for e := cc.lru.next; e != &cc.lru; e = e.next {
		n++
	}
	if n != len(cc.entries) {
		t.Fatalf("contact cache: %d entries in the recency list, %d in the map", n, len(cc.entries))
	}
	for ref, e := range cc.entries {
		if p.parts[ref.p] == nil {
			t.Fatalf("contact cache holds %s of partition %d, not owned", ref.key, ref.p)
		}
		want, err := e.c.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		found := false
		if err := p.cfg.Store.ContactEncodings(ref.p, []string{ref.key}, func(key string, enc []byte) (bool, error) {
			got, found = append([]byte(nil), enc...), true
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Fatalf("contact cache holds %s, which the store does not", ref.key)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("contact cache holds %s as\n%x\nthe store as\n%x", ref.key, want, got)
		}
	}
}

const vipDefinition = `{"workspace":"acme.myshopify.com","id":"vip","name":"VIP","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`

func tagEvent(rig *windowRig, topic, delivery, tag string) *kgo.Record {
	return rig.event("acme.myshopify.com/7", `{"topic":"customer.`+topic+`","shop":"acme.myshopify.com","id":"`+delivery+
		`","payload":{"customerId":"gid://shopify/Customer/7","tags":["`+tag+`"]}}`)
}

// withContactCache turns the contact cache on (it is off by default).
func withContactCache(c *Config) { c.ContactCache = 1000 }

// TestContactCacheAbortedWindow: a window that aborts after changing a cached
// contact leaves the cache as the store holds it; its input, consumed again, applies
// afresh (neither a duplicate nor a membership the aborted window decided).
func TestContactCacheAbortedWindow(t *testing.T) {
	rig := newWindowRig(t, withContactCache)
	rig.global("definition", "acme.myshopify.com/vip", vipDefinition)
	if out := rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d1", "newsletter")}); out != "(nothing)\n" {
		t.Fatalf("first window: %s", out)
	}
	if _, ok := rig.p.cache.entries[contactRef{0, "acme.myshopify.com/7"}]; !ok {
		t.Fatal("the committed contact is not cached")
	}
	rig.abort = true
	if out := rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d2", "vip")}); out == "(nothing)\n" {
		t.Fatal("the aborted window produced no transition: the test does not test")
	}
	rig.abort = false
	checkCacheExact(t, rig.p)
	hits := testutil.ToFloat64(rig.p.m.contactCacheHits)
	out := rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d2", "vip")})
	const want = `UserAddedToSegment acme.myshopify.com/7 vip v1 event {"topic":"customer.tags_added","delivery_id":"d2"} 2026-11-21T10:00:00.000Z` + "\n"
	if out != want {
		t.Fatalf("the window after the abort produced\n%swant\n%s", out, want)
	}
	if testutil.ToFloat64(rig.p.m.contactCacheHits) <= hits {
		t.Fatal("the contact was not read from the cache: the test does not test")
	}
}

// TestContactCacheHandoff: a partition revoked and assigned again, restored with what
// another process wrote meanwhile, is read afresh, not from the cache of the earlier
// ownership.
func TestContactCacheHandoff(t *testing.T) {
	rig := newWindowRig(t, withContactCache)
	other := newWindowRig(t, withContactCache) // the process that owns the partition meanwhile
	for _, r := range []*windowRig{rig, other} {
		r.global("definition", "acme.myshopify.com/vip", vipDefinition)
		if out := r.run(t, []*kgo.Record{tagEvent(r, "tags_added", "d1", "vip")}); out == "(nothing)\n" {
			t.Fatal("no transition for the tag")
		}
	}
	if out := other.run(t, []*kgo.Record{tagEvent(other, "tags_removed", "d2", "vip")}); out == "(nothing)\n" {
		t.Fatal("no transition for the tag removed")
	}
	// The hand-off: revoked, then restored from the other's records (as the
	// changelog carries them) and assigned again.
	p := rig.p
	p.mu.handoff = append(p.mu.handoff, handoff{id: 0})
	p.drainHandoffs()
	if len(p.cache.entries) != 0 {
		t.Fatalf("%d contacts cached after the partition was revoked", len(p.cache.entries))
	}
	// A window of the old ownership that was running cached nothing back.
	batch := p.cfg.Store.NewBatch()
	defer batch.Close()
	if err := other.p.cfg.Store.ContactEncodings(0, []string{"acme.myshopify.com/7"}, func(key string, enc []byte) (bool, error) {
		var c state.Contact
		if err := c.UnmarshalBinary(enc); err != nil {
			return false, err
		}
		return true, batch.PutContactEncoded(0, key, c.DenseID, enc)
	}); err != nil {
		t.Fatal(err)
	}
	if err := batch.Commit(false); err != nil {
		t.Fatal(err)
	}
	pt := newPartition(0)
	if err := pt.load(p.cfg.Store, p.cfg.ExclusionTag); err != nil {
		t.Fatal(err)
	}
	p.mu.handoff = append(p.mu.handoff, handoff{id: 0, pt: pt})
	p.drainHandoffs()
	out := rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d3", "vip")})
	const want = `UserAddedToSegment acme.myshopify.com/7 vip v1 event {"topic":"customer.tags_added","delivery_id":"d3"} 2026-11-21T10:00:00.000Z` + "\n"
	if out != want {
		t.Fatalf("after the hand-off:\n%swant\n%s", out, want)
	}
}

// TestContactCacheHandoffMidWindow: a window during which a partition changed hands
// (drainHandoffs runs between polls) caches none of what it wrote.
func TestContactCacheHandoffMidWindow(t *testing.T) {
	rig := newWindowRig(t, withContactCache)
	rig.midWindow = func() { rig.p.cache.dropPartition(5) } // as drainHandoffs for partition 5
	rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d1", "vip")})
	if n := len(rig.p.cache.entries); n != 0 {
		t.Fatalf("%d contacts cached by a window during which a partition changed hands", n)
	}
	rig.midWindow = nil
	rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d2", "newsletter")})
	if n := len(rig.p.cache.entries); n != 1 {
		t.Fatalf("%d contacts cached by the next window, want 1", n)
	}
}

// TestContactCacheBound: the cache holds at most Config.ContactCache contacts, the
// most recently written, and none when off.
func TestContactCacheBound(t *testing.T) {
	for _, size := range []int{-1, 2} {
		rig := newWindowRig(t, func(c *Config) { c.ContactCache = size })
		var recs []*kgo.Record
		for _, id := range []string{"1", "2", "3", "4"} {
			recs = append(recs, rig.event("acme.myshopify.com/"+id, `{"topic":"customer.tags_added","shop":"acme.myshopify.com","id":"t`+id+
				`","payload":{"customerId":"gid://shopify/Customer/`+id+`","tags":["x"]}}`))
			rig.run(t, recs[len(recs)-1:])
		}
		if size < 0 {
			if rig.p.cache != nil {
				t.Fatal("a cache with ContactCache < 0")
			}
			continue
		}
		if got := testutil.ToFloat64(rig.p.m.contactCacheEntries); got != 2 {
			t.Fatalf("segmentd_contact_cache_entries %v, want 2", got)
		}
		for _, id := range []string{"3", "4"} {
			if rig.p.cache.entries[contactRef{0, "acme.myshopify.com/" + id}] == nil {
				t.Fatalf("contact %s, among the last written, is not cached", id)
			}
		}
	}
}

// TestContactCachePurge: a tombstone purged when it expires (a timer) leaves the
// cache with the record: the contact comes back as a new one.
func TestContactCachePurge(t *testing.T) {
	rig := newWindowRig(t, withContactCache)
	rig.global("definition", "acme.myshopify.com/vip", vipDefinition)
	rig.run(t, []*kgo.Record{tagEvent(rig, "tags_added", "d1", "vip")})
	rig.run(t, []*kgo.Record{rig.event("acme.myshopify.com/7", `{"topic":"customers/delete","shop":"acme.myshopify.com","id":"d2","payload":{"id":7}}`)})
	if rig.p.cache.entries[contactRef{0, "acme.myshopify.com/7"}] == nil {
		t.Fatal("the tombstone is not cached: the test does not test")
	}
	rig.now = rig.now.Add(state.TombstoneTTL + time.Hour)
	rig.run(t, nil) // the tombstone's timer purges it; checkCacheExact in rig.window
	if rig.p.cache.entries[contactRef{0, "acme.myshopify.com/7"}] != nil {
		t.Fatal("the purged contact is still cached")
	}
}
