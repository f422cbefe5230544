package processor

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/internal/kafkatest"
)

// BenchmarkThroughput preloads realistic traffic (internal/gen: orders, customers,
// messaging) into an in-process kfake broker and measures how fast one processor
// consumes it with exactly-once transactions (on the real broker when
// SEGMENTD_TEST_KAFKA is set). For profiling the hot path:
//
//	go test ./processor -run '^$' -bench Throughput -benchtime 1x -cpuprofile cpu.out
func BenchmarkThroughput(b *testing.B) {
	broker := benchBroker(b)
	g := gen.New(gen.Config{Seed: 7, ContactsPerWorkspace: 5000, Start: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)})
	var recs []*kgo.Record
	for r := range g.History() {
		recs = append(recs, &kgo.Record{Key: r.Key, Value: r.Value, Headers: toKgoHeaders(r.Headers)})
	}
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, broker, func(c *Config) { c.Now = time.Now })
		for _, s := range g.Segments() {
			h.putSegment(string(s.Key[:indexByte(s.Key, '/')]), string(s.Key[indexByte(s.Key, '/')+1:]), string(s.Value))
		}
		time.Sleep(300 * time.Millisecond)
		for _, r := range recs {
			r.Topic = h.cfg.Topics.Events[0]
			r.Partition = 0
		}
		if err := h.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		adm := kadm.NewClient(h.prod)
		ends, err := adm.ListEndOffsets(context.Background(), h.cfg.Topics.Events[0])
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for !kafkatest.CaughtUp(context.Background(), adm, h.cfg.Group, ends) {
			time.Sleep(20 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(len(recs))/el.Seconds(), "events/s")
		h.out.Lock()
		outs := len(h.out.membership)
		h.out.Unlock()
		b.Logf("%d input records (%d MB) in %s; %d transitions read so far", len(recs), bytesOf(recs)>>20, el.Round(time.Millisecond), outs)
		h.stop()
		b.StartTimer()
	}
}

func toKgoHeaders(hs []gen.Header) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func bytesOf(recs []*kgo.Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Value) + len(r.Key)
	}
	return n
}

// benchBroker is the in-process kfake broker, or the real one when SEGMENTD_TEST_KAFKA
// is set.
func benchBroker(b *testing.B) *kafkatest.Broker {
	if os.Getenv("SEGMENTD_TEST_KAFKA") != "" {
		return kafkatest.Real(b)
	}
	return kafkatest.Kfake(b)
}
