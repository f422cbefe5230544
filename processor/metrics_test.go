package processor

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
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

// TestAttributeIndexMetrics: once the partitions are opened again (here from the
// changelog, on an empty store), segmentd_attribute_index_contacts counts the contacts
// their indexes hold and segmentd_attribute_index_bytes estimates their memory, per
// partition, with the partition as the only label.
func TestAttributeIndexMetrics(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		h := newHarness(t, b)
		h.putSegment(ws, "vip", seg("vip", `{"field":"tag","op":"has","value":"vip"}`))
		time.Sleep(300 * time.Millisecond)
		for _, id := range []string{"1", "2", "3", "4"} {
			h.envelope(ws+"/"+id, "customer.tags_added", ws, "t"+id, `{"customer_id":`+id+`,"tags":["vip"]}`)
		}
		h.waitTransitions(0, 4)
		reg := prometheus.NewRegistry()
		h.cfg.Registerer = reg
		h.restartOnEmptyStore()
		// The loop sets the gauges just after it takes the partitions over.
		testenv.Eventually(t, "index gauges", func() (bool, string) {
			var contacts, bytes float64
			var detail string
			for p := range h.cfg.Partitions {
				label := strconv.Itoa(int(p))
				c := testutil.ToFloat64(h.proc.m.indexContacts.WithLabelValues(label))
				bs := testutil.ToFloat64(h.proc.m.indexBytes.WithLabelValues(label))
				if (c > 0) != (bs > 0) {
					return false, fmt.Sprintf("partition %d: %v contacts, %v bytes", p, c, bs)
				}
				contacts += c
				bytes += bs
				detail += fmt.Sprintf("partition %d: %v contacts, %v bytes\n", p, c, bs)
			}
			return contacts == 4 && bytes > 0, detail
		})
		n, err := testutil.GatherAndCount(reg, "segmentd_attribute_index_contacts", "segmentd_attribute_index_bytes")
		if err != nil || n != 2*int(h.cfg.Partitions) {
			t.Errorf("%d series, %v; want %d", n, err, 2*h.cfg.Partitions)
		}
	})
}
