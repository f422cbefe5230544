package processor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestManySegments: a workspace with many segments keeps working when what a
// partition has applied of them is larger than one Kafka record may be (here a
// 64 KiB producer limit stands for Kafka's 1 MiB with thousands of segments), and a
// partition restored from the changelog onto an empty store knows what it applied.
func TestManySegments(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const segments = 600
		h := newHarness(t, b, func(c *Config) {
			c.KafkaOptions = []kgo.Opt{kgo.ProducerBatchMaxBytes(64 << 10)}
		})
		for i := 0; i < segments; i++ {
			h.putSegment(ws, fmt.Sprintf("s%03d", i), seg(fmt.Sprintf("s%03d", i), fmt.Sprintf(`{"field":"total_spent","op":"gte","value":%d}`, i)))
		}
		// A first contact creates per-partition metas of all segments.
		h.envelope(ws+"/1", "orders/create", ws, "o1", order(1, 11, h.now(), "10.00"))
		n := h.waitTransitions(0, 11) // s000 … s010
		time.Sleep(500 * time.Millisecond)
		h.envelope(ws+"/2", "orders/create", ws, "o2", order(2, 21, h.now(), "2.00"))
		n = append(n, h.waitTransitions(11, 3)...) // s000 … s002
		if len(n) != 14 {
			t.Fatalf("%d transitions, want 14", len(n))
		}

		// Restart on an empty store: everything comes back from the changelog,
		// including which definitions each partition applied, so nothing is
		// backfilled again and nothing is produced.
		h.restartOnEmptyStore()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, _, err := h.proc.Segment(ctx, ws, "s005")
		if err != nil {
			t.Fatal(err)
		}
		if info.Backfilling || info.Members != 1 {
			t.Errorf("after restore: %+v, want 1 member and no backfill", info)
		}
		h.envelope(ws+"/3", "orders/create", ws, "o3", order(3, 31, h.now(), "0.50"))
		h.expect(14, `+s000 3 v1 event {"topic":"orders/create","delivery_id":"o3"}`)
	})
}
