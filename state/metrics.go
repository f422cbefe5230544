package state

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports a Store's Pebble metrics as segmentd_pebble_*, read on scrape.
type Collector struct {
	s                                  *Store
	disk, memtable, readAmp, tables    *prometheus.Desc
	compactions, flushes, hits, misses *prometheus.Desc
	cacheSize, l0Files                 *prometheus.Desc
}

// NewCollector returns a collector of s's metrics; register it on a Registerer.
func NewCollector(s *Store) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("segmentd_pebble_"+name, help, nil, nil)
	}
	return &Collector{
		s:           s,
		disk:        d("disk_usage_bytes", "Disk space used by the Pebble store."),
		memtable:    d("memtable_bytes", "Bytes allocated by Pebble memtables."),
		readAmp:     d("read_amplification", "Pebble read amplification (sublevels of L0 plus non-empty levels)."),
		tables:      d("tables", "Live sstables."),
		l0Files:     d("l0_tables", "Live sstables in L0 (compaction debt when high)."),
		compactions: d("compactions_total", "Compactions completed."),
		flushes:     d("flushes_total", "Memtable flushes completed."),
		hits:        d("block_cache_hits_total", "Block cache hits."),
		misses:      d("block_cache_misses_total", "Block cache misses."),
		cacheSize:   d("block_cache_bytes", "Bytes in the block cache."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.disk, c.memtable, c.readAmp, c.tables, c.l0Files,
		c.compactions, c.flushes, c.hits, c.misses, c.cacheSize} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m := c.s.Metrics()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	total := m.Total()
	gauge(c.disk, float64(m.DiskSpaceUsage()))
	gauge(c.memtable, float64(m.MemTable.Size))
	gauge(c.readAmp, float64(m.ReadAmp()))
	gauge(c.tables, float64(total.TablesCount))
	gauge(c.l0Files, float64(m.Levels[0].TablesCount))
	counter(c.compactions, float64(m.Compact.Count))
	counter(c.flushes, float64(m.Flush.Count))
	counter(c.hits, float64(m.BlockCache.Hits))
	counter(c.misses, float64(m.BlockCache.Misses))
	gauge(c.cacheSize, float64(m.BlockCache.Size))
}
