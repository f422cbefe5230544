package processor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestShutdownLeavesNoOpenTransaction stops the processor in the middle of a burst:
// the window in progress must complete, so that no transaction stays open on its
// output topics (read_committed consumers would otherwise wait for its timeout).
func TestShutdownLeavesNoOpenTransaction(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b, func(c *Config) { c.CommitInterval = time.Second })
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		time.Sleep(300 * time.Millisecond)
		// A steady trickle, so that a window is always accumulating records whose
		// outputs are produced but not committed.
		produced := make(chan int)
		stopProducing := make(chan struct{})
		go func() {
			i := 0
			defer func() { produced <- i }()
			for {
				select {
				case <-stopProducing:
					return
				case <-time.After(2 * time.Millisecond):
				}
				i++
				v := fmt.Sprintf(`{"topic":"customer.tags_added","shop":%q,"id":"d%d","payload":{"customer_id":%d,"tags":["vip"]}}`, ws, i, i)
				r := &kgo.Record{Topic: h.cfg.Topics.Events[0], Key: []byte(fmt.Sprintf("%s/%d", ws, i)), Value: []byte(v)}
				if err := h.prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		h.waitTransitions(0, 1)            // the first window committed
		time.Sleep(300 * time.Millisecond) // the second is under way
		h.stop()
		close(stopProducing)
		total := <-produced

		adm := kadm.NewClient(h.prod)
		ctx := context.Background()
		deadline := time.Now().Add(3 * time.Second)
		for {
			stable, err1 := adm.ListCommittedOffsets(ctx, h.cfg.Topics.Membership, h.cfg.Topics.Changelog)
			high, err2 := adm.ListEndOffsets(ctx, h.cfg.Topics.Membership, h.cfg.Topics.Changelog)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			open := 0
			high.Each(func(o kadm.ListedOffset) {
				if s, ok := stable.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
					open++
				}
			})
			if open == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d output partitions still have an open transaction 3s after shutdown", open)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// A restarted processor finishes the rest, each transition exactly once.
		h.start()
		h.waitTransitions(0, total)
		time.Sleep(300 * time.Millisecond)
		h.out.Lock()
		n := len(h.out.membership)
		h.out.Unlock()
		if n != total {
			t.Errorf("%d transitions for %d contacts, want exactly one each", n, total)
		}
	})
}
