package processor

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestWindowsWithoutInputCommitPromptly: a window that consumed nothing (here the
// windows of a backfill spanning 20 windows, with no events) must not wait out the
// 500 ms that franz-go's End holds its lock after a commit when it could not tell
// that the broker supports KIP-447 (endContext). Without endContext the backfill
// below takes at least 20 × 500 ms.
func TestWindowsWithoutInputCommitPromptly(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		const n, chunk = 80, 4
		h := newHarness(t, b, func(c *Config) { c.BackfillChunk = chunk })
		h.putSegment(ws, "buyer", seg("buyer", `{"field":"orders_count","op":"gte","value":1}`))
		h.waitBackfilled("buyer")
		var want []string
		for i := 1; i <= n; i++ {
			h.envelope(fmt.Sprintf("%s/%d", ws, i), "orders/create", ws, fmt.Sprintf("o%d", i), orderOf(int64(i), int64(5000+i), 100, 9000))
			want = append(want, fmt.Sprintf(`+buyer %d v1 event {"topic":"orders/create","delivery_id":"o%d"}`, i, i))
		}
		k := h.expect(0, want...)

		start := time.Now()
		h.putSegment(ws, "spent", seg("spent", `{"field":"total_spent","op":"gte","value":1}`))
		h.waitBackfilled("spent")
		took := time.Since(start)
		h.waitTransitions(k, n)
		windows := n / chunk
		if limit := time.Duration(windows) * 300 * time.Millisecond; took > limit {
			t.Fatalf("a backfill of %d windows without input took %s (over %s): windows wait after their commit", windows, took.Round(time.Millisecond), limit)
		}
		t.Logf("backfill of %d windows without input: %s", windows, took.Round(time.Millisecond))
	})
}
