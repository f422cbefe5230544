package processor

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// TestSegmentMemberMetrics: the opt-in per-segment gauge follows the members, and
// the ready gauge and broker check are up once the processor runs.
func TestSegmentMemberMetrics(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		reg := prometheus.NewRegistry()
		h := newHarness(t, b, func(c *Config) { c.Registerer = reg; c.SegmentMemberMetrics = true })
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		time.Sleep(300 * time.Millisecond)
		for i, key := range []string{ws + "/1", ws + "/2", ws + "/3"} {
			h.envelope(key, "customer.tags_added", ws, key, `{"customer_id":`+key[len(ws)+1:]+`,"tags":["vip"]}`)
			_ = i
		}
		h.waitTransitions(0, 3)
		h.envelope(ws+"/2", "customer.tags_removed", ws, "r2", `{"customer_id":2,"tags":["vip"]}`)
		h.waitTransitions(3, 1)
		time.Sleep(100 * time.Millisecond)
		g := h.proc.m.segmentMembers.WithLabelValues(ws, "vip")
		if got := testutil.ToFloat64(g); got != 2 {
			t.Errorf("segmentd_segment_members{vip} = %v, want 2", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !h.proc.BrokerReachable(ctx) {
			t.Error("broker not reachable while the processor runs")
		}
		n, err := testutil.GatherAndCount(reg, "segmentd_ready")
		if err != nil || n != 1 {
			t.Errorf("segmentd_ready: %d series, %v", n, err)
		}
	})
}
