package operators

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	bsi "github.com/RoaringBitmap/roaring/v2/BitSliceIndexing"
	"github.com/govalues/decimal"
)

// BenchmarkIndexMemory builds the attribute index of SEGMENTD_BENCH_INDEX_CONTACTS
// contacts (default 1,000,000) with realistic attributes (a unique phone, one of 5
// countries, 3 languages, 200 cities, 32 provinces, 20 email domains; 0–20 orders with
// their dates, totals, 2 of 40 brands and of 300 prices; messages and their dates,
// completions of 1 of 5 automations, 1 of 10 lists, 2 of 50 tags) and reports its
// memory per contact: the Go heap it holds (heap-B/contact), SizeInBytes's estimate
// (est-B/contact, what segmentd_attribute_index_bytes exports) and the serialized
// size of its bitmaps (ser-B/contact, close to their in-memory size):
//
//	go test ./operators -run '^$' -bench IndexMemory -benchtime 1x
func BenchmarkIndexMemory(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("SEGMENTD_BENCH_INDEX_CONTACTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("SEGMENTD_BENCH_INDEX_CONTACTS: %v", err)
		}
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		b.StopTimer()
		r := rand.New(rand.NewPCG(1, 2))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		x := NewIndex()
		for id := range uint32(n) {
			a := realisticAttrs(r, int(id), now)
			x.Update(id+1, nil, &a)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(heap/float64(n), "heap-B/contact")
		b.ReportMetric(float64(x.SizeInBytes())/float64(n), "est-B/contact")
		b.ReportMetric(float64(serializedSize(b, x))/float64(n), "ser-B/contact")
		if x.Len() != n {
			b.Fatalf("%d contacts indexed, want %d", x.Len(), n)
		}
		runtime.KeepAlive(x)
		b.StartTimer()
	}
}

// serializedSize is the serialized size of every bitmap of x, bit slices included.
func serializedSize(tb testing.TB, x *Index) uint64 {
	n := x.live.GetSerializedSizeInBytes() + x.excluded.GetSerializedSizeInBytes() + x.inexact.GetSerializedSizeInBytes()
	for i := range x.strs {
		for _, bm := range x.strs[i] {
			n += bm.GetSerializedSizeInBytes()
		}
		n += x.strsAny[i].GetSerializedSizeInBytes()
	}
	for i := range x.consent {
		for _, bm := range x.consent[i] {
			n += bm.GetSerializedSizeInBytes()
		}
	}
	for _, bm := range x.override {
		n += bm.GetSerializedSizeInBytes()
	}
	for i := range x.sets {
		for _, bm := range x.sets[i] {
			n += bm.GetSerializedSizeInBytes()
		}
	}
	for _, pb := range x.prices {
		n += pb.ids.GetSerializedSizeInBytes()
	}
	bsis := []*bsi.BSI{}
	for _, p := range x.bsis() {
		bsis = append(bsis, *p)
	}
	for _, s := range x.byAutomation {
		bsis = append(bsis, s)
	}
	for _, s := range bsis {
		parts, err := s.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range parts {
			n += uint64(len(p))
		}
	}
	return n
}

// realisticAttrs returns the attributes of contact i (see BenchmarkIndexMemory).
func realisticAttrs(r *rand.Rand, i int, now time.Time) Attrs {
	day := 24 * time.Hour
	ago := func(maxDays int) time.Time {
		return now.Add(-time.Duration(r.Int64N(int64(maxDays) * int64(day))))
	}
	a := Attrs{
		Phone:             fmt.Sprintf("+52155%08d", i),
		Country:           []string{"MX", "US", "CO", "ES", "AR"}[r.IntN(5)],
		Language:          []string{"es", "en", "pt"}[r.IntN(3)],
		Consent:           Consent(r.IntN(3)),
		EmailConsent:      Consent(r.IntN(3)),
		CustomerCreatedAt: ago(1500),
		City:              "city" + strconv.Itoa(r.IntN(200)),
		Province:          "P" + strconv.Itoa(r.IntN(32)),
		EmailDomain:       "mail" + strconv.Itoa(r.IntN(20)) + ".com",
		Lists:             []string{strconv.Itoa(r.IntN(10))},
		Tags:              []string{"t" + strconv.Itoa(r.IntN(50)), "t" + strconv.Itoa(r.IntN(50))},
	}
	if orders := r.IntN(21); orders > 0 {
		a.OrdersCount = int64(orders)
		a.TotalSpent = decimal.MustNew(int64(orders)*int64(500+r.IntN(50000)), 2)
		a.AOV, _ = a.TotalSpent.Quo(decimal.MustNew(int64(orders), 0))
		a.HasAOV = true
		a.FirstOrderAt = ago(1000)
		a.LastOrderAt = ago(200)
		a.PurchasedBrands = []string{"b" + strconv.Itoa(r.IntN(40)), "b" + strconv.Itoa(r.IntN(40))}
		a.PurchasedPrices = []decimal.Decimal{decimal.MustNew(int64(100+r.IntN(300)*100+99), 2)}
	}
	if m := r.IntN(50); m > 0 {
		a.MessagesReceived = int64(m)
		a.MessagesRead = int64(r.IntN(m + 1))
		a.LastMessageReceivedAt = ago(90)
		a.LastEngagedAt = ago(120)
	}
	if c := r.IntN(4); c > 0 {
		a.AutomationCompletions = int64(c)
		a.CompletionsByAutomation = map[string]int64{"auto" + strconv.Itoa(r.IntN(5)): int64(c)}
	}
	return a
}

// TestIndexSizeInBytes: the estimate grows with the contacts indexed and bounds the
// serialized size of the bitmaps from above (bit slices are estimated as large as
// their existence bitmap).
func TestIndexSizeInBytes(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	x := NewIndex()
	empty := x.SizeInBytes()
	for id := range uint32(20000) {
		a := realisticAttrs(r, int(id), now)
		x.Update(id+1, nil, &a)
	}
	est := x.SizeInBytes()
	ser := serializedSize(t, x)
	if est <= empty || est < ser {
		t.Errorf("estimate %d bytes (empty %d), serialized %d", est, empty, ser)
	}
}
