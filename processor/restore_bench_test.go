package processor

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/state"
)

// BenchmarkPartitionRestore produces the compacted changelog of one partition of
// SEGMENTD_BENCH_RESTORE_CONTACTS contacts (default 20,000; one record each: a profile,
// tags, a list, consent and three orders) and times openPartition on an empty
// on-disk store: the replay of the changelog into Pebble and the build of the
// partition's bitmaps and attribute indexes. Against the real broker when
// SEGMENTD_TEST_KAFKA is set, else kfake:
//
//	SEGMENTD_TEST_KAFKA=127.0.0.1:19092 SEGMENTD_BENCH_RESTORE_CONTACTS=200000 \
//	  go test ./processor -run '^$' -bench PartitionRestore -benchtime 3x
func BenchmarkPartitionRestore(b *testing.B) {
	n := 20_000
	if s := os.Getenv("SEGMENTD_BENCH_RESTORE_CONTACTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("SEGMENTD_BENCH_RESTORE_CONTACTS: %v", err)
		}
	}
	broker := benchBroker(b)
	compact := "compact"
	cfg := Config{
		Brokers:            broker.Addrs,
		Topics:             Topics{Changelog: broker.Topic(b, kafkatest.UniqueName("restore-bench"), 1, map[string]*string{"cleanup.policy": &compact})},
		Partitions:         1,
		TransactionTimeout: 10 * time.Second,
		Logger:             testLogger(b),
	}
	cl := broker.Client(b, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<16))
	start := time.Now()
	bytes := produceBenchChangelog(b, cl, cfg.Topics.Changelog, n)
	b.Logf("produced %d contact records (%d MB) in %s", n, bytes>>20, time.Since(start).Round(time.Millisecond))
	m := newMetrics(prometheus.NewRegistry(), func() bool { return true }, false)
	for b.Loop() {
		b.StopTimer()
		store, err := state.Open(b.TempDir(), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		p := &Processor{cfg: cfg, m: m}
		p.cfg.Store = store
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		pt, err := p.openPartition(context.Background(), 0)
		el, cpu := time.Since(start), cpuTime(b)-cpu0
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if got := pt.attrs[benchWorkspace].Len(); got != n {
			b.Fatalf("%d contacts indexed, want %d", got, n)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "contacts/s")
		b.ReportMetric(cpu.Seconds()*1e6/float64(n), "cpu-µs/contact")
		b.Logf("%d contacts restored and indexed in %s, %s of CPU", n, el.Round(time.Millisecond), cpu.Round(time.Millisecond))
		store.Close()
		b.StartTimer()
	}
}

const benchWorkspace = ws

// cpuTime returns the user and system CPU time of the process so far (a restore on a
// shared machine is compared by its CPU time as well as by its wall time).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// produceBenchChangelog writes n contact records and a partition meta to partition 0
// of topic and returns the bytes of their values.
func produceBenchChangelog(b *testing.B, cl *kgo.Client, topic string, n int) int {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	countries := []string{"MX", "US", "CO", "ES", "AR"}
	total := 0
	var errs []error
	done := make(chan struct{}, 1)
	pending := 0
	for i := range n {
		c := benchContact(i, now, countries)
		enc, err := c.AppendBinary(nil)
		if err != nil {
			b.Fatal(err)
		}
		total += len(enc)
		key := fmt.Sprintf("%s/%d", benchWorkspace, 1000+i)
		pending++
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: enc}, func(_ *kgo.Record, err error) {
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	meta := state.PartitionMeta{NextDense: uint32(n + 1)}
	enc, err := meta.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(state.MetaKey), Value: enc}, func(*kgo.Record, error) { done <- struct{}{} })
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	<-done
	if len(errs) > 0 {
		b.Fatal(errs[0])
	}
	return total
}

// benchContact is contact i: a profile, tags, a list, SMS consent and three orders.
func benchContact(i int, now time.Time, countries []string) *state.Contact {
	var c state.Contact
	at := now.Add(-time.Duration(i%1000) * time.Hour)
	ev := func(kind events.Kind, d string) *events.Event {
		return &events.Event{Kind: kind, Topic: kind.String(), Workspace: benchWorkspace, CustomerID: int64(1000 + i), DeliveryID: d + strconv.Itoa(i), OccurredAt: at}
	}
	cu := ev(events.CustomerUpsert, "c")
	cu.Customer = &events.Customer{
		Email:      events.OptString{Present: true, Value: fmt.Sprintf("c%d@example.com", i)},
		Country:    events.OptString{Present: true, Value: countries[i%len(countries)]},
		Tags:       events.OptString{Present: true, Value: fmt.Sprintf("t%d, vip", i%20)},
		SMSConsent: &events.ConsentField{State: "SUBSCRIBED", UpdatedAt: at},
		UpdatedAt:  at,
	}
	c.Apply(cu, at)
	l := ev(events.ListMemberAdded, "l")
	l.ListID = strconv.Itoa(i % 7)
	c.Apply(l, at)
	for k := range 3 {
		o := ev(events.OrderUpsert, "o"+strconv.Itoa(k)+"-")
		o.Order = &events.Order{ID: strconv.Itoa(i*3 + k), CreatedAt: at.Add(-time.Duration(k) * 24 * time.Hour),
			Total: decimal.MustNew(int64(1000+i%5000), 2), LineItems: []events.LineItem{{ProductID: strconv.Itoa(i % 100), Vendor: "V" + strconv.Itoa(i%9), Price: decimal.MustNew(999, 2), Quantity: 1}}}
		c.Apply(o, at)
	}
	c.DenseID = uint32(i + 1)
	return &c
}
