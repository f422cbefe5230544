package processor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the processor's Prometheus metrics, registered on Config.Registerer.
// No label carries contact data.
type metrics struct {
	events              *prometheus.CounterVec
	deadLetters         *prometheus.CounterVec
	guestOrders         prometheus.Counter
	transitions         *prometheus.CounterVec
	evaluations         prometheus.Counter
	evaluationsPerEvent prometheus.Histogram
	windows             *prometheus.CounterVec
	commitSeconds       prometheus.Histogram
	windowRecords       prometheus.Histogram
	restoredRecords     prometheus.Counter
	partitions          prometheus.Gauge
	restoring           prometheus.Gauge
	backfillContacts    *prometheus.CounterVec // {mode}
	backfillRead        *prometheus.CounterVec // {mode}
	backfillsPending    prometheus.Gauge
	lag                 *prometheus.GaugeVec
	eventToOutput       prometheus.Histogram
	timersPending       prometheus.Gauge
	timerLateness       prometheus.Histogram
	recordsRefused      *prometheus.CounterVec
	contactsOverBound   prometheus.Counter
	segmentMembers      *prometheus.GaugeVec // nil unless Config.SegmentMemberMetrics
	indexContacts       *prometheus.GaugeVec // per owned partition
	indexBytes          *prometheus.GaugeVec
	contactCacheHits    prometheus.Counter // contactcache.go
	contactCacheMisses  prometheus.Counter
	contactCacheEntries prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, ready func() bool, segmentMembers bool) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segmentd_events_total",
			Help: "Input events decoded, by canonical topic and by what applying them did (applied, unchanged, duplicate, stale, missing, deleted, too_large).",
		}, []string{"topic", "result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segmentd_dead_letters_total",
			Help: "Records sent to the dead-letter topic, by reason code.",
		}, []string{"reason"}),
		guestOrders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "segmentd_guest_orders_total",
			Help: "Orders without a customer (guest checkouts), counted and skipped.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segmentd_transitions_total",
			Help: "Membership transitions produced, by type and reason (counted when produced; a window that aborts is produced again).",
		}, []string{"type", "reason"}),
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "segmentd_segment_evaluations_total",
			Help: "Segment evaluations of one contact (events, backfills, catalog changes).",
		}),
		evaluationsPerEvent: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "segmentd_segment_evaluations_per_event",
			Help:    "Segments evaluated per applied event: only those containing a predicate whose outcome changed.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128},
		}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segmentd_transactions_total",
			Help: "Commit windows (Kafka transactions), by result: committed or aborted.",
		}, []string{"result"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "segmentd_transaction_commit_seconds",
			Help:    "Time to flush and commit a window's transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		windowRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "segmentd_window_records",
			Help:    "Input records per commit window.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		restoredRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "segmentd_restore_records_total",
			Help: "Changelog records applied while restoring partitions.",
		}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "segmentd_partitions_assigned",
			Help: "Partitions owned by this process.",
		}),
		restoring: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "segmentd_partitions_restoring",
			Help: "Partitions being restored from the changelog.",
		}),
		backfillContacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segmentd_backfill_contacts_total",
			Help: "Contacts passed by definition and catalog backfills, by mode: scan (each read from the store) or algebra (decided from the attribute index's bitmaps).",
		}, []string{"mode"}),
		backfillRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segmentd_backfill_contacts_read_total",
			Help: "Contacts read from the store and evaluated one by one by definition and catalog backfills, by mode (scan or algebra).",
		}, []string{"mode"}),
		backfillsPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "segmentd_backfills_pending",
			Help: "Definition and catalog backfills not finished in the owned partitions.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "segmentd_consumer_lag",
			Help: "Records behind the high watermark, per owned events partition, as of the last fetch.",
		}, []string{"topic", "partition"}),
		eventToOutput: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "segmentd_event_to_output_seconds",
			Help:    "From an input record's timestamp to the commit of the transitions it caused.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "segmentd_ready",
		Help: "1 once definitions are read and every assigned partition is restored, else 0.",
	}, func() float64 {
		if ready() {
			return 1
		}
		return 0
	}))
	m.timersPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "segmentd_timers_pending",
		Help: "Timers of time-relative conditions loaded in memory (due within the next minute, or overdue).",
	})
	m.timerLateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "segmentd_timer_lateness_seconds",
		Help:    "How long after its instant a timer fired.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	})
	m.recordsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "segmentd_records_refused_total",
		Help: "Records segmentd produced that were refused, by reason: record_too_large (over what the producer accepts, checked before producing) or broker_refused (e.g. MESSAGE_TOO_LARGE): the log names each one and its contact is quarantined; dead_letter_value_omitted: a dead letter too large with its value went without it.",
	}, []string{"reason"})
	m.contactsOverBound = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "segmentd_contacts_over_bound_total",
		Help: "Contact records written larger than --max-contact-bytes because what they keep exactly does not fit (logged with the contact).",
	})
	m.indexContacts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "segmentd_attribute_index_contacts",
		Help: "Contacts held by the attribute indexes of an owned partition (all its workspaces).",
	}, []string{"partition"})
	m.indexBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "segmentd_attribute_index_bytes",
		Help: "Estimated memory of the attribute indexes of an owned partition (operators.Index.SizeInBytes), refreshed every 30 s.",
	}, []string{"partition"})
	reg.MustRegister(m.indexContacts, m.indexBytes)
	m.contactCacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "segmentd_contact_cache_hits_total",
		Help: "Contact reads served by the cache of decoded contacts kept across windows (--contact-cache).",
	})
	m.contactCacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "segmentd_contact_cache_misses_total",
		Help: "Contact reads the cache of decoded contacts did not hold: read and decoded from the store.",
	})
	m.contactCacheEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "segmentd_contact_cache_entries",
		Help: "Decoded contacts held by the cache (at most --contact-cache).",
	})
	reg.MustRegister(m.contactCacheHits, m.contactCacheMisses, m.contactCacheEntries)
	reg.MustRegister(m.backfillsPending, m.lag, m.eventToOutput, m.timersPending, m.timerLateness, m.recordsRefused, m.contactsOverBound)
	if segmentMembers {
		m.segmentMembers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "segmentd_segment_members",
			Help: "Members of each segment in the partitions this process owns (opt-in: --segment-member-metrics).",
		}, []string{"workspace", "segment"})
		reg.MustRegister(m.segmentMembers)
	}
	reg.MustRegister(m.events, m.deadLetters, m.guestOrders, m.transitions, m.evaluations,
		m.evaluationsPerEvent, m.windows, m.commitSeconds, m.windowRecords, m.restoredRecords,
		m.partitions, m.restoring, m.backfillContacts, m.backfillRead)
	for _, r := range DeadLetterReasons() {
		m.deadLetters.WithLabelValues(string(r))
	}
	for _, mode := range []string{backfillScanMode, backfillAlgebraMode} {
		m.backfillContacts.WithLabelValues(mode)
		m.backfillRead.WithLabelValues(mode)
	}
	for _, t := range []string{TypeAdded, TypeRemoved} {
		for _, r := range []string{ReasonEvent, ReasonTime, ReasonDefinition, ReasonCatalog} {
			m.transitions.WithLabelValues(t, r)
		}
	}
	return m
}
