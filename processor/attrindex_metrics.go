package processor

import (
	"strconv"
	"time"
)

// indexGaugeInterval is how often the loop refreshes the attribute index gauges:
// SizeInBytes walks every bitmap of an index (a cost that grows with the distinct
// values held, not with the events processed).
const indexGaugeInterval = 30 * time.Second

// updateIndexGauges sets segmentd_attribute_index_contacts and _bytes of every owned
// partition, at most every indexGaugeInterval and at once after an assignment
// change. It runs on the loop goroutine, which owns the indexes.
func (p *Processor) updateIndexGauges() {
	now := time.Now()
	if !p.indexGaugesAt.IsZero() && now.Sub(p.indexGaugesAt) < indexGaugeInterval {
		return
	}
	p.indexGaugesAt = now
	for id, pt := range p.parts {
		var contacts, bytes uint64
		for _, x := range pt.attrs {
			contacts += uint64(x.Len())
			bytes += x.SizeInBytes()
		}
		label := strconv.Itoa(int(id))
		p.m.indexContacts.WithLabelValues(label).Set(float64(contacts))
		p.m.indexBytes.WithLabelValues(label).Set(float64(bytes))
	}
}

// deleteIndexGauges removes the attribute index gauges of a partition no longer owned.
func (m *metrics) deleteIndexGauges(id int32) {
	label := strconv.Itoa(int(id))
	m.indexContacts.DeleteLabelValues(label)
	m.indexBytes.DeleteLabelValues(label)
}
