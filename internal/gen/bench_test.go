package gen

import (
	"testing"
	"time"
)

// Compare runs with benchstat:
//
//	go test ./internal/gen/ -run '^$' -bench . -count 10 > old.txt
//	(change)
//	go test ./internal/gen/ -run '^$' -bench . -count 10 > new.txt
//	benchstat old.txt new.txt

// BenchmarkNext measures the live stream: events/s on one goroutine and the mean
// value size.
func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1, Start: testStart})
	now := testStart
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r := g.Next(now)
		bytes += int64(len(r.Value))
		now = now.Add(time.Millisecond)
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/event")
	b.SetBytes(bytes / int64(b.N))
}

// BenchmarkHistory measures rendering the history of a 3000-contact shop.
func BenchmarkHistory(b *testing.B) {
	g := New(Config{Seed: 1, Start: testStart})
	var events, bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for r := range g.History() {
			events++
			bytes += int64(len(r.Value))
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(events)/el.Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(events), "bytes/event")
}

// BenchmarkNew measures building the history state, per contact.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		New(Config{Seed: int64(i), Start: testStart, ContactsPerWorkspace: 10000})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/contact")
}
