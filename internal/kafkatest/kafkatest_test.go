package kafkatest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// consumeAll reads topic from the start with the given isolation level until it has
// seen a record whose value is stop, and returns the values before it in order.
func consumeAll(t *testing.T, b *kafkatest.Broker, topic string, iso kgo.IsolationLevel, stop string) []string {
	t.Helper()
	cl := b.Client(t,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso),
	)
	ctx := ctxFor(t, 30*time.Second)
	var got []string
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %v; got so far %q", topic, err, got)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		for _, r := range fs.Records() {
			if string(r.Value) == stop {
				return got
			}
			got = append(got, string(r.Value))
		}
	}
}

// TestTransactionsReadCommitted: a committed transaction is seen by a read_committed
// consumer, an aborted one is not, though its records are in the log.
func TestTransactionsReadCommitted(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		// One partition, so the end marker comes after every other record.
		topic := b.Topic(t, "txn", 1, nil)
		p := b.Client(t,
			kgo.TransactionalID(kafkatest.UniqueName("kafkatest-txn")),
			kgo.TransactionTimeout(10*time.Second),
			kgo.DefaultProduceTopic(topic),
		)
		ctx := ctxFor(t, 30*time.Second)
		txn := func(commit kgo.TransactionEndTry, values ...string) {
			t.Helper()
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				if err := p.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
					t.Fatalf("produce %q: %v", v, err)
				}
			}
			if err := p.EndTransaction(ctx, commit); err != nil {
				t.Fatalf("end transaction (commit %v): %v", commit, err)
			}
		}
		txn(kgo.TryCommit, "c1", "c2")
		txn(kgo.TryAbort, "a1", "a2")
		txn(kgo.TryCommit, "c3", "end")

		if got, want := consumeAll(t, b, topic, kgo.ReadCommitted(), "end"), []string{"c1", "c2", "c3"}; !slices.Equal(got, want) {
			t.Errorf("read_committed: got %q, want %q", got, want)
		}
		if got, want := consumeAll(t, b, topic, kgo.ReadUncommitted(), "end"), []string{"c1", "c2", "a1", "a2", "c3"}; !slices.Equal(got, want) {
			t.Errorf("read_uncommitted: got %q, want %q", got, want)
		}
	})
}

// TestGroupTransactSession: consume-transform-produce in a consumer group with
// cooperative-sticky balancing, as segmentd's processor does. The first transaction is
// aborted: its input must be consumed again and its output must never be visible, so
// the output holds every input exactly once and the group's committed offsets cover the
// whole input.
func TestGroupTransactSession(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const n = 60
		in := b.Topic(t, "ctp-in", 3, nil)
		out := b.Topic(t, "ctp-out", 3, nil)
		group := kafkatest.UniqueName("kafkatest-group")
		ctx := ctxFor(t, 60*time.Second)

		src := b.Client(t, kgo.DefaultProduceTopic(in))
		var want []string
		for i := range n {
			v := fmt.Sprintf("v%03d", i)
			want = append(want, strings.ToUpper(v))
			if err := src.ProduceSync(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}

		sess, err := kgo.NewGroupTransactSession(b.Opts(
			kgo.TransactionalID(kafkatest.UniqueName("kafkatest-ctp")),
			kgo.TransactionTimeout(10*time.Second),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(in),
			kgo.Balancers(kgo.CooperativeStickyBalancer()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DefaultProduceTopic(out),
			kgo.SessionTimeout(6*time.Second),
			kgo.HeartbeatInterval(500*time.Millisecond),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()

		// round consumes what one poll gives, produces it transformed, and ends the
		// transaction; it returns how many records it consumed and whether it committed.
		round := func(commit kgo.TransactionEndTry) (int, bool) {
			t.Helper()
			fs := sess.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("poll: %v", ctx.Err())
			}
			fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
			recs := fs.Records()
			if len(recs) == 0 {
				return 0, false
			}
			if err := sess.Begin(); err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: []byte(strings.ToUpper(string(r.Value)))}, func(_ *kgo.Record, err error) {
					// An abort fails what is still buffered with ErrAborting.
					if err != nil && !errors.Is(err, kgo.ErrAborting) {
						t.Errorf("produce: %v", err)
					}
				})
			}
			committed, err := sess.End(ctx, commit)
			if err != nil {
				t.Fatalf("end (commit %v): %v", commit, err)
			}
			return len(recs), committed
		}

		// Abort the first non-empty round.
		for {
			got, committed := round(kgo.TryAbort)
			if committed {
				t.Fatal("End(TryAbort) committed")
			}
			if got > 0 {
				break
			}
		}
		// Then commit until the whole input is consumed. After the abort the session
		// rewinds to the committed offsets (none), so that adds up to exactly n.
		total := 0
		for total < n {
			got, committed := round(kgo.TryCommit)
			if got > 0 && !committed {
				t.Logf("round of %d records not committed (rebalance?); it is consumed again", got)
				continue
			}
			total += got
		}
		if total != n {
			t.Errorf("committed %d input records, want %d", total, n)
		}

		// Every input exactly once in the output, read_committed.
		end := b.Client(t, kgo.DefaultProduceTopic(out), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		var got []string
		seen := map[int32]bool{}
		cons := b.Client(t,
			kgo.ConsumeTopics(out),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		// An end marker in every partition: once each is seen, everything before it is.
		for p := range int32(3) {
			if err := end.ProduceSync(ctx, &kgo.Record{Value: []byte("end"), Partition: p}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		for len(seen) < 3 {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consume output: %v; got %d: %q", ctx.Err(), len(got), got)
			}
			for _, r := range fs.Records() {
				if string(r.Value) == "end" {
					seen[r.Partition] = true
				} else {
					got = append(got, string(r.Value))
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("output (read_committed) has %d records, want %d exactly once:\n got %q\nwant %q", len(got), len(want), got, want)
		}

		// The group's committed offsets cover the input.
		offs, err := b.Admin(t).FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil {
				t.Errorf("offset %s/%d: %v", o.Topic, o.Partition, o.Err)
			}
			sum += o.At
		})
		if sum != n {
			t.Errorf("group %s committed offsets add up to %d, want %d", group, sum, n)
		}
	})
}

// owner tracks the partitions a group member owns, from its callbacks.
type owner struct {
	mu      sync.Mutex
	owned   map[int32]bool
	revoked []int32 // every partition ever revoked, in order
}

func (o *owner) opts(topic string) []kgo.Opt {
	o.owned = map[int32]bool{}
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.mu.Lock()
			defer o.mu.Unlock()
			for _, p := range m[topic] {
				o.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.mu.Lock()
			defer o.mu.Unlock()
			for _, p := range m[topic] {
				delete(o.owned, p)
				o.revoked = append(o.revoked, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.mu.Lock()
			defer o.mu.Unlock()
			for _, p := range m[topic] {
				delete(o.owned, p)
			}
		}),
	}
}

func (o *owner) state() (owned []int32, revoked []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p := range o.owned {
		owned = append(owned, p)
	}
	slices.Sort(owned)
	return owned, slices.Clone(o.revoked)
}

// TestCooperativeStickyGroup: two members share a topic's partitions; with the
// cooperative protocol the first member gives up only what moves, and gets everything
// back when the second leaves.
func TestCooperativeStickyGroup(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const parts = 4
		topic := b.Topic(t, "coop", parts, nil)
		group := kafkatest.UniqueName("kafkatest-coop")
		member := func(o *owner) *kgo.Client {
			cl, err := kgo.NewClient(b.Opts(append(o.opts(topic),
				kgo.ConsumerGroup(group),
				kgo.ConsumeTopics(topic),
				kgo.Balancers(kgo.CooperativeStickyBalancer()),
				kgo.SessionTimeout(6*time.Second),
				kgo.HeartbeatInterval(200*time.Millisecond),
			)...)...)
			if err != nil {
				t.Fatal(err)
			}
			return cl
		}
		waitFor := func(what string, ok func() bool) {
			t.Helper()
			deadline := time.Now().Add(45 * time.Second)
			for !ok() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s", what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}

		var o1, o2 owner
		c1 := member(&o1)
		defer c1.Close()
		waitFor("member 1 to own all partitions", func() bool { owned, _ := o1.state(); return len(owned) == parts })

		c2 := member(&o2)
		waitFor("the partitions to be split 2/2", func() bool {
			a, _ := o1.state()
			b, _ := o2.state()
			return len(a) == parts/2 && len(b) == parts/2
		})
		a, revoked := o1.state()
		bb, _ := o2.state()
		both := slices.Concat(a, bb)
		slices.Sort(both)
		if !slices.Equal(both, []int32{0, 1, 2, 3}) {
			t.Errorf("owned: member 1 %v, member 2 %v: not a partition of 0..3", a, bb)
		}
		// Cooperative: member 1 revoked only the two partitions that moved (eager would
		// have revoked all four).
		if len(revoked) != parts/2 {
			t.Errorf("member 1 revoked %v, want only the %d that moved", revoked, parts/2)
		}

		c2.Close() // leaves the group
		waitFor("member 1 to own all partitions again", func() bool { owned, _ := o1.state(); return len(owned) == parts })
	})
}

// TestTopicConfigs: Topic applies configs and gives unique names.
func TestTopicConfigs(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		compact := "compact"
		t1 := b.Topic(t, "changelog", 2, map[string]*string{"cleanup.policy": &compact})
		t2 := b.Topic(t, "changelog", 2, nil)
		if t1 == t2 || !strings.HasPrefix(t1, "changelog-") {
			t.Fatalf("topic names %q, %q: want distinct, prefixed changelog-", t1, t2)
		}
		rcs, err := b.Admin(t).DescribeTopicConfigs(ctxFor(t, 10*time.Second), t1)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(t1, nil)
		if err != nil {
			t.Fatal(err)
		}
		var policy string
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				policy = c.MaybeValue()
			}
		}
		if policy != "compact" {
			t.Errorf("cleanup.policy = %q, want compact", policy)
		}
	})
}
