package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks of the Pebble store on the processor's access pattern: one read of a
// random contact per event (Store.Contact) over a partition of typical contacts, and
// a scan of a workspace's records (backfills). They report the block cache's hit
// rate. Compare runs with benchstat:
//
//	go test ./state -run '^$' -bench Store -count 5 > new.txt
//	benchstat old.txt new.txt

const benchStoreContacts = 100_000

// benchStore fills partition 0 of a new store with n typical contacts (about 1.1 KB
// each once encoded) and returns their keys.
func benchStore(b *testing.B, opts Options, n int) (*Store, []string) {
	b.Helper()
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c := typicalContact()
	keys := make([]string, n)
	for i := 0; i < n; i += 10_000 {
		batch := s.NewBatch()
		for j := i; j < min(n, i+10_000); j++ {
			keys[j] = fmt.Sprintf("acme.myshopify.com/%d", 7_000_000_000_000+int64(j)*7919)
			c.DenseID = uint32(j + 1)
			if err := batch.PutContact(0, keys[j], c); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(false); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	return s, keys
}

var benchStoreOptions = []struct {
	name string
	opts Options
}{
	{"defaults", Options{}},                           // 64 MiB cache, 32 MiB memtables
	{"memtable=8MiB", Options{MemTableSize: 8 << 20}}, // same cache, smaller memtables
	{"cache=256MiB", Options{CacheSize: 256 << 20}},   // bigger cache, same memtables
	{"cache=256MiB,memtable=8MiB", Options{CacheSize: 256 << 20, MemTableSize: 8 << 20}},
}

// BenchmarkStoreContact reads contacts in random order, as events arrive.
func BenchmarkStoreContact(b *testing.B) {
	for _, tc := range benchStoreOptions {
		b.Run(tc.name, func(b *testing.B) {
			s, keys := benchStore(b, tc.opts, benchStoreContacts)
			r := rand.New(rand.NewPCG(1, 2))
			m0 := s.Metrics().BlockCache
			var c Contact
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.Contact(0, keys[r.IntN(len(keys))], &c); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			m1 := s.Metrics().BlockCache
			hits, misses := m1.Hits-m0.Hits, m1.Misses-m0.Misses
			if hits+misses > 0 {
				b.ReportMetric(100*float64(hits)/float64(hits+misses), "cache-hit-%")
			}
			b.ReportMetric(float64(m1.Size)/(1<<20), "cache-MiB")
		})
	}
}

// BenchmarkStoreScan scans every record of a workspace, as a backfill does.
func BenchmarkStoreScan(b *testing.B) {
	s, _ := benchStore(b, Options{}, benchStoreContacts)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		err := s.ScanContacts(0, "acme.myshopify.com/", "", func(string, *Contact) (bool, error) {
			n++
			return true, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "contacts/s")
}
